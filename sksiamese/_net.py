"""The skorch net that trains a Siamese module on tensor-backed, batch-indexed data."""

import contextlib
import copy
import math

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import Callback, LRScheduler, ProgressBar
from skorch.dataset import get_len
from skorch.hf import AccelerateMixin

from . import metrics
from ._finetune import frozen_norms_to_eval
from ._sampling import balanced_batches, sequential_batches

OPTIMIZERS = {
    "adam": (torch.optim.Adam, {}),
    "adamw": (torch.optim.AdamW, {}),
    # Plain SGD at Adam's learning rates barely moves; momentum is what people
    # mean by "SGD" for these networks.
    "sgd": (torch.optim.SGD, {"momentum": 0.9}),
    "rmsprop": (torch.optim.RMSprop, {}),
}


class TensorData:
    """Tensors held whole; batches are taken by index, never row by row.

    ``X`` is a tensor, or a tuple of tensors of equal length that the module's
    ``forward`` receives as separate arguments.
    """

    def __init__(self, X, y=None, balanced_eval_seed=None):
        self.X = X
        self.y = y
        # Held-out classes are scored in class-balanced batches, the same
        # batches every epoch (from this seed), so that epochs compare.
        self.balanced_eval_seed = balanced_eval_seed

    def __len__(self):
        return len(self.X[0]) if isinstance(self.X, (tuple, list)) else len(self.X)


class Batches:
    """One pass over ``TensorData``, re-drawn each time it is iterated."""

    def __init__(self, data, batch_size, labels=None, samples_per_class=None,
                 generator=None):
        self.data = data
        self.batch_size = batch_size
        self.labels = labels
        self.samples_per_class = samples_per_class
        self.generator = generator

    def _indices(self):
        if self.labels is not None:
            return _no_single_rows(balanced_batches(
                self.labels, self.batch_size, self.samples_per_class, self.generator
            ))
        if self.generator is not None:
            perm = torch.randperm(len(self.data), generator=self.generator)
            return _no_single_rows(list(perm.split(self.batch_size)))
        return sequential_batches(len(self.data), self.batch_size)

    def __len__(self):
        return math.ceil(len(self.data) / self.batch_size)

    def __iter__(self):
        X, y = self.data.X, self.data.y
        for idx in self._indices():
            yield _take(X, idx), (None if y is None else y[idx])


def _no_single_rows(batches):
    # A training batch of one row has no pair, and batch normalisation fails on
    # it: it joins the batch before it (the first batch, the one after it).
    merged = []
    for batch in batches:
        if merged and (len(batch) < 2 or len(merged[-1]) < 2):
            merged[-1] = torch.cat([merged[-1], batch])
        else:
            merged.append(batch)
    return merged


def _take(X, idx):
    # X is a tensor, or a tuple of tensors with one row per sample each (for
    # modules whose forward takes several inputs).
    if isinstance(X, (tuple, list)):
        return type(X)(x[idx] for x in X)
    return X[idx]


class Diverged(RuntimeError):
    """Raised inside training when the loss or the weights stop being finite."""

    def __init__(self, epoch, what):
        super().__init__(f"{what} in epoch {epoch}")
        self.epoch = epoch
        self.what = what


@contextlib.contextmanager
def evaluating(module):
    """Run a block with ``module`` in eval mode and no gradients, then restore.

    What the end-of-epoch checks and scores need in the middle of training:
    batch norm on its running statistics, no dropout, no graph.
    """
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        module.train(was_training)
        if was_training:
            frozen_norms_to_eval(module)


class KeepLastFinite(Callback):
    """Snapshot the module after each sane epoch; stop where training blows up.

    An epoch counts as sane when every loss of its batches was finite, its
    weights are finite at its end (a step at a huge learning rate can turn
    the weights infinite while the loss it was computed from was not), and
    the embedding of a few training rows is finite and has not grown more
    than ``growth_limit`` times since the network's first training began
    (from at least 1): weights that grow without bound are a failed fit
    even while their values stay finite (``optimizer="sgd", lr=1e6`` gives
    embeddings of 1e24).
    """

    # Training rows embedded at each epoch's end to check that the weights
    # still give finite embeddings (weights of 1e18 are finite, their
    # products in float32 are not), and that they did not blow up.
    probe_rows = 16
    # How many times the probe rows' RMS embedding norm may grow from its
    # value before the network's first epoch (kept across continued fits:
    # partial_fit, warm_start) or 1, whichever is larger, so that a loop of
    # partial_fit calls cannot grow it without bound a little at a time.
    # Fits that work grow it far less:
    # 250 epochs of 200 digits grew them about 80 times at lr=1e-2 (Adam),
    # 50 times with SGD at lr=0.1; SGD at lr=1e6 grows them 1e24 times in
    # its first epoch.
    growth_limit = 1e6

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        data = X.X if isinstance(X, TensorData) else X
        self.probe_ = None if data is None else _take(data, slice(0, self.probe_rows))
        if getattr(self, "start_scale_", None) is None:
            self.start_scale_ = self._probe_scale(net)
        # A continued fit (warm_start, partial_fit) keeps the last snapshot.
        if not hasattr(self, "state_"):
            self._snapshot(net)

    def _snapshot(self, net):
        self.state_ = copy.deepcopy(bare_module(net).state_dict())
        self.epoch_ = len(net.history)

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        if not training:
            return
        # skorch has already recorded loss.item(): reading it adds no sync.
        value = net.history[-1]["batches"][-1]["train_loss"]
        if not math.isfinite(value):
            raise Diverged(len(net.history), f"the loss became {value}")

    def on_epoch_end(self, net, **kwargs):
        state = bare_module(net).state_dict()
        if not all(torch.isfinite(v).all() for v in state.values()
                   if v.is_floating_point()):
            raise Diverged(len(net.history), "the weights became NaN or infinite")
        scale = self._probe_scale(net)
        if not math.isfinite(scale):
            raise Diverged(len(net.history), "the weights grew so large that the "
                                             "embeddings became NaN or infinite")
        limit = self.growth_limit * max(self.start_scale_, 1.0)
        if scale > limit:
            raise Diverged(
                len(net.history),
                f"the embeddings grew without bound: their RMS norm on "
                f"{self.probe_rows} training rows went from "
                f"{self.start_scale_:.3g} to {scale:.3g}, more than "
                f"{self.growth_limit:g} times")
        self._snapshot(net)

    def _probe_scale(self, net):
        """RMS norm of the probe rows' embedding (NaN or inf if not finite)."""
        if self.probe_ is None:
            return 0.0
        with evaluating(net.module_):
            out = net.infer(self.probe_)
        outs = out if isinstance(out, (tuple, list)) else (out,)
        # In float64: the squares of float32 values of 1e24 overflow float32.
        squares = [o.detach().double().reshape(len(o), -1).pow(2).sum(1).mean()
                   for o in outs if o.is_floating_point() and o.numel()]
        if not squares:
            return 0.0
        # torch's max, unlike Python's, keeps a NaN.
        return float(torch.stack(squares).max().sqrt())

    def restore(self, net):
        bare_module(net).load_state_dict(self.state_)


def bare_module(net):
    # An accelerator may wrap the module (DistributedDataParallel adds a
    # "module." prefix to the state's keys): snapshots are of the module itself.
    accelerator = getattr(net, "accelerator", None)
    if accelerator is None:
        return net.module_
    return accelerator.unwrap_model(net.module_)


class SiameseNet(NeuralNet):
    """A skorch ``NeuralNet`` whose criterion is called as ``loss(output, y)``.

    Training batches come from ``Batches``: class-balanced when
    ``balanced=True`` (``y`` are class codes), otherwise shuffled rows (``y``
    are pair labels). Randomness comes only from ``generator``.
    """

    def __init__(self, *args, balanced=True, samples_per_class=4, generator=None,
                 augment=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.balanced = balanced
        self.samples_per_class = samples_per_class
        self.generator = generator
        self.augment = augment

    def get_dataset(self, X, y=None):
        if isinstance(X, TensorData):
            return X
        return TensorData(X, y)

    def get_iterator(self, dataset, training=False):
        seed = getattr(dataset, "balanced_eval_seed", None)
        if not training and seed is not None:
            return Batches(dataset, self.batch_size, labels=dataset.y,
                           samples_per_class=self.samples_per_class,
                           generator=torch.Generator().manual_seed(seed))
        if not training:
            return Batches(dataset, self.batch_size)
        labels = dataset.y if self.balanced else None
        return Batches(dataset, self.batch_size, labels=labels,
                       samples_per_class=self.samples_per_class,
                       generator=self.generator)

    def _set_training(self, training=True):
        # skorch sets the mode of every submodule at every batch; within an
        # epoch it never changes, so skip the walk when it is already right.
        modules = [getattr(self, name + "_") for name in self._modules + self._criteria]
        if all(getattr(m, "training", training) == training for m in modules):
            return
        super()._set_training(training)
        if training:
            for module in modules:
                if isinstance(module, torch.nn.Module):
                    frozen_norms_to_eval(module)

    def _augmented(self, x):
        out = self.augment(x)
        wanted = (f"augment must return a tensor of the batch's shape "
                  f"{tuple(x.shape)}, dtype {x.dtype} and device {x.device}")
        if not isinstance(out, torch.Tensor):
            raise ValueError(f"{wanted}; it returned a {type(out).__name__}.")
        if out.shape != x.shape:
            raise ValueError(f"{wanted}; it returned shape {tuple(out.shape)}.")
        if out.dtype != x.dtype:
            # The encoder's weights are of the batch's dtype: another one
            # fails deep inside it ("expected scalar type ...").
            raise ValueError(f"{wanted}; it returned dtype {out.dtype}. Convert "
                             "its result back, for example with .to(x.dtype).")
        if out.device != x.device:
            raise ValueError(f"{wanted}; it returned a tensor on {out.device}. "
                             "Create its tensors on x.device.")
        return out

    @property
    def batch_device(self):
        """Where batches go: the net's ``device``."""
        return self.device

    def infer(self, x, **fit_params):
        x = _to_device(x, self.batch_device)
        if self.augment is not None and self.module_.training:
            x = self._augmented(x)
        if isinstance(x, (tuple, list)):
            return self.module_(*x, **fit_params)
        out = self.module_(x, **fit_params)
        if self.balanced:
            # The module is the user's encoder: its output is the embedding.
            check_embedding_output(out)
        return out

    def get_loss(self, y_pred, y_true, X=None, training=False):
        loss = self.criterion_(y_pred, _to_device(y_true, self.batch_device))
        return check_loss_output(loss, training and torch.is_grad_enabled())


class CosineSchedule(Callback):
    """Anneal each learning rate from its own value to 0 over ``epochs``, as a cosine.

    The schedule of ``torch.optim.lr_scheduler.CosineAnnealingLR`` stepped
    once per epoch, written as a callback that sets the optimizer's learning
    rates: torch's schedulers patch the optimizer's ``step``, which makes an
    optimizer wrapped by accelerate unpicklable, and a fitted estimator must
    pickle. Each parameter group is scaled from its own rate (``lr_groups``:
    a group at 0 stays at 0). The position in the schedule is the number of
    epochs in the net's history, so a continued fit (``warm_start``,
    ``partial_fit``) goes on annealing instead of restarting; past
    ``epochs`` the rates stay at 0. With ``restart=True`` each training
    anneals anew over ``epochs``, counted from the epochs it starts with.
    """

    def __init__(self, lr, epochs, restart=False):
        self.lr = lr
        self.epochs = epochs
        self.restart = restart

    def on_train_begin(self, net, **kwargs):
        # The estimator's current rates (lr, lr_groups), set by the net's
        # builder, are the peaks.
        self.base_ = [group["lr"] for group in net.optimizer_.param_groups]
        self.start_ = len(net.history) if self.restart else 0
        self._set(net, self._factor(len(net.history) - self.start_))

    def on_epoch_end(self, net, **kwargs):
        self._set(net, self._factor(len(net.history) - self.start_))

    def _factor(self, done):
        if not self.epochs:
            return 1.0  # max_epochs=0: nothing to anneal
        done = min(done, self.epochs)
        return (1 + math.cos(math.pi * done / self.epochs)) / 2

    def _set(self, net, factor):
        groups = net.optimizer_.param_groups
        for group, base in zip(groups, self.base_, strict=True):
            group["lr"] = base * factor


class TransferScoring(Callback):
    """Score the embedding of held-out classes at the end of each epoch.

    Records ``valid_precision_at_1`` (every held-out sample queries the
    others) and ``valid_one_shot_accuracy`` (N-way 1-shot episodes, the same
    episodes every epoch, N the smaller of 5 and the held-out classes).
    """

    def __init__(self, data, distance, n_episodes=200, seed=0):
        self.data = data
        self.distance = distance
        self.n_episodes = n_episodes
        self.seed = seed

    def on_epoch_end(self, net, **kwargs):
        with evaluating(net.module_):
            E = torch.cat([net.infer(x).float().cpu() for x, _ in
                           Batches(self.data, 1024)]).numpy()
        y = self.data.y.numpy()
        n_way = int(min(5, (np.bincount(y) >= 2).sum()))
        net.history.record("valid_precision_at_1", metrics.precision_at_1(
            E, y, distance=self.distance))
        net.history.record("valid_one_shot_accuracy", metrics.n_way_k_shot_accuracy(
            None, E, y, n_way=n_way, k_shot=1, n_episodes=self.n_episodes,
            distance=self.distance, random_state=self.seed))

    def on_train_end(self, net, **kwargs):
        # The fitted estimator keeps no copy of its validation rows.
        self.data = None


class ShardedBatches:
    """This process's share of ``batches``, for data-parallel training.

    Every process draws the same batches (their generators are synchronised)
    and takes every ``num_processes``-th one; all get the same number of
    batches, as each optimizer step waits for all processes, so where the
    batches do not divide evenly some processes repeat their first batch.
    """

    def __init__(self, batches, process_index, num_processes):
        self.batches = batches
        self.process_index = process_index
        self.num_processes = num_processes

    def __len__(self):
        return math.ceil(len(self.batches) / self.num_processes)

    def __iter__(self):
        mine = list(self.batches)[self.process_index::self.num_processes]
        missing = len(self) - len(mine)
        yield from mine + mine[:1] * missing


class AcceleratedSiameseNet(AccelerateMixin, SiameseNet):
    """``SiameseNet`` trained through Hugging Face accelerate.

    The accelerator places the module (``device`` is None) and wraps it for
    data-parallel training when several processes run. Each process trains
    on its share of each epoch's batches (``ShardedBatches``), and mines pairs
    or triplets within its own batches. The loss and batch size recorded in
    the history are over all processes' batches, so that every process has
    the same history: all see a non-finite loss at the same step and stop
    together, and callbacks decide alike.
    """

    @property
    def batch_device(self):
        return self.accelerator.device

    def initialize(self):
        super().initialize()
        if self.accelerator.num_processes > 1 and self.generator is not None:
            # Processes seeded differently (random_state=None) would draw
            # different batches, and their shares would overlap.
            from accelerate.utils import broadcast_object_list

            state = [self.generator.get_state()]
            broadcast_object_list(state)
            self.generator.set_state(state[0])
        return self

    def _prepare_modules(self):
        for kind, names in (("criterion", self._criteria), ("module", self._modules)):
            with self._current_init_context(kind):
                for name in names:
                    module = getattr(self, name + "_")
                    # With several processes accelerate wraps modules in
                    # DistributedDataParallel, which refuses modules with
                    # nothing to train, such as the losses.
                    if isinstance(module, torch.nn.Module) and any(
                            p.requires_grad for p in module.parameters()):
                        setattr(self, name + "_", self.accelerator.prepare(module))

    def _initialize_accelerator(self):
        if self._wrapped_with_accelerator:
            return self
        self._prepare_modules()
        with self._current_init_context("optimizer"):
            for name in self._optimizers:
                optimizer = getattr(self, name + "_")
                if isinstance(optimizer, torch.optim.Optimizer):
                    setattr(self, name + "_", self.accelerator.prepare(optimizer))
        for _, callback in self.callbacks_:
            if isinstance(callback, LRScheduler):
                callback.policy_ = self.accelerator.prepare(callback.policy_)
        self._wrapped_with_accelerator = True
        return self

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        if not self._wrapped_with_accelerator:
            # Unwrapped at the end of an earlier fit: wrap the module again
            # for more training (warm_start, partial_fit); the optimizer is
            # still the prepared one.
            self._prepare_modules()
            self._wrapped_with_accelerator = True
        return super().on_train_begin(net, X=X, y=y, **kwargs)

    def get_iterator(self, dataset, training=False):
        iterator = super().get_iterator(dataset, training=training)
        if training and self.accelerator.num_processes > 1:
            iterator = ShardedBatches(iterator, self.accelerator.process_index,
                                      self.accelerator.num_processes)
        return iterator

    def train_step(self, batch, **fit_params):
        step = super().train_step(batch, **fit_params)
        if self.accelerator.num_processes > 1:
            # The loss per row over all processes' batches, and their total
            # size, so that every process records the same history.
            size = torch.tensor(float(get_len(batch[0])), device=self.batch_device)
            total = self.accelerator.reduce(
                torch.stack([step["loss"].detach() * size, size]), "sum")
            step["loss"] = total[0] / total[1]
            self._rows_in_step = int(total[1])
        return step

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        if training and self.accelerator.num_processes > 1:
            self.history.record_batch("train_batch_size", self._rows_in_step)
        return super().on_batch_end(net, batch=batch, training=training, **kwargs)


def _first_line(exc):
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


def _passes_through(exc):
    # Our own ValueErrors already say what is wrong; running out of memory
    # is not a mismatch of the data.
    return isinstance(exc, (ValueError, MemoryError, torch.cuda.OutOfMemoryError))


def encoder_failure(exc, shape, module=None, dtype=None):
    """The ``ValueError`` for an encoder that raised on samples of ``shape``.

    ``module`` and ``dtype`` (the samples' tensor dtype), where given, let
    the message name weights of another dtype than the samples'.
    """
    shape = tuple(shape)
    hint = ""
    if len(shape) == 1:
        hint = (f" (for flat rows of {shape[0]} features, a torch.nn.Linear "
                f"first layer is torch.nn.Linear({shape[0]}, ...))")
    kinds = {p.dtype for p in module.parameters()} if module is not None else set()
    other = sorted(str(k) for k in kinds if k.is_floating_point and k != dtype)
    if dtype is not None and dtype.is_floating_point and other:
        hint += (f"; its weights are {', '.join(other)} but the samples are "
                 f"{dtype}: convert the module with .float()")
    return ValueError(
        f"The encoder cannot embed these samples: on samples of shape {shape} "
        f"it raised {_first_line(exc)}. An encoder must take a "
        "batch of samples shaped like the training samples and return a float "
        "tensor of shape (batch, n_components); a module instance given as "
        f"encoder must be built for these samples{hint}."
    )


def own_parameters(criterion):
    """``name: shape`` of a loss's parameters that hold more than one value.

    Such parameters are learned for the training data: pytorch-metric-learning's
    ArcFaceLoss holds a centre per training class, ProxyAnchorLoss a proxy.
    A single learned value (a margin, a temperature) is not counted.
    """
    if isinstance(criterion, torch.nn.parallel.DistributedDataParallel):
        criterion = criterion.module
    if not isinstance(criterion, torch.nn.Module):
        return {}
    return {name: tuple(p.shape) for name, p in criterion.named_parameters()
            if p.numel() > 1}


# pytorch-metric-learning's losses with one parameter row per class that do
# not keep their num_classes (it reads 0): the parameter, and its class axis.
_CLASS_AXES = {"NormalizedSoftmaxLoss": ("W", 1), "ProxyNCALoss": ("proxies", 0),
               "MarginLoss": ("beta", 0)}


def _class_count(module):
    """The classes ``module`` (a loss) holds parameters for, or None if unknown."""
    count = getattr(module, "num_classes", None)
    if isinstance(count, int) and not isinstance(count, bool) and count > 0:
        return count
    name, axis = _CLASS_AXES.get(type(module).__name__, (None, 0))
    param = getattr(module, name, None) if name else None
    # MarginLoss's beta is one value unless built with num_classes.
    if isinstance(param, torch.Tensor) and param.numel() > 1:
        return int(param.shape[axis])
    return None


def _check_class_count(criterion, n_classes):
    """Refuse a loss built (``num_classes=``) for fewer classes than it trains on.

    Before the loss runs: on a GPU, its index out of range would be a
    device-side assert, which ends the process's use of the GPU; and some
    (ProxyNCALoss) train silently without the classes they lack.
    """
    for module in criterion.modules():
        count = _class_count(module)
        if count is not None and count < n_classes:
            raise ValueError(
                f"The loss {type(module).__name__} was built with "
                f"num_classes={count}, but fit trains it on {n_classes} classes "
                f"(coded 0 to {n_classes - 1}: the classes of y, less those "
                "that validation_fraction holds out): it has no parameters for "
                f"the others. Build it with num_classes={n_classes}."
            )


# torch's losses of a prediction against a target of the same shape: called
# as loss(embeddings, labels) they broadcast the labels against the
# embeddings, which fails at some batch sizes and means nothing at others.
_TARGET_LOSSES = (
    torch.nn.MSELoss, torch.nn.L1Loss, torch.nn.SmoothL1Loss, torch.nn.HuberLoss,
    torch.nn.BCELoss, torch.nn.BCEWithLogitsLoss, torch.nn.KLDivLoss,
    torch.nn.PoissonNLLLoss, torch.nn.GaussianNLLLoss, torch.nn.SoftMarginLoss,
    torch.nn.HingeEmbeddingLoss, torch.nn.MultiLabelSoftMarginLoss,
    torch.nn.MultiLabelMarginLoss,
)


def _check_not_target_loss(criterion):
    for module in criterion.modules():
        if isinstance(module, _TARGET_LOSSES):
            raise ValueError(
                f"loss={type(module).__name__}() compares a prediction with a "
                "target of the same shape; a Siamese loss is called as "
                "loss(embeddings, labels), with one class label per embedding, "
                "and pulls same-class embeddings together. Use loss='triplet' or "
                "'contrastive', or a metric-learning loss such as "
                "pytorch-metric-learning's. (SiamesePairRegressor fits pairs to "
                "similarity targets with a squared error.)"
            )


def try_training_batch(net, X, y):
    """Run the module and the loss once on a few training rows, before training.

    A module or a loss that does not fit the data (an encoder instance built
    for other features, a loss sized for other classes or widths, a loss that
    does not take ``(embeddings, labels)``) would fail deep inside torch at
    the first batch; here it fails with a ``ValueError`` that says which
    part failed, on what, and what it must be. The rows are two of the
    highest class code, which a loss sized for fewer classes fails on, and
    two of another class. Nothing changes: the module runs in eval mode
    without gradients, and the loss is a copy. Only for class-labelled
    training (``net.balanced``); the pair networks' losses are the package's.
    """
    if not net.balanced or y is None or not len(y):
        return
    y = torch.as_tensor(y)
    top = int(y.max())
    rows = torch.cat([torch.nonzero(y != top)[:2, 0], torch.nonzero(y == top)[:2, 0]])
    batch, labels = _take(X, rows), y[rows]
    criterion = net.criterion_
    if isinstance(criterion, torch.nn.parallel.DistributedDataParallel):
        criterion = criterion.module
    with evaluating(net.module_):
        try:
            out = net.infer(batch)
        except Exception as exc:
            if _passes_through(exc):
                raise
            first = batch[0] if isinstance(batch, (tuple, list)) else batch
            raise encoder_failure(exc, first.shape[1:], bare_module(net),
                                  first.dtype) from exc
        if isinstance(criterion, torch.nn.Module):
            _check_not_target_loss(criterion)
            _check_class_count(criterion, top + 1)
        loss = copy.deepcopy(criterion)
        # What the user gave: the function a CallableCriterion wraps, the
        # loss a MinedLoss gives its miner's indices to.
        given = getattr(criterion, "function", None) or getattr(
            criterion, "loss", None) or criterion
        name = getattr(given, "__name__", None) or type(given).__name__
        try:
            value = loss(out, _to_device(labels, net.batch_device))
        except Exception as exc:
            if _passes_through(exc):
                raise
            raise ValueError(
                f"The loss ({name}) cannot be computed on the "
                f"training embeddings: called as loss(embeddings, labels) on "
                f"{len(out)} embeddings of width {out.shape[1]} with the class "
                f"codes {labels.tolist()} (fit codes its {top + 1} training "
                f"classes 0 to {top}), it raised {_first_line(exc)}. A loss must "
                "take (embeddings, labels) and return a scalar tensor, as the "
                "built-in losses and pytorch-metric-learning's do; torch.nn.MSELoss "
                "and other losses of a prediction against a target do not. A loss "
                "with parameters for each class (ArcFaceLoss, ProxyAnchorLoss, ...) "
                f"must be built for these data: num_classes={top + 1} (or more) "
                f"and embedding_size={out.shape[1]}."
            ) from exc
    check_loss_output(value, needs_grad=False)


def check_embedding_output(out):
    """Raise ``ValueError`` unless an encoder returned a (batch, d) float tensor."""
    if not isinstance(out, torch.Tensor):
        raise ValueError(
            f"The encoder's forward returned a {type(out).__name__}, not a torch "
            "tensor; it must return one float tensor of shape (batch, "
            "n_components), computed with torch operations."
        )
    if not out.is_floating_point():
        raise ValueError(
            f"The encoder's forward returned a tensor of dtype {out.dtype}; "
            "embeddings must be floating point, so that the loss can "
            "differentiate them."
        )
    if out.ndim != 2:
        raise ValueError(
            f"The encoder's forward returned a tensor of shape {tuple(out.shape)};"
            " embeddings must have shape (batch, n_components): flatten the "
            "output (for example with torch.nn.Flatten())."
        )
    return out


def check_loss_output(loss, needs_grad):
    """Raise ``ValueError`` unless the loss is a scalar tensor to backpropagate."""
    if not isinstance(loss, torch.Tensor):
        raise ValueError(
            f"The loss returned {type(loss).__name__} {loss!r:.40}, not a torch "
            "tensor; it must return a scalar tensor computed from the embeddings "
            "with torch operations (not .item(), float() or numpy)."
        )
    if loss.numel() != 1:
        raise ValueError(
            f"The loss returned a tensor of shape {tuple(loss.shape)}; it must "
            "return a scalar: reduce it, for example with .mean()."
        )
    if not loss.is_floating_point():
        raise ValueError(f"The loss returned a tensor of dtype {loss.dtype}; it "
                         "must be floating point.")
    if needs_grad and not loss.requires_grad:
        raise ValueError(
            "The loss returned a tensor with no gradient (detached from the "
            "embeddings); compute it from the embeddings with torch operations, "
            "without .detach(), .item(), numpy or torch.no_grad()."
        )
    return loss.reshape(())


class CallableCriterion(torch.nn.Module):
    """A plain function ``loss(embeddings, labels)`` as the net's criterion.

    skorch calls a criterion that is not a module to build it, with no
    arguments; a function, a ``functools.partial`` or a lambda is the loss
    itself, so it is wrapped.
    """

    def __init__(self, function):
        super().__init__()
        self.function = function

    def forward(self, embeddings, labels):
        return self.function(embeddings, labels)


def _to_device(x, device):
    if isinstance(x, (tuple, list)):
        return type(x)(_to_device(v, device) for v in x)
    if str(device).startswith("cuda") and x.device.type == "cpu":
        # A copy from pinned memory can overlap with the GPU's work.
        return x.pin_memory().to(device, non_blocking=True)
    return x.to(device, non_blocking=True)


def resolve_device(device):
    """``"auto"`` is CUDA where available, else the CPU; others are checked."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(
            f"device={device!r} is not a device torch knows; use 'cpu', 'cuda', "
            "'cuda:1', ... or 'auto' (a GPU where there is one)."
        ) from None
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            build = "" if torch.backends.cuda.is_built() else " (a CPU build)"
            raise ValueError(
                f"device={device!r} asks for a GPU, but this torch{build} finds "
                "none. Use device='cpu', or device='auto' to train on a GPU "
                "where there is one."
            )
        if parsed.index is not None and parsed.index >= torch.cuda.device_count():
            raise ValueError(
                f"device={device!r} names GPU {parsed.index}, but torch finds "
                f"{torch.cuda.device_count()} GPU(s)."
            )
    return str(device)


def default_callbacks(verbose, extra, own=()):
    """The package's callbacks (``own`` after the first), then the user's copies."""
    callbacks = [("keep_last_finite", KeepLastFinite()), *own]
    if verbose and verbose >= 2:
        callbacks.append(("progress_bar", ProgressBar()))
    return callbacks + list(copy.deepcopy(extra or []))
