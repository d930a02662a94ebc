"""The skorch net that trains a Siamese module on tensor-backed, batch-indexed data."""

import contextlib
import math

import numpy as np
import torch
from sklearn.utils import ClassifierTags, Tags, TargetTags
from skorch import NeuralNet
from skorch.callbacks import LRScheduler
from skorch.dataset import Dataset, get_len
from skorch.hf import AccelerateMixin

from ._distances import rowwise_distances
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


class TensorData(Dataset):
    """Tensors held whole; batches are taken by index, never row by row.

    ``X`` is a tensor, or a tuple of tensors of equal length that the module's
    ``forward`` receives as separate arguments. A skorch ``Dataset``, so
    that skorch's ``EpochScoring`` hands a scorer its ``X`` and ``y``.
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


def bare_module(net):
    # An accelerator may wrap the module (DistributedDataParallel adds a
    # "module." prefix to the state's keys): snapshots are of the module itself.
    accelerator = getattr(net, "accelerator", None)
    if accelerator is None:
        return net.module_
    return accelerator.unwrap_model(net.module_)


# Rows per forward call of the net's transform, for scorers in training.
_SCORING_ROWS = 1024


class SiameseNet(NeuralNet):
    """A skorch ``NeuralNet`` whose criterion is called as ``loss(output, y)``.

    Training batches come from ``Batches``: class-balanced when
    ``balanced=True`` (``y`` are class codes), otherwise shuffled rows (``y``
    are pair labels). Randomness comes only from ``generator``.
    """

    def __init__(self, *args, balanced=True, samples_per_class=4, generator=None,
                 augment=None, distance="euclidean", **kwargs):
        super().__init__(*args, **kwargs)
        self.balanced = balanced
        self.samples_per_class = samples_per_class
        self.generator = generator
        self.augment = augment
        self.distance = distance

    # -- what a scorer sees in skorch's EpochScoring -------------------------
    # skorch calls a scorer as scorer(net, X, y) with this net in the middle
    # of training: the module being trained embeds (transform), and a pair
    # network, a classifier of "same" (1) against "different" (0), scores
    # pairs (decision_function: ranking scorers such as "roc_auc"; no
    # threshold is calibrated until training ends), through forward, so that
    # skorch's cached predictions line up with its cached targets.
    def transform(self, X):
        """Embeddings of samples ``X`` by the module as it is now.

        Straight through the module, in the rows' order: ``forward`` would
        give skorch's cached outputs, in the order of the batches that
        computed them (class-balanced for held-out classes).
        """
        X = torch.as_tensor(np.asarray(X)) if not isinstance(X, torch.Tensor) else X
        module = bare_module(self)
        rows = _SCORING_ROWS
        with evaluating(module):
            out = [module(_to_device(X[i:i + rows], self.batch_device)).float().cpu()
                   for i in range(0, len(X), rows)]
        return torch.cat(out).numpy()

    @property
    def classes_(self):
        if self.balanced:
            raise AttributeError("a net of class labels has no pair classes_")
        return np.array([0, 1])

    def __sklearn_tags__(self):
        if self.balanced:
            return Tags(estimator_type=None, target_tags=TargetTags(required=True))
        return Tags(estimator_type="classifier",
                    target_tags=TargetTags(required=True),
                    classifier_tags=ClassifierTags())

    def decision_function(self, X):
        """How alike the two sides of each pair are (higher: more alike), now."""
        if self.balanced:
            raise AttributeError("a net of class labels scores no pairs")
        scores = []
        for out in self.forward_iter(self._pairs(X), training=False):
            # skorch's cache holds the training steps' outputs, with their graph.
            if isinstance(out, (tuple, list)):  # two embeddings: minus the distance
                out = -rowwise_distances(*(z.detach().double() for z in out),
                                         self.distance)
            scores.append(out.detach().reshape(-1).double().cpu())
        return torch.cat(scores).numpy()

    def _pairs(self, X):
        if isinstance(X, TensorData):  # skorch's EpochScoring with its cache
            return X
        left, right = X if isinstance(X, (tuple, list)) else (X[:, 0], X[:, 1])
        return TensorData(tuple(torch.as_tensor(np.asarray(s)) for s in (left, right)))

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
            # A pair's two sides are distorted independently.
            x = (tuple(self._augmented(side) for side in x)
                 if isinstance(x, (tuple, list)) else self._augmented(x))
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


