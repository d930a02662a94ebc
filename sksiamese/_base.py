"""SiameseBase: the training lifecycle that every estimator of the package shares.

As scikit-learn's ``BaseMultilayerPerceptron`` does for ``MLPClassifier`` and
``MLPRegressor``, the base class owns what does not depend on the kind of
samples: the shared parameter constraints, building the skorch net (one
method, used by ``fit``, by ``persistence.load_model`` and by
``SiamesePairClassifier.get_transformer``), training with its failure modes
(divergence, interruption, an exception part-way), continuing a fit with the
current parameters, the collapse check, and embedding. Subclasses say how
samples become module inputs, which module and which criterion.
"""

import contextlib
import copy
import functools
import inspect
import threading
from abc import ABCMeta, abstractmethod
from dataclasses import dataclass, field
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from skorch.callbacks import Callback, EarlyStopping
from skorch.helper import predefined_split
from skorch.utils import noop

from . import _distances, _schema
from ._callbacks import CosineSchedule, Diverged, default_callbacks, print_log
from ._checks import encoder_failure, try_training_batch
from ._criteria import own_parameters
from ._finetune import (
    ENCODER_INITS,
    check_encoder_init,
    check_freeze,
    check_lr_groups,
    check_trainable,
    check_zero_epochs,
    warn_width,
)
from ._net import (
    OPTIMIZERS,
    AcceleratedSiameseNet,
    SiameseNet,
    bare_module,
    check_embedding_output,
    resolve_device,
)
from ._warnings import warn
from .augment import RandomAffine
from .encoders import ENCODERS

# Rows embedded per forward call at inference: large batches keep the per-call
# overhead negligible. Images get fewer rows, sized by their values per sample,
# because a convolutional encoder's activations are many times its input
# (4,096 28x28 images meant 400 MB per layer, and slower than 256).
INFERENCE_BATCH_ROWS = 4096
_INFERENCE_IMAGE_VALUES = 2**18

# Training rows embedded after fit to look for a collapsed embedding; a few
# hundred show it, and more would cost a CNN a noticeable forward pass.
COLLAPSE_CHECK_ROWS = 256

# Optimizer steps below which only identical embeddings count as collapsed:
# batch normalisation's running statistics, used by transform, have then seen
# too few batches to scale the output (sklearn's checks fit 1 to 4 batches),
# so a tight embedding says nothing yet.
_MIN_STEPS_FOR_COLLAPSE = 100

# torch's global generator is process-wide, and module initialisation and
# dropout draw from it: fits in several threads of one process would
# interleave their draws (and each fork_rng would restore the others' state).
# Seeded work therefore runs one thread at a time.
_GLOBAL_RNG_LOCK = threading.RLock()


# Inference batches are padded to a multiple of this many rows: float32
# kernels may round a row differently in batches of other sizes, and a
# sample's embedding must not depend on the samples it is embedded with.
_INFERENCE_ROW_MULTIPLE = 64


def inference_rows(X):
    """Rows per forward call in ``embed`` for samples shaped like ``X``'s."""
    if X.ndim <= 2:
        return INFERENCE_BATCH_ROWS
    values = max(1, int(np.prod(X.shape[1:])))
    rows = int(np.clip(_INFERENCE_IMAGE_VALUES // values, 64, INFERENCE_BATCH_ROWS))
    return rows - rows % _INFERENCE_ROW_MULTIPLE


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
    fork keeps the user's generator exactly as it was, and the lock keeps
    other threads' seeded blocks out until this one has restored it.
    """
    devices = []
    if str(device).startswith("cuda") and torch.cuda.is_available():
        index = torch.device(device).index
        devices = [torch.cuda.current_device() if index is None else index]
    with _GLOBAL_RNG_LOCK, torch.random.fork_rng(devices=devices):
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


# The optimizers compute in the weights' dtype, float32: a learning rate
# beyond its range is infinite there (torch refuses it only at the first
# step, "value cannot be converted to type float without overflow").
_MAX_RATE = float(np.finfo(np.float32).max)


def check_rates(lr, lr_groups=None):
    """Raise where a learning rate is not a finite number of float32's range."""
    rates = {"lr": lr, **{f"lr_groups[{k!r}]": v for k, v in (lr_groups or {}).items()}}
    for name, rate in rates.items():
        if isinstance(rate, Real) and not isinstance(rate, bool) and not (
                -_MAX_RATE <= rate <= _MAX_RATE):
            raise ValueError(
                f"{name}={rate!r} is not a finite learning rate in float32, in "
                f"which the optimizer computes (up to about 3.4e38); learning "
                f"rates of these networks lie around 1e-5 to 1e-1."
            )


def check_callbacks(callbacks):
    """Raise unless ``callbacks`` holds skorch callbacks, named or not.

    skorch takes a ``Callback`` instance or class, or a ``(name, callback)``
    pair; anything else fails deep inside skorch at the first fit.
    """
    def is_callback(cb):
        return isinstance(cb, Callback) or (isinstance(cb, type)
                                            and issubclass(cb, Callback))

    for index, item in enumerate(callbacks or []):
        named = (isinstance(item, (tuple, list)) and len(item) == 2
                 and isinstance(item[0], str))
        if not is_callback(item[1] if named else item):
            raise ValueError(
                f"callbacks[{index}] is {item!r:.80}, which is not a skorch "
                "callback: give instances (or classes) of "
                "skorch.callbacks.Callback, or (name, callback) pairs, for "
                "example [skorch.callbacks.ProgressBar()]."
            )


def named_callbacks(callbacks):
    """``[(name, callback)]`` of a ``callbacks`` list, named as skorch names them.

    A ``(name, callback)`` pair keeps its name; a bare callback is named by
    its class, as skorch does (``EarlyStopping``).
    """
    named = []
    for item in callbacks or []:
        if isinstance(item, (tuple, list)):
            named.append((item[0], item[1]))
        else:
            cls = item if isinstance(item, type) else type(item)
            named.append((cls.__name__, item))
    return named


def monitored(callback):
    """The history key a callback watches (``monitor``), or None."""
    if isinstance(callback, type):
        try:
            param = inspect.signature(callback).parameters.get("monitor")
        except (TypeError, ValueError):
            return None
        monitor = None if param is None else param.default
    else:
        monitor = getattr(callback, "monitor", None)
    return monitor if isinstance(monitor, str) else None


def net_device(net):
    """Where ``net``'s module lives: its ``device``, or its accelerator's."""
    if net.device is None and hasattr(net, "accelerator"):
        return net.accelerator.device
    return net.device


def continue_seed(generator):
    """A seed for more training, drawn from the batch ``generator`` it continues.

    Continuing (``warm_start``, ``partial_fit``) is then as reproducible as a
    first ``fit``.
    """
    return int(torch.randint(2**31 - 1, (1,), generator=generator))


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
            batch = X[start:start + rows]
            n = len(batch)
            padding = -n % _INFERENCE_ROW_MULTIPLE
            if padding:
                # Rows are independent in inference mode (batch norm uses its
                # running statistics), so zero rows change no other row.
                batch = torch.cat([batch, batch.new_zeros((padding, *batch.shape[1:]))])
            try:
                out = module(batch.to(device, non_blocking=True))
            except Exception as exc:
                if isinstance(exc, (ValueError, MemoryError,
                                    torch.cuda.OutOfMemoryError)):
                    raise
                raise encoder_failure(exc, batch.shape[1:], module,
                                      batch.dtype) from exc
            out = check_embedding_output(out)
            outputs.append(out[:n].float().cpu())
    out = torch.cat(outputs).numpy()
    if not np.isfinite(out).all():
        raise ValueError(
            "The embedding contains NaN or infinite values: the input is far "
            "outside the range the network was trained on, or the weights are "
            "not finite. Scale the input like the training data."
        )
    return out


def is_auto(value):
    """Whether a parameter is left to ``"auto"``."""
    return isinstance(value, str) and value == "auto"


def encoder_recipe(encoder):
    """The training settings ``encoder`` declares for itself, or ``{}``.

    An encoder class (or instance) may hold ``training_defaults``, a dict of
    estimator parameters (``optimizer``, ``lr``, ``batch_size``,
    ``max_epochs``, ``similarity``) that its weights are meant to be trained
    with: ``PretrainedTextEncoder`` holds the sentence-transformers
    fine-tuning recipe. An estimator's parameter left to ``"auto"`` takes
    the encoder's value where it declares one. Built-in names hold none.
    """
    if isinstance(encoder, str):
        encoder = ENCODERS.get(encoder)
    return dict(getattr(encoder, "training_defaults", None) or {})


@dataclass
class Training:
    """What a subclass hands the base's ``fit``: the tensors and held-out data.

    ``inputs``: the module's training input (a tensor, or a ``(left, right)``
    pair of tensors); ``targets``: the criterion's targets; ``valid``: a
    ``TensorData`` scored after each epoch, or None; ``seed``: the seed the
    net is built with, where the subclass drew it already (None: drawn by
    the base); ``info``: whatever the subclass's after-training steps need.
    """

    inputs: object
    targets: torch.Tensor
    valid: object = None
    seed: int = None
    info: dict = field(default_factory=dict)


def seeded_augment(augment, seed):
    """``augment`` for the net: a ``RandomAffine`` draws from its own seeded stream.

    Its own stream (``seed + 1``): the batches stay those of a fit without
    augmentation.
    """
    if isinstance(augment, RandomAffine):
        return functools.partial(
            augment, generator=torch.Generator().manual_seed(seed + 1))
    return augment


def check_images(param, augment, shapes):
    """Raise where an image distortion meets samples that are not images.

    ``param``: the ``augment`` parameter as set, which the message names;
    ``augment``: what it resolved to.
    """
    bad = [shape for shape in shapes if len(shape) not in (2, 3)]
    if isinstance(augment, RandomAffine) and bad:
        raise ValueError(
            f"augment={param!r} distorts images, but the samples have shape "
            f"{bad[0]}; it needs images of shape (height, width) or (channels, "
            "height, width) (set input_shape for flat rows), or pass "
            "augment=None."
        )


def _same_value(a, b):
    if a is b:
        return True
    try:
        return bool(a == b)
    except Exception:  # arrays, modules: compared by identity only
        return False


class SiameseBase(BaseEstimator, metaclass=ABCMeta):
    """The training lifecycle shared by the package's estimators.

    Subclasses define ``_build_module()`` (from the fitted sample shapes),
    ``_build_criterion()``, ``_balanced`` (class-balanced batches of class
    codes, or shuffled rows), ``_ARCHITECTURE`` (the parameters that define
    the module, which a continued fit cannot change) and
    ``_FITTED_ATTRIBUTES`` (what ``transform`` and ``predict`` need, which
    ``persistence`` saves).
    """

    _parameter_constraints = {
        "encoder": [StrOptions(set(ENCODERS)), torch.nn.Module, type],
        "encoder_params": [dict, None],
        "n_components": [Interval(Integral, 1, None, closed="left"),
                         StrOptions({"auto"})],
        "optimizer": [StrOptions({*OPTIMIZERS, "auto"}), type],
        "lr": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "batch_size": [Interval(Integral, 2, None, closed="left"),
                       StrOptions({"auto"})],
        # 0: no training, the encoder as given (a pretrained one, zero-shot).
        "max_epochs": [Interval(Integral, 0, None, closed="left"),
                       StrOptions({"auto"})],
        "device": [str, torch.device],
        "callbacks": [list, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "accelerator": [HasMethods(["prepare", "backward", "autocast"]), None],
        "early_stopping": ["boolean"],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "lr_schedule": [StrOptions({"cosine"}), None],
        "encoder_init": [StrOptions(set(ENCODER_INITS))],
        "freeze": [tuple, None],
        "lr_groups": [dict, None],
    }

    _balanced = True
    _ARCHITECTURE = ()
    _FITTED_ATTRIBUTES = ()
    # What "auto" means for a setting whose encoder declares no recipe of
    # its own (see encoder_recipe); subclasses add or override entries.
    _AUTO_SETTINGS = {"optimizer": "adam", "lr": 1e-3}

    def _setting(self, name):
        """The value training uses for parameter ``name``: as set, or what "auto" means.

        Resolved from the parameters alone (``load_model`` builds a net with
        no data): the encoder's own recipe where it declares one, else the
        estimator's ``_AUTO_SETTINGS``. ``n_components="auto"`` is the
        width an encoder instance declares (``embedding_width``), else the
        estimator's default width.
        """
        value = getattr(self, name)
        if not is_auto(value):
            return value
        if name == "n_components":
            width = getattr(self.encoder, "embedding_width", None)
            if (isinstance(self.encoder, torch.nn.Module)
                    and isinstance(width, Integral)):
                return int(width)
            return self._AUTO_SETTINGS[name]
        return encoder_recipe(self.encoder).get(name, self._AUTO_SETTINGS[name])

    def __init_subclass__(cls, **kwargs):
        # persistence finds the estimator of a saved name in _schema's registry.
        super().__init_subclass__(**kwargs)
        _schema.register(cls)

    def _validate_params(self):
        super()._validate_params()
        check_rates(self.lr, self.lr_groups)
        check_callbacks(self.callbacks)
        self._check_monitors()

    # What validation_fraction holds out, for messages.
    _HELD_OUT = "samples"

    def _check_monitors(self):
        """Raise where early stopping or a callback watches a score fit never records.

        ``early_stopping`` watches the held-out data's score, as skorch's
        ``EarlyStopping``, ``Checkpoint`` and
        ``LRScheduler("ReduceLROnPlateau")`` watch ``valid_loss`` by
        default; without held-out data it is never recorded, and skorch
        would fail with a ``KeyError`` after a whole epoch.
        """
        if self.validation_fraction:
            return
        if self.early_stopping:
            held = self._HELD_OUT
            raise ValueError(
                f"early_stopping=True stops when the held-out {held}' score stops "
                f"improving, which needs held-out {held}: set validation_fraction, "
                "for example validation_fraction=0.2."
            )
        for name, callback in named_callbacks(self.callbacks):
            monitor = monitored(callback)
            if monitor is not None and monitor.startswith("valid_"):
                raise ValueError(
                    f"callbacks: {name} monitors {monitor!r}, a score of held-out "
                    f"data, but {type(self).__name__} holds nothing out "
                    f"(validation_fraction={self.validation_fraction!r}), so "
                    f"{monitor!r} is never recorded. Set validation_fraction "
                    f"(for example 0.2: a fifth of the {self._HELD_OUT}, scored "
                    "after every epoch), or monitor a training score such as "
                    "'train_loss'."
                )

    def set_params(self, **params):
        """Set the parameters; ``callbacks__<name>__<param>`` reaches a callback.

        As in skorch: ``callbacks=[("es", EarlyStopping())]`` with
        ``set_params(callbacks__es__patience=3)`` sets that callback's
        ``patience``, so that grid searches reach callback settings. A bare
        callback is named by its class (``callbacks__EarlyStopping__...``).
        """
        routed = {k: v for k, v in params.items() if k.startswith("callbacks__")}
        if routed:
            named = named_callbacks(params.get("callbacks", self.callbacks))
            names = [name for name, _ in named]
            settings = {}
            for key, value in routed.items():
                name, _, param = key[len("callbacks__"):].partition("__")
                if names.count(name) != 1:
                    raise ValueError(
                        f"{key}: callbacks__<name>__<param> sets a parameter of "
                        f"the callback named <name>; the callbacks are named "
                        f"{names} (a bare callback by its class; give "
                        "(name, callback) pairs to name them)."
                    )
                if not param:
                    raise ValueError(
                        f"{key} names no parameter: use callbacks__{name}__<param>.")
                callback = dict(named)[name]
                if isinstance(callback, type):
                    raise ValueError(
                        f"{key}: the callback {name} is a class: pass an instance "
                        "to set its parameters.")
                if param not in callback.get_params():
                    raise ValueError(
                        f"{key}: the callback {name} has no parameter {param!r}; "
                        f"it has {sorted(callback.get_params())}.")
                settings.setdefault(name, {})[param] = value
            rest = {k: v for k, v in params.items() if k not in routed}
            super().set_params(**rest)
            for name, values in settings.items():
                dict(named)[name].set_params(**values)
            return self
        return super().set_params(**params)

    # -- what subclasses provide -------------------------------------------
    @abstractmethod
    def _build_module(self):
        """The torch module, from the parameters and the fitted sample shapes."""

    @abstractmethod
    def _build_criterion(self):
        """The loss the net trains with, called as ``criterion(output, y)``."""

    def _param_groups(self):
        """skorch's ``optimizer__param_groups`` (learning rates by name)."""
        return []

    def _epochs(self):
        """Epochs of one ``fit`` (``max_epochs``, or what it resolved to)."""
        return self._setting("max_epochs")

    def _rows_per_batch(self):
        """Rows per training batch (``batch_size``, or what it resolved to)."""
        return self._setting("batch_size")

    def _samples_per_class(self):
        """Rows of one class kept together in a batch (None: shuffled rows)."""
        return None

    def _collapse_scale(self):
        """The margin the collapse check compares the embeddings' spread with.

        For the estimators that call ``_warn_if_collapsed``.
        """
        raise NotImplementedError

    def _embedding_distance(self):
        """The distance in the embedding: of the collapse check and of scorers."""
        return "euclidean"

    def _monitor(self):
        """``(history key, lower_is_better)`` that early stopping watches."""
        return "valid_loss", True

    def _check_settings(self):
        """Raise (or warn) on settings that only this estimator can judge."""

    @abstractmethod
    def _training_data(self, X, y, reset):
        """Validate ``X``, ``y`` and make them tensors: a :class:`Training`.

        ``reset``: a new model (False: a continued fit, whose samples must
        be shaped as before). Sets the fitted shapes the module is built
        from.
        """

    def _before_training(self, data, keep, partial):
        """Learn what training needs from the data (the "auto" plan)."""

    def _learn_width(self, module, data):
        """Set ``n_components_`` from the module built, before training.

        The built-in encoders embed into ``n_components``; an encoder
        instance into its own width, which a warning reports where it is
        not the ``n_components`` set.
        """
        X = data.inputs
        self.n_components_ = int(embed(module, X[:1], None).shape[1])
        warn_width(self, "encoder", self.n_components_)

    def _after_training(self, data):
        """Learn what prediction needs once the network is trained."""

    # -- the lifecycle -------------------------------------------------------
    def fit(self, X, y):
        """Train the network on ``X`` and ``y``; see the subclass's ``fit``."""
        return self._fit(X, y, partial=False)

    def _fit(self, X, y, partial):
        """The whole order of ``fit`` and ``partial_fit``, for every estimator.

        Check the parameters (before anything changes), validate the data,
        plan, build or continue the net, train it, learn what prediction
        needs; a failure anywhere leaves the estimator exactly as it was.
        ``partial``: one epoch, continuing the fitted network if there is
        one (``partial_fit``); otherwise ``max_epochs``, continuing only
        with ``warm_start``.
        """
        self._validate_params()
        self._check_settings()
        check_encoder_init(self)
        if not partial:  # partial_fit trains one epoch whatever max_epochs
            check_zero_epochs(self)
        check_freeze(self.freeze)
        check_lr_groups(self.lr_groups)
        keep = (partial or self.warm_start) and hasattr(self, "net_")
        with self._unchanged_on_error():
            data = self._training_data(X, y, reset=not keep)
            self._before_training(data, keep=keep, partial=partial)
            self._fit_net(data, epochs=1 if partial else None, keep=keep)
            self._learn_best_epoch(data)
            self._after_training(data)
        return self

    def _learn_best_epoch(self, data):
        """``best_epoch_``: the epoch whose held-out score was best (None: none)."""
        self.best_epoch_ = None
        key, lower = self._monitor()
        if data.valid is not None and len(self.history_) and all(
                key in row for row in self.history_):
            scores = np.asarray(self.history_[:, key], dtype=float)
            best = np.argmin(scores) if lower else np.argmax(scores)
            self.best_epoch_ = int(best) + 1

    # -- the net -------------------------------------------------------------
    def _augmentation(self, seed):
        """The ``augment`` callable of the net (None: no augmentation)."""
        return seeded_augment(self._augment(), seed)

    def _augment(self):
        """The augmentation used (``augment``, or what it resolved to)."""
        return None

    def _valid_scoring(self, valid, seed):
        """``(name, callback)`` that scores the held-out data after each epoch.

        None: only the held-out loss (``valid_loss``) is recorded.
        """
        return None

    def _scores_valid_loss(self, criterion):
        """Whether the held-out data's loss means something for ``criterion``.

        Not for a loss with parameters of its own, learned for the training
        classes (ArcFace's class centres, ProxyAnchor's proxies): held-out
        classes have none, and scored against the training classes' their
        loss measures nothing. The transfer scores, computed from the
        embedding alone, are still recorded; a warning says so.
        """
        params = own_parameters(criterion)
        if not params:
            return True
        held = ", ".join(f"{name} {shape}" for name, shape in params.items())
        # A loss given with a miner object is wrapped (MinedLoss.loss).
        loss = getattr(criterion, "loss", criterion)
        warn(
            f"{type(self).__name__}: valid_loss is not recorded: the loss "
            f"{type(loss).__name__} has parameters learned for the training "
            f"classes ({held}), which the classes held out by "
            "validation_fraction do not have, so a loss on them would mean "
            "nothing. valid_precision_at_1 and valid_one_shot_accuracy are "
            "recorded: monitor one of them (early_stopping=True does; or "
            "skorch's EarlyStopping(monitor='valid_precision_at_1', "
            "lower_is_better=False)).",
            UserWarning,
        )
        return False

    def _own_callbacks(self, valid, seed):
        """Validation scoring, early stopping and the learning-rate schedule."""
        own = []
        verbose = bool(self.verbose)
        if valid is not None:
            scoring = self._valid_scoring(valid, seed)
            if scoring is not None:
                own.append(scoring)
            if self.early_stopping:
                monitor, lower = self._monitor()
                own.append(("early_stopping", EarlyStopping(
                    monitor=monitor, lower_is_better=lower,
                    patience=self.n_iter_no_change, threshold=0.0,
                    threshold_mode="abs", load_best=True,
                    sink=print if verbose else noop)))
        schedule = self._lr_schedule()
        if schedule is not None:
            own.append(("lr_schedule", schedule))
        diagnostics = self._diagnostics()
        if diagnostics is not None:
            own.append(("mining_diagnostics", diagnostics))
        return own

    def _diagnostics(self):
        """The callback that records per-epoch training diagnostics (None: none)."""
        return None

    def _lr_schedule(self):
        """The learning-rate schedule callback of the net (None: constant ``lr``).

        ``"cosine"`` anneals from ``lr`` to 0 over ``max_epochs``; a continued
        fit goes on where the schedule stopped.
        """
        if self.lr_schedule == "cosine":
            return CosineSchedule(self._setting("lr"), self._epochs())
        return None

    def _new_net(self, module, criterion, seed, generator=None, valid=None):
        """The skorch net for this estimator's current training parameters.

        Where the estimator has an ``accelerator`` (Hugging Face accelerate),
        the net trains through it, and the accelerator, not ``device``,
        places the module. ``valid`` (a ``TensorData`` of held-out classes)
        is scored after each epoch.
        """
        opt_cls, opt_kwargs = optimizer_spec(self._setting("optimizer"))
        accelerator = self.accelerator
        net_class, placement = SiameseNet, {"device": resolve_device(self.device)}
        if accelerator is not None:
            net_class = AcceleratedSiameseNet
            placement = {
                "accelerator": accelerator,
                "device": None,
                # The accelerator's print writes on the main process only;
                # skorch uses any sink other than print whatever the verbosity.
                "callbacks__print_log__sink": (accelerator.print if self.verbose
                                               else noop),
            }
        if generator is None:
            generator = torch.Generator().manual_seed(seed)
        groups = self._param_groups()
        if groups:
            opt_kwargs = {**opt_kwargs, "param_groups": groups}
        split = None
        if valid is not None and self._scores_valid_loss(criterion):
            split = predefined_split(valid)
        return net_class(
            module=module,
            criterion=criterion,
            optimizer=opt_cls,
            lr=self._setting("lr"),
            max_epochs=self._epochs(),
            batch_size=self._rows_per_batch(),
            train_split=split,
            callbacks=default_callbacks(self.verbose, self.callbacks,
                                        self._own_callbacks(valid, seed)),
            augment=self._augmentation(seed),
            verbose=int(self.verbose),
            balanced=self._balanced,
            samples_per_class=self._samples_per_class(),
            distance=self._embedding_distance(),
            generator=generator,
            callbacks__print_log=print_log(),
            **placement,
            **{f"optimizer__{k}": v for k, v in opt_kwargs.items()},
        )

    def _assemble_net(self, seed, valid=None, module_device=None):
        """The net the parameters and fitted shapes describe, untrained.

        The one way a net is assembled: ``fit`` trains it, ``load_model``
        loads weights into it (building the module on ``module_device``,
        for example ``"meta"``, which allocates nothing), and
        ``_initialize_net`` initialises it. Not initialised.
        """
        place = (contextlib.nullcontext() if module_device is None
                 else torch.device(module_device))
        with seeded(seed, "cpu"), place:
            module = self._build_module()
        return self._new_net(module, self._build_criterion(), seed, valid=valid)

    def _initialize_net(self, seed=None):
        """An initialised, untrained net built from the parameters and fitted shapes."""
        seed = draw_seed(self.random_state) if seed is None else seed
        net = self._assemble_net(seed)
        with seeded(seed, "cpu"):
            net.initialize()
        return net

    def _check_architecture(self):
        """Raise where a continued fit would need another network."""
        before = getattr(self, "_architecture_", {})
        params = self.get_params(deep=False)
        changed = [name for name in self._ARCHITECTURE
                   if name in before and not _same_value(before[name], params[name])]
        if changed:
            raise ValueError(
                f"warm_start continues training the fitted network, but "
                f"{', '.join(changed)} changed since it was built, which needs "
                "another network. Set warm_start=False to train a new one, or "
                "set back " + ", ".join(f"{n}={before[n]!r}" for n in changed) + "."
            )

    def _continued_net(self, valid=None):
        """A net with the current parameters and the fitted net's training state.

        The module and the optimizer's state are copies, so that the fitted
        net is untouched until the new one has trained. The batch generator
        continues the fitted net's stream.
        """
        self._check_architecture()
        old = self.net_
        # The new net's generator continues a copy of the fitted one's stream
        # (the seed is its first draw): a continued fit that fails leaves the
        # fitted net's generator as it was.
        generator = torch.Generator()
        generator.set_state(old.generator.get_state())
        seed = continue_seed(generator)
        module = copy.deepcopy(bare_module(old))
        criterion = self._build_criterion()
        _continue_criterion(criterion, old.criterion_)
        net = self._new_net(module, criterion, seed, generator, valid)
        with seeded(seed, net_device(net)):
            net.initialize()
        if _same_groups(bare_optimizer(old), bare_optimizer(net)):
            # The current parameters' learning rates (lr, lr_groups), not the
            # fitted optimizer's.
            rates = [group["lr"] for group in net.optimizer_.param_groups]
            net.optimizer_.load_state_dict(copy.deepcopy(old.optimizer_.state_dict()))
            for group, rate in zip(net.optimizer_.param_groups, rates, strict=True):
                group["lr"] = rate
        net.history = copy.deepcopy(old.history)
        # The blow-up check measures growth from before the first training,
        # not from the start of each continued one.
        _keeper(net).start_scale_ = getattr(_keeper(old), "start_scale_", None)
        return net, seed

    def _fit_net(self, data, *, epochs=None, keep=False):
        """Build (or continue) the net and train it; set ``net_`` and ``history_``.

        ``data`` is the subclass's :class:`Training`. Returns ``True`` if
        every epoch finished (see ``_train``).
        """
        inputs, targets, valid = data.inputs, data.targets, data.valid
        if keep:
            net, seed = self._continued_net(valid)
        else:
            seed = draw_seed(self.random_state) if data.seed is None else data.seed
            net = self._assemble_net(seed, valid=valid)
            # A module may draw when first run (lazy layers): seeded, as its
            # initialisation is.
            with seeded(seed, "cpu"):
                self._learn_width(net.module, data)
        check_trainable(net.module, net.criterion)
        start = len(net.history) if net.history is not None else 0
        finished = self._train(net, inputs, targets, seed, epochs)
        if (finished is None and len(net.history) == start
                and "net_" in vars(self)):
            # Interrupted before this fit finished an epoch: its weights are
            # untrained ones, the fitted model is worth more. The Ctrl-C goes
            # on, and _unchanged_on_error puts the whole estimator back.
            raise KeyboardInterrupt(
                f"{type(self).__name__}: the fit was interrupted before it "
                "finished an epoch; the previously fitted model was kept."
            )
        # The fitted net keeps no reference to the validation rows.
        net.train_split = None
        self.net_ = net
        self.history_ = net.history
        params = self.get_params(deep=False)
        self._architecture_ = {name: params[name] for name in self._ARCHITECTURE}
        return finished

    def _train(self, net, X, y, seed, epochs=None):
        """Fit ``net`` on tensors for ``epochs`` (default ``max_epochs``) more epochs.

        If the loss (or the weights) stop being finite, or training is
        interrupted (Ctrl-C, which skorch catches) in the middle of an epoch,
        the weights of the last finished, finite epoch are restored, the
        unfinished epoch is dropped from the history, and a warning says so.
        Returns ``True`` if every epoch finished, ``False`` if training
        diverged, ``None`` if it was interrupted.
        """
        name = type(self).__name__
        with seeded(seed, net_device(net)):
            if not net.initialized_:
                net.initialize()
            # Its own fork of the seeded generator: a module that draws in
            # eval mode does not shift the training's draws.
            with seeded(seed, net_device(net)):
                try_training_batch(net, X, y)
            try:
                net.partial_fit(X, y, epochs=epochs)
            except Diverged as exc:
                _restore_last_epoch(net)
                if isinstance(net, AcceleratedSiameseNet) and net.unwrap_after_train:
                    # Training stopped before on_train_end, which unwraps.
                    net._unwrap_accelerator()
                warn(
                    f"{name} stopped: training diverged ({exc.what} in epoch "
                    f"{exc.epoch}); {_kept(net)}. Try a smaller lr (now "
                    f"{self._setting('lr')}), a smaller margin, another optimizer, "
                    "or scaling the input features (for example StandardScaler).",
                    ConvergenceWarning,
                )
                return False
        if len(net.history) and "train_loss" not in net.history[-1]:
            # Interrupted inside an epoch: its weights are half-updated.
            unfinished = len(net.history)
            _restore_last_epoch(net)
            if len(net.history) or "net_" not in vars(self):
                warn(f"{name}: training was interrupted in epoch {unfinished}; "
                     f"{_kept(net)}.", UserWarning)
            # None: interrupted (False: diverged), for _fit_net.
            return None
        return True

    @contextlib.contextmanager
    def _unchanged_on_error(self):
        """Leave the estimator exactly as it was if the block raises.

        A ``fit`` that fails part-way (bad input found late, a callback or a
        loss that raises) must not leave a half-trained model for
        ``transform`` to use. Nothing fitted is modified in place (a
        continued fit trains copies), so restoring the attributes suffices.
        """
        before = dict(vars(self))
        try:
            yield
        except BaseException:
            vars(self).clear()
            vars(self).update(before)
            raise

    # -- after training ------------------------------------------------------
    def _warn_if_collapsed(self, embeddings):
        """Warn when the embeddings of training samples sit at (nearly) one point."""
        scale = self._collapse_scale()
        steps = sum(row.get("train_batch_count", 0) for row in self.net_.history)
        tolerance = 1e-2 if steps >= _MIN_STEPS_FOR_COLLAPSE else 1e-6
        Z = embeddings.astype(np.float64)
        if self._embedding_distance() == "cosine":
            Z = _distances.normalize_rows(Z)
        centre = np.broadcast_to(Z.mean(axis=0), Z.shape)
        spread = float(np.sqrt(np.mean(_distances.rowwise(Z, centre) ** 2)))
        if spread < tolerance * scale:
            warn(
                f"{type(self).__name__}: the embeddings collapsed: {len(Z)} "
                f"training samples lie within {spread:.2g} of one point (the "
                f"margin is {scale:g}), so the embedding cannot tell classes "
                "apart. Likely causes: too high a learning rate "
                f"(lr={self._setting('lr')}); mining only the hardest pairs or "
                "triplets from the start (try "
                "miner='semi-hard' or 'all'); unnormalised embeddings (try "
                "distance='cosine').",
                ConvergenceWarning,
            )
            return True
        return False


def _continue_criterion(criterion, fitted):
    """Give a loss with parameters of its own (ArcFace's) their trained values.

    Only where the fitted criterion holds the same parameters: a loss changed
    since (``set_params(loss=...)``) starts from its own.
    """
    if not isinstance(criterion, torch.nn.Module):
        return
    if isinstance(fitted, torch.nn.parallel.DistributedDataParallel):
        fitted = fitted.module  # wrapped by accelerate
    state = criterion.state_dict()
    old = fitted.state_dict() if isinstance(fitted, torch.nn.Module) else {}
    if state and old.keys() == state.keys() and all(
            old[k].shape == state[k].shape for k in state):
        criterion.load_state_dict(copy.deepcopy(old))


def _same_groups(old, new):
    """Whether ``old``'s state fits ``new`` (lr_groups may have changed since)."""
    return type(old) is type(new) and [len(g["params"]) for g in old.param_groups] == [
        len(g["params"]) for g in new.param_groups]


def bare_optimizer(net):
    optimizer = net.optimizer_
    # accelerate wraps the optimizer; its class is what a continued fit keeps.
    return getattr(optimizer, "optimizer", optimizer)


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
