"""What the public estimators share: training parameters, seeding, the skorch net."""

import contextlib
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from skorch.utils import noop

from ._net import (
    OPTIMIZERS,
    AcceleratedSiameseNet,
    Diverged,
    SiameseNet,
    default_callbacks,
    resolve_device,
)
from .encoders import ENCODERS

# Rows embedded per forward call at inference: large batches keep the per-call
# overhead negligible. Images get fewer rows, sized by their values per sample,
# because a convolutional encoder's activations are many times its input
# (4,096 28x28 images meant 400 MB per layer, and slower than 256).
INFERENCE_BATCH_ROWS = 4096
_INFERENCE_IMAGE_VALUES = 2**18


def inference_rows(X):
    """Rows per forward call in ``embed`` for samples shaped like ``X``'s."""
    if X.ndim <= 2:
        return INFERENCE_BATCH_ROWS
    values = max(1, int(np.prod(X.shape[1:])))
    return int(np.clip(_INFERENCE_IMAGE_VALUES // values, 64, INFERENCE_BATCH_ROWS))

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
    """The skorch net for estimator ``est``'s training parameters.

    Where ``est`` has an ``accelerator`` (Hugging Face accelerate), the net
    trains through it, and the accelerator, not ``device``, places the module.
    """
    opt_cls, opt_kwargs = optimizer_spec(est.optimizer)
    accelerator = getattr(est, "accelerator", None)
    net_class, placement = SiameseNet, {"device": resolve_device(est.device)}
    if accelerator is not None:
        net_class = AcceleratedSiameseNet
        placement = {
            "accelerator": accelerator,
            "device": None,
            # The accelerator's print writes on the main process only; skorch
            # uses any sink other than print whatever the verbosity.
            "callbacks__print_log__sink": accelerator.print if est.verbose else noop,
        }
    return net_class(
        module=module,
        criterion=criterion,
        optimizer=opt_cls,
        lr=est.lr,
        max_epochs=est.max_epochs,
        batch_size=est.batch_size,
        train_split=None,
        callbacks=default_callbacks(est.verbose, est.callbacks),
        verbose=int(est.verbose),
        balanced=balanced,
        samples_per_class=samples_per_class,
        generator=torch.Generator().manual_seed(seed),
        **placement,
        **{f"optimizer__{k}": v for k, v in opt_kwargs.items()},
    )


def net_device(net):
    """Where ``net``'s module lives: its ``device``, or its accelerator's."""
    if net.device is None and hasattr(net, "accelerator"):
        return net.accelerator.device
    return net.device


def train(est, net, X, y, seed, epochs=None, stacklevel=4):
    """Fit ``net`` on tensors for ``epochs`` (default ``max_epochs``) more epochs.

    If the loss stops being finite, or training is interrupted (Ctrl-C, which
    skorch catches) in the middle of an epoch, the weights of the last finished
    epoch are restored, the unfinished epoch is dropped from the history, and a
    warning says so, pointing ``stacklevel`` frames up (the user's call to the
    estimator). Returns ``True`` if every epoch finished.
    """
    with seeded(seed, net_device(net)):
        if not net.initialized_:
            net.initialize()
        try:
            net.partial_fit(X, y, epochs=epochs)
        except Diverged as exc:
            _restore_last_epoch(net)
            if isinstance(net, AcceleratedSiameseNet) and net.unwrap_after_train:
                # Training stopped before on_train_end, which unwraps.
                net._unwrap_accelerator()
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


# Training rows embedded after fit to look for a collapsed embedding; a few
# hundred show it, and more would cost a CNN a noticeable forward pass.
COLLAPSE_CHECK_ROWS = 256

# Optimizer steps below which only identical embeddings count as collapsed:
# batch normalisation's running statistics, used by transform, have then seen
# too few batches to scale the output (sklearn's checks fit 1 to 4 batches),
# so a tight embedding says nothing yet.
_MIN_STEPS_FOR_COLLAPSE = 100


def warn_if_collapsed(est, embeddings, scale, stacklevel=4):
    """Warn when the embeddings of training samples sit at (nearly) one point."""
    steps = sum(row.get("train_batch_count", 0) for row in est.net_.history)
    tolerance = 1e-2 if steps >= _MIN_STEPS_FOR_COLLAPSE else 1e-6
    Z = embeddings.astype(np.float64)
    if getattr(est, "distance", "euclidean") == "cosine":
        Z = Z / np.maximum(np.linalg.norm(Z, axis=1, keepdims=True), 1e-12)
    spread = float(np.sqrt(((Z - Z.mean(axis=0)) ** 2).sum(axis=1).mean()))
    if spread < tolerance * scale:
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


def embed(module, X, device):
    """Run ``module`` over ``X`` in inference mode and large batches, on ``device``.

    ``device=None`` (a net placed by an accelerator) is where the module's
    parameters are. Returns float32 numpy on the host.
    """
    if device is None:
        device = next((p.device for p in module.parameters()), "cpu")
    module.eval()
    outputs = []
    with torch.inference_mode():
        rows = inference_rows(X)
        for start in range(0, len(X), rows):
            batch = X[start:start + rows].to(device, non_blocking=True)
            outputs.append(module(batch).float().cpu())
    out = torch.cat(outputs).numpy()
    if not np.isfinite(out).all():
        raise ValueError(
            "The embedding contains NaN or infinite values: the input is far "
            "outside the range the network was trained on, or the weights are "
            "not finite. Scale the input like the training data."
        )
    return out


def _label_kind(cls):
    if issubclass(cls, (str, np.str_)):
        return "string"
    if issubclass(cls, (bool, np.bool_)):
        return "boolean"
    if issubclass(cls, (Real, np.number)):
        return "number"
    # None, and pandas' NA in its nullable arrays.
    return "missing" if cls.__name__ in ("NoneType", "NAType") else cls.__name__


def _is_missing(value):
    return _label_kind(type(value)) == "missing" or (
        isinstance(value, (float, np.floating)) and value != value)


def check_label_types(y):
    """Class labels of one kind, checked before numpy or scikit-learn convert them.

    numpy turns a list that mixes numbers and strings into strings (``[1, "a"]``
    would silently become the classes ``"1"`` and ``"a"``), and scikit-learn
    has no label type for an object array of numbers. Labels given as a list
    or an object array are therefore checked here: numbers (or booleans) come
    back as a numeric (or boolean) array, strings unchanged, and a mix of
    kinds, or a missing label among strings, is a ``ValueError`` that says
    which labels are at fault. Other ``y`` (numeric arrays, pandas
    categoricals, ``None``, 2-D labels) is returned as it is, for the usual
    checks.
    """
    if y is None or isinstance(y, (str, bytes)):
        return y
    if getattr(getattr(y, "dtype", None), "kind", "O") != "O":
        return y
    try:
        labels = np.asarray(y, dtype=object)
    except (ValueError, TypeError):
        return y
    if labels.ndim != 1 or not len(labels):
        return y
    kinds = {_label_kind(cls) for cls in set(map(type, labels))}
    if kinds == {"number"}:
        values = np.asarray(labels.tolist())
        return values if values.dtype != object else y
    if kinds == {"boolean"}:
        return labels.astype(bool)
    if len(kinds) == 1 and "missing" not in kinds:
        return y
    missing = np.flatnonzero([_is_missing(v) for v in labels])
    if len(missing):
        raise ValueError(
            f"y holds {len(missing)} missing label(s) (None, NA or NaN), the "
            f"first at index {missing[0]}; drop those samples or give them a "
            "label."
        )
    first = {}
    for index, value in enumerate(labels):
        first.setdefault(_label_kind(type(value)), (index, value))
    examples = ", ".join(f"{value!r} (index {index})"
                         for index, value in sorted(first.values())[:3])
    raise ValueError(
        f"y mixes labels of different types ({', '.join(sorted(kinds))}): "
        f"{examples}. Class labels must be all strings or all numbers; convert "
        "them to one type, for example np.asarray(y).astype(str)."
    )


@contextlib.contextmanager
def explained_input_errors(name):
    """Add what to do to numpy's errors for non-numeric or ragged ``X``."""
    try:
        yield
    except ValueError as exc:
        text = str(exc)
        if text.startswith("could not convert"):
            raise ValueError(
                f"{name} needs numeric X, but {text[0].lower()}{text[1:]}. Encode "
                "text and categorical features first: OneHotEncoder or "
                "OrdinalEncoder for categories, TokenSequencer with "
                "encoder='rnn' for texts."
            ) from exc
        if "inhomogeneous" in text:
            raise ValueError(
                f"{name} needs X with the same number of values in every sample "
                f"(a rectangular array); got rows of different lengths: {text}"
            ) from exc
        raise


def check_castable(X, dtype, name):
    """Raise ``ValueError`` where ``X`` holds values that ``dtype`` cannot hold.

    Float64 values beyond float32's range would become infinite, and floats
    or unsigned ints beyond int64's would wrap around, when ``X`` becomes the
    network's tensor.
    """
    if not X.size or X.dtype.kind not in "fu":
        return
    if dtype == torch.float32:
        if X.dtype.itemsize > 4:
            top = max(X.max(), -X.min())
            if top > np.finfo(np.float32).max:
                raise ValueError(
                    f"X holds values as large as {top:.3g}, beyond the range of "
                    f"float32 (about 3.4e38) in which {name} computes. Scale "
                    "the features, for example with StandardScaler."
                )
    elif dtype == torch.int64 and float(X.max()) >= 2.0**63:
        raise ValueError(
            f"X holds {X.max():.3g}, too large for a token id (ids must lie in "
            "0 .. vocab_size - 1, within int64)."
        )
