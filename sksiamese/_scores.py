"""The computations behind the metrics, below ``metrics.py``.

The episodic and retrieval scores on arrays, so that the net's held-out
scoring callback computes them without importing the public metrics module;
``metrics.py`` documents them and checks their parameters the same way.
"""

import math

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, check_consistent_length, column_or_1d

from ._distances import DISTANCES, block_rows, nearest_sorted, pairwise
from ._embedding import (
    check_choice,
    check_int,
    check_labels_defined,
    class_distances,
    embed,
    resolve_distance,
)

RETRIEVAL_METRICS = ("precision_at_1", "r_precision", "map_at_r")

# The two-sided 95% quantile of the standard normal distribution.
_Z95 = 1.959963984540054


def _episode_pools(codes, n_classes, groups, need, n_way, k_shot, n_queries):
    """Lists of class codes from which one episode draws its classes."""
    counts = np.bincount(codes, minlength=n_classes)
    eligible = counts >= need
    if groups is None:
        pools = [np.flatnonzero(eligible)]
        where = "in y"
    else:
        group_names, group_codes = np.unique(groups, return_inverse=True)
        class_group = np.full(n_classes, -1)
        class_group[codes] = group_codes
        mixed = np.flatnonzero(np.bincount(codes[class_group[codes] != group_codes],
                                           minlength=n_classes))
        if len(mixed):
            raise ValueError(
                f"groups must be constant within each class (for example the "
                f"alphabet of each character); {len(mixed)} class(es) have samples "
                "in more than one group."
            )
        pools = [np.flatnonzero(eligible & (class_group == g))
                 for g in range(len(group_names))]
        where = "in one group"
    pools = [p for p in pools if len(p) >= n_way]
    if not pools:
        best = (int(eligible.sum()) if groups is None
                else max(int((eligible & (class_group == g)).sum())
                         for g in range(len(group_names))))
        raise ValueError(
            f"An episode with n_way={n_way} needs {n_way} classes with at least "
            f"k_shot + n_queries = {k_shot} + {n_queries} = {need} samples each "
            f"{where}; there are at most {best}. Lower n_way, k_shot or n_queries, "
            "or pass more samples per class."
        )
    return pools


def n_way_k_shot_accuracy(transformer, X, y, *, n_way=5, k_shot=1, n_queries=1,
                          n_episodes=1000, groups=None, rule="nearest",
                          distance=None, return_ci=False, random_state=None):
    """See ``metrics.n_way_k_shot_accuracy``."""
    check_int("n_way", n_way, 2)
    check_int("k_shot", k_shot, 1)
    check_int("n_queries", n_queries, 1)
    check_int("n_episodes", n_episodes, 1)
    check_choice("rule", rule, ("nearest", "prototype"))
    distance = resolve_distance(transformer, distance)
    y = check_labels_defined(column_or_1d(y, warn=True))
    if groups is not None:
        groups = column_or_1d(groups)
    check_consistent_length(X, y, groups)
    E = embed(transformer, X)
    _, codes = np.unique(y, return_inverse=True)
    n_classes = int(codes.max()) + 1
    need = k_shot + n_queries
    pools = _episode_pools(codes, n_classes, groups, need, n_way, k_shot, n_queries)
    order = np.argsort(codes, kind="stable")
    members = np.split(order, np.cumsum(np.bincount(codes, minlength=n_classes))[:-1])

    rng = check_random_state(random_state)
    s_codes = np.repeat(np.arange(n_way), k_shot)
    q_codes = np.repeat(np.arange(n_way), n_queries)
    accuracies = np.empty(n_episodes)
    for episode in range(n_episodes):
        pool = pools[rng.randint(len(pools))]
        chosen = rng.choice(pool, n_way, replace=False)
        picks = np.array([rng.choice(members[c], need, replace=False) for c in chosen])
        support = E[picks[:, :k_shot].ravel()]
        queries = E[picks[:, k_shot:].ravel()]
        D = class_distances(queries, support, s_codes, n_way, rule, distance)
        accuracies[episode] = np.mean(D.argmin(axis=1) == q_codes)
    accuracy = float(accuracies.mean())
    if not return_ci:
        return accuracy
    if n_episodes < 2:
        return accuracy, float("nan")
    return accuracy, float(_Z95 * accuracies.std(ddof=1) / math.sqrt(n_episodes))


def _check_retrieval_input(X, y, distance, block_size, name="X"):
    check_choice("distance", distance, DISTANCES)
    if block_size is not None:
        check_int("block_size", block_size, 1)
    X = check_array(X, dtype=[np.float64, np.float32], input_name=name)
    y = check_labels_defined(column_or_1d(y, warn=True),
                             "y" if name == "X" else "y_reference")
    check_consistent_length(X, y)
    return X, y


def _check_reference(X, X_reference, y_reference, distance, block_size):
    if (X_reference is None) != (y_reference is None):
        raise ValueError(
            "X_reference and y_reference go together: pass both for retrieval "
            "from a reference set, or neither for leave-one-out retrieval."
        )
    if X_reference is None:
        return None, None
    R, y_ref = _check_retrieval_input(X_reference, y_reference, distance,
                                      block_size, "X_reference")
    if R.shape[1] != X.shape[1]:
        raise ValueError(
            f"X_reference has {R.shape[1]} features per sample, X has "
            f"{X.shape[1]}; queries and reference must live in the same space."
        )
    return R, y_ref


def retrieval_scores(X, y, *, X_reference=None, y_reference=None,
                     distance="euclidean", block_size=None):
    """See ``metrics.retrieval_scores``."""
    X, y = _check_retrieval_input(X, y, distance, block_size)
    R_set, y_ref = _check_reference(X, X_reference, y_reference, distance,
                                    block_size)
    loo = R_set is None
    if loo:
        R_set, y_ref = X, y
    labels, codes = np.unique(np.concatenate([y, y_ref]), return_inverse=True)
    codes, ref_codes = codes[:len(y)], codes[len(y):]
    relevant = np.bincount(ref_codes, minlength=len(labels))[codes] - loo
    if not relevant.any():
        raise ValueError(
            "Every class in y has a single sample, so no query has anything to "
            "retrieve; retrieval metrics need classes with two or more samples."
            if loo else
            "No query's class is in y_reference, so no query has anything to "
            "retrieve; the reference set needs samples of the queries' classes."
        )
    n = len(X)
    rows_per_block = block_rows(len(R_set), block_size)
    sums = np.zeros(3)
    for start in range(0, n, rows_per_block):
        rows = np.arange(start, min(n, start + rows_per_block))
        rows = rows[relevant[rows] > 0]
        if not len(rows):
            continue
        D = pairwise(X[rows], R_set, distance)
        if loo:
            D[np.arange(len(rows)), rows] = np.inf
        R = relevant[rows]
        k = int(R.max())
        hits = ref_codes[nearest_sorted(D, k)] == codes[rows][:, None]
        hits &= np.arange(k)[None, :] < R[:, None]
        precision_at_i = np.cumsum(hits, axis=1) / np.arange(1, k + 1)
        sums += [
            hits[:, 0].sum(),
            (hits.sum(axis=1) / R).sum(),
            ((precision_at_i * hits).sum(axis=1) / R).sum(),
        ]
    means = sums / np.count_nonzero(relevant)
    return dict(zip(RETRIEVAL_METRICS, map(float, means), strict=True))
