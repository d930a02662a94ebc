"""Contrastive and triplet losses that mine pairs or triplets inside each batch."""

import torch
from torch import nn
from torch.nn import functional as F

from . import _distances
from ._distances import check_distance, rowwise_distances, safe_sqrt

__all__ = [
    "ContrastiveLoss",
    "PairContrastiveLoss",
    "TripletLoss",
    "pairwise_distances",
]

MINERS = ("all", "hard", "semi-hard")

# Triplet tensors are (anchors, B, B); this bounds one chunk's entries so memory
# stays fixed whatever the batch size.
_TRIPLET_CHUNK_ENTRIES = 2**22


def _check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(
            f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}."
        )


def _check_margin(margin):
    if not margin > 0:
        raise ValueError(f"margin must be a positive number; got {margin!r}.")


def pairwise_distances(embeddings, distance="euclidean", squared=False):
    """Distances between all rows of a batch of embeddings, in matrix form.

    Parameters
    ----------
    embeddings : torch.Tensor of shape (n, d)
        The embeddings.
    distance : {"euclidean", "cosine"}, default="euclidean"
        Euclidean distance, or cosine distance ``1 - cos(a, b)`` (in [0, 2]).
    squared : bool, default=False
        Return squared distances. Squared euclidean distances are smooth
        everywhere, so prefer them where the loss allows.

    Returns
    -------
    distances : torch.Tensor of shape (n, n)
        Symmetric, non-negative, with an exactly zero diagonal; the gradient is
        finite everywhere, including between identical embeddings.

    Examples
    --------
    >>> import torch
    >>> from sksiamese.losses import pairwise_distances
    >>> pairwise_distances(torch.tensor([[0.0, 0.0], [3.0, 4.0]]))
    tensor([[0., 5.],
            [5., 0.]])
    """
    return _distances.pairwise_distances(embeddings, distance=distance,
                                         squared=squared)


def _label_masks(labels, dtype):
    """Float masks of the same-class pairs (diagonal excluded) and of the others."""
    same = labels[:, None] == labels[None, :]
    pos = same.to(dtype).fill_diagonal_(0)
    return pos, (~same).to(dtype)


def _check_batch(embeddings, labels):
    if embeddings.ndim != 2:
        raise ValueError(
            "embeddings must be a 2-D tensor (batch, n_components); "
            f"got shape {tuple(embeddings.shape)}."
        )
    if labels.ndim != 1 or labels.shape[0] != embeddings.shape[0]:
        raise ValueError(
            f"labels must be 1-D with one label per embedding; got shape "
            f"{tuple(labels.shape)} for {embeddings.shape[0]} embeddings."
        )


def _empty_batch_loss(embeddings):
    # Nothing to mine, and reductions over an empty dimension would fail.
    return embeddings.sum() * 0.0


def _masked_mean(total, count):
    # Costs are summed under float masks, so a batch with nothing to learn from
    # gives a zero that is still attached to the graph: backward() works and
    # the optimizer takes a zero step.
    return total / count.clamp_min(1)


class ContrastiveLoss(nn.Module):
    """Contrastive loss of Hadsell, Chopra and LeCun (2006) over in-batch pairs.

    For a pair at distance ``d``, a same-class pair costs ``d**2`` and a
    different-class pair costs ``max(0, margin - d)**2``. Pairs are every
    unordered pair of rows in the batch; ``miner`` picks which of them count.

    Parameters
    ----------
    margin : float, default=1.0
        Different-class pairs closer than this are pushed apart.
    distance : {"euclidean", "cosine"}, default="euclidean"
        Distance between embeddings.
    miner : {"all", "hard", "semi-hard"}, default="all"
        ``"all"``: the mean over every pair. ``"hard"``: for each anchor, its
        farthest same-class pair and its closest different-class pair
        (batch-hard). ``"semi-hard"``: every same-class pair, and only the
        different-class pairs inside the margin, so that negatives that are
        already far enough do not dilute the mean.

    Examples
    --------
    >>> import torch
    >>> from sksiamese.losses import ContrastiveLoss
    >>> emb = torch.tensor([[0.0, 0.0], [0.0, 0.5], [0.3, 0.0]])
    >>> loss = ContrastiveLoss(margin=1.0)(emb, torch.tensor([0, 0, 1]))
    >>> round(float(loss), 4)  # (0.5**2 + (1 - 0.3)**2 + (1 - 0.583)**2) / 3
    0.3046
    """

    def __init__(self, margin=1.0, distance="euclidean", miner="all"):
        super().__init__()
        _check_margin(margin)
        check_distance(distance)
        _check_choice("miner", miner, MINERS)
        self.margin = margin
        self.distance = distance
        self.miner = miner

    def forward(self, embeddings, labels):
        _check_batch(embeddings, labels)
        if len(labels) == 0:
            return _empty_batch_loss(embeddings)
        if self.distance == "euclidean":
            # Positives use the smooth squared distance directly.
            d2 = pairwise_distances(embeddings, "euclidean", squared=True)
            d = safe_sqrt(d2)
        else:
            d = pairwise_distances(embeddings, "cosine")
            d2 = d * d
        pos, neg = _label_masks(labels, d.dtype)
        neg_cost = F.relu(self.margin - d) ** 2

        if self.miner == "hard":
            # d2 grows and neg_cost shrinks with d: each anchor's farthest
            # positive and closest negative hold its largest masked costs.
            hard_pos = (d2 * pos).max(dim=1).values
            hard_neg = (neg_cost * neg).max(dim=1).values
            count = pos.amax(dim=1).sum() + neg.amax(dim=1).sum()
            return _masked_mean(hard_pos.sum() + hard_neg.sum(), count)

        # Over the whole matrix every unordered pair is counted twice, in the
        # sum and in the count alike; the diagonal is in neither mask.
        total = (d2 * pos).sum() + (neg_cost * neg).sum()
        if self.miner == "semi-hard":
            # Negatives beyond the margin cost nothing: they only leave the count.
            neg = neg * (neg_cost > 0)
        return _masked_mean(total, pos.sum() + neg.sum())


class TripletLoss(nn.Module):
    """Triplet loss ``max(0, d(a, p) - d(a, n) + margin)`` over in-batch triplets.

    Anchors and positives share a class; negatives always come from another
    class. Triplets are formed inside the batch and never over the data set.

    Parameters
    ----------
    margin : float, default=1.0
        How much farther the negative must be than the positive.
    distance : {"euclidean", "cosine"}, default="euclidean"
        Distance between embeddings.
    miner : {"all", "hard", "semi-hard"}, default="all"
        ``"all"``: the mean over every valid triplet. ``"hard"``: for each
        anchor, its farthest positive against its closest negative
        (batch-hard, Hermans et al. 2017). ``"semi-hard"``: the triplets whose
        negative is farther than the positive but inside the margin,
        ``d(a, p) < d(a, n) < d(a, p) + margin`` (Schroff et al. 2015).

    Examples
    --------
    >>> import torch
    >>> from sksiamese.losses import TripletLoss
    >>> emb = torch.tensor([[0.0, 0.0], [0.0, 0.5], [0.3, 0.0]])
    >>> loss = TripletLoss(margin=1.0)(emb, torch.tensor([0, 0, 1]))
    >>> round(float(loss), 4)  # ((0.5 - 0.3 + 1) + (0.5 - 0.583 + 1)) / 2
    1.0585
    """

    def __init__(self, margin=1.0, distance="euclidean", miner="all"):
        super().__init__()
        _check_margin(margin)
        check_distance(distance)
        _check_choice("miner", miner, MINERS)
        self.margin = margin
        self.distance = distance
        self.miner = miner

    def forward(self, embeddings, labels):
        _check_batch(embeddings, labels)
        if len(labels) == 0:
            return _empty_batch_loss(embeddings)
        d = pairwise_distances(embeddings, self.distance)
        pos, neg = _label_masks(labels, d.dtype)

        if self.miner == "hard":
            hard_pos = (d * pos).max(dim=1).values
            far = torch.finfo(d.dtype).max
            hard_neg = torch.where(neg > 0, d, far).min(dim=1).values
            valid = pos.amax(dim=1) * neg.amax(dim=1)
            costs = F.relu(hard_pos - hard_neg + self.margin) * valid
            return _masked_mean(costs.sum(), valid.sum())

        n = len(labels)
        chunk = max(1, _TRIPLET_CHUNK_ENTRIES // (n * n))
        total = count = 0.0
        for start in range(0, n, chunk):
            rows = slice(start, start + chunk)
            d_a = d[rows]
            # Entry (a, p, q) is d(a, p) + margin - d(a, q): the triplet's cost
            # before the hinge, and positive exactly where d(a, q) is inside
            # d(a, p) + margin.
            x = (d_a + self.margin)[:, :, None] - d_a[:, None, :]
            if self.miner == "semi-hard":
                keep = (x > 0) & (d_a[:, None, :] > d_a[:, :, None])
                w = keep.to(d.dtype) * neg[rows, None, :]
                # On kept triplets x is positive: the hinge is the identity.
                total = total + ((x * w).sum(dim=2) * pos[rows]).sum()
                count = count + (w.sum(dim=2) * pos[rows]).sum()
            else:
                # Summing over negatives first is one batched matrix product.
                per_positive = (F.relu(x) @ neg[rows, :, None]).squeeze(2)
                total = total + (per_positive * pos[rows]).sum()
        if self.miner == "all":
            # Every positive of an anchor against every negative of it.
            count = (pos.sum(dim=1) * neg.sum(dim=1)).sum()
        return _masked_mean(total, count)


class PairContrastiveLoss(nn.Module):
    """Contrastive loss of Hadsell, Chopra and LeCun (2006) on explicit pairs.

    Row ``i`` of ``left`` and row ``i`` of ``right`` form a pair at distance
    ``d``. A pair labelled "same" (1) costs ``d**2``, a pair labelled
    "different" (0) costs ``max(0, margin - d)**2``; the loss is the mean cost.
    Unlike :class:`ContrastiveLoss`, no pairs are formed inside the batch: the
    pairs and their labels are given.

    Parameters
    ----------
    margin : float, default=1.0
        Different pairs closer than this are pushed apart.
    distance : {"euclidean", "cosine"}, default="euclidean"
        Distance between the two embeddings of a pair. Its gradient is finite
        everywhere, including between identical embeddings.

    Examples
    --------
    >>> import torch
    >>> from sksiamese.losses import PairContrastiveLoss
    >>> left = torch.tensor([[0.0, 0.0], [0.0, 0.0]])
    >>> right = torch.tensor([[0.0, 0.5], [0.3, 0.0]])
    >>> loss = PairContrastiveLoss(margin=1.0)(left, right, torch.tensor([1, 0]))
    >>> round(float(loss), 4)  # (0.5**2 + (1 - 0.3)**2) / 2
    0.37
    """

    def __init__(self, margin=1.0, distance="euclidean"):
        super().__init__()
        _check_margin(margin)
        check_distance(distance)
        self.margin = margin
        self.distance = distance

    def forward(self, left, right, labels):
        if left.ndim != 2 or left.shape != right.shape:
            raise ValueError(
                "left and right must be 2-D tensors of the same shape "
                f"(n_pairs, n_components); got shapes {tuple(left.shape)} and "
                f"{tuple(right.shape)}."
            )
        if labels.ndim != 1 or labels.shape[0] != left.shape[0]:
            raise ValueError(
                f"labels must be 1-D with one label per pair; got shape "
                f"{tuple(labels.shape)} for {left.shape[0]} pairs."
            )
        if self.distance == "euclidean":
            d2 = rowwise_distances(left, right, "euclidean", squared=True)
            d = safe_sqrt(d2)
        else:
            d = rowwise_distances(left, right, "cosine")
            d2 = d * d
        same = labels.to(torch.bool)
        costs = torch.where(same, d2, F.relu(self.margin - d) ** 2)
        # A sum, not mean(): no pairs give a zero still attached to the graph.
        return costs.sum() / max(1, len(costs))
