"""Checks before training: the module and the loss run once on a few training rows.

What an encoder or a loss that does not fit the data would raise deep inside
torch at the first batch is raised here as a ``ValueError`` that says which
part failed, on what, and what it must be.
"""

import copy

import torch

from ._criteria import _class_count
from ._net import _take, _to_device, bare_module, check_loss_output, evaluating


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
