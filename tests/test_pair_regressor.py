import numpy as np
import pytest
import torch
from scipy.stats import pearsonr
from sklearn.base import clone, is_regressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import cross_val_score

from sksiamese import SiamesePairClassifier, SiamesePairRegressor


def small(**params):
    # The toy pairs have 4 features: a narrower network than the default one
    # (a 512-unit layer, chosen for real data) learns them more steadily.
    defaults = {"max_epochs": 3, "batch_size": 32, "n_components": 4,
                "random_state": 0, "encoder_params": {"hidden_layer_sizes": (128, 128)}}
    return SiamesePairRegressor(**{**defaults, **params})


# scikit-learn's checks, clone, pickle and seeds: tests/test_common.py.


@pytest.mark.parametrize("similarity", ["exp-l1", "cosine"])
def test_learns_graded_similarity(similarity, graded_pairs):
    pairs, y = graded_pairs(600)
    reg = small(similarity=similarity, max_epochs=15, lr=3e-3).fit(pairs[:400], y[:400])
    pred = reg.predict(pairs[400:])
    assert pred.shape == (200,)
    assert reg.y_min_ == y[:400].min() and reg.y_max_ == y[:400].max()
    assert (pred >= reg.y_min_).all() and (pred <= reg.y_max_).all()
    assert pearsonr(pred, y[400:])[0] > 0.6
    if similarity == "exp-l1":
        # Measured 0.63 (cosine ranks the pairs as well, Pearson 0.67, but its
        # scale fits these targets less well: R^2 -0.2).
        assert reg.score(pairs[400:], y[400:]) > 0.4
    assert reg.history_[-1, "train_loss"] < reg.history_[0, "train_loss"]


def test_predict_is_exp_minus_l1_mapped_to_the_target_range(graded_pairs):
    pairs, y = graded_pairs(100)
    reg = small().fit(pairs, y)
    za, zb = reg.transform_left(pairs[:, 0]), reg.transform_right(pairs[:, 1])
    s = np.exp(-np.abs(za.astype(np.float64) - zb).sum(axis=1))
    np.testing.assert_allclose(reg.predict(pairs), y.min() + (y.max() - y.min()) * s,
                               rtol=1e-5)


def test_is_a_regressor_with_r2_score_and_clones(graded_pairs):
    pairs, y = graded_pairs(200)
    reg = small()
    assert is_regressor(reg)
    scores = cross_val_score(reg, pairs, y, cv=2)
    assert scores.shape == (2,) and np.isfinite(scores).all()
    fitted = clone(reg).fit(pairs, y)
    again = clone(reg).fit(pairs, y)
    np.testing.assert_array_equal(fitted.predict(pairs), again.predict(pairs))


def test_two_towers_on_2d_pairs(graded_pairs):
    pairs, y = graded_pairs(120)
    flat = pairs.reshape(len(pairs), -1)
    reg = small(share_weights=False).fit(flat, y)
    assert reg.net_.module_.right is not None
    assert reg.predict(flat).shape == (120,)


@pytest.mark.parametrize("y, match", [
    (np.r_[np.nan, np.ones(59)], r"y holds 1 NaN or infinite value\(s\) \(at pair"),
    (np.full(60, 3.0), "a single value"),
    (np.array(["a", "b"] * 30), "one real number per pair"),
])
def test_bad_targets_are_refused(y, match, graded_pairs):
    pairs, _ = graded_pairs(60)
    with pytest.raises(ValueError, match=match):
        small().fit(pairs, y)


def test_classifier_refuses_continuous_targets(graded_pairs):
    pairs, y = graded_pairs(60)
    with pytest.raises(ValueError, match="use SiamesePairRegressor"):
        SiamesePairClassifier(max_epochs=1).fit(pairs, y)


def test_fine_tuning_a_given_encoder(graded_pairs):
    pairs, y = graded_pairs(100)
    given = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(),
                                torch.nn.Linear(8, 4))
    before = given[0].weight.detach().clone()
    reg = small(encoder=given, encoder_init="keep", freeze=("0.",),
                encoder_params=None).fit(pairs, y)
    assert torch.equal(reg.net_.module_.left[0].weight.detach(), before)
    assert torch.equal(given[0].weight.detach(), before)


def test_save_and_load_round_trip(graded_pairs):
    import io

    from sksiamese.persistence import load_model, save_model

    pairs, y = graded_pairs(100)
    reg = small().fit(pairs, y)
    buffer = io.BytesIO()
    assert save_model(reg, buffer) is None
    buffer.seek(0)
    loaded = load_model(buffer)
    assert isinstance(loaded, SiamesePairRegressor)
    assert (loaded.y_min_, loaded.y_max_) == (reg.y_min_, reg.y_max_)
    np.testing.assert_array_equal(loaded.predict(pairs), reg.predict(pairs))


def test_pair_regressor_refuses_targets_whose_range_overflows():
    pairs = np.random.default_rng(0).normal(size=(20, 2, 3))
    reg = SiamesePairRegressor(n_components=2, max_epochs=1, random_state=0)
    with pytest.raises(ValueError, match=r"a range that overflows float64"):
        reg.fit(pairs, np.r_[-1e308, 1e308, np.zeros(18)])
    assert not hasattr(reg, "y_min_")


def test_pair_regressor_warns_when_every_pair_gets_one_prediction():
    # An encoder that maps every sample to one point: zero weights, frozen;
    # only its bias trains.
    pairs = np.random.default_rng(0).normal(size=(64, 2, 4))
    y = np.linspace(0, 1, 64)
    encoder = torch.nn.Linear(4, 2)
    with torch.no_grad():
        encoder.weight.zero_()
    with pytest.warns(ConvergenceWarning, match=r"every pair gets the same "
                                                r"prediction"):
        reg = SiamesePairRegressor(encoder=encoder, encoder_init="keep",
                                   freeze=("weight",), n_components=2,
                                   max_epochs=3, random_state=0).fit(pairs, y)
    assert np.ptp(reg.predict(pairs)) < 1e-6 * np.ptp(y)


def test_pair_regressor_at_a_rate_that_blows_up_warns_and_keeps_sane_weights():
    # lr=1e6 used to train the network into one prediction for every pair;
    # its embeddings grow a million-fold in the first epoch, which stops
    # training with the last sane weights.
    pairs = np.random.default_rng(0).normal(size=(64, 2, 4))
    y = np.linspace(0, 1, 64)
    with pytest.warns(ConvergenceWarning, match=r"training diverged \(the "
                                                r"embeddings grew without bound"):
        reg = SiamesePairRegressor(optimizer="sgd", lr=1e6, max_epochs=3,
                                   random_state=0).fit(pairs, y)
    assert np.ptp(reg.predict(pairs)) > 1e-3 * np.ptp(y)
