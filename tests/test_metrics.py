import itertools
import tracemalloc

import numpy as np
import pytest
from scipy.interpolate import interp1d
from scipy.optimize import brentq
from sklearn.cluster import KMeans
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import (
    adjusted_mutual_info_score,
    normalized_mutual_info_score,
    roc_auc_score,
    roc_curve,
)
from sklearn.model_selection import (
    GridSearchCV,
    GroupKFold,
    PredefinedSplit,
    cross_val_score,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sksiamese import OneShotClassifier, SiameseTransformer
from sksiamese.metrics import (
    best_threshold,
    best_threshold_accuracy,
    clustering_scores,
    equal_error_rate,
    false_accept_rate,
    false_reject_rate,
    make_n_way_k_shot_scorer,
    make_open_set_scorer,
    make_retrieval_scorer,
    map_at_r,
    n_way_k_shot_accuracy,
    open_set_scores,
    pair_distances,
    precision_at_1,
    r_precision,
    retrieval_scores,
    verification_roc_auc,
)


@pytest.fixture(scope="module")
def fitted(digits400_raw):
    X, y = digits400_raw
    return SiameseTransformer(max_epochs=2, random_state=0).fit(X[y < 5], y[y < 5])


def slow_distance(a, b, distance):
    a, b = np.asarray(a, float), np.asarray(b, float)
    if distance == "cosine":
        return 1 - a @ b / (np.linalg.norm(a) * np.linalg.norm(b))
    return np.sqrt(((a - b) ** 2).sum())


# -- N-way K-shot -------------------------------------------------------------
def exact_episode_accuracy(X, y, classes, n_way, k_shot, rule="nearest",
                           distance="euclidean"):
    """Mean accuracy over every episode (n_queries=1) among ``classes``."""
    accuracies = []
    for chosen in itertools.combinations(classes, n_way):
        options = []
        for c in chosen:
            members = np.flatnonzero(y == c)
            options.append([(support, q) for q in members
                            for support in itertools.combinations(
                                [m for m in members if m != q], k_shot)])
        for draw in itertools.product(*options):
            correct = 0
            for true, (_, q) in enumerate(draw):
                scores = []
                for support, _ in draw:
                    if rule == "prototype":
                        proto = np.mean([X[s] / (np.linalg.norm(X[s])
                                                 if distance == "cosine" else 1)
                                         for s in support], axis=0)
                        scores.append(slow_distance(X[q], proto, distance))
                    else:
                        scores.append(min(slow_distance(X[q], X[s], distance)
                                          for s in support))
                correct += int(np.argmin(scores) == true)
            accuracies.append(correct / n_way)
    return float(np.mean(accuracies))


@pytest.mark.parametrize(
    "n_way, k_shot, rule, distance",
    [(2, 1, "nearest", "euclidean"), (3, 1, "nearest", "cosine"),
     (2, 2, "prototype", "euclidean"), (2, 2, "prototype", "cosine"),
     (2, 2, "nearest", "euclidean")],
)
def test_n_way_k_shot_matches_exhaustive_enumeration(n_way, k_shot, rule, distance):
    rng = np.random.RandomState(0)
    y = np.repeat(np.arange(4), 3)
    X = rng.normal(size=(12, 2)) + y[:, None] * 0.7
    exact = exact_episode_accuracy(X, y, range(4), n_way, k_shot, rule, distance)
    assert 0.2 < exact < 0.95
    acc, ci = n_way_k_shot_accuracy(None, X, y, n_way=n_way, k_shot=k_shot,
                                    n_episodes=3000, rule=rule, distance=distance,
                                    return_ci=True, random_state=0)
    assert abs(acc - exact) < 1.5 * ci


def test_confidence_interval_covers_the_exact_accuracy():
    rng = np.random.RandomState(1)
    y = np.repeat(np.arange(4), 3)
    X = rng.normal(size=(12, 2)) + y[:, None] * 0.5
    exact = exact_episode_accuracy(X, y, range(4), 2, 1)
    covered = 0
    for seed in range(40):
        acc, ci = n_way_k_shot_accuracy(None, X, y, n_way=2, n_episodes=100,
                                        return_ci=True, random_state=seed)
        assert 0 < ci < 0.2
        covered += abs(acc - exact) <= ci
    assert covered >= 34  # 95% nominal coverage; 34 of 40 leaves room for chance


def test_groups_draw_every_episode_within_one_group():
    # Two groups far apart; inside a group the classes are indistinguishable.
    rng = np.random.RandomState(0)
    y = np.repeat(np.arange(6), 4)
    groups = np.where(y < 3, "A", "B")
    X = rng.normal(scale=0.01, size=(24, 2)) + np.where(y < 3, 0.0, 100.0)[:, None]
    X += rng.normal(size=(24, 2))
    exact = np.mean([exact_episode_accuracy(X, y, cls, 3, 1)
                     for cls in ([0, 1, 2], [3, 4, 5])])
    acc, ci = n_way_k_shot_accuracy(None, X, y, n_way=3, groups=groups,
                                    n_episodes=3000, return_ci=True, random_state=0)
    assert abs(acc - exact) < 1.5 * ci
    mixed = n_way_k_shot_accuracy(None, X, y, n_way=3, n_episodes=3000,
                                  random_state=0)
    assert mixed > acc + 0.1


def test_groups_leave_out_groups_with_too_few_classes():
    y = np.repeat(np.arange(5), 2)
    X = (y * 10.0 + np.tile([0.0, 0.1], 5))[:, None]
    groups = np.array(["small"] * 4 + ["big"] * 6)
    # Only group "big" has 3 classes: its episodes are always all-correct here.
    assert n_way_k_shot_accuracy(None, X, y, n_way=3, groups=groups,
                                 n_episodes=50, random_state=0) == 1.0


def test_n_way_k_shot_embeds_with_the_transformer(digits400_raw, fitted):
    X, y = digits400_raw
    new = y >= 5
    kwargs = {"n_way": 5, "n_episodes": 200, "random_state": 0}
    expected = n_way_k_shot_accuracy(None, fitted.transform(X[new]), y[new], **kwargs)
    assert n_way_k_shot_accuracy(fitted, X[new], y[new], **kwargs) == expected
    assert n_way_k_shot_accuracy(FrozenEstimator(fitted), X[new], y[new],
                                 **kwargs) == expected


def test_n_way_k_shot_takes_the_transformer_distance(digits400_raw):
    X, y = digits400_raw
    # Unnormalised: on the unit sphere both distances rank alike.
    emb = SiameseTransformer(distance="cosine", max_epochs=1, normalize=False,
                             random_state=0)
    emb.fit(X[y < 5], y[y < 5])
    kwargs = {"n_way": 5, "n_episodes": 100, "random_state": 0}
    E = emb.transform(X[y >= 5])
    cosine = n_way_k_shot_accuracy(None, E, y[y >= 5], distance="cosine", **kwargs)
    euclidean = n_way_k_shot_accuracy(None, E, y[y >= 5], **kwargs)
    assert cosine != euclidean
    pipe = make_pipeline(StandardScaler(), emb).fit(X[y < 5], y[y < 5])
    E = pipe.transform(X[y >= 5])
    assert n_way_k_shot_accuracy(pipe, X[y >= 5], y[y >= 5], **kwargs) == (
        n_way_k_shot_accuracy(None, E, y[y >= 5], distance="cosine", **kwargs))


def test_n_way_k_shot_flattens_raw_images():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(20, 1, 3, 3))
    y = np.repeat(np.arange(5), 4)
    assert n_way_k_shot_accuracy(None, X, y, n_episodes=20, random_state=0) == (
        n_way_k_shot_accuracy(None, X.reshape(20, -1), y, n_episodes=20,
                              random_state=0))


def test_n_way_k_shot_same_seed_same_result_and_single_episode_ci():
    y = np.repeat(np.arange(4), 3)
    X = (y * 10.0 + np.tile([0.0, 0.1, 0.2], 4))[:, None]
    a = n_way_k_shot_accuracy(None, X, y, n_way=3, n_episodes=30, random_state=3)
    assert a == n_way_k_shot_accuracy(None, X, y, n_way=3, n_episodes=30,
                                      random_state=3)
    acc, ci = n_way_k_shot_accuracy(None, X, y, n_episodes=1, n_way=2,
                                    return_ci=True, random_state=0)
    assert acc == 1.0 and np.isnan(ci)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"n_way": 6}, r"An episode with n_way=6 needs 6 classes with at least "
                       r"k_shot \+ n_queries = 1 \+ 1 = 2 samples each in y; there "
                       r"are at most 5\. Lower n_way"),
        ({"k_shot": 3}, r"k_shot \+ n_queries = 3 \+ 1 = 4 samples each in y; "
                        r"there are at most 0\."),
        ({"n_way": 1}, r"n_way must be an integer >= 2; got 1\."),
        ({"n_queries": 0}, r"n_queries must be an integer >= 1; got 0\."),
        ({"rule": "knn"}, r"rule must be one of 'nearest', 'prototype'; got 'knn'\."),
        ({"distance": "manhattan"},
         r"distance must be one of 'euclidean', 'cosine'; got 'manhattan'\."),
        ({"groups": [0, 1] * 5},
         r"groups must be constant within each class \(for example the alphabet "
         r"of each character\); 5 class\(es\) have samples in more than one group\."),
        ({"groups": [0] * 4 + [1] * 6, "n_way": 4},
         r"needs 4 classes with at least k_shot \+ n_queries = 1 \+ 1 = 2 samples "
         r"each in one group; there are at most 3\."),
    ],
)
def test_n_way_k_shot_errors(kwargs, message):
    X = np.arange(10.0)[:, None]
    y = np.repeat(np.arange(5), 2)
    with pytest.raises(ValueError, match=message):
        n_way_k_shot_accuracy(None, X, y, **kwargs)


def test_n_way_k_shot_rejects_a_non_transformer():
    from sklearn.neighbors import KNeighborsClassifier

    with pytest.raises(TypeError, match=r"transformer must be a fitted transformer "
                                        r"with a transform method"):
        n_way_k_shot_accuracy(KNeighborsClassifier(), [[0.0], [1.0]], [0, 1])


# -- scorers and model selection ------------------------------------------------
def test_grid_search_over_class_disjoint_folds(digits400_raw):
    X, y = digits400_raw
    scorer = make_n_way_k_shot_scorer(n_way=5, n_episodes=100, random_state=0)
    seen = []

    def recording_scorer(estimator, X_val, y_val):
        # Every validation fold holds only classes the embedding never saw.
        seen.append(set(np.unique(y_val)))
        assert set(np.unique(y_val)).isdisjoint(estimator.classes_)
        return scorer(estimator, X_val, y_val)

    grid = GridSearchCV(
        SiameseTransformer(max_epochs=2, random_state=0),
        {"margin": [0.5, 1.0], "optimizer": ["adam", "sgd"]},
        scoring=recording_scorer, cv=GroupKFold(n_splits=2),
    ).fit(X, y, groups=y)
    assert len(seen) == 8
    scores = grid.cv_results_["mean_test_score"]
    assert np.all((scores >= 0.2) & (scores <= 1.0))
    # The candidates' embeddings differ, and so do their scores on a fold.
    assert len(np.unique(grid.cv_results_["split0_test_score"])) > 1
    assert grid.best_params_ == grid.cv_results_["params"][np.argmax(scores)]
    # The plain scorer is accepted as scoring= too and gives the same numbers.
    plain = GridSearchCV(
        SiameseTransformer(max_epochs=2, random_state=0),
        {"margin": [0.5, 1.0], "optimizer": ["adam", "sgd"]},
        scoring=scorer, cv=GroupKFold(n_splits=2), refit=False,
    ).fit(X, y, groups=y)
    np.testing.assert_array_equal(plain.cv_results_["mean_test_score"], scores)


def test_n_way_k_shot_scorer_equals_the_metric(digits400_raw, fitted):
    X, y = digits400_raw
    scorer = make_n_way_k_shot_scorer(n_way=4, k_shot=2, n_queries=3,
                                      n_episodes=50, random_state=1)
    assert scorer(fitted, X[y >= 5], y[y >= 5]) == n_way_k_shot_accuracy(
        fitted, X[y >= 5], y[y >= 5], n_way=4, k_shot=2, n_queries=3,
        n_episodes=50, random_state=1)
    assert repr(scorer).startswith("make_n_way_k_shot_scorer(n_way=4, k_shot=2")


def test_retrieval_scorer_in_cross_val_score_with_a_pipeline(digits400_raw):
    X, y = digits400_raw
    pipe = make_pipeline(StandardScaler(),
                         SiameseTransformer(max_epochs=2, random_state=0))
    scores = cross_val_score(pipe, X, y, groups=y, cv=GroupKFold(n_splits=2),
                             scoring=make_retrieval_scorer("map_at_r"))
    assert scores.shape == (2,) and np.all((scores > 0) & (scores <= 1))
    pipe.fit(X[y < 5], y[y < 5])
    for name in ("precision_at_1", "r_precision", "map_at_r"):
        scorer = make_retrieval_scorer(name)
        expected = retrieval_scores(pipe.transform(X[y >= 5]), y[y >= 5])[name]
        assert scorer(pipe, X[y >= 5], y[y >= 5]) == expected


@pytest.mark.parametrize(
    "factory, kwargs, message",
    [
        (make_retrieval_scorer, {"metric": "recall"},
         r"metric must be one of 'precision_at_1', 'r_precision', 'map_at_r'; "
         r"got 'recall'\."),
        (make_retrieval_scorer, {"block_size": 0},
         r"block_size must be an integer >= 1; got 0\."),
        (make_n_way_k_shot_scorer, {"n_episodes": 0},
         r"n_episodes must be an integer >= 1; got 0\."),
        (make_n_way_k_shot_scorer, {"distance": "l1"},
         r"distance must be one of 'euclidean', 'cosine'; got 'l1'\."),
    ],
)
def test_scorer_factories_check_their_arguments(factory, kwargs, message):
    with pytest.raises(ValueError, match=message):
        factory(**kwargs)


# -- retrieval --------------------------------------------------------------------
def slow_retrieval(X, y, distance):
    """Precision@1, R-precision and MAP@R by their definitions, with an n x n loop."""
    n = len(X)
    p1, rp, ap = [], [], []
    for q in range(n):
        R = int(np.sum(y == y[q])) - 1
        if R == 0:
            continue
        others = [i for i in range(n) if i != q]
        ranked = sorted(others, key=lambda i: (slow_distance(X[q], X[i], distance), i))
        rel = [y[i] == y[q] for i in ranked[:R]]
        p1.append(rel[0])
        rp.append(sum(rel) / R)
        ap.append(sum(np.mean(rel[:i + 1]) for i in range(R) if rel[i]) / R)
    return {"precision_at_1": np.mean(p1), "r_precision": np.mean(rp),
            "map_at_r": np.mean(ap)}


@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
@pytest.mark.parametrize("block_size", [None, 1, 7, 1000])
def test_retrieval_matches_brute_force(distance, block_size):
    rng = np.random.RandomState(0)
    y = rng.randint(0, 6, size=60)
    y[:2] = [10, 11]  # classes with one sample: left out as queries
    X = rng.normal(size=(60, 3)) + y[:, None] * 0.3
    expected = slow_retrieval(X, y, distance)
    got = retrieval_scores(X, y, distance=distance, block_size=block_size)
    assert got.keys() == expected.keys()
    for name in got:
        assert got[name] == pytest.approx(expected[name], abs=1e-12)
    assert precision_at_1(X, y, distance=distance) == pytest.approx(
        expected["precision_at_1"])
    assert r_precision(X, y, distance=distance) == pytest.approx(
        expected["r_precision"])
    assert map_at_r(X, y, distance=distance) == pytest.approx(expected["map_at_r"])


@pytest.mark.parametrize("block_size", [None, 3])
def test_retrieval_breaks_ties_by_position(block_size):
    # Integer points: many exact ties, which both sides resolve by index.
    rng = np.random.RandomState(1)
    X = rng.randint(0, 3, size=(40, 2)).astype(float)
    y = rng.randint(0, 3, size=40)
    expected = slow_retrieval(X, y, "euclidean")
    got = retrieval_scores(X, y, block_size=block_size)
    for name in got:
        assert got[name] == pytest.approx(expected[name], abs=1e-12)


def test_retrieval_memory_grows_with_n_times_block_not_n_squared():
    rng = np.random.RandomState(0)
    n = 4000
    X = rng.normal(size=(n, 4))
    y = rng.randint(0, 50, size=n)
    tracemalloc.start()
    retrieval_scores(X, y, block_size=50)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < n * n * 8 / 10  # an n x n float64 matrix would be 128 MB


def test_retrieval_needs_a_class_with_two_samples():
    with pytest.raises(ValueError, match=r"Every class in y has a single sample, so "
                                         r"no query has anything to retrieve"):
        retrieval_scores([[0.0], [1.0]], [0, 1])


# -- verification -----------------------------------------------------------------
@pytest.fixture
def pairs_data():
    rng = np.random.RandomState(0)
    same = rng.randint(0, 2, size=80)
    distances = np.round(rng.normal(loc=1.0 - 0.6 * same, scale=0.4), 1)  # with ties
    return same, distances


def test_roc_auc_matches_pair_counting(pairs_data):
    same, d = pairs_data
    wins = [(a < b) + 0.5 * (a == b) for a in d[same == 1] for b in d[same == 0]]
    assert verification_roc_auc(same, d) == pytest.approx(np.mean(wins))


def test_best_threshold_accuracy_matches_a_sweep(pairs_data):
    same, d = pairs_data
    candidates = np.r_[-np.inf, np.unique(d)]
    accuracies = [np.mean((d <= t) == same) for t in candidates]
    accuracy, threshold = best_threshold_accuracy(same, d)
    assert accuracy == pytest.approx(max(accuracies))
    assert np.mean((d <= threshold) == same) == pytest.approx(accuracy)
    best = candidates[int(np.argmax(accuracies))]
    above = np.unique(d)[np.unique(d) > best]
    assert threshold == pytest.approx((best + above[0]) / 2)


def test_best_threshold_accuracy_at_the_extremes():
    assert best_threshold_accuracy([1, 0, 0, 0], [2.0, 1.0, 1.5, 3.0]) == (
        0.75, float(np.nextafter(1.0, -np.inf)))
    assert best_threshold_accuracy([1, 1, 1, 0], [2.0, 1.0, 1.5, 0.5]) == (0.75, 2.0)


def brute_force_threshold(same, d, criterion):
    """Every candidate threshold, scored by counting; the first best wins."""
    values = np.unique(d)
    candidates = np.r_[np.nextafter(values[0], -np.inf),
                       (values[:-1] + values[1:]) / 2, values[-1]]
    scored = []
    for t in candidates:
        accept = d <= t
        tp = np.sum(accept & (same == 1))
        far = np.sum(accept & (same == 0)) / np.sum(same == 0)
        frr = 1 - tp / np.sum(same == 1)
        f1 = 2 * tp / (accept.sum() + np.sum(same == 1))
        if criterion == "accuracy":
            scored.append(-np.mean(accept == same))
        elif criterion == "f1":
            scored.append(-f1)
        elif criterion == "eer":
            scored.append(abs(far - frr))
        else:  # the most accepting within the target FAR
            scored.append(-accept.sum() if far <= criterion else np.inf)
    return candidates[int(np.argmin(scored))]


@pytest.mark.parametrize("criterion", ["accuracy", "f1", "eer", 0.05, 0.3])
def test_best_threshold_matches_brute_force(pairs_data, criterion):
    same, d = pairs_data
    threshold, rates = best_threshold(same, d, criterion=criterion)
    assert threshold == pytest.approx(brute_force_threshold(same, d, criterion))
    accept = d <= threshold
    assert rates["accuracy"] == pytest.approx(np.mean(accept == same))
    assert rates["far"] == false_accept_rate(same, d, threshold)
    assert rates["frr"] == pytest.approx(false_reject_rate(same, d, threshold))
    assert rates["tar"] == pytest.approx(1 - rates["frr"])
    if not isinstance(criterion, str):
        assert rates["far"] <= criterion


def test_best_threshold_breaks_ties_towards_accepting_fewer():
    # Accepting the first pair or the first three are equally accurate (0.75):
    # the one tie rule takes the smaller threshold.
    threshold, rates = best_threshold([1, 0, 1, 0], [0.1, 0.2, 0.3, 0.4])
    assert threshold == pytest.approx(0.15)
    assert rates["accuracy"] == 0.75
    assert best_threshold_accuracy([1, 0, 1, 0], [0.1, 0.2, 0.3, 0.4]) == (
        0.75, threshold)


def test_best_threshold_on_negated_similarity_scores():
    # A similarity score (higher is more alike) is thresholded by its negation.
    scores = np.array([0.9, 0.8, 0.3, 0.2])
    threshold, _ = best_threshold([1, 1, 0, 0], -scores)
    assert ((scores >= -threshold) == [1, 1, 0, 0]).all()


@pytest.mark.parametrize("criterion", [0.0, 1.0, -0.5, "best", True, None])
def test_best_threshold_checks_the_criterion(criterion):
    with pytest.raises(ValueError, match=r"criterion must be one of 'accuracy', "
                                         r"'f1', 'eer' or a target false-accept rate"):
        best_threshold([1, 0], [0.1, 0.2], criterion=criterion)


def test_far_and_frr_match_counting(pairs_data):
    same, d = pairs_data
    for t in (0.0, 0.5, 0.7, 2.0):
        far = sum(1 for s, x in zip(same, d, strict=True) if s == 0 and x <= t)
        frr = sum(1 for s, x in zip(same, d, strict=True) if s == 1 and x > t)
        assert false_accept_rate(same, d, t) == far / np.sum(same == 0)
        assert false_reject_rate(same, d, t) == frr / np.sum(same == 1)


def test_equal_error_rate_matches_the_roc_curve(pairs_data):
    same, d = pairs_data
    fpr, tpr, _ = roc_curve(same, -d)
    expected = brentq(lambda x: 1.0 - x - interp1d(fpr, tpr)(x), 0.0, 1.0)
    eer, threshold = equal_error_rate(same, d)
    assert eer == pytest.approx(expected, abs=1e-9)
    # At the threshold, FAR and FRR straddle the EER.
    far = false_accept_rate(same, d, threshold)
    frr = false_reject_rate(same, d, threshold)
    assert min(far, frr) - 1e-12 <= eer <= max(far, frr) + 1e-12
    assert equal_error_rate([1, 1, 0, 0], [0.1, 0.2, 0.3, 0.4]) == (0.0, 0.2)


@pytest.mark.parametrize(
    "y_true, distances, message",
    [
        ([1, 1], [0.1, 0.2], r"Verification metrics need both same \(y_true=1\) and "
                             r"different \(y_true=0\) pairs"),
        ([1, 2], [0.1, 0.2], r"y_true must hold 1 for pairs of the same class and 0 "
                             r"for different ones; got values \[1, 2\]\."),
        ([1, 0], [0.1, np.nan], r"distances contain NaN or infinite values\."),
    ],
)
def test_verification_errors(y_true, distances, message):
    with pytest.raises(ValueError, match=message):
        equal_error_rate(y_true, distances)


@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_pair_distances_match_a_loop(digits400_raw, fitted, distance):
    X, _ = digits400_raw
    pairs = np.stack([X[:10], X[10:20]], axis=1)
    E = fitted.transform(X[:20])
    got = pair_distances(fitted, pairs, distance=distance)
    expected = [slow_distance(E[i], E[10 + i], distance) for i in range(10)]
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)
    raw = [slow_distance(X[i], X[10 + i], distance) for i in range(10)]
    np.testing.assert_allclose(pair_distances(None, pairs, distance=distance), raw)


def test_pair_distances_checks_the_shape():
    with pytest.raises(ValueError, match=r"pairs must have shape \(n_pairs, 2, "
                                         r"n_features\) .* got shape \(4, 3\)\."):
        pair_distances(None, np.zeros((4, 3)))


# -- extreme scales and missing values ----------------------------------------------
@pytest.mark.parametrize("scale", [1e200, 1e-200])
@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_metrics_do_not_change_at_extreme_scales(digits300, scale, distance):
    X, y = digits300
    expected = retrieval_scores(X, y, distance=distance)
    got = retrieval_scores(X * scale, y, distance=distance)
    assert got == pytest.approx(expected)
    kwargs = dict(n_way=5, n_episodes=50, distance=distance, random_state=0)
    for rule in ("nearest", "prototype"):
        assert n_way_k_shot_accuracy(None, X * scale, y, rule=rule, **kwargs) == (
            pytest.approx(n_way_k_shot_accuracy(None, X, y, rule=rule, **kwargs)))


def test_far_and_frr_refuse_a_nan_threshold():
    for metric in (false_accept_rate, false_reject_rate):
        with pytest.raises(ValueError, match=r"threshold must be a number \(a "
                                             r"distance; inf accepts every pair\); "
                                             r"got nan\."):
            metric([1, 0], [0.1, 0.2], threshold=np.nan)
    assert false_accept_rate([1, 0], [0.1, 0.2], threshold=np.inf) == 1.0


@pytest.mark.parametrize("labels", [
    np.array([0.0, 1.0, np.nan, 1.0, 0.0, np.nan]),
    np.array(["a", "b", None, "b", "a", None], dtype=object),
])
def test_missing_labels_are_not_a_class(labels):
    X = np.arange(12.0).reshape(6, 2)
    message = (r"y holds 2 missing label\(s\) \(NaN or None\), first at position "
               r"2; a missing label is not a class\.")
    with pytest.raises(ValueError, match=message):
        retrieval_scores(X, labels)
    with pytest.raises(ValueError, match=message):
        n_way_k_shot_accuracy(None, X, labels, n_way=2, n_episodes=2)
    with pytest.raises(ValueError, match=message.replace("^y", "y_reference")
                       .replace("y holds", "y_reference holds")):
        retrieval_scores(X, [0, 1, 0, 1, 0, 1], X_reference=X, y_reference=labels)


# -- open-set scores -------------------------------------------------------------------
@pytest.fixture(scope="module")
def open_set(digits300):
    """Support: two of each digit 0-4; held-out queries of 0-9 (5-9 unknown)."""
    X, y = digits300
    support = np.concatenate([np.flatnonzero(y == c)[:2] for c in range(5)])
    queries = np.setdiff1d(np.arange(len(y)), support)
    return X[support], y[support], X[queries], y[queries]


def test_open_set_scores_match_counting(open_set):
    X_s, y_s, X_q, y_q = open_set
    clf = OneShotClassifier(None, threshold=1.5).fit(X_s, y_s)
    scores = open_set_scores(clf, X_q, y_q, far=0.1)
    labels, d = clf.match(X_q)
    known = np.isin(y_q, y_s)
    truth = np.where(known, y_q, -1)
    assert scores["accuracy"] == pytest.approx(np.mean(clf.predict(X_q) == truth))
    assert scores["auroc"] == pytest.approx(roc_auc_score(known, -d))
    # TAR at FAR: the most accepting threshold that keeps FAR within 0.1.
    best = 0.0
    for t in np.r_[-1.0, np.unique(d)]:
        accepted = d <= t
        if np.mean(accepted[~known]) <= 0.1:
            best = max(best, np.mean((accepted & (labels == y_q))[known]))
    assert scores["tar_at_far"] == pytest.approx(best)
    for metric in ("accuracy", "tar_at_far", "auroc"):
        scorer = make_open_set_scorer(metric, far=0.1)
        assert scorer(clf, X_q, y_q) == scores[metric]


def test_open_set_scorer_tunes_the_threshold_in_grid_search(open_set):
    X_s, y_s, X_q, y_q = open_set
    X, y = np.r_[X_s, X_q], np.r_[y_s, y_q]
    # One split: the support set trains, the held-out queries (with digits400_raw
    # 5-9, which the support set lacks) validate.
    split = PredefinedSplit(np.r_[np.full(len(y_s), -1), np.zeros(len(y_q))])
    grid = GridSearchCV(OneShotClassifier(None), {"threshold": [0.5, 1.5, 3.0, None]},
                        scoring=make_open_set_scorer("accuracy"), cv=split,
                        refit=False).fit(X, y)
    expected = [open_set_scores(OneShotClassifier(None, threshold=t).fit(X_s, y_s),
                                X_q, y_q)["accuracy"] for t in (0.5, 1.5, 3.0, None)]
    np.testing.assert_allclose(grid.cv_results_["mean_test_score"], expected)


def test_open_set_scores_errors(open_set):
    X_s, y_s, X_q, y_q = open_set
    clf = OneShotClassifier(None).fit(X_s, y_s)
    known = np.isin(y_q, y_s)
    with pytest.raises(ValueError, match=r"auroc compares known queries \(labels in "
                                         r"classes_\) with unknown ones \(labels not "
                                         r"in classes_\); y holds only known ones\."):
        make_open_set_scorer("auroc")(clf, X_q[known], y_q[known])
    with pytest.raises(ValueError, match=r"far must be a float strictly between 0 "
                                         r"and 1; got 0\."):
        make_open_set_scorer("tar_at_far", far=0)
    with pytest.raises(ValueError, match=r"metric must be one of 'accuracy', "
                                         r"'tar_at_far', 'auroc'; got 'auc'\."):
        make_open_set_scorer("auc")
    with pytest.raises(TypeError, match=r"Open-set scores need a fitted classifier "
                                        r"with a match method"):
        open_set_scores(StandardScaler().fit(X_s), X_q, y_q)


# -- retrieval against a reference set -----------------------------------------------
@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_retrieval_from_a_reference_set_matches_brute_force(digits300, distance):
    X, y = digits300
    Q, y_q, R, y_r = X[:60], y[:60], X[100:], y[100:]
    got = retrieval_scores(Q, y_q, X_reference=R, y_reference=y_r, distance=distance,
                           block_size=7)
    p1, rp, mapr = [], [], []
    for q, label in zip(Q, y_q, strict=True):
        d = np.array([slow_distance(q, r, distance) for r in R])
        ranked = y_r[np.argsort(d, kind="stable")]
        n_rel = int(np.sum(y_r == label))
        hits = ranked[:n_rel] == label
        p1.append(hits[0])
        rp.append(hits.mean())
        mapr.append(np.sum(np.cumsum(hits) / np.arange(1, n_rel + 1) * hits) / n_rel)
    assert got == pytest.approx({"precision_at_1": np.mean(p1),
                                 "r_precision": np.mean(rp), "map_at_r": np.mean(mapr)})
    assert precision_at_1(Q, y_q, X_reference=R, y_reference=y_r,
                          distance=distance) == pytest.approx(np.mean(p1))


def test_retrieval_reference_errors(digits300):
    X, y = digits300
    with pytest.raises(ValueError, match=r"X_reference and y_reference go together"):
        retrieval_scores(X, y, X_reference=X)
    with pytest.raises(ValueError, match=r"X_reference has 3 features per sample, X "
                                         r"has 64"):
        retrieval_scores(X, y, X_reference=np.zeros((2, 3)), y_reference=[0, 1])
    with pytest.raises(ValueError, match=r"No query's class is in y_reference"):
        retrieval_scores(X[:5], np.zeros(5), X_reference=X[:5], y_reference=np.ones(5))


# -- clustering ------------------------------------------------------------------
@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_clustering_scores_are_sklearns_on_kmeans(digits300, distance):
    X, y = digits300
    got = clustering_scores(X, y, distance=distance, random_state=0)
    E = X / np.linalg.norm(X, axis=1, keepdims=True) if distance == "cosine" else X
    clusters = KMeans(10, n_init=10, random_state=0).fit_predict(E / np.abs(E).max()
                                                                if distance != "cosine"
                                                                else E)
    assert got == pytest.approx({"nmi": normalized_mutual_info_score(y, clusters),
                                 "ami": adjusted_mutual_info_score(y, clusters)})
    assert 0.3 < got["ami"] <= got["nmi"] < 1
    assert clustering_scores(X * 1e200, y, distance=distance,
                             random_state=0) == pytest.approx(got)


def test_clustering_scores_errors():
    with pytest.raises(ValueError, match=r"n_clusters=5 needs at least that many "
                                         r"samples; X has 3\."):
        clustering_scores([[0.0], [1.0], [2.0]], [0, 1, 2], n_clusters=5)
    with pytest.raises(ValueError, match=r"n_clusters must be an integer >= 2; got 1"):
        clustering_scores([[0.0], [1.0]], [0, 0])
