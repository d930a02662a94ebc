"""Every loss-to-criterion adapter: what a ``loss`` and a ``miner`` parameter describe.

A brought loss is a ``torch.nn.Module`` or a plain function called as
``loss(embeddings, labels)``, as pytorch-metric-learning's losses are; a
brought miner is called as ``miner(embeddings, labels)`` and returns index
tuples, which go to the loss as ``loss(embeddings, labels, indices_tuple)``.
Both are copied before training, so that the user's objects stay as they
were and two fits from one object start alike.
"""

import copy
import inspect

import torch
from torch import nn
from torch.nn import functional as F

from ._distances import similarity

_PAIR_PARAMS = ("margin", "distance", "miner")


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


class EmbeddingPairLoss(nn.Module):
    """Adapts a ``loss(left, right, labels)`` to the net's ``loss(output, y)``."""

    def __init__(self, loss):
        super().__init__()
        self.loss = loss

    def forward(self, output, labels):
        return self.loss(*output, labels)


class SimilarityMSE(nn.Module):
    """Mean squared error between the pair's similarity and its scaled target."""

    def __init__(self, kind):
        super().__init__()
        self.kind = kind

    def forward(self, output, target):
        return F.mse_loss(similarity(*output, self.kind), target.to(output[0].dtype))


class MinedLoss(nn.Module):
    """A loss that receives the index tuples of a miner.

    Parameters
    ----------
    loss : callable
        Called as ``loss(embeddings, labels, indices_tuple)``, as
        pytorch-metric-learning's losses are.
    miner : callable
        Called as ``miner(embeddings, labels)``; returns ``(anchors,
        positives, negatives)`` (triplets) or ``(anchors_p, positives,
        anchors_n, negatives)`` (pairs), 1-D integer tensors of row indices.
    """

    def __init__(self, loss, miner):
        super().__init__()
        self.loss = loss
        self.miner = miner

    def forward(self, embeddings, labels):
        indices = check_miner_output(self.miner(embeddings, labels), len(embeddings))
        return self.loss(embeddings, labels, indices)


def check_miner_output(indices, n_rows):
    """Raise ``ValueError`` unless ``indices`` are a miner's index tuple."""
    what = ("A miner must return a tuple of 1-D integer tensors of row "
            "indices: (anchors, positives, negatives) for triplets, or "
            "(anchors, positives, anchors, negatives) for pairs")
    if not isinstance(indices, (tuple, list)) or len(indices) not in (3, 4):
        got = (f"a {type(indices).__name__} of length {len(indices)}"
               if isinstance(indices, (tuple, list)) else type(indices).__name__)
        raise ValueError(f"{what}; it returned {got}.")
    for i, part in enumerate(indices):
        if not isinstance(part, torch.Tensor) or part.ndim != 1 or (
                part.is_floating_point() or part.is_complex()
                or part.dtype == torch.bool):
            got = (f"a tensor of shape {tuple(part.shape)} and dtype {part.dtype}"
                   if isinstance(part, torch.Tensor) else type(part).__name__)
            raise ValueError(f"{what}; its entry {i} is {got}.")
    lengths = [len(part) for part in indices]
    groups = [lengths] if len(indices) == 3 else [lengths[:2], lengths[2:]]
    if any(len(set(group)) > 1 for group in groups):
        raise ValueError(f"{what}, the indices of one tuple of equal lengths; it "
                         f"returned lengths {lengths}.")
    for part in indices:
        if len(part) and (int(part.min()) < 0 or int(part.max()) >= n_rows):
            raise ValueError(
                f"{what}; it returned indices from {int(part.min())} to "
                f"{int(part.max())} for a batch of {n_rows} rows."
            )
    return tuple(indices)


def build_criterion(loss, miner, *, builtins, margin, distance):
    """The net's criterion for ``loss`` and ``miner``; brought objects are copied.

    ``builtins`` maps the names ``loss`` may take to loss classes built with
    ``margin``, ``distance`` and a built-in ``miner`` name.
    """
    if isinstance(loss, str):
        if not isinstance(miner, str):
            raise ValueError(
                f"A miner object gives its indices to the loss, which the "
                f"built-in loss={loss!r} does not take (it mines with "
                "miner='all', 'hard' or 'semi-hard'). Pass a loss that takes "
                "indices_tuple, such as pytorch-metric-learning's "
                "TripletMarginLoss or ContrastiveLoss (the user guide's table "
                "gives the one that equals each built-in setting), or a "
                "built-in miner name."
            )
        return builtins[loss](margin=margin, distance=distance, miner=miner)
    # Training changes a loss's own parameters (ArcFace's class centres) in
    # place: the user's instance must start every fit alike.
    loss = copy.deepcopy(loss)
    if not isinstance(miner, str):
        return MinedLoss(loss, copy.deepcopy(miner))
    return loss if isinstance(loss, nn.Module) else CallableCriterion(loss)


def unused_loss_params(est):
    """Names among ``margin``, ``distance``, ``miner`` that ``est``'s loss ignores.

    A brought loss has its own margin and distance; a miner name is for the
    built-in losses. Only those set to something other than their default
    are returned, so that grid searches over them are not silently flat.
    """
    if isinstance(est.loss, str):
        return []
    signature = inspect.signature(type(est).__init__).parameters
    params = est.get_params(deep=False)
    return [name for name in _PAIR_PARAMS if name in params
            and not (name == "miner" and not isinstance(params[name], str))
            and _differs(params[name], signature[name].default)]


def _differs(value, default):
    try:
        return bool(value != default)
    except Exception:  # arrays, modules: never equal to a plain default
        return True


def unused_loss_message(est, names):
    """The warning for ``unused_loss_params``."""
    name = type(est).__name__
    said = ", ".join(f"{n}={getattr(est, n)!r}" for n in names)
    text = (f"{name}: {said}: not used by the loss, as "
            f"loss={type(est.loss).__name__} is not a built-in loss and brings "
            "its own margin and distance (and mining: pass a miner object as "
            "miner= to mine for it).")
    if "distance" in names:
        text += (" distance still measures the embedding for validation "
                 "scores and the collapse check.")
    return text
