"""The skorch net that trains a Siamese module on tensor-backed, batch-indexed data."""

import copy
import math

import torch
from skorch import NeuralNet
from skorch.callbacks import Callback, ProgressBar

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

    def __init__(self, X, y=None):
        self.X = X
        self.y = y

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
            return balanced_batches(
                self.labels, self.batch_size, self.samples_per_class, self.generator
            )
        if self.generator is not None:
            perm = torch.randperm(len(self.data), generator=self.generator)
            batches = list(perm.split(self.batch_size))
            if len(batches) > 1 and len(batches[-1]) < 2:
                batches[-2:] = [torch.cat(batches[-2:])]
            return batches
        return sequential_batches(len(self.data), self.batch_size)

    def __len__(self):
        return math.ceil(len(self.data) / self.batch_size)

    def __iter__(self):
        X, y = self.data.X, self.data.y
        for idx in self._indices():
            yield _take(X, idx), (None if y is None else y[idx])


def _take(X, idx):
    # X is a tensor, or a tuple of tensors with one row per sample each (for
    # modules whose forward takes several inputs).
    if isinstance(X, (tuple, list)):
        return type(X)(x[idx] for x in X)
    return X[idx]


class Diverged(RuntimeError):
    """Raised inside training when the loss stops being finite."""

    def __init__(self, epoch, loss):
        super().__init__(f"loss became {loss} in epoch {epoch}")
        self.epoch = epoch
        self.loss = loss


class KeepLastFinite(Callback):
    """Snapshot the module after each finite epoch; stop at a non-finite loss."""

    def on_train_begin(self, net, **kwargs):
        if not hasattr(self, "state_") or self.state_ is None:
            self._snapshot(net)

    def _snapshot(self, net):
        self.state_ = copy.deepcopy(net.module_.state_dict())
        self.epoch_ = len(net.history)

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        if not training:
            return
        # skorch has already recorded loss.item(): reading it adds no sync.
        value = net.history[-1]["batches"][-1]["train_loss"]
        if not math.isfinite(value):
            raise Diverged(len(net.history), value)

    def on_epoch_end(self, net, **kwargs):
        self._snapshot(net)

    def restore(self, net):
        net.module_.load_state_dict(self.state_)


class SiameseNet(NeuralNet):
    """A skorch ``NeuralNet`` whose criterion is called as ``loss(output, y)``.

    Training batches come from ``Batches``: class-balanced when
    ``balanced=True`` (``y`` are class codes), otherwise shuffled rows (``y``
    are pair labels). Randomness comes only from ``generator``.
    """

    def __init__(self, *args, balanced=True, samples_per_class=4, generator=None,
                 **kwargs):
        super().__init__(*args, **kwargs)
        self.balanced = balanced
        self.samples_per_class = samples_per_class
        self.generator = generator

    def get_dataset(self, X, y=None):
        if isinstance(X, TensorData):
            return X
        return TensorData(X, y)

    def get_iterator(self, dataset, training=False):
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

    def infer(self, x, **fit_params):
        x = _to_device(x, self.device)
        if isinstance(x, (tuple, list)):
            return self.module_(*x, **fit_params)
        return self.module_(x, **fit_params)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        return self.criterion_(y_pred, _to_device(y_true, self.device))


def _to_device(x, device):
    if isinstance(x, (tuple, list)):
        return type(x)(_to_device(v, device) for v in x)
    if str(device).startswith("cuda") and x.device.type == "cpu":
        # A copy from pinned memory can overlap with the GPU's work.
        return x.pin_memory().to(device, non_blocking=True)
    return x.to(device, non_blocking=True)


def resolve_device(device):
    """``"auto"`` is CUDA where available, else the CPU."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return str(device)


def default_callbacks(verbose, extra):
    callbacks = [("keep_last_finite", KeepLastFinite())]
    if verbose and verbose >= 2:
        callbacks.append(("progress_bar", ProgressBar()))
    return callbacks + list(copy.deepcopy(extra or []))
