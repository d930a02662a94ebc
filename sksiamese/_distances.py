"""One distance kernel: pairwise, row-wise and blockwise, for losses and metrics.

The torch functions are differentiable (the losses train through them); the
numpy ones run the same kernel in float64 without gradients, for the metrics,
the classifiers and the collapse check. Euclidean distances use the matrix
form ``|a|^2 + |b|^2 - 2ab`` (one matrix product, never an ``(n, m, d)``
tensor); cosine distance is ``1 - cos(a, b)``, in [0, 2].
"""

from numbers import Real

import numpy as np
import torch
from torch.nn import functional as F

DISTANCES = ("euclidean", "cosine")

# Entries of one (rows, n) block of distances: 2**20 float64 values are 8 MiB.
BLOCK_ENTRIES = 2**20

# Queries per tile of a blockwise k-nearest search: the matrix products stay
# large (a single query row against a million would be a slow vector product).
_QUERY_TILE = 256

# Beyond these magnitudes squares overflow (or underflow) float64: such rows
# are rescaled before their distances are computed.
_SAFE_LOW, _SAFE_HIGH = 1e-100, 1e100


def check_distance(distance):
    if distance not in DISTANCES:
        raise ValueError(
            f"distance must be one of {', '.join(map(repr, DISTANCES))}; got "
            f"{distance!r}."
        )


def safe_sqrt(squared):
    """``sqrt`` with a zero gradient at zero.

    sqrt has an infinite derivative at 0: identical embeddings would give NaN
    gradients. Below the dtype's resolution the distance is taken as exactly 0
    with a zero gradient, which is also the symmetric (central) derivative.
    """
    tiny = torch.finfo(squared.dtype).eps
    safe = torch.sqrt(squared.clamp_min(tiny))
    return torch.where(squared > tiny, safe, torch.zeros_like(squared))


def pairwise_distances(A, B=None, distance="euclidean", squared=False):
    """Distances between the rows of ``A`` and of ``B`` (torch, differentiable).

    With ``B=None`` the distances are within ``A``, and the diagonal is
    exactly zero. Euclidean entries below the matrix form's rounding error
    are exactly zero too, so that identical rows are at distance 0 rather
    than about 1e-7; the gradient is finite everywhere.
    """
    check_distance(distance)
    within = B is None
    B = A if within else B
    if distance == "cosine":
        a = F.normalize(A, dim=1, eps=1e-12)
        b = a if within else F.normalize(B, dim=1, eps=1e-12)
        d = (1 - a @ b.T).clamp(0, 2)
        if within:
            d = d.masked_fill(_eye(d), 0.0)
        return d * d if squared else d
    sq_a = (A * A).sum(dim=1)
    sq_b = sq_a if within else (B * B).sum(dim=1)
    d2 = _squared_euclidean(A, B, sq_a, sq_b)
    if within:
        d2 = d2.masked_fill(_eye(d2), 0.0)
    return d2 if squared else safe_sqrt(d2)


def _squared_euclidean(A, B, sq_a, sq_b):
    """``|a|^2 + |b|^2 - 2ab`` from the rows' squared norms, noise set to 0.

    Entries below the formula's rounding error are exactly zero, so that
    identical rows are at distance 0 rather than about 1e-7.
    """
    norms = sq_a[:, None] + sq_b[None, :]
    d2 = torch.addmm(norms, A, B.T, alpha=-2)
    return d2.masked_fill(d2 <= 8 * torch.finfo(d2.dtype).eps * norms, 0.0)


def _eye(D):
    return torch.eye(D.shape[0], D.shape[1], dtype=torch.bool, device=D.device)


def rowwise_distances(A, B, distance="euclidean", squared=False):
    """Distance between each row of ``A`` and the same row of ``B`` (torch)."""
    check_distance(distance)
    if distance == "cosine":
        a = F.normalize(A, dim=1, eps=1e-12)
        b = F.normalize(B, dim=1, eps=1e-12)
        d = (1 - (a * b).sum(dim=1)).clamp(0, 2)
        return d * d if squared else d
    d2 = ((A - B) ** 2).sum(dim=1)
    return d2 if squared else safe_sqrt(d2)


# -- numpy, float64, no gradients --------------------------------------------
def _float64(X):
    return np.ascontiguousarray(X, dtype=np.float64)


def _rescaled(arrays, distance):
    """``arrays`` scaled into float64's safe range, and the factor for distances.

    Cosine distance is scale-invariant, so each row is divided by its largest
    entry; a euclidean distance scales with its inputs, so all rows are divided
    by one factor that multiplies the distances back.
    """
    if distance == "cosine":
        out = []
        for X in arrays:
            top = np.abs(X).max(axis=1, keepdims=True) if X.size else X[:, :0]
            if X.size and ((top > _SAFE_HIGH) | ((top < _SAFE_LOW) & (top > 0))).any():
                X = X / np.where(top > 0, top, 1.0)
            out.append(X)
        return out, 1.0
    top = max((float(np.abs(X).max()) for X in arrays if X.size), default=0.0)
    if top > _SAFE_HIGH or 0 < top < _SAFE_LOW:
        return [X / top for X in arrays], top
    return list(arrays), 1.0


def pairwise(A, B, distance="euclidean"):
    """Distances between the rows of ``A`` and of ``B``: float64 numpy.

    Exact for any finite input: rows far beyond float64's square root range
    are rescaled first, so neither overflow nor underflow changes the result.
    """
    check_distance(distance)
    (A, B), scale = _rescaled([_float64(A), _float64(B)], distance)
    with torch.no_grad():
        D = pairwise_distances(torch.from_numpy(A), torch.from_numpy(B), distance)
    return D.numpy() * scale


def rowwise(A, B, distance="euclidean"):
    """Distance between each row of ``A`` and the same row of ``B``: float64 numpy."""
    check_distance(distance)
    (A, B), scale = _rescaled([_float64(A), _float64(B)], distance)
    with torch.no_grad():
        d = rowwise_distances(torch.from_numpy(A), torch.from_numpy(B), distance)
    return d.numpy() * scale


def normalize_rows(E):
    """Rows of ``E`` scaled to unit length (float64); zero rows stay zero."""
    (E,), _ = _rescaled([_float64(E)], "cosine")
    norms = np.linalg.norm(E, axis=1, keepdims=True)
    # A zero vector has no direction; it stays zero, at cosine distance 1 from all.
    return E / np.where(norms > 0, norms, 1.0)


def block_rows(n_columns, block_size=None):
    """Rows per block so that a block of distances to ``n_columns`` rows is ~8 MiB."""
    if block_size is not None:
        return int(block_size)
    return max(1, BLOCK_ENTRIES // max(1, n_columns))


def nearest_sorted(D, k):
    """Column indices of the ``k`` smallest entries of each row of ``D``.

    Ordered by distance, ties by column index (as a stable full sort would), in
    time linear in the row length for rows without a tie at the k-th place.
    """
    n = D.shape[1]
    if k >= n:
        return np.argsort(D, axis=1, kind="stable")[:, :k]
    part = np.argpartition(D, k - 1, axis=1)[:, :k]
    vals = np.take_along_axis(D, part, axis=1)
    idx = np.take_along_axis(part, np.lexsort((part, vals), axis=1), axis=1)
    # Where the k-th value recurs outside the k kept, argpartition chose among
    # equals arbitrarily; those rows get the full stable sort.
    kth = np.take_along_axis(D, idx[:, -1:], axis=1)
    for row in np.flatnonzero((D <= kth).sum(axis=1) > k):
        idx[row] = np.argsort(D[row], kind="stable")[:k]
    return idx


def kneighbors(Q, R, k, distance="euclidean", *, exclude_self=False,
               block_size=None):
    """The ``k`` nearest rows of ``R`` to each row of ``Q``, exactly, blockwise.

    Memory grows as ``block_size * len(R)``, never ``len(Q) * len(R)``. With
    ``exclude_self=True`` (``Q`` is ``R``), row ``i`` is never its own
    neighbour. Returns ``(distances, indices)``, nearest first, ties by index.

    Without ``block_size``, tiles of queries by reference rows of about
    ``BLOCK_ENTRIES`` distances are searched, and each tile's ``k`` nearest
    are merged into the running ``k`` nearest: memory stays bounded for any
    gallery, and each tile is one large matrix product.
    """
    check_distance(distance)
    n = len(Q)
    dist = np.empty((n, k))
    ind = np.empty((n, k), dtype=np.intp)
    if block_size is not None:
        q_step, r_step = int(block_size), max(1, len(R))
    else:
        q_step = max(1, min(n, _QUERY_TILE))
        r_step = max(k, BLOCK_ENTRIES // q_step)
    # Scaled (and for cosine normalised) once for all tiles; euclidean tiles
    # rank by squared distances, the same order, and only the k kept per
    # query are square-rooted.
    (Q, R), scale = _rescaled([_float64(Q), _float64(R)], distance)
    Qt, Rt = torch.from_numpy(Q), torch.from_numpy(R)
    if distance == "cosine":
        Qt, Rt = F.normalize(Qt, dim=1, eps=1e-12), F.normalize(Rt, dim=1, eps=1e-12)
    sq_q, sq_r = (Qt * Qt).sum(dim=1), (Rt * Rt).sum(dim=1)
    for start in range(0, n, q_step):
        rows = np.arange(start, min(n, start + q_step))
        best_d = best_i = None
        for r_start in range(0, len(R), r_step):
            r_stop = min(len(R), r_start + r_step)
            q, r = slice(start, rows[-1] + 1), slice(r_start, r_stop)
            with torch.no_grad():
                if distance == "cosine":
                    D = (1 - Qt[q] @ Rt[r].T).clamp_(0, 2).numpy()
                else:
                    D = _squared_euclidean(Qt[q], Rt[r], sq_q[q], sq_r[r]).numpy()
            if exclude_self:
                mine = (rows >= r_start) & (rows < r_stop)
                D[np.flatnonzero(mine), rows[mine] - r_start] = np.inf
            if k == 1:
                near = D.argmin(axis=1)[:, None]
            else:
                near = nearest_sorted(D, min(k, r_stop - r_start))
            tile_d = np.take_along_axis(D, near, axis=1)
            tile_i = near + r_start
            if best_d is None:
                best_d, best_i = tile_d, tile_i
                continue
            if k == 1:
                # Strictly nearer only: an earlier tile wins ties (smaller index).
                better = tile_d < best_d
                best_d, best_i = np.where(better, tile_d, best_d), np.where(
                    better, tile_i, best_i)
                continue
            cand_d = np.concatenate([best_d, tile_d], axis=1)
            cand_i = np.concatenate([best_i, tile_i], axis=1)
            # Earlier tiles hold smaller indices, so ties stay by index.
            order = np.lexsort((cand_i, cand_d), axis=1)[:, :k]
            best_d = np.take_along_axis(cand_d, order, axis=1)
            best_i = np.take_along_axis(cand_i, order, axis=1)
        if distance == "euclidean":
            best_d = np.sqrt(best_d) * scale
        dist[rows], ind[rows] = best_d, best_i
    return dist, ind


SIMILARITIES = ("exp-l1", "cosine")


def similarity(za, zb, kind):
    """Similarity in [0, 1] of the rows of two batches of embeddings (torch)."""
    if kind == "exp-l1":
        # MaLSTM (Mueller and Thyagarajan 2016): exp(-|a - b|_1), 1 for equal
        # embeddings, towards 0 as they part.
        return torch.exp(-(za - zb).abs().sum(dim=1))
    return F.cosine_similarity(za, zb, dim=1, eps=1e-8)


# -- thresholds on distances: the one sweep ----------------------------------
def _accepted(distances, accept_right, reject_right):
    """What ``accept if distance <= t`` accepts at each candidate threshold.

    The candidates are "accept none", then every distance up to each distinct
    distance, ascending. Returns the distinct distances and, at each
    candidate, the accepted samples that were right to accept, those that
    were right to reject, and all accepted.
    """
    values, inverse = np.unique(distances, return_inverse=True)

    def accepted(weights):
        at = np.bincount(inverse, weights=weights, minlength=len(values))
        return np.r_[0.0, np.cumsum(at)]

    n_accepted = np.r_[0, np.cumsum(np.bincount(inverse, minlength=len(values)))]
    return values, accepted(accept_right), accepted(reject_right), n_accepted


def operating_points(same, distances):
    """FAR and FRR for ``accept if distance <= t`` at each candidate threshold.

    The candidates of ``threshold_sweep``. Returns the thresholds (the first
    is the smallest distance, standing for "just below it"), FAR and FRR.
    """
    values, accepted_same, accepted_diff, _ = _accepted(distances, same, ~same)
    far = accepted_diff / (~same).sum()
    frr = 1.0 - accepted_same / same.sum()
    return np.concatenate([values[:1], values]), far, frr


def equal_error_point(same, distances):
    """The equal error rate and its threshold, both interpolated linearly.

    Between the thresholds the data distinguish (the ROC curve's convex
    interpolation): the point where the ROC curve meets ``FAR = FRR``.
    """
    values, far, frr = operating_points(same, distances)
    # FAR rises from 0 to 1 and FRR falls from 1 to 0: find where they cross.
    j = int(np.argmax(far >= frr))
    gap_before = frr[j - 1] - far[j - 1]
    gap_after = frr[j] - far[j]
    s = gap_before / (gap_before - gap_after)
    eer = far[j - 1] + s * (far[j] - far[j - 1])
    threshold = values[j - 1] + s * (values[j] - values[j - 1])
    return float(eer), float(threshold)

CRITERIA = ("accuracy", "f1", "eer")


def check_criterion(criterion):
    if isinstance(criterion, str) and criterion in CRITERIA:
        return criterion
    if (isinstance(criterion, Real) and not isinstance(criterion, bool)
            and 0 < criterion < 1):
        return float(criterion)
    raise ValueError(
        f"criterion must be one of {', '.join(map(repr, CRITERIA))} or a target "
        f"false-accept rate, a float strictly between 0 and 1; got {criterion!r}."
    )


def threshold_sweep(distances, accept_right, reject_right, criterion):
    """The threshold on ``distances`` (accept where ``distance <= threshold``).

    ``accept_right[i]``: accepting sample ``i`` is right (a same pair; a known
    query assigned its own class); ``reject_right[i]``: rejecting it is right
    (a different pair; a query of no enrolled class). Where both are false
    (a known query assigned a wrong class) the sample is wrong either way.

    The candidates are "accept none", then accepting every distance up to each
    distinct distance. The one tie rule: among candidates equally good by the
    criterion, the one that accepts the fewest. The threshold is midway
    between the largest accepted and the smallest rejected distance, just
    below the smallest distance to accept none, the largest distance to
    accept all. Returns the threshold and the rates there.
    """
    accept_right = np.asarray(accept_right, dtype=bool)
    reject_right = np.asarray(reject_right, dtype=bool)
    n_unknown = int(reject_right.sum())
    n_known = len(distances) - n_unknown
    values, tp, fp_unknown, n_accepted = _accepted(distances, accept_right,
                                                   reject_right)
    accuracy = (tp + n_unknown - fp_unknown) / len(distances)
    # F1 of giving a class: precision among the accepted, recall among the known.
    f1 = 2 * tp / np.maximum(n_accepted + n_known, 1)
    tar = tp / max(n_known, 1)
    far = fp_unknown / max(n_unknown, 1)
    if criterion == "accuracy":
        best = int(np.argmax(accuracy))
    elif criterion == "f1":
        best = int(np.argmax(f1))
    else:
        if not n_unknown or not n_known:
            missing = ("same pairs or known queries" if not n_known
                       else "different pairs or unknown queries")
            raise ValueError(
                f"criterion={criterion!r} weighs false accepts against false "
                f"rejects; the calibration data hold no {missing}. Pass both "
                "kinds."
            )
        if criterion == "eer":
            best = int(np.argmin(np.abs(far - (1 - tar))))
        else:
            # The most accepting threshold whose false-accept rate is in target.
            best = int(np.flatnonzero(far <= criterion)[-1])
    if best == 0:
        threshold = np.nextafter(values[0], -np.inf)
    elif best == len(values):
        threshold = values[-1]
    else:
        threshold = (values[best - 1] + values[best]) / 2
    rates = {"accuracy": accuracy[best], "f1": f1[best], "far": far[best],
             "tar": tar[best], "frr": 1 - tar[best]}
    return float(threshold), {k: float(v) for k, v in rates.items()}
