"""Episodic one-shot, retrieval and verification metrics for embeddings, and scorers."""

import math
from numbers import Integral

import numpy as np
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, check_consistent_length, column_or_1d

__all__ = [
    "best_threshold_accuracy",
    "equal_error_rate",
    "false_accept_rate",
    "false_reject_rate",
    "make_n_way_k_shot_scorer",
    "make_retrieval_scorer",
    "map_at_r",
    "n_way_k_shot_accuracy",
    "pair_distances",
    "precision_at_1",
    "r_precision",
    "retrieval_scores",
    "verification_roc_auc",
]

DISTANCES = ("euclidean", "cosine")
RETRIEVAL_METRICS = ("precision_at_1", "r_precision", "map_at_r")

# Entries of a (rows, n) distance block: 2**20 float64 values are 8 MiB.
_BLOCK_ENTRIES = 2**20

# The two-sided 95% quantile of the standard normal distribution.
_Z95 = 1.959963984540054


# -- shared helpers (also used by OneShotClassifier) --------------------------
def _check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(
            f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}."
        )


def _check_int(name, value, low):
    if not isinstance(value, Integral) or isinstance(value, bool) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}; got {value!r}.")


def _final_step(estimator):
    """The estimator making the embedding, through FrozenEstimator and Pipeline."""
    while True:
        if isinstance(estimator, FrozenEstimator):
            estimator = estimator.estimator
        elif isinstance(estimator, Pipeline):
            steps = [s for _, s in estimator.steps if s not in (None, "passthrough")]
            if not steps:
                return None
            estimator = steps[-1]
        else:
            return estimator


def _resolve_distance(transformer, distance):
    """``distance`` if given, else the transformer's ``distance``, else euclidean."""
    if distance is not None:
        _check_choice("distance", distance, DISTANCES)
        return distance
    found = getattr(_final_step(transformer), "distance", None)
    return found if isinstance(found, str) and found in DISTANCES else "euclidean"


def _check_transformer(transformer):
    if transformer is not None and not hasattr(transformer, "transform"):
        raise TypeError(
            "transformer must be a fitted transformer with a transform method "
            "(a SiameseTransformer, a Pipeline ending in one, a FrozenEstimator "
            f"around one) or None for the raw features; got {transformer!r}."
        )


def _flat_features(X):
    """Raw features as float64 rows: images and sequences are flattened."""
    X = check_array(X, allow_nd=True, dtype=[np.float64, np.float32])
    return X.reshape(len(X), -1)


def _embed(transformer, X):
    """Rows of the embedding of ``X`` (the raw features if ``transformer`` is None)."""
    _check_transformer(transformer)
    if transformer is None:
        return _flat_features(X)
    E = np.asarray(transformer.transform(X))
    return E.reshape(len(E), -1)


def _normalize_rows(E):
    norms = np.linalg.norm(E, axis=1, keepdims=True)
    # A zero vector has no direction; it stays zero, at cosine distance 1 from all.
    return E / np.where(norms > 0, norms, 1.0)


def _pairwise(A, B, distance, normalized=False):
    """Distances between the rows of ``A`` and of ``B``, in float64.

    With ``normalized=True`` the rows are taken as already unit-length (cosine).
    """
    A = np.asarray(A, dtype=np.float64)
    B = np.asarray(B, dtype=np.float64)
    if distance == "cosine":
        if not normalized:
            A, B = _normalize_rows(A), _normalize_rows(B)
        return np.clip(1.0 - A @ B.T, 0.0, 2.0)
    # |a|^2 + |b|^2 - 2ab: one matrix product instead of an (n, m, d) tensor.
    norms = (A * A).sum(1)[:, None] + (B * B).sum(1)[None, :]
    d2 = norms - 2.0 * (A @ B.T)
    # Below the formula's rounding error the distance is taken as 0, so that
    # identical rows are at distance exactly 0 rather than about 1e-7.
    d2[d2 <= 8 * np.finfo(np.float64).eps * norms] = 0.0
    return np.sqrt(d2)


def _rowwise(A, B, distance):
    """Distance between each row of ``A`` and the same row of ``B``, in float64."""
    A = np.asarray(A, dtype=np.float64)
    B = np.asarray(B, dtype=np.float64)
    if distance == "cosine":
        return np.clip(1.0 - (_normalize_rows(A) * _normalize_rows(B)).sum(1), 0, 2)
    return np.linalg.norm(A - B, axis=1)


def _block_rows(n_columns, block_size=None):
    if block_size is not None:
        return int(block_size)
    return max(1, _BLOCK_ENTRIES // max(1, n_columns))


def _nearest_sorted(D, k):
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


def _class_distances(Q, S, s_codes, n_classes, rule, distance):
    """Distance of each query to each class of a support set.

    ``rule="nearest"``: to the class's nearest support item; ``"prototype"``:
    to the class mean (of unit vectors for cosine). Every class must appear in
    ``s_codes``.
    """
    if distance == "cosine":
        Q, S = _normalize_rows(Q), _normalize_rows(S)
    if rule == "prototype":
        protos = np.zeros((n_classes, S.shape[1]))
        np.add.at(protos, s_codes, S)
        protos /= np.bincount(s_codes, minlength=n_classes)[:, None]
        return _pairwise(Q, protos, distance, normalized=False)
    order = np.argsort(s_codes, kind="stable")
    starts = np.searchsorted(s_codes[order], np.arange(n_classes))
    D = _pairwise(Q, S[order], distance, normalized=True)
    return np.minimum.reduceat(D, starts, axis=1)


# -- N-way K-shot episodes ----------------------------------------------------
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
    """Mean accuracy of N-way K-shot classification episodes.

    Each episode draws ``n_way`` classes, then ``k_shot`` support and
    ``n_queries`` query samples of each; every query is assigned the class of
    its nearest support sample (or nearest class mean, ``rule="prototype"``)
    in the embedding. The transformer is applied once to all of ``X`` and is
    never fitted here: evaluate on classes it did not see in training.

    Parameters
    ----------
    transformer : fitted transformer or None
        A fitted :class:`~sksiamese.SiameseTransformer`, a ``Pipeline`` ending in
        one, a ``FrozenEstimator`` around one, or any fitted transformer.
        ``None`` classifies the raw features (flattened), the usual baseline.
    X : array-like of shape (n_samples, ...)
        Samples the transformer accepts.
    y : array-like of shape (n_samples,)
        Class labels.
    n_way : int, default=5
        Classes per episode (at least 2).
    k_shot : int, default=1
        Support samples per class.
    n_queries : int, default=1
        Query samples per class.
    n_episodes : int, default=1000
        Number of episodes.
    groups : array-like of shape (n_samples,), default=None
        A group for each sample, constant within a class. When given, all
        classes of an episode come from one group, chosen uniformly among the
        groups with enough classes: with Omniglot alphabets as groups this is
        the within-alphabet task of Lake et al. (2015).
    rule : {"nearest", "prototype"}, default="nearest"
        Nearest support sample, or nearest class mean (the same for
        ``k_shot=1``).
    distance : {"euclidean", "cosine"}, default=None
        Distance in the embedding; ``None`` takes the transformer's
        ``distance`` parameter, or euclidean.
    return_ci : bool, default=False
        Also return the half-width of the 95% confidence interval of the mean,
        ``1.96 * std / sqrt(n_episodes)`` over per-episode accuracies (nan for
        a single episode).
    random_state : int, RandomState instance or None, default=None
        Draws the episodes. Pass an int to compare transformers on the same
        episodes.

    Returns
    -------
    accuracy : float
        Mean accuracy over episodes (chance is ``1 / n_way``).
    ci : float
        Half-width of the 95% confidence interval; only if ``return_ci``.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sksiamese.metrics import n_way_k_shot_accuracy
    >>> X, y = load_digits(return_X_y=True)
    >>> acc, ci = n_way_k_shot_accuracy(None, X, y, n_way=5, n_episodes=200,
    ...                                 return_ci=True, random_state=0)
    >>> print(f"{acc:.2f} +/- {ci:.2f}")
    0.74 +/- 0.03
    """
    _check_int("n_way", n_way, 2)
    _check_int("k_shot", k_shot, 1)
    _check_int("n_queries", n_queries, 1)
    _check_int("n_episodes", n_episodes, 1)
    _check_choice("rule", rule, ("nearest", "prototype"))
    distance = _resolve_distance(transformer, distance)
    y = column_or_1d(y, warn=True)
    if groups is not None:
        groups = column_or_1d(groups)
    check_consistent_length(X, y, groups)
    E = _embed(transformer, X)
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
        D = _class_distances(queries, support, s_codes, n_way, rule, distance)
        accuracies[episode] = np.mean(D.argmin(axis=1) == q_codes)
    accuracy = float(accuracies.mean())
    if not return_ci:
        return accuracy
    if n_episodes < 2:
        return accuracy, float("nan")
    return accuracy, float(_Z95 * accuracies.std(ddof=1) / math.sqrt(n_episodes))


class _EpisodeScorer:
    """Scorer ``scorer(estimator, X, y)``: N-way K-shot accuracy of ``estimator``."""

    def __init__(self, **kwargs):
        self._kwargs = kwargs

    def __call__(self, estimator, X, y, **kwargs):
        return n_way_k_shot_accuracy(estimator, X, y, **self._kwargs)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self._kwargs.items())
        return f"make_n_way_k_shot_scorer({args})"


def make_n_way_k_shot_scorer(*, n_way=5, k_shot=1, n_queries=1, n_episodes=1000,
                             rule="nearest", distance=None, random_state=None):
    """A scorer of N-way K-shot accuracy, for ``scoring=`` in model selection.

    The scorer ``scorer(estimator, X, y)`` returns
    :func:`n_way_k_shot_accuracy` of ``estimator`` (a fitted
    :class:`~sksiamese.SiameseTransformer` or a ``Pipeline`` ending in one) on
    the validation data ``X, y``. One-shot accuracy only means something on
    classes the embedding was not trained on, so split by class: pass
    ``groups=y`` with ``GroupKFold`` (see Examples), so that every validation
    fold holds only classes unseen in its training folds and at least
    ``n_way`` of them.

    Parameters
    ----------
    n_way, k_shot, n_queries, n_episodes, rule, distance : \
            see :func:`n_way_k_shot_accuracy`
        Defaults as there.
    random_state : int, RandomState instance or None, default=None
        Draws the episodes. With an int, every candidate is scored on the
        same episodes (the same positions in each validation fold), so that
        candidates are compared on equal terms.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y) -> float``, greater is better.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.model_selection import GridSearchCV, GroupKFold
    >>> from sksiamese import SiameseTransformer
    >>> from sksiamese.metrics import make_n_way_k_shot_scorer
    >>> X, y = load_digits(return_X_y=True)
    >>> X, y = X[:300], y[:300]
    >>> scorer = make_n_way_k_shot_scorer(n_way=5, n_episodes=100, random_state=0)
    >>> grid = GridSearchCV(
    ...     SiameseTransformer(max_epochs=2, random_state=0),
    ...     {"margin": [0.5, 1.0], "optimizer": ["adam", "sgd"]},
    ...     scoring=scorer, cv=GroupKFold(n_splits=2),
    ... ).fit(X, y, groups=y)
    >>> sorted(grid.best_params_)
    ['margin', 'optimizer']
    """
    _check_int("n_way", n_way, 2)
    _check_int("k_shot", k_shot, 1)
    _check_int("n_queries", n_queries, 1)
    _check_int("n_episodes", n_episodes, 1)
    _check_choice("rule", rule, ("nearest", "prototype"))
    if distance is not None:
        _check_choice("distance", distance, DISTANCES)
    return _EpisodeScorer(n_way=n_way, k_shot=k_shot, n_queries=n_queries,
                          n_episodes=n_episodes, rule=rule, distance=distance,
                          random_state=random_state)


# -- retrieval ----------------------------------------------------------------
def _check_retrieval_input(X, y, distance, block_size):
    _check_choice("distance", distance, DISTANCES)
    if block_size is not None:
        _check_int("block_size", block_size, 1)
    X = check_array(X, dtype=[np.float64, np.float32])
    y = column_or_1d(y, warn=True)
    check_consistent_length(X, y)
    return X, y


def retrieval_scores(X, y, *, distance="euclidean", block_size=None):
    """Precision@1, R-precision and MAP@R of leave-one-out retrieval.

    Each sample in turn is a query; all the others are the database, ranked
    by distance (ties by position in ``X``). With ``R`` the number of other
    samples of the query's class (Musgrave, Belongie and Lim, "A Metric
    Learning Reality Check", 2020):

    - precision@1: whether the nearest other sample shares the class;
    - R-precision: the fraction of the ``R`` nearest that share the class;
    - MAP@R: ``(1 / R) * sum_{i <= R} P(i) * rel(i)``, with ``rel(i)`` 1 if
      the i-th nearest shares the class and ``P(i)`` the precision of the
      first ``i``; it rewards ranking the class's samples first.

    Each metric is the mean over queries; queries whose class has a single
    sample have nothing to retrieve and are left out. The distances are
    computed exactly, a block of queries at a time: memory grows as
    ``block_size * n_samples``, never ``n_samples ** 2``.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Embeddings (for example ``SiameseTransformer.transform``'s output), or
        raw features for a baseline.
    y : array-like of shape (n_samples,)
        Class labels.
    distance : {"euclidean", "cosine"}, default="euclidean"
        Distance between rows of ``X``.
    block_size : int, default=None
        Queries per block. ``None`` chooses it so a block of distances takes
        about 8 MiB.

    Returns
    -------
    scores : dict
        ``{"precision_at_1": float, "r_precision": float, "map_at_r": float}``.

    Examples
    --------
    >>> from sksiamese.metrics import retrieval_scores
    >>> X = [[0.0], [0.1], [0.5], [0.6], [1.5]]
    >>> retrieval_scores(X, [0, 0, 1, 0, 1])
    {'precision_at_1': 0.4, 'r_precision': 0.3, 'map_at_r': 0.25}
    """
    X, y = _check_retrieval_input(X, y, distance, block_size)
    _, codes = np.unique(y, return_inverse=True)
    relevant = np.bincount(codes)[codes] - 1
    if not relevant.any():
        raise ValueError(
            "Every class in y has a single sample, so no query has anything to "
            "retrieve; retrieval metrics need classes with two or more samples."
        )
    E = np.asarray(X, dtype=np.float64)
    if distance == "cosine":
        E = _normalize_rows(E)
    n = len(E)
    rows_per_block = _block_rows(n, block_size)
    sums = np.zeros(3)
    for start in range(0, n, rows_per_block):
        rows = np.arange(start, min(n, start + rows_per_block))
        rows = rows[relevant[rows] > 0]
        if not len(rows):
            continue
        D = _pairwise(E[rows], E, distance, normalized=True)
        D[np.arange(len(rows)), rows] = np.inf
        R = relevant[rows]
        k = int(R.max())
        hits = codes[_nearest_sorted(D, k)] == codes[rows][:, None]
        hits &= np.arange(k)[None, :] < R[:, None]
        precision_at_i = np.cumsum(hits, axis=1) / np.arange(1, k + 1)
        sums += [
            hits[:, 0].sum(),
            (hits.sum(axis=1) / R).sum(),
            ((precision_at_i * hits).sum(axis=1) / R).sum(),
        ]
    means = sums / np.count_nonzero(relevant)
    return dict(zip(RETRIEVAL_METRICS, map(float, means), strict=True))


def precision_at_1(X, y, *, distance="euclidean", block_size=None):
    """Fraction of samples whose nearest other sample shares their class.

    See :func:`retrieval_scores` for the definition and the parameters.

    Examples
    --------
    >>> from sksiamese.metrics import precision_at_1
    >>> precision_at_1([[0.0], [0.1], [0.5], [0.6], [1.5]], [0, 0, 1, 0, 1])
    0.4
    """
    return retrieval_scores(X, y, distance=distance,
                            block_size=block_size)["precision_at_1"]


def r_precision(X, y, *, distance="euclidean", block_size=None):
    """Mean fraction of the R nearest that share the query's class (R-precision).

    See :func:`retrieval_scores` for the definition and the parameters.

    Examples
    --------
    >>> from sksiamese.metrics import r_precision
    >>> r_precision([[0.0], [0.1], [0.5], [0.6], [1.5]], [0, 0, 1, 0, 1])
    0.3
    """
    return retrieval_scores(X, y, distance=distance,
                            block_size=block_size)["r_precision"]


def map_at_r(X, y, *, distance="euclidean", block_size=None):
    """Mean average precision at R (MAP@R, Musgrave et al. 2020).

    See :func:`retrieval_scores` for the definition and the parameters.

    Examples
    --------
    >>> from sksiamese.metrics import map_at_r
    >>> map_at_r([[0.0], [0.1], [0.5], [0.6], [1.5]], [0, 0, 1, 0, 1])
    0.25
    """
    return retrieval_scores(X, y, distance=distance, block_size=block_size)["map_at_r"]


class _RetrievalScorer:
    """Scorer ``scorer(estimator, X, y)``: a retrieval metric of the embedding."""

    def __init__(self, metric, distance, block_size):
        self._metric = metric
        self._distance = distance
        self._block_size = block_size

    def __call__(self, estimator, X, y, **kwargs):
        _check_transformer(estimator)
        distance = _resolve_distance(estimator, self._distance)
        return retrieval_scores(_embed(estimator, X), y, distance=distance,
                                block_size=self._block_size)[self._metric]

    def __repr__(self):
        return (f"make_retrieval_scorer({self._metric!r}, distance={self._distance!r}, "
                f"block_size={self._block_size!r})")


def make_retrieval_scorer(metric="map_at_r", *, distance=None, block_size=None):
    """A scorer of a retrieval metric of an embedding, for ``scoring=``.

    The scorer ``scorer(estimator, X, y)`` embeds the validation data with
    ``estimator.transform`` (a fitted :class:`~sksiamese.SiameseTransformer`
    or a ``Pipeline`` ending in one) and returns the metric of
    :func:`retrieval_scores`. As with :func:`make_n_way_k_shot_scorer`, split
    by class (``GroupKFold`` with ``groups=y``) to measure the embedding on
    classes it was not trained on.

    Parameters
    ----------
    metric : {"map_at_r", "precision_at_1", "r_precision"}, default="map_at_r"
        The metric.
    distance : {"euclidean", "cosine"}, default=None
        ``None`` takes the estimator's ``distance`` parameter, or euclidean.
    block_size : int, default=None
        Queries per block of distances; see :func:`retrieval_scores`.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y) -> float``, greater is better.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.model_selection import GroupKFold, cross_val_score
    >>> from sksiamese import SiameseTransformer
    >>> from sksiamese.metrics import make_retrieval_scorer
    >>> X, y = load_digits(return_X_y=True)
    >>> scores = cross_val_score(SiameseTransformer(max_epochs=2, random_state=0),
    ...                          X[:300], y[:300], groups=y[:300], cv=GroupKFold(2),
    ...                          scoring=make_retrieval_scorer("precision_at_1"))
    >>> scores.shape
    (2,)
    """
    _check_choice("metric", metric, RETRIEVAL_METRICS)
    if distance is not None:
        _check_choice("distance", distance, DISTANCES)
    if block_size is not None:
        _check_int("block_size", block_size, 1)
    return _RetrievalScorer(metric, distance, block_size)


# -- verification on pairs ----------------------------------------------------
def pair_distances(transformer, pairs, *, distance=None):
    """Distance between the two sides of each pair, in the embedding.

    Parameters
    ----------
    transformer : fitted transformer or None
        As in :func:`n_way_k_shot_accuracy`; ``None`` compares raw features.
    pairs : array-like of shape (n_pairs, 2, ...)
        The pairs; ``pairs[:, 0]`` and ``pairs[:, 1]`` are samples the
        transformer accepts.
    distance : {"euclidean", "cosine"}, default=None
        ``None`` takes the transformer's ``distance`` parameter, or euclidean.

    Returns
    -------
    distances : ndarray of shape (n_pairs,)
        Smaller means more alike.

    Examples
    --------
    >>> from sksiamese.metrics import pair_distances
    >>> pair_distances(None, [[[0.0, 0.0], [3.0, 4.0]], [[1.0, 1.0], [1.0, 1.0]]])
    array([5., 0.])
    """
    distance = _resolve_distance(transformer, distance)
    pairs = np.asarray(pairs)
    if pairs.ndim < 3 or pairs.shape[1] != 2:
        raise ValueError(
            "pairs must have shape (n_pairs, 2, n_features) (or (n_pairs, 2, ...) "
            f"for images and sequences); got shape {pairs.shape}."
        )
    n = len(pairs)
    sides = np.concatenate([pairs[:, 0], pairs[:, 1]])
    E = _embed(transformer, sides)
    return _rowwise(E[:n], E[n:], distance)


def _check_pairs(y_true, distances):
    y_true = column_or_1d(y_true)
    distances = column_or_1d(distances).astype(np.float64)
    check_consistent_length(y_true, distances)
    if not np.isin(y_true, [0, 1]).all():
        raise ValueError(
            "y_true must hold 1 for pairs of the same class and 0 for different "
            f"ones; got values {np.unique(y_true)[:5].tolist()}."
        )
    if not np.isfinite(distances).all():
        raise ValueError("distances contain NaN or infinite values.")
    same = y_true.astype(bool)
    if same.all() or not same.any():
        raise ValueError(
            "Verification metrics need both same (y_true=1) and different "
            "(y_true=0) pairs; y_true holds only one kind."
        )
    return same, distances


def _operating_points(same, distances):
    """FAR and FRR for ``accept if distance <= t`` at each candidate threshold.

    The candidates are "accept none" then each distinct distance, ascending.
    Returns the thresholds (the first is the smallest distance, standing for
    "just below it"), FAR and FRR.
    """
    values, inverse = np.unique(distances, return_inverse=True)
    n_same_at = np.bincount(inverse, weights=same, minlength=len(values))
    n_diff_at = np.bincount(inverse, weights=~same, minlength=len(values))
    accepted_same = np.concatenate([[0.0], np.cumsum(n_same_at)])
    accepted_diff = np.concatenate([[0.0], np.cumsum(n_diff_at)])
    far = accepted_diff / (~same).sum()
    frr = 1.0 - accepted_same / same.sum()
    return np.concatenate([values[:1], values]), far, frr


def verification_roc_auc(y_true, distances):
    """Area under the ROC curve of verification by distance.

    The probability that a random same pair is closer than a random different
    one (ties count half).

    Parameters
    ----------
    y_true : array-like of shape (n_pairs,)
        1 for a pair of the same class, 0 for a different one.
    distances : array-like of shape (n_pairs,)
        Distance within each pair (for example from :func:`pair_distances`).

    Returns
    -------
    auc : float

    Examples
    --------
    >>> from sksiamese.metrics import verification_roc_auc
    >>> verification_roc_auc([1, 1, 0, 0], [0.1, 0.5, 0.4, 0.9])
    0.75
    """
    same, distances = _check_pairs(y_true, distances)
    return float(roc_auc_score(same, -distances))


def best_threshold_accuracy(y_true, distances):
    """The best accuracy of ``same if distance <= threshold``, and that threshold.

    Parameters
    ----------
    y_true : array-like of shape (n_pairs,)
        1 for a pair of the same class, 0 for a different one.
    distances : array-like of shape (n_pairs,)
        Distance within each pair.

    Returns
    -------
    accuracy : float
        The highest accuracy over all thresholds.
    threshold : float
        A threshold that reaches it: midway between the largest accepted and
        the smallest rejected distance (the smallest such threshold where
        several tie); just below the smallest distance if rejecting every
        pair is best, the largest distance if accepting every pair is.

    Examples
    --------
    >>> from sksiamese.metrics import best_threshold_accuracy
    >>> best_threshold_accuracy([1, 1, 0, 0], [0.1, 0.5, 0.4, 0.9])
    (0.75, 0.25)
    """
    same, distances = _check_pairs(y_true, distances)
    values, far, frr = _operating_points(same, distances)
    n_same, n_diff = same.sum(), (~same).sum()
    accuracy = ((1 - frr) * n_same + (1 - far) * n_diff) / len(same)
    best = int(np.argmax(accuracy))
    if best == 0:
        threshold = np.nextafter(values[1], -np.inf)
    elif best == len(values) - 1:
        threshold = values[-1]
    else:
        threshold = (values[best] + values[best + 1]) / 2
    return float(accuracy[best]), float(threshold)


def equal_error_rate(y_true, distances):
    """The equal error rate: where the false accept and false reject rates cross.

    Both rates are interpolated linearly between the thresholds that the data
    distinguish (the ROC curve's convex interpolation), so the result is the
    point where the ROC curve meets the line ``FAR = FRR``.

    Parameters
    ----------
    y_true : array-like of shape (n_pairs,)
        1 for a pair of the same class, 0 for a different one.
    distances : array-like of shape (n_pairs,)
        Distance within each pair.

    Returns
    -------
    eer : float
        The rate at which ``FAR == FRR``.
    threshold : float
        The distance threshold there (interpolated the same way).

    Examples
    --------
    >>> from sksiamese.metrics import equal_error_rate
    >>> equal_error_rate([1, 1, 0, 0], [0.1, 0.5, 0.4, 0.9])
    (0.5, 0.4)
    """
    same, distances = _check_pairs(y_true, distances)
    values, far, frr = _operating_points(same, distances)
    # FAR rises from 0 to 1 and FRR falls from 1 to 0: find where they cross.
    j = int(np.argmax(far >= frr))
    gap_before = frr[j - 1] - far[j - 1]
    gap_after = frr[j] - far[j]
    s = gap_before / (gap_before - gap_after)
    eer = far[j - 1] + s * (far[j] - far[j - 1])
    threshold = values[j - 1] + s * (values[j] - values[j - 1])
    return float(eer), float(threshold)


def false_accept_rate(y_true, distances, threshold):
    """Fraction of different pairs accepted as same (``distance <= threshold``).

    Parameters
    ----------
    y_true : array-like of shape (n_pairs,)
        1 for a pair of the same class, 0 for a different one.
    distances : array-like of shape (n_pairs,)
        Distance within each pair.
    threshold : float
        Pairs at this distance or closer are accepted as same.

    Returns
    -------
    far : float

    Examples
    --------
    >>> from sksiamese.metrics import false_accept_rate
    >>> false_accept_rate([1, 1, 0, 0], [0.1, 0.5, 0.4, 0.9], threshold=0.45)
    0.5
    """
    same, distances = _check_pairs(y_true, distances)
    return float(np.mean(distances[~same] <= threshold))


def false_reject_rate(y_true, distances, threshold):
    """Fraction of same pairs rejected as different (``distance > threshold``).

    Parameters
    ----------
    y_true : array-like of shape (n_pairs,)
        1 for a pair of the same class, 0 for a different one.
    distances : array-like of shape (n_pairs,)
        Distance within each pair.
    threshold : float
        Pairs farther than this are rejected as different.

    Returns
    -------
    frr : float

    Examples
    --------
    >>> from sksiamese.metrics import false_reject_rate
    >>> false_reject_rate([1, 1, 0, 0], [0.1, 0.5, 0.4, 0.9], threshold=0.45)
    0.5
    """
    same, distances = _check_pairs(y_true, distances)
    return float(np.mean(distances[same] > threshold))
