"""The demo and every gallery example run to the end, as a user would run them."""

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.error import URLError

import pytest
from conftest import SHARED_DATA

from sksiamese.datasets import fetch_omniglot, load_sick

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("plot_*.py"))


def omniglot_small_sets(**kwargs):
    for subset in ("background_small1", "background_small2"):
        fetch_omniglot(subset, **kwargs)


def sick(data_home=None, download_if_missing=True):
    for subset in ("train", "trial"):
        load_sick(data_home, subset, download_if_missing=download_if_missing)


# The data sets each example reads, as the loaders that read them.
EXAMPLE_DATA = {
    "plot_omniglot_one_shot.py": [omniglot_small_sets],
    "plot_omniglot_open_set.py": [omniglot_small_sets],
    "plot_omniglot_verification.py": [omniglot_small_sets],
    "plot_sick_similarity.py": [sick],
    "plot_pretrained_sick.py": [sick],
}


def example_data_home():
    """The data folder the examples are run with.

    ``$SKSIAMESE_DATA`` where set, else the project's shared data folder beside
    the checkout where there is one, else None: the loaders' default.
    """
    if os.environ.get("SKSIAMESE_DATA"):
        return os.environ["SKSIAMESE_DATA"]
    return str(SHARED_DATA) if SHARED_DATA.is_dir() else None


def require_data(name, data_home):
    """Skip unless the data example ``name`` reads is in ``data_home``, or downloads.

    A fresh clone offline has neither the shared data folder nor a network:
    its examples cannot run, and the reason says where the files go.
    """
    for load in EXAMPLE_DATA.get(name, []):
        try:
            load(data_home=data_home, download_if_missing=False)
        except FileNotFoundError as missing:
            try:
                load(data_home=data_home)
            except OSError as failed:
                pytest.skip(
                    f"{name} needs data that is not here and could not be "
                    f"downloaded ({failed.__cause__ or failed}). {missing} Or "
                    "set SKSIAMESE_DATA to a folder holding the files."
                )


def has_data(name, data_home):
    """Whether the data example ``name`` reads is already in ``data_home``."""
    try:
        for load in EXAMPLE_DATA.get(name, []):
            load(data_home=data_home, download_if_missing=False)
    except FileNotFoundError:
        return False
    return True


@pytest.fixture(scope="module")
def examples_running(request, tmp_path_factory):
    """The gallery examples this session runs whose data is here, started at once.

    One per core, each on one thread: side by side they take about half the
    time they take one after the other on two cores. Returns
    ``{name: future of run_script's output}``; the others run in their test.
    """
    workers = max(1, min(4, os.cpu_count() or 1))
    pool = ThreadPoolExecutor(max_workers=workers)
    home = example_data_home()
    selected = {item.callspec.params["path"] for item in request.session.items
                if getattr(item, "originalname", "") == "test_gallery_example_runs"}
    # The longest first, so that the cores finish together.
    order = sorted(selected, key=lambda p: -p.stat().st_size)
    futures = {
        path.name: pool.submit(run_script, path,
                               cwd=tmp_path_factory.mktemp(path.stem))
        for path in order if has_data(path.name, home)
    }
    yield futures
    pool.shutdown(wait=True, cancel_futures=True)


def run_script(path, *args, cwd):
    env = {**os.environ, "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"}
    # The Omniglot and SICK examples find their data through SKSIAMESE_DATA.
    data_home = example_data_home()
    if data_home is not None:
        env["SKSIAMESE_DATA"] = data_home
    result = subprocess.run([sys.executable, str(path), *args], cwd=cwd, env=env,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def test_every_example_reading_a_data_set_declares_it():
    for path in EXAMPLES:
        if "sksiamese.datasets import" in path.read_text():
            assert path.name in EXAMPLE_DATA, path.name


def test_examples_without_their_data_skip_saying_where_to_put_it(
    tmp_path, monkeypatch
):
    def offline(url, timeout=None):
        raise URLError("no network")

    monkeypatch.setattr("sksiamese.datasets._base.urlopen", offline)
    monkeypatch.setenv("SKSIAMESE_DATA", str(tmp_path))
    assert example_data_home() == str(tmp_path)
    omniglot = tmp_path / "omniglot" / "images_background_small1.zip"
    for name, where in [
        ("plot_omniglot_one_shot.py", f"put it at {omniglot}"),
        ("plot_omniglot_verification.py", f"put it at {omniglot}"),
        ("plot_sick_similarity.py",
         f"extract SICK_train.txt to {tmp_path / 'sick2014' / 'SICK_train.txt'}"),
    ]:
        with pytest.raises(pytest.skip.Exception, match="could not be downloaded") as e:
            require_data(name, example_data_home())
        assert "no network" in str(e.value) and where in str(e.value)
        assert "Or set SKSIAMESE_DATA" in str(e.value)
    assert list(tmp_path.rglob("*.part")) == []
    require_data("plot_digits_embedding.py", example_data_home())  # needs none


@pytest.mark.slow
@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_gallery_example_runs(path, tmp_path, examples_running):
    pytest.importorskip("matplotlib")
    if path.name in examples_running:
        examples_running[path.name].result()
        return
    require_data(path.name, example_data_home())
    run_script(path, cwd=tmp_path)


@pytest.mark.slow
def test_demo_prints_its_table_and_writes_the_figure(tmp_path):
    pytest.importorskip("matplotlib")
    out = run_script(ROOT / "examples" / "demo_digits.py", "--epochs", "5",
                     "--output", str(tmp_path), cwd=tmp_path)
    assert "1-NN accuracy, test split" in out
    assert "pair verification accuracy, test pairs" in out
    assert "5-way 1-shot accuracy, digits 5-9 unseen" in out
    assert "train_loss" in out  # per-epoch progress
    assert (tmp_path / "digits_embedding_2d.png").stat().st_size > 10_000
    # The small-data row, where the Omniglot files are beside the checkout.
    if (SHARED_DATA / "omniglot" / "images_background_small1.zip").is_file():
        assert "20-way 1-shot, Omniglot, 20 chars x 10" in out
        assert "augment: RandomAffine(" in out
    else:
        assert "The Omniglot row needs" in out
