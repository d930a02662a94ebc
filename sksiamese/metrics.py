"""Episodic one-shot, retrieval and verification metrics for embeddings, and scorers."""

import math
from numbers import Real

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import (
    adjusted_mutual_info_score,
    normalized_mutual_info_score,
    roc_auc_score,
)
from sklearn.utils.validation import check_consistent_length, column_or_1d

from . import _scores
from ._distances import (
    DISTANCES,
    check_criterion,
    equal_error_point,
    normalize_rows,
    rowwise,
    threshold_sweep,
)
from ._embedding import (
    check_choice,
    check_int,
    check_labels_defined,
    check_transformer,
    embed,
    resolve_distance,
    scoring_data,
)

# Kept under this name: other modules of the package import it from here.
_resolve_distance = resolve_distance

RETRIEVAL_METRICS = _scores.RETRIEVAL_METRICS

__all__ = [
    "best_threshold",
    "best_threshold_accuracy",
    "clustering_scores",
    "equal_error_rate",
    "false_accept_rate",
    "false_reject_rate",
    "make_n_way_k_shot_scorer",
    "make_open_set_scorer",
    "make_retrieval_scorer",
    "map_at_r",
    "n_way_k_shot_accuracy",
    "open_set_scores",
    "pair_distances",
    "precision_at_1",
    "r_precision",
    "retrieval_scores",
    "verification_roc_auc",
]

OPEN_SET_METRICS = ("accuracy", "tar_at_far", "auroc")


# -- N-way K-shot episodes ----------------------------------------------------


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
    return _scores.n_way_k_shot_accuracy(
        transformer, X, y, n_way=n_way, k_shot=k_shot, n_queries=n_queries,
        n_episodes=n_episodes, groups=groups, rule=rule, distance=distance,
        return_ci=return_ci, random_state=random_state)


class _EpisodeScorer:
    """Scorer ``scorer(estimator, X, y)``: N-way K-shot accuracy of ``estimator``."""

    def __init__(self, **kwargs):
        self._kwargs = kwargs

    def __call__(self, estimator, X, y, **kwargs):
        X, y = scoring_data(X, y)
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
    check_int("n_way", n_way, 2)
    check_int("k_shot", k_shot, 1)
    check_int("n_queries", n_queries, 1)
    check_int("n_episodes", n_episodes, 1)
    check_choice("rule", rule, ("nearest", "prototype"))
    if distance is not None:
        check_choice("distance", distance, DISTANCES)
    return _EpisodeScorer(n_way=n_way, k_shot=k_shot, n_queries=n_queries,
                          n_episodes=n_episodes, rule=rule, distance=distance,
                          random_state=random_state)


# -- retrieval ----------------------------------------------------------------


def retrieval_scores(X, y, *, X_reference=None, y_reference=None,
                     distance="euclidean", block_size=None):
    """Precision@1, R-precision and MAP@R of retrieval by distance.

    By default retrieval is leave-one-out: each sample in turn is a query, and
    all the others are the database, ranked by distance (ties by position in
    ``X``). Given ``X_reference`` and ``y_reference``, the rows of ``X`` are
    the queries and the reference set is the database (ties by position in
    ``X_reference``), as with a gallery of enrolled samples. With ``R`` the
    number of other samples of the query's class in the database (Musgrave,
    Belongie and Lim, "A Metric Learning Reality Check", 2020):

    - precision@1: whether the nearest other sample shares the class;
    - R-precision: the fraction of the ``R`` nearest that share the class;
    - MAP@R: ``(1 / R) * sum_{i <= R} P(i) * rel(i)``, with ``rel(i)`` 1 if
      the i-th nearest shares the class and ``P(i)`` the precision of the
      first ``i``; it rewards ranking the class's samples first.

    Each metric is the mean over queries; queries whose class has no other
    sample in the database have nothing to retrieve and are left out. The distances are
    computed exactly, a block of queries at a time: memory grows as
    ``block_size * n_samples``, never ``n_samples ** 2``.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Embeddings (for example ``SiameseTransformer.transform``'s output), or
        raw features for a baseline.
    y : array-like of shape (n_samples,)
        Class labels.
    X_reference : array-like of shape (n_reference, n_features), default=None
        The database to retrieve from; ``None`` retrieves from ``X`` itself,
        leaving each query out.
    y_reference : array-like of shape (n_reference,), default=None
        Class labels of ``X_reference``; given exactly when it is.
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
    >>> retrieval_scores([[0.0], [0.4]], [0, 1],
    ...                  X_reference=[[0.1], [0.5], [1.5]], y_reference=[0, 1, 1])
    {'precision_at_1': 1.0, 'r_precision': 0.75, 'map_at_r': 0.75}
    """
    return _scores.retrieval_scores(X, y, X_reference=X_reference,
                                    y_reference=y_reference, distance=distance,
                                    block_size=block_size)


def precision_at_1(X, y, *, X_reference=None, y_reference=None, distance="euclidean",
                   block_size=None):
    """Fraction of samples whose nearest other sample shares their class.

    See :func:`retrieval_scores` for the definition and the parameters.

    Examples
    --------
    >>> from sksiamese.metrics import precision_at_1
    >>> precision_at_1([[0.0], [0.1], [0.5], [0.6], [1.5]], [0, 0, 1, 0, 1])
    0.4
    """
    return retrieval_scores(X, y, X_reference=X_reference, y_reference=y_reference,
                            distance=distance, block_size=block_size)["precision_at_1"]


def r_precision(X, y, *, X_reference=None, y_reference=None, distance="euclidean",
                block_size=None):
    """Mean fraction of the R nearest that share the query's class (R-precision).

    See :func:`retrieval_scores` for the definition and the parameters.

    Examples
    --------
    >>> from sksiamese.metrics import r_precision
    >>> r_precision([[0.0], [0.1], [0.5], [0.6], [1.5]], [0, 0, 1, 0, 1])
    0.3
    """
    return retrieval_scores(X, y, X_reference=X_reference, y_reference=y_reference,
                            distance=distance, block_size=block_size)["r_precision"]


def map_at_r(X, y, *, X_reference=None, y_reference=None, distance="euclidean",
             block_size=None):
    """Mean average precision at R (MAP@R, Musgrave et al. 2020).

    See :func:`retrieval_scores` for the definition and the parameters.

    Examples
    --------
    >>> from sksiamese.metrics import map_at_r
    >>> map_at_r([[0.0], [0.1], [0.5], [0.6], [1.5]], [0, 0, 1, 0, 1])
    0.25
    """
    return retrieval_scores(X, y, X_reference=X_reference, y_reference=y_reference,
                            distance=distance, block_size=block_size)["map_at_r"]


def clustering_scores(X, y, *, distance="euclidean", n_clusters=None,
                      random_state=None):
    """How well k-means clusters of an embedding recover its classes.

    The rows of ``X`` are clustered by ``sklearn.cluster.KMeans`` into as many
    clusters as ``y`` has classes (unit vectors for cosine distance, which
    k-means then separates by angle), and the clusters are compared with the
    classes by scikit-learn's normalized and adjusted mutual information, as
    pytorch-metric-learning's ``AccuracyCalculator`` does. Both are 1 for
    clusters that are the classes; AMI is about 0 for a random clustering.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Embeddings, or raw features for a baseline.
    y : array-like of shape (n_samples,)
        Class labels.
    distance : {"euclidean", "cosine"}, default="euclidean"
        The geometry of the embedding.
    n_clusters : int, default=None
        Number of clusters; ``None`` is the number of classes.
    random_state : int, RandomState instance or None, default=None
        Seeds k-means.

    Returns
    -------
    scores : dict
        ``{"nmi": float, "ami": float}``.

    Examples
    --------
    >>> from sksiamese.metrics import clustering_scores
    >>> X = [[0.0], [0.1], [5.0], [5.2], [9.0], [9.1]]
    >>> clustering_scores(X, [0, 0, 1, 1, 2, 2], random_state=0)
    {'nmi': 1.0, 'ami': 1.0}
    """
    X, y = _scores._check_retrieval_input(X, y, distance, None)
    n_classes = len(np.unique(y))
    if n_clusters is None:
        n_clusters = n_classes
    check_int("n_clusters", n_clusters, 2)
    if n_clusters > len(X):
        raise ValueError(
            f"n_clusters={n_clusters} needs at least that many samples; X has "
            f"{len(X)}."
        )
    E = normalize_rows(X) if distance == "cosine" else X.astype(np.float64)
    if distance != "cosine" and len(E):
        # k-means squares distances: bring extreme scales into range first.
        top = np.abs(E).max()
        E = E / top if top > 0 else E
    clusters = KMeans(n_clusters=n_clusters, n_init=10,
                      random_state=random_state).fit_predict(E)
    return {"nmi": float(normalized_mutual_info_score(y, clusters)),
            "ami": float(adjusted_mutual_info_score(y, clusters))}


class _RetrievalScorer:
    """Scorer ``scorer(estimator, X, y)``: a retrieval metric of the embedding."""

    def __init__(self, metric, distance, block_size):
        self._metric = metric
        self._distance = distance
        self._block_size = block_size

    def __call__(self, estimator, X, y, **kwargs):
        X, y = scoring_data(X, y)
        check_transformer(estimator)
        distance = resolve_distance(estimator, self._distance)
        return retrieval_scores(embed(estimator, X), y, distance=distance,
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
    check_choice("metric", metric, RETRIEVAL_METRICS)
    if distance is not None:
        check_choice("distance", distance, DISTANCES)
    if block_size is not None:
        check_int("block_size", block_size, 1)
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
    distance = resolve_distance(transformer, distance)
    pairs = np.asarray(pairs)
    if pairs.ndim < 3 or pairs.shape[1] != 2:
        raise ValueError(
            "pairs must have shape (n_pairs, 2, n_features) (or (n_pairs, 2, ...) "
            f"for images and sequences); got shape {pairs.shape}."
        )
    n = len(pairs)
    sides = np.concatenate([pairs[:, 0], pairs[:, 1]])
    E = embed(transformer, sides)
    return rowwise(E[:n], E[n:], distance)


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


def _check_threshold(threshold):
    if (not isinstance(threshold, Real) or isinstance(threshold, bool)
            or math.isnan(threshold)):
        raise ValueError(
            f"threshold must be a number (a distance; inf accepts every pair); "
            f"got {threshold!r}."
        )
    return float(threshold)


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


def best_threshold(y_true, distances, *, criterion="accuracy"):
    """The distance threshold of verification that is best by a criterion.

    Pairs at ``distance <= threshold`` are accepted as same. The criterion is
    one of:

    - ``"accuracy"``: the most pairs right;
    - ``"f1"``: the best F1 score of "same";
    - ``"eer"``: the equal error rate point, where the false-accept rate and
      the false-reject rate are closest;
    - a float in (0, 1), a target false-accept rate: the most accepting
      threshold whose false-accept rate (the fraction of different pairs
      accepted) is at most the target.

    The candidates are "accept none" and each distinct distance. Where
    several are equally good, the one that accepts the fewest pairs wins (the
    smallest threshold). The threshold is then placed midway between the
    largest accepted and the smallest rejected distance (just below the
    smallest distance if rejecting every pair is best, the largest distance
    if accepting every pair is), so that it lies between the data and not on
    them. To threshold a similarity score (higher is more alike), pass minus
    the scores as ``distances`` and accept where ``score >= -threshold``.

    Parameters
    ----------
    y_true : array-like of shape (n_pairs,)
        1 for a pair of the same class, 0 for a different one.
    distances : array-like of shape (n_pairs,)
        Distance within each pair (for example from :func:`pair_distances`).
    criterion : {"accuracy", "f1", "eer"} or float, default="accuracy"
        What the threshold optimises; see above.

    Returns
    -------
    threshold : float
        The chosen threshold.
    rates : dict
        The rates it achieves on these pairs: ``"accuracy"``, ``"f1"``,
        ``"far"`` (false-accept rate), ``"tar"`` (true-accept rate, the
        fraction of same pairs accepted) and ``"frr"`` (``1 - tar``).

    Examples
    --------
    >>> from sksiamese.metrics import best_threshold
    >>> threshold, rates = best_threshold([1, 0, 1, 0], [1.0, 2.0, 3.0, 4.0])
    >>> threshold, rates["accuracy"]
    (1.5, 0.75)
    >>> threshold, rates = best_threshold([1, 0, 1, 0], [1.0, 2.0, 3.0, 4.0],
    ...                                   criterion=0.5)
    >>> threshold, rates["far"], rates["tar"]
    (3.5, 0.5, 1.0)
    """
    criterion = check_criterion(criterion)
    same, distances = _check_pairs(y_true, distances)
    return threshold_sweep(distances, same, ~same, criterion)


def best_threshold_accuracy(y_true, distances):
    """The best accuracy of ``same if distance <= threshold``, and that threshold.

    :func:`best_threshold` with ``criterion="accuracy"``.

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
    threshold, rates = best_threshold(y_true, distances, criterion="accuracy")
    return rates["accuracy"], threshold


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
    return equal_error_point(*_check_pairs(y_true, distances))


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
    return float(np.mean(distances[~same] <= _check_threshold(threshold)))


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
    return float(np.mean(distances[same] > _check_threshold(threshold)))


# -- open-set recognition -------------------------------------------------------
def _open_set_score(estimator, X, y, metric, far):
    if not (hasattr(estimator, "match") and hasattr(estimator, "classes_")):
        raise TypeError(
            "Open-set scores need a fitted classifier with a match method and "
            f"classes_, such as OneShotClassifier; got {estimator!r}."
        )
    y = check_labels_defined(column_or_1d(y, warn=True))
    classes, distances = estimator.match(X)
    check_consistent_length(distances, y)
    known = np.isin(y, estimator.classes_)
    right = known & (np.asarray(classes, dtype=object) == np.asarray(y, dtype=object))
    if metric == "accuracy":
        threshold = getattr(estimator, "threshold_", None)
        rejected = (np.zeros(len(y), dtype=bool) if threshold is None
                    else distances > threshold)
        return float(np.mean(np.where(known, right & ~rejected, rejected)))
    if known.all() or not known.any():
        raise ValueError(
            f"{metric} compares known queries (labels in classes_) with unknown "
            f"ones (labels not in classes_); y holds only "
            f"{'known' if known.all() else 'unknown'} ones."
        )
    if metric == "auroc":
        return float(roc_auc_score(known, -distances))
    return threshold_sweep(distances, right, ~known, far)[1]["tar"]


def open_set_scores(estimator, X, y, *, far=0.01):
    """Scores of open-set recognition on queries of known and unknown classes.

    ``estimator`` is a fitted :class:`~sksiamese.OneShotClassifier`; the
    queries' labels ``y`` that are not among its ``classes_`` mark queries of
    no enrolled class, which should be rejected. Returned:

    - ``"accuracy"``: accuracy with rejection at the estimator's own
      ``threshold_``: a known query is right when accepted with its class,
      an unknown one when rejected;
    - ``"tar_at_far"``: the true-accept rate (known queries accepted with
      their class) at the most accepting threshold whose false-accept rate
      (unknown queries accepted) is at most ``far``, as read off the
      queries' ROC curve;
    - ``"auroc"``: the area under the ROC curve of known against unknown
      queries, by the distance to the assigned class (:meth:`match`).

    Parameters
    ----------
    estimator : OneShotClassifier
        Fitted, with a support set of the known classes.
    X : array-like of shape (n_queries, n_features)
        Queries, not the support samples themselves.
    y : array-like of shape (n_queries,)
        Their true labels.
    far : float, default=0.01
        The false-accept rate for ``"tar_at_far"``, in (0, 1).

    Returns
    -------
    scores : dict
        ``{"accuracy": float, "tar_at_far": float, "auroc": float}``.

    Examples
    --------
    >>> from sksiamese import OneShotClassifier
    >>> from sksiamese.metrics import open_set_scores
    >>> clf = OneShotClassifier(None, threshold=2.0).fit([[0.0], [10.0]], [0, 1])
    >>> open_set_scores(clf, [[0.5], [9.0], [5.0], [0.7]], [0, 1, 7, 8], far=0.5)
    {'accuracy': 0.75, 'tar_at_far': 1.0, 'auroc': 0.75}
    """
    far = _check_far(far)
    return {m: _open_set_score(estimator, X, y, m, far) for m in OPEN_SET_METRICS}


def _check_far(far):
    if not (isinstance(far, Real) and not isinstance(far, bool) and 0 < far < 1):
        raise ValueError(f"far must be a float strictly between 0 and 1; got {far!r}.")
    return float(far)


class _OpenSetScorer:
    """Scorer ``scorer(estimator, X, y)``: an open-set score of ``estimator``."""

    def __init__(self, metric, far):
        self._metric = metric
        self._far = far

    def __call__(self, estimator, X, y, **kwargs):
        return _open_set_score(estimator, X, y, self._metric, self._far)

    def __repr__(self):
        return f"make_open_set_scorer({self._metric!r}, far={self._far!r})"


def make_open_set_scorer(metric="accuracy", *, far=0.01):
    """A scorer of open-set recognition, for ``scoring=`` in model selection.

    The scorer ``scorer(estimator, X, y)`` returns the metric of
    :func:`open_set_scores` of a fitted
    :class:`~sksiamese.OneShotClassifier` on validation queries whose labels
    not among its classes mark unknown queries. For ``GridSearchCV`` over
    the classifier, use folds whose validation part holds classes that the
    training part (the support set) lacks, for example with
    ``PredefinedSplit``.

    Parameters
    ----------
    metric : {"accuracy", "tar_at_far", "auroc"}, default="accuracy"
        The metric; see :func:`open_set_scores`.
    far : float, default=0.01
        The false-accept rate for ``"tar_at_far"``.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y) -> float``, greater is better.

    Examples
    --------
    >>> from sksiamese import OneShotClassifier
    >>> from sksiamese.metrics import make_open_set_scorer
    >>> clf = OneShotClassifier(None, threshold=2.0).fit([[0.0], [10.0]], [0, 1])
    >>> make_open_set_scorer("auroc")(clf, [[0.5], [9.0], [5.0], [0.7]], [0, 1, 7, 8])
    0.75
    """
    check_choice("metric", metric, OPEN_SET_METRICS)
    return _OpenSetScorer(metric, _check_far(far))
