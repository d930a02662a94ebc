import re

import numpy as np
import pytest
from sklearn.base import BaseEstimator, clone
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.neighbors import KNeighborsTransformer, NearestNeighbors
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from sksiamese import OneShotClassifier, SiameseTransformer
from sksiamese.metrics import equal_error_rate


@parametrize_with_checks([
    OneShotClassifier(SiameseTransformer(max_epochs=2, random_state=0)),
    OneShotClassifier(None, rule="knn", n_neighbors=1),
    OneShotClassifier(None, rule="prototype", distance="cosine"),
    OneShotClassifier(None, algorithm=NearestNeighbors(algorithm="ball_tree")),
])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:400], y[:400]


@pytest.fixture(scope="module")
def emb(digits):
    """An embedding trained on digits 0-4 only."""
    X, y = digits
    return SiameseTransformer(max_epochs=2, random_state=0).fit(X[y < 5], y[y < 5])


@pytest.fixture(scope="module")
def new_classes(digits):
    """Digits 5-9: two support samples per class, and the rest as queries."""
    X, y = digits
    X, y = X[y >= 5], y[y >= 5]
    support = np.concatenate([np.flatnonzero(y == c)[:2] for c in range(5, 10)])
    queries = np.setdiff1d(np.arange(len(y)), support)
    return X[support], y[support], X[queries], y[queries]


def weights_of(transformer):
    return {k: v.clone() for k, v in transformer.net_.module_.state_dict().items()}


# -- the transformer: never retrained when fitted ----------------------------------
def test_fitted_transformer_is_used_as_is(emb, new_classes):
    X_s, y_s, X_q, _ = new_classes
    before, epochs = weights_of(emb), len(emb.history_)
    clf = OneShotClassifier(emb).fit(X_s, y_s)
    assert clf.transformer_ is emb
    assert len(emb.history_) == epochs
    for name, value in weights_of(emb).items():
        assert value.equal(before[name])
    np.testing.assert_array_equal(clf.support_embeddings_, emb.transform(X_s))
    assert clf.predict(X_q).shape == (len(X_q),)


def test_frozen_transformer_survives_clone(emb, new_classes):
    X_s, y_s, X_q, y_q = new_classes
    frozen = OneShotClassifier(FrozenEstimator(emb)).fit(X_s, y_s)
    cloned = clone(OneShotClassifier(FrozenEstimator(emb))).fit(X_s, y_s)
    assert cloned.transformer_.estimator is emb
    np.testing.assert_array_equal(cloned.predict_proba(X_q), frozen.predict_proba(X_q))
    # Unfrozen, clone() unfits the transformer, and fit trains a new one on the
    # support set: the pitfall that FrozenEstimator avoids.
    retrained = clone(OneShotClassifier(emb)).fit(X_s, y_s)
    assert retrained.transformer_ is not emb
    assert not np.array_equal(retrained.support_embeddings_,
                              frozen.support_embeddings_)


def test_frozen_transformer_in_cross_val_score(emb, new_classes):
    X_s, y_s, X_q, y_q = new_classes
    before = weights_of(emb)
    X, y = np.r_[X_s, X_q], np.r_[y_s, y_q]
    scores = cross_val_score(OneShotClassifier(FrozenEstimator(emb)), X, y, cv=2)
    assert scores.shape == (2,) and np.all(scores > 0.2)
    for name, value in weights_of(emb).items():
        assert value.equal(before[name])


def test_unfitted_transformer_is_fitted_on_the_support_set(digits):
    X, y = digits
    transformer = SiameseTransformer(max_epochs=2, random_state=0)
    clf = OneShotClassifier(transformer).fit(X, y)
    assert not hasattr(transformer, "net_")
    expected = clone(transformer).fit(X, y).transform(X[:5])
    np.testing.assert_array_equal(clf.transformer_.transform(X[:5]), expected)


def test_unfitted_frozen_transformer_is_an_error(digits):
    X, y = digits
    clf = OneShotClassifier(FrozenEstimator(SiameseTransformer()))
    with pytest.raises(NotFittedError, match=r"transformer is a FrozenEstimator "
                                             r"around an unfitted SiameseTransformer\. "
                                             r"Fit it before freezing it"):
        clf.fit(X, y)


def test_one_sample_per_class_with_an_unfitted_transformer_is_an_error():
    clf = OneShotClassifier(SiameseTransformer(max_epochs=1))
    with pytest.raises(ValueError, match=r"Every class in y has a single sample"):
        clf.fit(np.eye(3), [0, 1, 2])


def test_pipeline_and_distance_of_the_transformer(digits):
    X, y = digits
    pipe = make_pipeline(StandardScaler(), SiameseTransformer(
        distance="cosine", max_epochs=1, random_state=0)).fit(X[y < 5], y[y < 5])
    E = pipe.transform(X[y >= 5])
    for transformer in (pipe, FrozenEstimator(pipe)):
        clf = OneShotClassifier(transformer).fit(X[y >= 5], y[y >= 5])
        assert clf.distance_ == "cosine"
        np.testing.assert_array_equal(clf.support_embeddings_, E)
    clf = OneShotClassifier(pipe, distance="euclidean").fit(X[y >= 5], y[y >= 5])
    assert clf.distance_ == "euclidean"
    assert OneShotClassifier(None).fit(X, y).distance_ == "euclidean"


# -- decision rules against explicit loops --------------------------------------------
def slow_distance(a, b, distance):
    if distance == "cosine":
        return 1 - a @ b / (np.linalg.norm(a) * np.linalg.norm(b))
    return np.sqrt(((a - b) ** 2).sum())


def slow_class_distances(Xs, ys, Xq, rule, distance):
    classes = np.unique(ys)
    out = np.empty((len(Xq), len(classes)))
    for i, q in enumerate(Xq):
        for j, c in enumerate(classes):
            members = Xs[ys == c]
            if rule == "prototype":
                if distance == "cosine":
                    members = members / np.linalg.norm(members, axis=1, keepdims=True)
                out[i, j] = slow_distance(q, members.mean(axis=0), distance)
            else:
                out[i, j] = min(slow_distance(q, m, distance) for m in members)
    return out


@pytest.fixture
def toy():
    rng = np.random.RandomState(0)
    ys = np.array(["a", "a", "b", "b", "b", "c", "d", "d"])
    Xs = rng.normal(size=(8, 3))
    Xq = rng.normal(size=(30, 3))
    return Xs, ys, Xq


@pytest.mark.parametrize("rule", ["nearest", "prototype"])
@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
@pytest.mark.parametrize("temperature", [0.3, 1.0])
def test_rules_match_explicit_loops(toy, rule, distance, temperature):
    Xs, ys, Xq = toy
    clf = OneShotClassifier(None, rule=rule, distance=distance,
                            temperature=temperature).fit(Xs, ys)
    D = slow_class_distances(Xs, ys, Xq, rule, distance)
    P = np.exp(-D / temperature)
    P /= P.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(clf.predict_proba(Xq), P, rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(clf.predict(Xq), clf.classes_[D.argmin(axis=1)])


@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_knn_votes_match_an_explicit_loop(toy, distance):
    Xs, ys, Xq = toy
    clf = OneShotClassifier(None, rule="knn", n_neighbors=3, distance=distance,
                            temperature=0.5).fit(Xs, ys)
    classes = list(clf.classes_)
    expected = np.zeros((len(Xq), len(classes)))
    for i, q in enumerate(Xq):
        d = [slow_distance(q, s, distance) for s in Xs]
        for j in sorted(range(len(Xs)), key=lambda j: (d[j], j))[:3]:
            expected[i, classes.index(ys[j])] += np.exp(-d[j] / 0.5)
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(clf.predict_proba(Xq), expected, rtol=1e-9)
    np.testing.assert_array_equal(clf.predict(Xq),
                                  clf.classes_[expected.argmax(axis=1)])


def test_temperature_sharpens_probabilities_not_predictions(toy):
    Xs, ys, Xq = toy
    cold = OneShotClassifier(None, temperature=1e-6).fit(Xs, ys)
    hot = OneShotClassifier(None, temperature=1e6).fit(Xs, ys)
    np.testing.assert_array_equal(cold.predict(Xq), hot.predict(Xq))
    np.testing.assert_allclose(cold.predict_proba(Xq).max(axis=1), 1.0)
    np.testing.assert_allclose(hot.predict_proba(Xq), 0.25, atol=1e-5)


def test_prototype_and_nearest_agree_with_one_sample_per_class(emb, new_classes):
    X_s, y_s, X_q, _ = new_classes
    one = np.unique(y_s, return_index=True)[1]
    nearest = OneShotClassifier(emb).fit(X_s[one], y_s[one])
    prototype = OneShotClassifier(emb, rule="prototype").fit(X_s[one], y_s[one])
    np.testing.assert_allclose(nearest.predict_proba(X_q),
                               prototype.predict_proba(X_q), rtol=1e-6)


def test_score_is_accuracy(emb, new_classes):
    X_s, y_s, X_q, y_q = new_classes
    clf = OneShotClassifier(emb).fit(X_s, y_s)
    assert clf.score(X_q, y_q) == np.mean(clf.predict(X_q) == y_q)


# -- kneighbors -------------------------------------------------------------------
def test_kneighbors_matches_a_sort(toy):
    Xs, ys, Xq = toy
    clf = OneShotClassifier(None, n_neighbors=3).fit(Xs, ys)
    dist, ind = clf.kneighbors(Xq)
    for i, q in enumerate(Xq):
        d = np.array([slow_distance(q, s, "euclidean") for s in Xs])
        order = np.argsort(d, kind="stable")[:3]
        np.testing.assert_array_equal(ind[i], order)
        np.testing.assert_allclose(dist[i], d[order])
    np.testing.assert_array_equal(clf.kneighbors(Xq, 2, return_distance=False),
                                  ind[:, :2])


def test_kneighbors_without_x_leaves_each_support_sample_out(toy):
    Xs, ys, _ = toy
    clf = OneShotClassifier(None).fit(Xs, ys)
    dist, ind = clf.kneighbors(n_neighbors=7)
    assert not np.any(ind == np.arange(8)[:, None])
    for i in range(8):
        d = [slow_distance(Xs[i], s, "euclidean") if j != i else np.inf
             for j, s in enumerate(Xs)]
        np.testing.assert_array_equal(ind[i], np.argsort(d, kind="stable")[:7])


@pytest.mark.parametrize(
    "X, n_neighbors, message",
    [
        (None, 8, r"n_neighbors must be an integer from 1 to the 7 support samples "
                  r"available \(leaving each out\); got 8\."),
        ([[0.0, 0.0, 0.0]], 9, r"n_neighbors must be an integer from 1 to the 8 "
                               r"support samples available; got 9\."),
        (None, 0, r"from 1 to the 7 support samples available \(leaving each "
                  r"out\); got 0\."),
    ],
)
def test_kneighbors_errors(toy, X, n_neighbors, message):
    Xs, ys, _ = toy
    clf = OneShotClassifier(None).fit(Xs, ys)
    with pytest.raises(ValueError, match=message):
        clf.kneighbors(X, n_neighbors)


def test_knn_needs_enough_support_samples(toy):
    Xs, ys, _ = toy
    with pytest.raises(ValueError, match=r"rule='knn' with n_neighbors=9 needs at "
                                         r"least that many support samples; got 8\. "
                                         r"Lower n_neighbors\."):
        OneShotClassifier(None, rule="knn", n_neighbors=9).fit(Xs, ys)


# -- open set ---------------------------------------------------------------------
def test_tiny_threshold_rejects_every_query(emb, new_classes):
    X_s, y_s, X_q, y_q = new_classes
    clf = OneShotClassifier(emb, threshold=1e-9).fit(X_s, y_s)
    np.testing.assert_array_equal(clf.predict(X_q), -1)
    np.testing.assert_array_equal(clf.predict(X_s), y_s)  # at distance 0
    assert clf.score(X_q, np.full(len(X_q), -1)) == 1.0
    assert clf.predict_proba(X_q).shape == (len(X_q), 5)


def test_huge_threshold_rejects_nothing(emb, new_classes):
    X_s, y_s, X_q, _ = new_classes
    open_set = OneShotClassifier(emb, threshold=1e9).fit(X_s, y_s)
    closed = OneShotClassifier(emb).fit(X_s, y_s)
    np.testing.assert_array_equal(open_set.predict(X_q), closed.predict(X_q))


@pytest.mark.parametrize("rule", ["nearest", "prototype", "knn"])
def test_threshold_applies_to_the_assigned_class_distance(toy, rule):
    Xs, ys, Xq = toy
    closed = OneShotClassifier(None, rule=rule, n_neighbors=3).fit(Xs, ys)
    threshold = 1.5
    clf = OneShotClassifier(None, rule=rule, n_neighbors=3, threshold=threshold,
                            unknown_label="unknown").fit(Xs, ys)
    assigned = closed.predict(Xq)
    D = slow_class_distances(Xs, ys, Xq, "prototype" if rule == "prototype"
                             else "nearest", "euclidean")
    d = D[np.arange(len(Xq)), np.searchsorted(clf.classes_, assigned)]
    expected = np.where(d > threshold, "unknown", assigned)
    assert 0 < np.sum(d > threshold) < len(Xq)
    np.testing.assert_array_equal(clf.predict(Xq), expected)


def loo_scores(Xs, ys, rule):
    """Own-class and nearest-other-class distance of each support sample, left out."""
    known, unknown = [], []
    for i in range(len(Xs)):
        rest = np.arange(len(Xs)) != i
        own = rest & (ys == ys[i])
        if own.any():
            known.append(slow_class_distances(Xs[own], ys[own], Xs[i:i + 1], rule,
                                              "euclidean")[0, 0])
        other = ys != ys[i]
        unknown.append(slow_class_distances(Xs[other], ys[other], Xs[i:i + 1],
                                            rule, "euclidean").min())
    return np.array(known), np.array(unknown)


@pytest.mark.parametrize("rule", ["nearest", "prototype", "knn"])
def test_auto_threshold_calibrates_on_left_out_support_samples(toy, rule):
    Xs, ys, _ = toy
    clf = OneShotClassifier(None, rule=rule, n_neighbors=2, threshold="auto",
                            unknown_label="?").fit(Xs, ys)
    known, unknown = loo_scores(Xs, ys, "prototype" if rule == "prototype"
                                else "nearest")
    labels = np.r_[np.ones(len(known)), np.zeros(len(unknown))]
    expected = equal_error_rate(labels, np.r_[known, unknown])[1]
    assert clf.threshold_ == pytest.approx(expected, rel=1e-9)


def test_auto_threshold_with_one_sample_per_class(toy):
    Xs, _, _ = toy
    ys = np.arange(8)
    clf = OneShotClassifier(None, threshold="auto").fit(Xs, ys)
    nearest_other = [min(slow_distance(Xs[i], Xs[j], "euclidean")
                         for j in range(8) if j != i) for i in range(8)]
    assert clf.threshold_ == pytest.approx(np.median(nearest_other) / 2)


def test_auto_threshold_rejects_a_new_cluster():
    rng = np.random.RandomState(0)
    centers = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])
    X = np.repeat(centers, 20, axis=0) + rng.normal(size=(80, 2))
    y = np.repeat([0, 1, 2, 3], 20)
    support = np.r_[0:5, 20:25, 40:45]
    clf = OneShotClassifier(None, threshold="auto").fit(X[support], y[support])
    known_queries = np.r_[5:20, 25:40, 45:60]
    assert np.mean(clf.predict(X[known_queries]) == y[known_queries]) > 0.8
    assert np.mean(clf.predict(X[60:]) == -1) > 0.8


@pytest.mark.parametrize(
    "y, unknown_label, message",
    [
        (["a", "b"], -1, r"unknown_label=-1 does not fit class labels that are "
                         r"strings; pass an unknown_label of the same kind, for "
                         r"example 'unknown'\."),
        ([0, 1], "none", r"unknown_label='none' does not fit class labels that are "
                         r"numbers; pass an unknown_label of the same kind, for "
                         r"example -1\."),
        ([-1, 1], -1, r"unknown_label=-1 is one of the classes in y; choose a "
                      r"label that no class uses\."),
    ],
)
def test_unknown_label_errors(y, unknown_label, message):
    clf = OneShotClassifier(None, threshold=1.0, unknown_label=unknown_label)
    with pytest.raises(ValueError, match=message):
        clf.fit([[0.0], [1.0]], y)


def test_auto_threshold_needs_two_classes():
    with pytest.raises(ValueError, match=r"threshold='auto' compares distances "
                                         r"within and between classes of the support "
                                         r"set, which has one class only"):
        OneShotClassifier(None, threshold="auto").fit([[0.0], [1.0]], [3, 3])


def test_unusable_support_and_queries_are_explained(emb):
    with pytest.raises(ValueError, match=re.escape(
            "OneShotClassifier needs numeric X, but could not convert string to "
            "float: 'a'. Encode text and categorical features first")):
        OneShotClassifier(None).fit([["a"], ["b"]], [0, 1])
    with pytest.raises(ValueError, match=re.escape(
            "OneShotClassifier.fit got 0 samples in X; the support set needs at "
            "least one sample of each class.")):
        OneShotClassifier(FrozenEstimator(emb)).fit([], [])
    clf = OneShotClassifier(None, distance="cosine").fit([[1.0, 0.0], [0.0, 1.0]],
                                                         ["a", "b"])
    with pytest.raises(ValueError, match=re.escape(
            "OneShotClassifier cannot compute distances: the raw features of the "
            "queries hold values as large as 1e+200, whose squares overflow "
            "float64. Scale the input, for example with StandardScaler.")):
        clf.predict([[1e200, 1.0]])
    with pytest.raises(ValueError, match=re.escape(
            "y mixes labels of different types (number, string): 0 (index 0), 'x' "
            "(index 1).")):
        OneShotClassifier(None).fit([[0.0], [1.0]], [0, "x"])
    fitted = OneShotClassifier(None).fit([[0.0], [1.0]],
                                         np.array([3, 5], dtype=object))
    assert fitted.classes_.dtype.kind == "i"


def test_parameters_are_validated():
    with pytest.raises(ValueError, match=r"The 'rule' parameter of OneShotClassifier "
                                         r"must be a str among"):
        OneShotClassifier(None, rule="farthest").fit([[0.0], [1.0]], [0, 1])
    with pytest.raises(ValueError, match=r"The 'temperature' parameter of "
                                         r"OneShotClassifier must be a float in the "
                                         r"range \(0.0, inf\)\. Got 0 instead\."):
        OneShotClassifier(None, temperature=0).fit([[0.0], [1.0]], [0, 1])


def test_one_shot_support_of_many_classes_does_not_warn():
    import warnings

    X, y = load_digits(return_X_y=True)
    # 30 classes of one sample each: a one-shot support set, which scikit-learn's
    # target checks would flag as "more classes than half the samples".
    X_support, y_support = X[:30], np.arange(30)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf = OneShotClassifier(None).fit(X_support, y_support)
    assert list(clf.predict(X_support)) == list(range(30))


# -- temperature never changes the assignment ------------------------------------
@pytest.fixture(scope="module")
def digits300():
    X, y = load_digits(return_X_y=True)
    return X[:300] / 16, y[:300]


@pytest.mark.parametrize("rule", ["nearest", "prototype"])
@pytest.mark.parametrize("temperature", [1e-300, 1e-6, 1e16, 1e300])
def test_temperature_does_not_change_predict(digits300, rule, temperature):
    X, y = digits300
    support = np.concatenate([np.flatnonzero(y == c)[:3] for c in range(10)])
    base = OneShotClassifier(None, rule=rule).fit(X[support], y[support])
    clf = clone(base).set_params(temperature=temperature).fit(X[support], y[support])
    np.testing.assert_array_equal(clf.predict(X), base.predict(X))
    # predict is the class at the least distance, whatever the temperature.
    D = np.array([[np.linalg.norm(x - p) for p in base.prototypes_] for x in X]
                 if rule == "prototype" else
                 [[min(np.linalg.norm(x - s) for s in X[support][y[support] == c])
                   for c in base.classes_] for x in X])
    np.testing.assert_array_equal(clf.predict(X), base.classes_[D.argmin(axis=1)])
    assert np.isfinite(clf.predict_proba(X)).all()


def slow_knn_vote(d, labels, classes, temperature):
    """The weighted vote by a loop; exact ties go to the nearer voters in sum."""
    scores = []
    for c in classes:
        mine = [i for i, label in enumerate(labels) if label == c]
        weight = sum(np.exp(-(d[i] - d[0]) / temperature) for i in mine)
        scores.append((weight, -sum(d[i] - d[0] for i in mine) if mine else -np.inf))
    return classes[max(range(len(classes)), key=lambda i: scores[i])]


@pytest.mark.parametrize("temperature", [1e-300, 1.0, 1e16, 1e300])
def test_knn_votes_stay_exact_at_any_temperature(digits300, temperature):
    X, y = digits300
    support = np.concatenate([np.flatnonzero(y == c)[:4] for c in range(10)])
    clf = OneShotClassifier(None, rule="knn", n_neighbors=4,
                            temperature=temperature).fit(X[support], y[support])
    dist, ind = clf.kneighbors(X)
    expected = [slow_knn_vote(d, clf.support_labels_[i], clf.classes_, temperature)
                for d, i in zip(dist, ind, strict=True)]
    np.testing.assert_array_equal(clf.predict(X), expected)
    proba = clf.predict_proba(X)
    assert np.isfinite(proba).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


# -- open set: calibration on held-out queries -----------------------------------
@pytest.fixture(scope="module")
def open_set(digits300):
    """Support: two of each digit 0-4; held-out queries of 0-9 (5-9 unknown)."""
    X, y = digits300
    support = np.concatenate([np.flatnonzero(y == c)[:2] for c in range(5)])
    queries = np.setdiff1d(np.arange(len(y)), support)
    return X[support], y[support], X[queries], y[queries]


def open_set_counts(clf, X, y, threshold):
    """Rates of predict with ``threshold``, counted one query at a time."""
    labels, distances = clf.match(X)
    tp = fa = n_accepted = 0
    correct = 0
    for label, d, truth in zip(labels, distances, y, strict=True):
        known = truth in clf.classes_
        accepted = d <= threshold
        n_accepted += accepted
        tp += accepted and label == truth
        fa += accepted and not known
        correct += (accepted and label == truth) if known else not accepted
    n_known = sum(t in clf.classes_ for t in y)
    return {"accuracy": correct / len(y), "f1": 2 * tp / (n_accepted + n_known),
            "far": fa / (len(y) - n_known), "tar": tp / n_known,
            "frr": 1 - tp / n_known}


@pytest.mark.parametrize("criterion", ["accuracy", "f1", "eer", 0.05, 0.2])
def test_calibrate_threshold_is_best_by_brute_force(open_set, criterion):
    X_s, y_s, X_q, y_q = open_set
    clf = OneShotClassifier(None).fit(X_s, y_s)
    clf.calibrate_threshold(X_q, y_q, criterion=criterion)
    assert clf.threshold_criterion_ == criterion
    rates = open_set_counts(clf, X_q, y_q, clf.threshold_)
    assert clf.threshold_rates_ == pytest.approx(rates)
    # No other threshold between the distances does better.
    d = np.sort(clf.match(X_q)[1])
    for t in np.r_[d[0] - 1, (d[:-1] + d[1:]) / 2, d[-1]]:
        other = open_set_counts(clf, X_q, y_q, t)
        if criterion in ("accuracy", "f1"):
            assert other[criterion] <= rates[criterion] + 1e-12
        elif criterion == "eer":
            assert (abs(other["far"] - other["frr"])
                    >= abs(rates["far"] - rates["frr"]) - 1e-12)
        elif other["far"] <= criterion:
            assert other["tar"] <= rates["tar"] + 1e-12
    # predict rejects exactly beyond the chosen threshold.
    labels, distances = clf.match(X_q)
    expected = np.where(distances > clf.threshold_, -1, labels)
    np.testing.assert_array_equal(clf.predict(X_q), expected)


def test_calibrated_threshold_beats_auto_on_held_out_queries(open_set):
    X_s, y_s, X_q, y_q = open_set
    auto = OneShotClassifier(None, threshold="auto").fit(X_s, y_s)
    calibrated = clone(auto).fit(X_s, y_s).calibrate_threshold(X_q, y_q)
    truth = np.where(np.isin(y_q, y_s), y_q, -1)
    assert calibrated.score(X_q, truth) >= auto.score(X_q, truth)
    assert calibrated.score(X_q, truth) == pytest.approx(
        calibrated.threshold_rates_["accuracy"])
    # A new fit replaces the calibration by the threshold parameter.
    calibrated.fit(X_s, y_s)
    assert calibrated.threshold_ == auto.threshold_
    assert not hasattr(calibrated, "threshold_rates_")


@pytest.mark.parametrize("criterion", ["eer", 0.01])
def test_calibration_needs_unknown_queries_for_rates(open_set, criterion):
    X_s, y_s, X_q, y_q = open_set
    clf = OneShotClassifier(None).fit(X_s, y_s)
    known = np.isin(y_q, y_s)
    with pytest.raises(ValueError, match=r"weighs false accepts against false "
                                         r"rejects; the calibration data hold no "
                                         r"different pairs or unknown queries"):
        clf.calibrate_threshold(X_q[known], y_q[known], criterion=criterion)
    with pytest.raises(ValueError, match=r"criterion must be one of 'accuracy', "
                                         r"'f1', 'eer' or a target false-accept "
                                         r"rate, a float strictly between 0 and 1; "
                                         r"got 1\.5\."):
        clf.calibrate_threshold(X_q, y_q, criterion=1.5)
    # Accuracy needs no unknown queries: with none, rejecting nothing is best.
    clf.calibrate_threshold(X_q[known], y_q[known])
    assert (clf.predict(X_q[known]) != -1).all()


def test_calibration_refuses_an_unknown_label_among_the_classes(open_set):
    X_s, y_s, X_q, y_q = open_set
    clf = OneShotClassifier(None, unknown_label=3).fit(X_s, y_s)
    with pytest.raises(ValueError, match=r"unknown_label=3 is one of the classes"):
        clf.calibrate_threshold(X_q, y_q)
    assert clf.threshold_ is None


# -- a gallery that grows ------------------------------------------------------------
@pytest.mark.parametrize("threshold", [None, "auto"])
@pytest.mark.parametrize("rule", ["nearest", "prototype", "knn"])
def test_partial_fit_equals_a_fit_on_the_union(digits300, rule, threshold):
    X, y = digits300
    first = np.concatenate([np.flatnonzero(y == c)[:2] for c in range(4)])
    more = np.concatenate([np.flatnonzero(y == c)[2:4] for c in range(2, 7)])
    params = dict(rule=rule, n_neighbors=3, threshold=threshold)
    grown = OneShotClassifier(None, **params).fit(X[first], y[first])
    grown.partial_fit(X[more], y[more])
    union = np.r_[first, more]
    fresh = OneShotClassifier(None, **params).fit(X[union], y[union])
    np.testing.assert_array_equal(grown.classes_, np.arange(7))
    for name in ("support_embeddings_", "support_labels_", "prototypes_"):
        np.testing.assert_array_equal(getattr(grown, name), getattr(fresh, name))
    assert grown.threshold_ == fresh.threshold_
    np.testing.assert_array_equal(grown.predict(X), fresh.predict(X))
    np.testing.assert_array_equal(grown.predict_proba(X), fresh.predict_proba(X))


def test_partial_fit_with_a_frozen_embedding(emb, new_classes):
    X_s, y_s, X_q, _ = new_classes
    first = y_s < 8
    grown = OneShotClassifier(FrozenEstimator(emb)).fit(X_s[first], y_s[first])
    grown.partial_fit(X_s[~first], y_s[~first])
    order = np.r_[np.flatnonzero(first), np.flatnonzero(~first)]
    fresh = OneShotClassifier(FrozenEstimator(emb)).fit(X_s[order], y_s[order])
    np.testing.assert_allclose(grown.support_embeddings_, fresh.support_embeddings_,
                               rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(grown.predict(X_q), fresh.predict(X_q))


def test_partial_fit_before_fit_is_fit(open_set):
    X_s, y_s, X_q, _ = open_set
    a = OneShotClassifier(None).partial_fit(X_s, y_s)
    np.testing.assert_array_equal(a.predict(X_q),
                                  OneShotClassifier(None).fit(X_s, y_s).predict(X_q))


def test_partial_fit_errors_leave_the_gallery_as_it_was(open_set):
    X_s, y_s, X_q, _ = open_set
    clf = OneShotClassifier(None, threshold=1.0).fit(X_s, y_s)
    before = clf.predict(X_q)
    with pytest.raises(ValueError, match=r"X has 3 features, but OneShotClassifier "
                                         r"is expecting 64 features"):
        clf.partial_fit(np.zeros((2, 3)), [7, 7])
    with pytest.raises(ValueError, match=r"y holds strings but the enrolled classes "
                                         r"are numbers \(\[0, 1, 2\], \.\.\.\); "
                                         r"enrol labels of one kind\."):
        clf.partial_fit(X_q[:2], ["a", "b"])
    with pytest.raises(ValueError, match=r"unknown_label=-1 is one of the classes"):
        clf.partial_fit(X_q[:2], [-1, -1])
    np.testing.assert_array_equal(clf.predict(X_q), before)
    assert len(clf.support_labels_) == len(y_s)
    # A change that fails while the gallery is rebuilt is undone.
    two = OneShotClassifier(None, threshold="auto").fit(X_s[:4], y_s[:4])
    threshold = two.threshold_
    with pytest.raises(ValueError, match=r"threshold='auto' compares distances "
                                         r"within and between classes"):
        two.remove_classes([1])
    np.testing.assert_array_equal(two.classes_, [0, 1])
    assert two.threshold_ == threshold and len(two.support_labels_) == 4


def test_remove_classes_equals_a_fit_without_them(open_set):
    X_s, y_s, X_q, _ = open_set
    clf = OneShotClassifier(None, rule="prototype").fit(X_s, y_s)
    clf.remove_classes([1, 3])
    keep = ~np.isin(y_s, [1, 3])
    fresh = OneShotClassifier(None, rule="prototype").fit(X_s[keep], y_s[keep])
    np.testing.assert_array_equal(clf.classes_, [0, 2, 4])
    np.testing.assert_array_equal(clf.prototypes_, fresh.prototypes_)
    np.testing.assert_array_equal(clf.predict_proba(X_q), fresh.predict_proba(X_q))
    with pytest.raises(ValueError, match=r"Cannot remove classes \[7\]: they are not "
                                         r"enrolled\. The enrolled classes are "
                                         r"\[0, 2, 4\]\."):
        clf.remove_classes([0, 7])
    with pytest.raises(ValueError, match=r"would leave no class enrolled"):
        clf.remove_classes([0, 2, 4])
    np.testing.assert_array_equal(clf.classes_, [0, 2, 4])


@pytest.mark.parametrize("rule", ["nearest", "prototype"])
def test_nearest_classes_match_a_loop(open_set, rule):
    X_s, y_s, X_q, _ = open_set
    clf = OneShotClassifier(None, rule=rule).fit(X_s, y_s)
    dist, classes = clf.nearest_classes(X_q[:20], n_classes=3)
    for q, d, c in zip(X_q[:20], dist, classes, strict=True):
        if rule == "prototype":
            per_class = [np.linalg.norm(q - p) for p in clf.prototypes_]
        else:
            per_class = [min(np.linalg.norm(q - s) for s in X_s[y_s == k])
                         for k in clf.classes_]
        order = np.argsort(per_class, kind="stable")[:3]
        np.testing.assert_array_equal(c, clf.classes_[order])
        np.testing.assert_allclose(d, np.asarray(per_class)[order], rtol=1e-9)
    np.testing.assert_array_equal(classes[:, 0], clf.predict(X_q[:20]))
    assert clf.nearest_classes(X_q[:2])[0].shape == (2, 5)
    with pytest.raises(ValueError, match=r"n_classes must be an integer from 1 to "
                                         r"the 5 enrolled classes; got 6\."):
        clf.nearest_classes(X_q[:2], n_classes=6)


# -- approximate search for large galleries ----------------------------------------
@pytest.mark.parametrize("rule", ["nearest", "prototype", "knn"])
@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_faiss_search_agrees_with_exact_search(digits300, rule, distance):
    pytest.importorskip("faiss")
    X, y = digits300
    gallery, queries = np.arange(0, 300, 2), np.arange(1, 300, 2)
    params = dict(rule=rule, distance=distance, n_neighbors=3)
    exact = OneShotClassifier(None, **params).fit(X[gallery], y[gallery])
    approx = OneShotClassifier(None, algorithm="faiss", **params).fit(
        X[gallery], y[gallery])
    agree = np.mean(approx.predict(X[queries]) == exact.predict(X[queries]))
    assert agree >= 0.9
    # The distances reported are exact for the neighbours found.
    d, i = approx.kneighbors(X[queries], n_neighbors=3)
    assert (np.diff(d, axis=1) >= 0).all()
    E = X[gallery][i]
    expected = (np.linalg.norm(X[queries][:, None] - E, axis=2)
                if distance == "euclidean" else
                1 - np.einsum("qd,qkd->qk", X[queries], E)
                / np.linalg.norm(X[queries], axis=1)[:, None]
                / np.linalg.norm(E, axis=2))
    np.testing.assert_allclose(d, expected, rtol=1e-9, atol=1e-12)
    labels, dist = approx.match(X[queries])
    exact_labels, exact_dist = exact.match(X[queries])
    if rule != "knn":  # a missed neighbour is farther, never nearer
        assert (dist >= exact_dist - 1e-12).all()
        found = np.isclose(dist, exact_dist, rtol=1e-12, atol=0)
        np.testing.assert_array_equal(labels[found], exact_labels[found])
    # predict_proba stays exact.
    np.testing.assert_array_equal(approx.predict_proba(X[queries]),
                                  exact.predict_proba(X[queries]))


def test_faiss_classifier_pickles_and_grows(digits300):
    pytest.importorskip("faiss")
    import pickle

    X, y = digits300
    clf = OneShotClassifier(None, algorithm="faiss").fit(X[:150], y[:150])
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict(X[150:]), clf.predict(X[150:]))
    clf.partial_fit(X[150:200], y[150:200])
    fresh = OneShotClassifier(None, algorithm="faiss").fit(X[:200], y[:200])
    np.testing.assert_array_equal(clf.predict(X[200:]), fresh.predict(X[200:]))


def test_faiss_missing_is_a_clear_error(digits300, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "faiss", None)
    X, y = digits300
    with pytest.raises(ImportError, match=r"algorithm='faiss' needs the faiss "
                                          r"library\. Install it with `pip install "
                                          r"'sksiamese\[ann\]'` \(or `pip install "
                                          r"faiss-cpu`\)"):
        OneShotClassifier(None, algorithm="faiss").fit(X[:20], y[:20])


# -- a search object of scikit-learn's neighbours API --------------------------------
class GraphOnly(BaseEstimator):
    """A KNeighborsTransformer-like search with ``fit`` and ``transform`` only."""

    def __init__(self, n_neighbors=5):
        self.n_neighbors = n_neighbors

    def fit(self, X, y=None):
        self.knn_ = KNeighborsTransformer(n_neighbors=self.n_neighbors).fit(X)
        return self

    def transform(self, X):
        return self.knn_.transform(X)


SEARCHES = {"ball_tree": lambda: NearestNeighbors(algorithm="ball_tree"),
            "transformer": lambda: KNeighborsTransformer(n_neighbors=4),
            "graph_only": lambda: GraphOnly(n_neighbors=6)}


@pytest.mark.parametrize("search", sorted(SEARCHES))
@pytest.mark.parametrize("rule", ["nearest", "prototype", "knn"])
@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_a_neighbours_object_searches_like_the_exact_search(digits300, search, rule,
                                                            distance):
    X, y = digits300
    gallery, queries = np.arange(0, 300, 2), np.arange(1, 300, 2)
    params = dict(rule=rule, distance=distance, n_neighbors=3)
    exact = OneShotClassifier(None, **params).fit(X[gallery], y[gallery])
    algorithm = SEARCHES[search]()
    clf = OneShotClassifier(None, algorithm=algorithm, **params).fit(
        X[gallery], y[gallery])
    # A clone was fitted: the user's object is untouched.
    assert not hasattr(algorithm, "n_samples_fit_") and not vars(algorithm).get(
        "knn_")
    assert clf.algorithm is algorithm
    # An exact tree finds the exact neighbours, at the exact distances (ties
    # may go to another of the tied rows).
    d, _ = clf.kneighbors(X[queries], n_neighbors=3)
    np.testing.assert_allclose(d, exact.kneighbors(X[queries], 3)[0],
                               rtol=1e-9, atol=1e-12)
    _, dist = clf.match(X[queries])
    np.testing.assert_allclose(dist, exact.match(X[queries])[1], rtol=1e-9,
                               atol=1e-12)
    assert np.mean(clf.predict(X[queries]) == exact.predict(X[queries])) >= 0.99
    np.testing.assert_array_equal(clf.predict_proba(X[queries]),
                                  exact.predict_proba(X[queries]))


def test_a_neighbours_object_grows_pickles_clones_and_is_grid_searched(digits300):
    import pickle

    X, y = digits300
    search = NearestNeighbors(algorithm="kd_tree", leaf_size=10)
    clf = OneShotClassifier(None, algorithm=search).fit(X[:150], y[:150])
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict(X[150:]), clf.predict(X[150:]))
    clf.partial_fit(X[150:200], y[150:200])
    fresh = OneShotClassifier(None, algorithm=search).fit(X[:200], y[:200])
    np.testing.assert_array_equal(clf.predict(X[200:]), fresh.predict(X[200:]))
    clf.remove_classes([0])
    assert clf.kneighbors(X[200:], 1, return_distance=False).max() < len(
        clf.support_labels_)
    # The parameters are those of an estimator: cloned, nested, searched.
    assert clf.get_params()["algorithm__leaf_size"] == 10
    copy = clone(clf)
    assert copy.algorithm is not search
    assert copy.algorithm.get_params() == search.get_params()
    grid = {"algorithm": ["brute", NearestNeighbors(algorithm="ball_tree")]}
    grid = GridSearchCV(OneShotClassifier(None), grid, cv=2).fit(X[:200], y[:200])
    assert len(grid.cv_results_["params"]) == 2
    assert np.ptp(grid.cv_results_["mean_test_score"]) < 0.02


@pytest.mark.parametrize("search, distance, match", [
    (NearestNeighbors(metric="cosine"), "euclidean",
     r"algorithm=NearestNeighbors\(metric='cosine'\) searches by the cosine metric, "
     r"but the classifier measures euclidean distances: .* Give it "
     r"metric='euclidean', or set distance='cosine' on the classifier\."),
    (NearestNeighbors(metric="manhattan"), "cosine",
     r"searches by the manhattan metric, but the classifier measures cosine "
     r"distances: .*Give it metric='euclidean'"),
    (NearestNeighbors(p=1), "euclidean", r"searches by the minkowski with p=1 "
                                         r"metric"),
    (NearestNeighbors(metric_params={"w": np.ones(64)}), "euclidean",
     r"metric parameters"),
])
def test_a_neighbours_object_of_another_metric_is_refused(digits300, search, distance,
                                                          match):
    X, y = digits300
    clf = OneShotClassifier(None).fit(X[:100], y[:100])
    before = clf.predict(X[100:])
    clf.set_params(algorithm=search, distance=distance)
    with pytest.raises(ValueError, match=match):
        clf.fit(X[:150], y[:150])
    # Unchanged: the old gallery, still answering.
    assert len(clf.support_labels_) == 100 and "_index" not in vars(clf)
    clf.set_params(algorithm="brute", distance=None)
    np.testing.assert_array_equal(clf.predict(X[100:]), before)
    assert not hasattr(search, "n_samples_fit_")


@pytest.mark.parametrize("search", [NearestNeighbors(metric="euclidean"),
                                    NearestNeighbors(metric="cosine",
                                                     algorithm="brute"),
                                    NearestNeighbors(metric="sqeuclidean")])
def test_metrics_of_the_cosine_order_are_accepted(digits300, search):
    X, y = digits300
    exact = OneShotClassifier(None, distance="cosine").fit(X[:150], y[:150])
    clf = OneShotClassifier(None, distance="cosine", algorithm=search).fit(
        X[:150], y[:150])
    np.testing.assert_allclose(clf.match(X[150:])[1], exact.match(X[150:])[1],
                               rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("algorithm", [object(), "kd_tree", None])
def test_an_object_without_fit_and_kneighbors_is_refused(digits300, algorithm):
    X, y = digits300
    with pytest.raises(ValueError, match=r"The 'algorithm' parameter of "
                                         r"OneShotClassifier must be a str among "
                                         r"\{'(brute|faiss)', '(brute|faiss)'\}, an "
                                         r"object "
                                         r"implementing 'fit' and 'kneighbors' or "
                                         r"an object implementing 'fit' and "
                                         r"'transform'\. Got .* instead\."):
        OneShotClassifier(None, algorithm=algorithm).fit(X[:50], y[:50])


class NoParams:
    def fit(self, X):
        return self

    def kneighbors(self, X, n_neighbors, return_distance=True):
        raise AssertionError("never reached")


@pytest.mark.parametrize("algorithm, match", [
    (NearestNeighbors, r"algorithm=NearestNeighbors is a class; pass an instance, "
                       r"for example algorithm=NearestNeighbors\(\)\."),
    (NoParams(), r"algorithm=NoParams has no get_params, so it cannot be cloned"),
    (StandardScaler(), r"algorithm=StandardScaler has no kneighbors, and its "
                       r"transform returned a ndarray, not the sparse distance "
                       r"graph of shape \(1, \d+\) of a KNeighborsTransformer\."),
])
def test_a_search_object_that_cannot_serve_is_refused(digits300, algorithm, match):
    X, y = digits300
    clf = OneShotClassifier(None).fit(X[:50], y[:50])
    clf.set_params(algorithm=algorithm)
    for method in (clf.fit, clf.partial_fit):
        with pytest.raises(ValueError, match=match):
            method(X[50:60], y[50:60])
    assert len(clf.support_labels_) == 50


def test_a_search_object_set_after_fit_is_the_one_searched(digits300):
    X, y = digits300
    clf = OneShotClassifier(None, algorithm=NearestNeighbors()).fit(X[:150], y[:150])
    exact = clf.kneighbors(X[150:], 2)
    clf.set_params(algorithm=GraphOnly(n_neighbors=1))
    with pytest.raises(ValueError, match=r"algorithm=GraphOnly returns 2 neighbours"):
        clf.kneighbors(X[150:], 3)
    # A failed build keeps nothing of it: the next object is built anew.
    clf.set_params(algorithm=NearestNeighbors(metric="cosine"))
    with pytest.raises(ValueError, match=r"searches by the cosine metric"):
        clf.kneighbors(X[150:], 2)
    clf.set_params(algorithm=NearestNeighbors(algorithm="ball_tree"))
    for got, want in zip(clf.kneighbors(X[150:], 2), exact, strict=True):
        np.testing.assert_array_equal(got, want)


def test_a_graph_of_too_few_neighbours_says_how_to_fix_it(digits300):
    X, y = digits300
    clf = OneShotClassifier(None, algorithm=GraphOnly(n_neighbors=2)).fit(
        X[:150], y[:150])
    assert clf.kneighbors(X[150:160], n_neighbors=2)[1].shape == (10, 2)
    with pytest.raises(ValueError, match=r"algorithm=GraphOnly returns 3 neighbours "
                                         r"per query \(its transform's graph\), "
                                         r"fewer than the 5 asked for\. Raise its "
                                         r"n_neighbors to at least 5"):
        clf.kneighbors(X[150:160], n_neighbors=5)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:Failed to correctly find n_neighbors")
def test_pynndescent_search_agrees_with_exact_search(digits300):
    pynndescent = pytest.importorskip("pynndescent")
    X, y = digits300
    gallery, queries = np.arange(0, 300, 2), np.arange(1, 300, 2)
    exact = OneShotClassifier(None).fit(X[gallery], y[gallery])
    clf = OneShotClassifier(None, algorithm=pynndescent.PyNNDescentTransformer(
        n_neighbors=10, random_state=0)).fit(X[gallery], y[gallery])
    assert np.mean(clf.predict(X[queries]) == exact.predict(X[queries])) >= 0.9
    _, dist = clf.match(X[queries])
    assert (dist >= exact.match(X[queries])[1] - 1e-12).all()


@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_kneighbors_over_a_gallery_of_several_tiles(distance):
    # 5000 support rows are more than one tile of reference rows: the running
    # nearest of each tile are merged.
    rng = np.random.default_rng(0)
    S, Q = rng.normal(size=(5000, 3)), rng.normal(size=(300, 3))
    clf = OneShotClassifier(None, distance=distance).fit(S, np.arange(5000) % 7)
    if distance == "cosine":
        D = 1 - (Q / np.linalg.norm(Q, axis=1, keepdims=True)) @ (
            S / np.linalg.norm(S, axis=1, keepdims=True)).T
    else:
        D = np.linalg.norm(Q[:, None] - S[None], axis=2)
    dist, ind = clf.kneighbors(Q, n_neighbors=4)
    np.testing.assert_array_equal(ind, np.argsort(D, axis=1)[:, :4])
    np.testing.assert_allclose(dist, np.sort(D, axis=1)[:, :4], rtol=1e-9,
                               atol=1e-12)
    # Leaving each support sample out, across tiles too.
    dist, ind = clf.kneighbors(n_neighbors=2)
    assert not (ind == np.arange(5000)[:, None]).any()
    rows = rng.choice(5000, 50, replace=False)
    d_self = np.linalg.norm(S[rows][:, None] - S[None], axis=2)
    d_self[np.arange(50), rows] = np.inf
    if distance == "euclidean":
        np.testing.assert_array_equal(ind[rows], np.argsort(d_self, axis=1)[:, :2])


# -- no call leaves the classifier half-changed, no silent rejection change ----------
def _state(clf):
    return {k: (v.copy() if isinstance(v, np.ndarray) else v)
            for k, v in vars(clf).items()}


def _assert_same_state(clf, before):
    now = vars(clf)
    assert now.keys() == before.keys()
    for key, value in before.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(now[key], value)
        else:
            assert now[key] is value or now[key] == value, key


def test_oneshot_failed_refit_leaves_state_unchanged(open_set):
    X_s, y_s, X_q, _ = open_set
    clf = OneShotClassifier(None).fit(X_s, y_s)
    before, predicted = _state(clf), clf.predict(X_q)
    # One class with threshold='auto' fails after the distance and the
    # number of features were resolved.
    clf.set_params(distance="cosine", threshold="auto")
    with pytest.raises(ValueError, match=r"threshold='auto' compares distances"):
        clf.fit(np.ones((2, 10)), [0, 0])
    clf.set_params(distance=None, threshold=None)
    _assert_same_state(clf, before)
    assert clf.n_features_in_ == 64
    np.testing.assert_array_equal(clf.predict(X_q), predicted)


def test_oneshot_failed_first_fit_leaves_it_unfitted():
    clf = OneShotClassifier(None, threshold="auto")
    with pytest.raises(ValueError, match=r"threshold='auto' compares distances"):
        clf.fit(np.ones((2, 10)), [0, 0])
    assert not any(k.endswith("_") for k in vars(clf) if not k.startswith("__"))
    with pytest.raises(NotFittedError):
        clf.predict(np.ones((1, 10)))


@pytest.mark.parametrize("change", ["partial_fit", "remove_classes"])
def test_oneshot_gallery_change_keeps_the_calibrated_threshold(open_set, change):
    X_s, y_s, X_q, y_q = open_set
    clf = OneShotClassifier(None).fit(X_s, y_s).calibrate_threshold(X_q, y_q)
    threshold = clf.threshold_
    assert threshold is not None
    if change == "partial_fit":
        clf.partial_fit(X_q[:2], [8, 8])
    else:
        clf.remove_classes([4])
    assert clf.threshold_ == threshold
    assert clf.threshold_criterion_ == "accuracy"
    labels, distances = clf.match(X_q)
    np.testing.assert_array_equal(clf.predict(X_q),
                                  np.where(distances > threshold, -1, labels))
    assert (clf.predict(X_q) == -1).any()
    # A new fit starts from the threshold parameter again.
    clf.fit(X_s, y_s)
    assert clf.threshold_ is None and not hasattr(clf, "threshold_criterion_")


def test_oneshot_calibration_refuses_labels_of_another_kind(open_set):
    X_s, y_s, X_q, y_q = open_set
    clf = OneShotClassifier(None).fit(X_s, y_s)
    with pytest.raises(ValueError, match=r"y holds strings but the enrolled classes "
                                         r"are numbers"):
        clf.calibrate_threshold(X_q, y_q.astype(str))
    with pytest.raises(ValueError, match=r"y holds 1 NaN labels"):
        clf.calibrate_threshold(X_q[:3], np.array([0.0, np.nan, 9.0]))
    assert clf.threshold_ is None and not hasattr(clf, "threshold_criterion_")


def test_oneshot_calibration_on_one_side_only_warns(open_set):
    X_s, y_s, X_q, y_q = open_set
    clf = OneShotClassifier(None).fit(X_s, y_s)
    known = np.isin(y_q, y_s)
    with pytest.warns(UserWarning, match=r"hold no unknown queries"):
        clf.calibrate_threshold(X_q[known], y_q[known])
    with pytest.warns(UserWarning, match=r"hold no known \(enrolled\) queries"):
        clf.calibrate_threshold(X_q[~known], y_q[~known])


def test_oneshot_failed_faiss_refit_keeps_the_old_embedding(open_set, emb):
    try:
        import faiss  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("faiss is installed: the refit does not fail")
    X_s, y_s, X_q, _ = open_set
    clf = OneShotClassifier(None).fit(X_s, y_s)
    before, predicted = _state(clf), clf.predict(X_q)
    clf.set_params(transformer=emb, algorithm="faiss")
    with pytest.raises(ImportError, match=r"faiss"):
        clf.fit(X_s, y_s)
    clf.set_params(transformer=None, algorithm="brute")
    _assert_same_state(clf, before)
    np.testing.assert_array_equal(clf.predict(X_q), predicted)


# -- images of another size ----------------------------------------------------------
def _pool(X):
    """Any image size to 2 features: an embedding that takes every shape."""
    X = np.asarray(X, dtype=np.float64)
    return np.c_[X.mean(axis=(1, 2)), X.std(axis=(1, 2))]


# A transformer may take its images flattened: (784,) is refused without one only.
@pytest.mark.parametrize("transformer, shape", [
    (None, (32, 32)), (None, (28, 32)), (None, (28, 28, 1)), (None, (784,)),
    ("pool", (32, 32)), ("pool", (28, 32)), ("pool", (28, 28, 1))])
def test_images_of_another_size_say_both_shapes(transformer, shape):
    from sklearn.preprocessing import FunctionTransformer

    rng = np.random.default_rng(0)
    transformer = FunctionTransformer(_pool) if transformer == "pool" else None
    clf = OneShotClassifier(transformer).fit(rng.random((4, 28, 28)), [0, 1, 2, 3])
    before = dict(vars(clf))
    X = rng.random((2, *shape))
    what = "samples" if len(shape) == 1 else "images"
    message = (rf"got {what} of shape {re.escape(str(shape))}, but the gallery holds "
               r"images of shape \(28, 28\) \(the support samples given to fit\)\. "
               r"Pass samples of shape \(n_samples, 28, 28\)")
    with pytest.raises(ValueError, match=r"OneShotClassifier\.partial_fit " + message):
        clf.partial_fit(X, [4, 5])
    assert vars(clf).keys() == before.keys()
    assert len(clf.support_labels_) == 4
    for method in ("predict", "predict_proba", "match", "kneighbors",
                   "nearest_classes"):
        with pytest.raises(ValueError, match=rf"OneShotClassifier\.{method} "
                                             + message):
            getattr(clf, method)(X)
    # Images of the gallery's shape are enrolled as before.
    clf.partial_fit(rng.random((2, 28, 28)), [4, 5])
    assert len(clf.classes_) == 6
