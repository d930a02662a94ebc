import pickle
import re

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from torch import nn

from sksiamese import SiamesePairClassifier, SiameseTransformer

SMALL = {
    "n_components": 4,
    "encoder_params": {"hidden_layer_sizes": (16,)},
    "batch_size": 32,
    "max_epochs": 3,
    "random_state": 0,
}


def noisy_pairs(n=120, width=4, seed=0):
    """Pairs of vectors: "same" pairs are one vector and a noisy copy."""
    rng = np.random.default_rng(seed)
    left = rng.normal(size=(n, width))
    same = np.arange(n) % 2
    right = np.where(same[:, None] == 1, left, rng.normal(size=(n, width)))
    right = right + 0.1 * rng.normal(size=(n, width))
    return np.stack([left, right], axis=1), same


@pytest.fixture(scope="module")
def data():
    return noisy_pairs()


@pytest.fixture(scope="module")
def fitted(data):
    pairs, y = data
    return SiamesePairClassifier(**SMALL).fit(pairs, y)


# -- scikit-learn's contract, clone, pickle, seeds: tests/test_common.py ------------




def test_predictions_probabilities_and_scores_agree(fitted, data):
    pairs, y = data
    scores = fitted.decision_function(pairs)
    pred = fitted.predict(pairs)
    proba = fitted.predict_proba(pairs)
    np.testing.assert_array_equal(fitted.classes_, [0, 1])
    np.testing.assert_array_equal(pred, (scores > 0).astype(int))
    np.testing.assert_allclose(proba.sum(axis=1), 1)
    np.testing.assert_array_equal(proba.argmax(axis=1), pred)
    assert fitted.score(pairs, y) == accuracy_score(y, pred)
    # "Same" pairs score higher than "different" ones.
    assert scores[y == 1].mean() > scores[y == 0].mean()
    assert fitted.score(pairs, y) > 0.8


@pytest.mark.parametrize(
    "labels, same", [((-1, 1), 1), ((False, True), True), ((0.0, 1.0), 1.0)])
def test_other_label_encodings_train_the_same_network(data, fitted, labels, same):
    pairs, y = data
    y_other = np.where(y == 1, labels[1], labels[0])
    clf = SiamesePairClassifier(**SMALL).fit(pairs, y_other)
    np.testing.assert_array_equal(clf.classes_, labels)
    np.testing.assert_array_equal(clf.decision_function(pairs),
                                  fitted.decision_function(pairs))
    np.testing.assert_array_equal(clf.predict(pairs) == same,
                                  fitted.predict(pairs) == 1)


@pytest.mark.parametrize("labels, pos_label", [
    (("match", "mismatch"), "match"), (("different", "same"), "same"),
    ((2, 1), 1), ((1, 2), 2)])
def test_labels_other_than_0_1_need_pos_label(data, fitted, labels, pos_label):
    pairs, y = data
    y_other = np.where(y == 1, pos_label,
                       labels[0] if labels[1] == pos_label else labels[1])
    with pytest.raises(ValueError, match=re.escape(
            "which do not say which one means 'same'; pass pos_label")):
        SiamesePairClassifier(**SMALL).fit(pairs, y_other)
    clf = SiamesePairClassifier(pos_label=pos_label, **SMALL).fit(pairs, y_other)
    assert clf.pos_label_ == pos_label
    # The same network and the same decisions as with 0/1 labels.
    np.testing.assert_array_equal(clf.predict(pairs) == pos_label,
                                  fitted.predict(pairs) == 1)
    assert clf.score(pairs, y_other) == fitted.score(pairs, y)
    proba = clf.predict_proba(pairs)
    same_column = list(clf.classes_).index(pos_label)
    np.testing.assert_allclose(proba[:, same_column],
                               fitted.predict_proba(pairs)[:, 1])
    with pytest.raises(ValueError, match="pos_label='nope' is not one of the labels"):
        SiamesePairClassifier(pos_label="nope", **SMALL).fit(pairs, y_other)


def test_pairs_of_another_layout_than_in_fit_get_a_clear_error(data, fitted):
    pairs, _ = data
    with pytest.raises(ValueError, match=re.escape(
            "was fitted on pairs of shape (n_pairs, 2, 4); got a 2-D array of "
            "shape (120, 8)")):
        fitted.predict(pairs.reshape(len(pairs), -1))


# -- bad input ---------------------------------------------------------------------
def test_pairs_whose_second_axis_is_not_2_are_refused(data):
    pairs, y = data
    triples = np.concatenate([pairs, pairs[:, :1]], axis=1)
    with pytest.raises(ValueError, match=re.escape(
            "pairs must have shape (n_pairs, 2, ...): one left and one right "
            "sample per row; got shape (120, 3, 4), whose second axis has "
            "length 3.")):
        SiamesePairClassifier(**SMALL).fit(triples, y)


@pytest.mark.parametrize("y, found", [
    (np.arange(120) % 3, "3 class(es): [0, 1, 2]"),
    (np.ones(120, dtype=int), "1 class(es): [1]"),
])
def test_labels_other_than_two_values_are_refused(data, y, found):
    pairs, _ = data
    with pytest.raises(ValueError, match=re.escape(
            "Only binary classification is supported: y must hold two labels, "
            f"1 for 'same' pairs and 0 (or -1) for 'different' ones; got {found}.")):
        SiamesePairClassifier(**SMALL).fit(pairs, y)


def test_continuous_labels_are_refused(data):
    pairs, _ = data
    with pytest.raises(ValueError, match="Unknown label type: continuous"):
        SiamesePairClassifier(**SMALL).fit(pairs, np.linspace(0, 1, 120))


def test_nan_is_refused(data, fitted):
    pairs, y = data
    bad = pairs.copy()
    bad[3, 1, 2] = np.nan
    with pytest.raises(ValueError, match=re.escape("Input X contains NaN.")):
        SiamesePairClassifier(**SMALL).fit(bad, y)
    with pytest.raises(ValueError, match=re.escape("Input X contains NaN.")):
        fitted.predict(bad)


def test_unusable_pairs_are_explained(data, fitted):
    pairs, y = data
    with pytest.raises(ValueError, match=re.escape(
            "SiamesePairClassifier needs samples with at least one feature; got "
            "pairs of shape (120, 2, 0), whose samples of shape (0,) hold no "
            "values.")):
        SiamesePairClassifier(**SMALL).fit(pairs[:, :, :0], y)
    huge = pairs * 1e300
    message = re.escape(
        f"X holds values as large as {np.abs(huge).max():.3g}, beyond the range "
        "of float32 (about 3.4e38) in which SiamesePairClassifier computes. Scale "
        "the features, for example with StandardScaler.")
    with pytest.raises(ValueError, match=message):
        SiamesePairClassifier(**SMALL).fit(huge, y)
    with pytest.raises(ValueError, match=message):
        fitted.predict(huge)
    with pytest.raises(ValueError, match=re.escape(
            "SiamesePairClassifier needs numeric X, but could not convert string "
            "to float: 'a'. Encode text and categorical features first")):
        SiamesePairClassifier(**SMALL).fit([[["a", "b"], ["c", "d"]]] * 4, [0, 1] * 2)
    with pytest.raises(ValueError, match=re.escape(
            "y mixes labels of different types (number, string): 0 (index 0), 'x' "
            "(index 1).")):
        SiamesePairClassifier(**SMALL).fit(pairs, [0, "x"] * 60)
    assert SiamesePairClassifier(**SMALL).fit(
        pairs, y.astype(object)).classes_.dtype.kind == "i"


def test_pairs_of_another_shape_than_in_fit_are_refused(fitted, data):
    pairs, _ = data
    with pytest.raises(ValueError, match=re.escape(
            "SiamesePairClassifier was fitted on pairs whose rows have shape "
            "(2, 4); got rows of shape (2, 3).")):
        fitted.predict(pairs[:, :, :3])
    with pytest.raises(ValueError, match=re.escape(
            "Left samples must have shape (n_samples, 4), like the left side of "
            "the pairs given to fit; got shape (5, 3).")):
        fitted.transform_left(pairs[:5, 0, :3])


def test_inconsistent_structure_is_refused(data):
    pairs, y = data
    with pytest.raises(ValueError, match=re.escape(
            "right_encoder gives the right side a network of its own, which "
            "needs share_weights=False.")):
        SiamesePairClassifier(right_encoder="mlp", **SMALL).fit(pairs, y)
    with pytest.raises(ValueError, match=re.escape(
            "split=2 applies to 2-D pairs only; pairs of shape (120, 2, 4) "
            "already hold the two sides on their second axis. Leave split=None.")):
        SiamesePairClassifier(split=2, **SMALL).fit(pairs, y)
    flat = pairs.reshape(120, 8)
    with pytest.raises(ValueError, match=re.escape(
            "With share_weights=True both sides go through one network and must "
            "have the same shape; got left samples of shape (3,) and right "
            "samples of shape (5,). Set share_weights=False for sides of "
            "different shapes (and split for 2-D pairs).")):
        SiamesePairClassifier(split=3, **SMALL).fit(flat, y)
    with pytest.raises(ValueError, match=re.escape(
            "2-D pairs hold the left sample's values, then the right sample's; "
            "with 8 feature(s) per row there is no room for both sides "
            "(split=8).")):
        SiamesePairClassifier(split=8, **SMALL).fit(flat, y)
    with pytest.raises(ValueError, match=re.escape(
            "The left encoder ('mlp') expects flat samples; got left samples of "
            "shape (2, 2). Set input_shape=(-1,) to flatten them")):
        SiamesePairClassifier(**SMALL).fit(pairs.reshape(120, 2, 2, 2), y)


# -- thresholds --------------------------------------------------------------------
def brute_force(scores, same, metric):
    cuts = np.r_[scores.min() - 1, np.unique(scores)]
    return max(metric(same, (scores > t).astype(int)) for t in cuts)


@pytest.mark.parametrize("strategy, metric", [
    ("accuracy", accuracy_score),
    ("f1", lambda y, p: f1_score(y, p, zero_division=0)),
])
def test_threshold_is_the_best_on_the_calibration_pairs(fitted, strategy, metric):
    pairs, y = noisy_pairs(n=80, seed=5)
    clf = pickle.loads(pickle.dumps(fitted)).set_params(threshold_strategy=strategy)
    clf.calibrate_threshold(pairs, y)
    scores = clf.decision_function(pairs)
    assert metric(y, (scores > 0).astype(int)) == pytest.approx(
        brute_force(scores + clf.threshold_, y, metric))


def test_false_accept_rate_target(fitted):
    pairs, y = noisy_pairs(n=80, seed=5)
    clf = pickle.loads(pickle.dumps(fitted)).set_params(threshold_strategy=0.05)
    similarity = fitted.decision_function(pairs) + fitted.threshold_
    clf.calibrate_threshold(pairs, y)
    accepted = similarity > clf.threshold_
    different = similarity[y == 0]
    assert accepted[y == 0].mean() <= 0.05
    # The most accepting threshold within the target: accepting the next
    # "different" pair down would break it.
    next_down = np.sort(different[different <= clf.threshold_])[-1]
    assert ((different >= next_down).mean()) > 0.05
    with pytest.raises(ValueError, match=re.escape(
            "Calibrating the threshold needs both 'same' and 'different' pairs; "
            "the calibration pairs hold only one kind.")):
        clf.calibrate_threshold(pairs[y == 1], y[y == 1])


def test_validation_fraction_holds_pairs_out_of_training(data):
    pairs, y = data
    batch_sizes = {}
    for fraction in (0.0, 0.25):
        clf = SiamesePairClassifier(validation_fraction=fraction, **SMALL)
        clf.fit(pairs, y)
        batch_sizes[fraction] = sum(clf.history_[-1, "batches", :, "train_batch_size"])
    assert batch_sizes == {0.0: 120, 0.25: 90}


# -- model selection ---------------------------------------------------------------
def test_cross_validation_and_grid_search_split_pairs_like_samples(data):
    pairs, y = data
    scores = cross_val_score(SiamesePairClassifier(**SMALL), pairs, y, cv=3)
    assert scores.shape == (3,)
    assert scores.mean() > 0.7
    grid = GridSearchCV(SiamesePairClassifier(**SMALL),
                        {"margin": [0.5, 2.0], "loss": ["contrastive", "bce"]}, cv=2)
    grid.fit(pairs.reshape(120, 8), y)  # 2-D pairs: left and right halves
    assert set(grid.best_params_) == {"margin", "loss"}
    assert grid.score(pairs.reshape(120, 8), y) > 0.7


# -- losses and towers -------------------------------------------------------------
def test_bce_loss_learns_a_weighted_l1_head(data):
    pairs, y = data
    clf = SiamesePairClassifier(loss="bce", **{**SMALL, "max_epochs": 8}).fit(pairs, y)
    head = clf.net_.module_.head
    assert isinstance(head, nn.Linear) and head.weight.shape == (1, 4)
    za, zb = clf.transform_left(pairs[:, 0]), clf.transform_right(pairs[:, 1])
    logit = np.abs(za - zb) @ head.weight.detach().numpy()[0] + head.bias.item()
    np.testing.assert_allclose(clf.decision_function(pairs) + clf.threshold_, logit,
                               rtol=1e-5, atol=1e-5)
    assert clf.score(pairs, y) > 0.8


def test_shared_and_distinct_towers(data):
    pairs, y = data
    shared = SiamesePairClassifier(**SMALL).fit(pairs, y)
    assert shared.net_.module_.right is None
    np.testing.assert_array_equal(shared.transform_left(pairs[:, 1]),
                                  shared.transform_right(pairs[:, 1]))
    two = SiamesePairClassifier(share_weights=False, **SMALL).fit(pairs, y)
    left, right = two.net_.module_.left, two.net_.module_.right
    assert type(left) is type(right) and left is not right
    assert not torch.equal(left.layers[0].weight, right.layers[0].weight)


class LinearTower(nn.Module):
    """A user's encoder class: one linear layer."""

    def __init__(self, n_features, n_components, scale=1.0):
        super().__init__()
        self.linear = nn.Linear(n_features, n_components)
        self.scale = scale

    def forward(self, x):
        return self.scale * self.linear(x)


def test_two_kinds_of_input_of_different_widths(data):
    pairs, y = data
    rng = np.random.default_rng(3)
    mixing = rng.normal(size=(4, 6))
    flat = np.hstack([pairs[:, 0], pairs[:, 1] @ mixing])  # 4 + 6 columns
    clf = SiamesePairClassifier(
        split=4, share_weights=False, right_encoder=LinearTower,
        right_encoder_params={"scale": 2.0}, **{**SMALL, "max_epochs": 30, "lr": 1e-2},
    ).fit(flat, y)
    assert isinstance(clf.net_.module_.right, LinearTower)
    assert clf.net_.module_.right.scale == 2.0
    assert clf.sample_shapes_ == ((4,), (6,))
    assert clf.transform_left(flat[:, :4]).shape == (120, 4)
    assert clf.transform_right(flat[:, 4:]).shape == (120, 4)
    test_pairs, test_y = noisy_pairs(n=100, seed=9)
    test_flat = np.hstack([test_pairs[:, 0], test_pairs[:, 1] @ mixing])
    assert clf.score(test_flat, test_y) > 0.85
    # Cross-modal search: a left sample's nearest right sample is its own pair.
    za, zb = clf.transform_left(flat[y == 1, :4]), clf.transform_right(flat[y == 1, 4:])
    nearest = ((za[:, None] - zb[None]) ** 2).sum(-1).argmin(axis=1)
    assert (nearest == np.arange(len(za))).mean() > 0.5
    with pytest.raises(ValueError, match=re.escape(
            "Right samples must have shape (n_samples, 6), like the right side of "
            "the pairs given to fit; got shape (3, 4).")):
        clf.transform_right(flat[:3, :4])


def test_collapsed_embeddings_are_reported(data):
    pairs, y = data
    with pytest.warns(ConvergenceWarning, match=re.escape(
            "SiamesePairClassifier: the embeddings collapsed: 90 training "
            "samples lie within 0 of one point")):
        SiamesePairClassifier(LinearTower, encoder_params={"scale": 0.0},
                              validation_fraction=0.25, max_epochs=1,
                              random_state=0).fit(pairs, y)


def test_input_shape_reshapes_each_side(data):
    pairs, y = data
    images = pairs.reshape(120, 2, 2, 2)
    clf = SiamesePairClassifier(input_shape=(-1,), **SMALL).fit(images, y)
    assert clf.sample_shapes_ == ((4,), (4,))
    reference = SiamesePairClassifier(**SMALL).fit(pairs, y)
    np.testing.assert_array_equal(clf.decision_function(images),
                                  reference.decision_function(pairs))


class BagOfTokens(nn.Module):
    """A user's encoder for token ids: the mean of the token embeddings."""

    input_dtype = "int64"

    def __init__(self, n_components, vocab_size=10):
        super().__init__()
        self.embedding = nn.EmbeddingBag(vocab_size, n_components, padding_idx=0)

    def forward(self, x):
        return self.embedding(x)


def test_token_id_side_beside_a_float_side():
    rng = np.random.default_rng(0)
    tokens = rng.integers(1, 10, size=(60, 3))
    same = np.arange(60) % 2
    vectors = np.where(same[:, None] == 1, tokens, rng.integers(1, 10, size=(60, 3)))
    flat = np.hstack([tokens, vectors]).astype(float)
    clf = SiamesePairClassifier(
        BagOfTokens, split=3, share_weights=False, right_encoder="mlp",
        right_encoder_params={"hidden_layer_sizes": (8,)}, n_components=4,
        max_epochs=2, random_state=0,
    ).fit(flat, same)
    assert clf.transform_left(tokens).shape == (60, 4)
    bad = flat.astype(float)
    bad[0, 0] = 1.5
    with pytest.raises(ValueError, match=re.escape(
            "The left encoder takes token ids, but the left samples hold values "
            "that are not whole numbers.")):
        clf.predict(bad)


# -- the embedding as a SiameseTransformer -------------------------------------------
@pytest.mark.parametrize("side", ["left", "right"])
def test_get_transformer_gives_a_fitted_siamese_transformer(data, side):
    pairs, y = data
    clf = SiamesePairClassifier(share_weights=False, **SMALL).fit(pairs, y)
    emb = clf.get_transformer(side)
    assert isinstance(emb, SiameseTransformer)
    assert emb.n_components_ == 4 and emb.n_features_in_ == 4
    assert emb.sample_shape_ == (4,)
    X = pairs[:, 0 if side == "left" else 1]
    expected = clf.transform_left(X) if side == "left" else clf.transform_right(X)
    np.testing.assert_array_equal(emb.transform(X), expected)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(emb)).transform(X),
                                  expected)
    # A copy: the classifier's own network is not shared.
    assert emb.net_.module_ is not clf.net_.module_.tower(side)


def test_transformer_goes_into_a_pipeline():
    X, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(0)
    i = rng.integers(0, 600, size=1500)
    j = np.where(np.arange(1500) % 2 == 1,
                 [rng.choice(np.flatnonzero(y[:600] == y[k])) for k in i],
                 rng.integers(0, 600, size=1500))
    pairs, same = np.stack([X[i], X[j]], axis=1), (y[i] == y[j]).astype(int)
    clf = SiamesePairClassifier(n_components=8, max_epochs=5, random_state=0)
    clf.fit(pairs, same)
    pipe = make_pipeline(clf.get_transformer(), KNeighborsClassifier(n_neighbors=1))
    pipe.fit(X[:600], y[:600])
    assert pipe.score(X[600:900], y[600:900]) > 0.8


# -- scikit-learn's digits (the numbers printed by benchmarks/pairs_digits.py) -------
def digit_pairs(y, per_image, rng):
    """For each image, ``per_image`` same-digit and as many other-digit partners."""
    left, right, same = [], [], []
    everyone = np.arange(len(y))
    for i, label in enumerate(y):
        mates = np.flatnonzero((y == label) & (everyone != i))
        others = np.flatnonzero(y != label)
        left += [i] * (2 * per_image)
        right += [*rng.choice(mates, per_image, replace=False),
                  *rng.choice(others, per_image, replace=False)]
        same += [1] * per_image + [0] * per_image
    return np.array(left), np.array(right), np.array(same)


@pytest.fixture(scope="module")
def digits_split():
    X, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(0)
    train = digit_pairs(y[:1200], 5, rng)
    test = digit_pairs(y[1200:], 5, rng)
    test = (test[0] + 1200, test[1] + 1200, test[2])
    return X, train, test


@pytest.mark.slow
@pytest.mark.parametrize("share_weights", [True, False])
def test_digits_verification_accuracy(digits_split, share_weights):
    X, (li, ri, y_train), (lt, rt, y_test) = digits_split
    if share_weights:
        right_view, floor = X, 0.9
    else:
        # The right side of every pair is seen through a fixed random linear map.
        mixing = np.random.default_rng(42).normal(size=(64, 64)) / 8
        right_view, floor = X @ mixing, 0.85
    clf = SiamesePairClassifier(share_weights=share_weights, max_epochs=10,
                                random_state=0)
    clf.fit(np.stack([X[li], right_view[ri]], axis=1), y_train)
    accuracy = clf.score(np.stack([X[lt], right_view[rt]], axis=1), y_test)
    assert accuracy >= floor


def test_held_out_pairs_are_scored_every_epoch(data):
    pairs, y = data
    clf = SiamesePairClassifier(**SMALL).fit(pairs, y)
    assert {"valid_loss", "valid_accuracy"} <= clf.history_[-1].keys()
    assert all(0.4 <= a <= 1 for a in clf.history_[:, "valid_accuracy"])
    bce = SiamesePairClassifier(loss="bce", **SMALL).fit(pairs, y)
    assert 0 <= bce.history_[-1, "valid_accuracy"] <= 1
    # Without held-out pairs there is nothing to score.
    none = SiamesePairClassifier(validation_fraction=0, **SMALL).fit(pairs, y)
    assert "valid_loss" not in none.history_[-1]
    assert clf.net_.train_split is None


# -- fine-tuning given encoders -------------------------------------------------
class _Pretrained(nn.Module):
    """A backbone and a head, with weights set by hand as if pretrained."""

    def __init__(self, n_features=4, width=3):
        super().__init__()
        self.backbone = nn.Linear(n_features, 8)
        self.head = nn.Linear(8, width)
        with torch.no_grad():
            for i, p in enumerate(self.parameters()):
                p.copy_(torch.linspace(-0.5, 0.5, p.numel()).reshape(p.shape)
                        * (i + 1))

    def forward(self, x):
        return self.head(torch.relu(self.backbone(x)))


def _pairs(n=80, seed=0):
    rng = np.random.default_rng(seed)
    left = rng.normal(size=(n, 4))
    same = np.tile([0, 1], n // 2)
    right = np.where(same[:, None] == 1, left + 0.1 * rng.normal(size=(n, 4)),
                     rng.normal(size=(n, 4)))
    return np.stack([left, right], axis=1).astype(np.float32), same


def test_pair_towers_keep_and_freeze_the_given_weights():
    pairs, y = _pairs()
    given = _Pretrained()
    before = {k: v.clone() for k, v in given.state_dict().items()}
    clf = SiamesePairClassifier(given, encoder_init="keep", share_weights=False,
                                n_components=3, loss="bce", freeze=("backbone.",),
                                lr=1e-2, max_epochs=2, random_state=0).fit(pairs, y)
    module = clf.net_.module_
    for tower in (module.left, module.right):
        assert torch.equal(tower.backbone.weight.detach(), before["backbone.weight"])
        assert not torch.equal(tower.head.weight.detach(), before["head.weight"])
    assert all(torch.equal(v, before[k]) for k, v in given.state_dict().items())
    assert all(p.requires_grad for p in given.parameters())
    # A rate for the encoders' backbones; the bce head trains at lr.
    clf = SiamesePairClassifier(given, encoder_init="keep", n_components=3,
                                loss="bce", lr_groups={"backbone.": 1e-5},
                                max_epochs=1, random_state=0).fit(pairs, y)
    rates = {id(p): g["lr"] for g in clf.net_.optimizer_.param_groups
             for p in g["params"]}
    assert rates[id(clf.net_.module_.left.backbone.weight)] == 1e-5
    assert rates[id(clf.net_.module_.head.weight)] == clf.net_.lr
    assert clone(clf).encoder is not given


def test_pair_fine_tuning_errors_and_width_warning():
    pairs, y = _pairs()
    with pytest.raises(ValueError, match="Every parameter of the network is frozen"):
        SiamesePairClassifier(_Pretrained(), encoder_init="keep", n_components=3,
                              freeze=("",), max_epochs=1).fit(pairs, y)
    with pytest.raises(ValueError, match="encoder='mlp' is built anew"):
        SiamesePairClassifier(encoder_init="keep", max_epochs=1).fit(pairs, y)
    with pytest.warns(UserWarning, match="n_components=16 is not used"):
        SiamesePairClassifier(_Pretrained(), encoder_init="keep", max_epochs=1,
                              n_components=16, random_state=0).fit(pairs, y)
