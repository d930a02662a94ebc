"""What the public estimators share: training parameters, seeding, the skorch net."""

import contextlib
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions

from ._net import OPTIMIZERS, Diverged, SiameseNet, default_callbacks, resolve_device
from .encoders import ENCODERS

# Rows embedded per forward call at inference: large batches keep the per-call
# overhead negligible, and this bounds the activations held at once.
INFERENCE_BATCH_ROWS = 4096

TRAINING_CONSTRAINTS = {
    "encoder": [StrOptions(set(ENCODERS)), torch.nn.Module, type],
    "encoder_params": [dict, None],
    "n_components": [Interval(Integral, 1, None, closed="left")],
    "margin": [Interval(Real, 0, None, closed="neither")],
    "distance": [StrOptions({"euclidean", "cosine"})],
    "optimizer": [StrOptions(set(OPTIMIZERS)), type],
    "lr": [Interval(Real, 0, None, closed="neither")],
    "batch_size": [Interval(Integral, 2, None, closed="left")],
    "max_epochs": [Interval(Integral, 1, None, closed="left")],
    "device": [str, torch.device],
    "callbacks": [list, None],
    "random_state": ["random_state"],
    "verbose": ["verbose"],
}


def draw_seed(random_state):
    """A torch seed from ``random_state``, without touching global RNGs.

    ``None`` takes fresh entropy from the operating system rather than from
    numpy's global generator, which is the user's, not ours.
    """
    if random_state is None:
        return int(np.random.default_rng().integers(2**31 - 1))
    return int(check_random_state(random_state).randint(2**31 - 1))


@contextlib.contextmanager
def seeded(seed, device):
    """Run a block with torch's global RNG seeded, and restore it afterwards.

    Module initialisation and dropout draw from torch's global generator; the
    fork keeps the user's generator exactly as it was.
    """
    devices = []
    if str(device).startswith("cuda") and torch.cuda.is_available():
        index = torch.device(device).index
        devices = [torch.cuda.current_device() if index is None else index]
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def optimizer_spec(optimizer):
    if isinstance(optimizer, str):
        return OPTIMIZERS[optimizer]
    if isinstance(optimizer, type) and issubclass(optimizer, torch.optim.Optimizer):
        return optimizer, {}
    raise ValueError(
        "optimizer must be one of "
        f"{', '.join(map(repr, OPTIMIZERS))} or a torch.optim.Optimizer class; "
        f"got {optimizer!r}."
    )


def make_net(est, module, criterion, *, balanced, seed, samples_per_class=None):
    """The skorch net for estimator ``est``'s training parameters."""
    opt_cls, opt_kwargs = optimizer_spec(est.optimizer)
    return SiameseNet(
        module=module,
        criterion=criterion,
        optimizer=opt_cls,
        lr=est.lr,
        max_epochs=est.max_epochs,
        batch_size=est.batch_size,
        train_split=None,
        device=resolve_device(est.device),
        callbacks=default_callbacks(est.verbose, est.callbacks),
        verbose=int(est.verbose),
        balanced=balanced,
        samples_per_class=samples_per_class,
        generator=torch.Generator().manual_seed(seed),
        **{f"optimizer__{k}": v for k, v in opt_kwargs.items()},
    )


def train(est, net, X, y, seed, epochs=None, stacklevel=4):
    """Fit ``net`` on tensors for ``epochs`` (default ``max_epochs``) more epochs.

    If the loss stops being finite, or training is interrupted (Ctrl-C, which
    skorch catches) in the middle of an epoch, the weights of the last finished
    epoch are restored, the unfinished epoch is dropped from the history, and a
    warning says so, pointing ``stacklevel`` frames up (the user's call to the
    estimator). Returns ``True`` if every epoch finished.
    """
    with seeded(seed, net.device):
        if not net.initialized_:
            net.initialize()
        try:
            net.partial_fit(X, y, epochs=epochs)
        except Diverged as exc:
            _restore_last_epoch(net)
            warnings.warn(
                f"{type(est).__name__} stopped: training diverged (the loss "
                f"became {exc.loss} in epoch {exc.epoch}); {_kept(net)}. Try a "
                f"smaller lr (now {est.lr}), a smaller margin, another optimizer, "
                "or scaling the input features (for example StandardScaler).",
                ConvergenceWarning,
                stacklevel=stacklevel,
            )
            return False
    if len(net.history) and "train_loss" not in net.history[-1]:
        # Interrupted inside an epoch: its weights are half-updated.
        unfinished = len(net.history)
        _restore_last_epoch(net)
        warnings.warn(
            f"{type(est).__name__}: training was interrupted in epoch "
            f"{unfinished}; {_kept(net)}.",
            UserWarning,
            stacklevel=stacklevel,
        )
        return False
    return True


def _keeper(net):
    return dict(net.callbacks_)["keep_last_finite"]


def _restore_last_epoch(net):
    _keeper(net).restore(net)
    # The history then ends with the epoch whose weights were kept.
    del net.history[-1]


def _kept(net):
    epoch = _keeper(net).epoch_
    return (f"the weights after epoch {epoch} were kept" if epoch
            else "the initial weights were kept")


def continue_seed(net):
    """A seed for more training of ``net``, drawn from its batch generator.

    Continuing (``warm_start``, ``partial_fit``) is then as reproducible as a
    first ``fit``.
    """
    return int(torch.randint(2**31 - 1, (1,), generator=net.generator))


def warn_if_collapsed(est, embeddings, scale, stacklevel=4):
    """Warn when the embeddings of training samples sit at (nearly) one point."""
    Z = embeddings.astype(np.float64)
    if getattr(est, "distance", "euclidean") == "cosine":
        Z = Z / np.maximum(np.linalg.norm(Z, axis=1, keepdims=True), 1e-12)
    spread = float(np.sqrt(((Z - Z.mean(axis=0)) ** 2).sum(axis=1).mean()))
    if spread < 1e-2 * scale:
        warnings.warn(
            f"{type(est).__name__}: the embeddings collapsed: {len(Z)} training "
            f"samples lie within {spread:.2g} of one point (the margin is "
            f"{scale:g}), so the embedding cannot tell classes apart. Likely "
            f"causes: too high a learning rate (lr={est.lr}); mining only the "
            "hardest pairs or triplets from the start (try miner='semi-hard' or "
            "'all'); unnormalised embeddings (try distance='cosine').",
            ConvergenceWarning,
            stacklevel=stacklevel,
        )
        return True
    return False


def to_tensor(X, dtype=torch.float32):
    """A torch tensor over ``X``'s memory where possible (read-only arrays copied)."""
    X = np.asarray(X)
    if not X.flags.writeable or not X.flags.c_contiguous:
        X = np.ascontiguousarray(X).copy()
    return torch.from_numpy(X).to(dtype)


def embed(module, X, device, forward=None):
    """Run ``module`` over ``X`` in inference mode and large batches, on ``device``.

    Returns float32 numpy on the host.
    """
    forward = forward or module
    module.eval()
    outputs = []
    with torch.inference_mode():
        for start in range(0, len(X), INFERENCE_BATCH_ROWS):
            batch = X[start:start + INFERENCE_BATCH_ROWS].to(device, non_blocking=True)
            outputs.append(forward(batch).float().cpu())
    out = torch.cat(outputs).numpy()
    if not np.isfinite(out).all():
        raise ValueError(
            "The embedding contains NaN or infinite values: the input is far "
            "outside the range the network was trained on, or the weights are "
            "not finite. Scale the input like the training data."
        )
    return out
