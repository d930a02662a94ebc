"""Contrastive and triplet losses that mine pairs or triplets inside each batch."""

import torch
from torch import nn
from torch.nn import functional as F

__all__ = [
    "ContrastiveLoss",
    "PairContrastiveLoss",
    "TripletLoss",
    "pairwise_distances",
]

DISTANCES = ("euclidean", "cosine")
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


def _safe_sqrt(squared):
    # sqrt has an infinite derivative at 0: identical embeddings would give NaN
    # gradients. Below the dtype's resolution the distance is taken as exactly 0
    # with a zero gradient, which is also the symmetric (central) derivative.
    tiny = torch.finfo(squared.dtype).eps
    safe = torch.sqrt(squared.clamp_min(tiny))
    return torch.where(squared > tiny, safe, torch.zeros_like(squared))


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
    _check_choice("distance", distance, DISTANCES)
    n = embeddings.shape[0]
    off_diagonal = 1 - torch.eye(n, dtype=embeddings.dtype, device=embeddings.device)
    if distance == "euclidean":
        # |a|^2 + |b|^2 - 2ab: one matrix product instead of an (n, n, d) tensor.
        sq_norms = (embeddings * embeddings).sum(dim=1)
        gram = embeddings @ embeddings.T
        d2 = (sq_norms[:, None] + sq_norms[None, :] - 2 * gram).clamp_min(0)
        d2 = d2 * off_diagonal
        return d2 if squared else _safe_sqrt(d2)
    unit = F.normalize(embeddings, dim=1, eps=1e-12)
    d = (1 - unit @ unit.T).clamp_min(0) * off_diagonal
    return d * d if squared else d


def _label_masks(labels):
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    return same & ~eye, ~same


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


def _mean_or_zero(values, embeddings):
    # A batch with nothing to learn from still returns a scalar attached to the
    # graph, so backward() works and the optimizer simply takes a zero step.
    if values.numel() == 0:
        return embeddings.sum() * 0.0
    return values.mean()


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
        _check_choice("distance", distance, DISTANCES)
        _check_choice("miner", miner, MINERS)
        self.margin = margin
        self.distance = distance
        self.miner = miner

    def forward(self, embeddings, labels):
        _check_batch(embeddings, labels)
        if self.distance == "euclidean":
            # Positives use the smooth squared distance directly.
            d2 = pairwise_distances(embeddings, "euclidean", squared=True)
            d = _safe_sqrt(d2)
        else:
            d = pairwise_distances(embeddings, "cosine")
            d2 = d * d
        pos, neg = _label_masks(labels)
        pos_cost = d2
        neg_cost = F.relu(self.margin - d) ** 2

        if self.miner == "hard":
            # Each anchor's hardest positive (farthest) and negative (closest).
            inf = torch.finfo(d.dtype).max
            has_pos, has_neg = pos.any(dim=1), neg.any(dim=1)
            hard_pos = torch.where(pos, d, -inf).argmax(dim=1)
            hard_neg = torch.where(neg, d, inf).argmin(dim=1)
            rows = torch.arange(len(labels), device=labels.device)
            costs = torch.cat(
                [
                    pos_cost[rows, hard_pos][has_pos],
                    neg_cost[rows, hard_neg][has_neg],
                ]
            )
            return _mean_or_zero(costs, embeddings)

        upper = torch.ones_like(pos).triu(diagonal=1)
        pos, neg = pos & upper, neg & upper
        if self.miner == "semi-hard":
            neg = neg & (neg_cost > 0)
        return _mean_or_zero(torch.cat([pos_cost[pos], neg_cost[neg]]), embeddings)


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
        _check_choice("distance", distance, DISTANCES)
        _check_choice("miner", miner, MINERS)
        self.margin = margin
        self.distance = distance
        self.miner = miner

    def forward(self, embeddings, labels):
        _check_batch(embeddings, labels)
        d = pairwise_distances(embeddings, self.distance)
        pos, neg = _label_masks(labels)

        if self.miner == "hard":
            inf = torch.finfo(d.dtype).max
            valid = pos.any(dim=1) & neg.any(dim=1)
            rows = torch.arange(len(labels), device=labels.device)
            hard_pos = torch.where(pos, d, -inf).argmax(dim=1)
            hard_neg = torch.where(neg, d, inf).argmin(dim=1)
            costs = F.relu(d[rows, hard_pos] - d[rows, hard_neg] + self.margin)
            return _mean_or_zero(costs[valid], embeddings)

        n = len(labels)
        chunk = max(1, _TRIPLET_CHUNK_ENTRIES // max(1, n * n))
        total = embeddings.sum() * 0.0
        count = 0
        for start in range(0, n, chunk):
            stop = min(n, start + chunk)
            d_ap = d[start:stop, :, None]
            d_an = d[start:stop, None, :]
            valid = pos[start:stop, :, None] & neg[start:stop, None, :]
            if self.miner == "semi-hard":
                valid = valid & (d_an > d_ap) & (d_an < d_ap + self.margin)
            costs = F.relu(d_ap - d_an + self.margin)[valid]
            total = total + costs.sum()
            count += costs.numel()
        return total / count if count else total


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
        _check_choice("distance", distance, DISTANCES)
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
            d2 = ((left - right) ** 2).sum(dim=1)
            d = _safe_sqrt(d2)
        else:
            unit_l = F.normalize(left, dim=1, eps=1e-12)
            unit_r = F.normalize(right, dim=1, eps=1e-12)
            d = (1 - (unit_l * unit_r).sum(dim=1)).clamp_min(0)
            d2 = d * d
        same = labels.to(torch.bool)
        costs = torch.where(same, d2, F.relu(self.margin - d) ** 2)
        return _mean_or_zero(costs, left)
