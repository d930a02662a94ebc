"""Training through Hugging Face accelerate (skorch's AccelerateMixin)."""

import os
import pickle
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

from sksiamese import SiameseTransformer
from sksiamese.persistence import load_model, save_model

accelerate = pytest.importorskip(
    "accelerate", reason="needs accelerate: pip install 'sksiamese[accelerate]'",
    exc_type=ImportError)


@pytest.fixture(scope="module")
def accelerator():
    # accelerate keeps one global state per process: leave none behind.
    from accelerate.state import AcceleratorState

    yield accelerate.Accelerator(cpu=True)
    AcceleratorState._reset_state(reset_partial_state=True)


def small(**params):
    defaults = {"n_components": 4, "max_epochs": 2, "batch_size": 32,
                "random_state": 0}
    return SiameseTransformer(**{**defaults, **params})


def test_single_process_cpu_training_matches_plain_training(accelerator, digits300):
    X, y = digits300
    est = small(accelerator=accelerator).fit(X, y)
    plain = small().fit(X, y)
    assert est.net_.accelerator is accelerator
    np.testing.assert_array_equal(est.history_[:, "train_loss"],
                                  plain.history_[:, "train_loss"])
    np.testing.assert_array_equal(est.transform(X), plain.transform(X))


# Unpickled, a net that an accelerator placed (device=None) goes to the CPU.
@pytest.mark.filterwarnings("ignore::skorch.exceptions.DeviceWarning")
def test_trained_model_is_unwrapped_picklable_and_saveable(accelerator, digits300,
                                                           tmp_path):
    X, y = digits300
    est = small(accelerator=accelerator).fit(X, y)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(est)).transform(X),
                                  est.transform(X))
    assert clone(est).accelerator is accelerator
    assert save_model(est, tmp_path / "model.pt") is None
    loaded = load_model(tmp_path / "model.pt")
    assert loaded.accelerator is None
    np.testing.assert_array_equal(loaded.transform(X), est.transform(X))


def test_partial_fit_and_warm_start_continue(accelerator, digits300):
    X, y = digits300
    est = small(accelerator=accelerator, max_epochs=1).fit(X, y)
    before = est.transform(X)
    est.partial_fit(X, y)
    est.set_params(warm_start=True).fit(X, y)
    assert len(est.history_) == 3
    assert not np.array_equal(est.transform(X), before)
    reference = small(max_epochs=1).fit(X, y)
    reference.partial_fit(X, y)
    reference.set_params(warm_start=True).fit(X, y)
    np.testing.assert_array_equal(est.transform(X), reference.transform(X))


def test_divergence_is_handled_as_without_accelerator(accelerator, digits300):
    X, y = digits300
    with pytest.warns(ConvergenceWarning, match=r"training diverged \(the loss "
                      r"became nan in epoch 1\); the initial weights were kept"):
        # Unnormalised embeddings (normalize=False) are what can blow up.
        est = small(accelerator=accelerator, optimizer="sgd", lr=1e6,
                    normalize=False, loss="contrastive", miner="all",
                    margin=1.0).fit(X, y)
    assert len(est.history_) == 0
    assert np.isfinite(est.transform(X)).all()
    pickle.dumps(est)  # unwrapped, although training stopped early


@pytest.mark.parametrize("verbose", [0, 1])
def test_verbose_prints_through_the_accelerator(accelerator, digits300, capsys,
                                                 verbose):
    X, y = digits300
    small(accelerator=accelerator, verbose=verbose).fit(X, y)
    out = capsys.readouterr().out
    assert ("train_loss" in out) == bool(verbose)


def test_accelerator_must_be_one(digits300):
    X, y = digits300
    with pytest.raises(ValueError, match="The 'accelerator' parameter of "
                                         "SiameseTransformer must be an object "
                                         "implementing 'prepare', 'backward' and "
                                         "'autocast' or None"):
        small(accelerator="cuda").fit(X, y)


SCRIPT = """
    import numpy as np, torch
    from accelerate import Accelerator
    from sklearn.datasets import load_digits
    from skorch.callbacks import Callback
    from sksiamese import SiameseTransformer

    class Rows(Callback):
        # The rows (their ids, in the last column) of the last epoch.
        def on_epoch_begin(self, net, **kwargs):
            self.rows = []
        def on_batch_begin(self, net, batch=None, training=False, **kwargs):
            if training:
                self.rows += batch[0][:, -1].round().long().tolist()

    torch.set_num_threads(1)
    accelerator = Accelerator(cpu=True)
    X, y = load_digits(return_X_y=True)
    X, y = np.c_[X[:200] / 16.0, np.arange(200)], y[:200]
    emb = SiameseTransformer(n_components=4, max_epochs=2, batch_size=32,
                             accelerator=accelerator, random_state=None,
                             callbacks=[("rows", Rows())]).fit(X, y)
    emb.partial_fit(X, y)
    np.savez({out!r} + f"/{{accelerator.process_index}}.npz",
             n=accelerator.num_processes, Z=emb.transform(X),
             loss=emb.history_[:, "train_loss"],
             rows=dict(emb.net_.callbacks_)["rows"].rows)
"""


@pytest.mark.slow
def test_two_processes_share_the_batches_and_stay_in_sync(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(SCRIPT.format(out=str(tmp_path))))
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(root), os.environ.get("PYTHONPATH", "")])}
    with socket.socket() as probe:  # a free port for the process group
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # A session of its own, so that a hang can be ended with all its processes.
    launcher = subprocess.Popen(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
         "--master_addr", "127.0.0.1", "--master_port", str(port), str(script)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        output, _ = launcher.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        os.killpg(launcher.pid, signal.SIGKILL)
        output, _ = launcher.communicate()
        pytest.fail(f"two-process training did not finish:\n{output.decode()[-3000:]}")
    assert launcher.returncode == 0, output.decode()[-3000:]
    first, second = (np.load(tmp_path / f"{rank}.npz") for rank in (0, 1))
    assert first["n"] == second["n"] == 2
    # Same weights on both processes (gradients averaged, also in partial_fit),
    # and the mean loss of both in each history.
    np.testing.assert_array_equal(first["Z"], second["Z"])
    np.testing.assert_array_equal(first["loss"], second["loss"])
    # In the last epoch the two shares are disjoint and cover every row,
    # although random_state=None seeds each process differently.
    first_rows, second_rows = set(first["rows"]), set(second["rows"])
    assert not first_rows & second_rows
    assert first_rows | second_rows == set(range(200))
