"""skorch's conventions on every trained estimator: monitored callbacks, routing."""

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV
from skorch.callbacks import Checkpoint, EarlyStopping

from sksiamese import SiamesePairClassifier, SiamesePairRegressor, SiameseTransformer


def _digits():
    X, y = load_digits(return_X_y=True)
    return X[:200] / 16.0, y[:200]


def _pairs():
    rng = np.random.default_rng(0)
    left = rng.normal(size=(120, 4)).astype(np.float32)
    same = rng.integers(0, 2, size=120)
    right = np.where(same[:, None] == 1, left, rng.normal(size=(120, 4)))
    return np.stack([left, right + 0.1], axis=1).astype(np.float32), same


SMALL = {"max_epochs": 2, "batch_size": 32, "n_components": 4, "random_state": 0}
CASES = [
    (SiameseTransformer, _digits, {}),
    (SiamesePairClassifier, _pairs, {"validation_fraction": 0}),
    (SiamesePairRegressor, _pairs, {}),
]


@pytest.mark.parametrize("cls, data, no_holdout", CASES)
@pytest.mark.parametrize("callback", [EarlyStopping(), Checkpoint(dirname="never"),
                                      EarlyStopping])
def test_a_callback_watching_held_out_scores_without_them_is_refused_first(
        cls, data, no_holdout, callback, tmp_path):
    X, y = data()
    est = cls(**SMALL, **no_holdout, callbacks=[callback])
    with pytest.raises(ValueError, match="holds nothing out .*Set validation_fraction"):
        est.fit(X, y)
    assert not hasattr(est, "net_")  # refused before any training


@pytest.mark.parametrize("cls, data, no_holdout", CASES)
def test_early_stopping_works_as_given_once_data_are_held_out(cls, data, no_holdout):
    X, y = data()
    est = cls(**{**SMALL, "max_epochs": 30}, validation_fraction=0.3,
              callbacks=[EarlyStopping(patience=1, threshold=10.0)]).fit(X, y)
    assert len(est.history_) < 30
    assert "valid_loss" in est.history_[-1]


def test_set_params_routes_to_named_and_bare_callbacks():
    est = SiameseTransformer(callbacks=[("es", EarlyStopping()), Checkpoint()])
    est.set_params(callbacks__es__patience=1, callbacks__Checkpoint__monitor=None,
                   max_epochs=3)
    named = dict([est.callbacks[0]])
    assert named["es"].patience == 1 and est.max_epochs == 3
    assert est.callbacks[1].monitor is None
    # Bad routes are refused, and nothing changed.
    for key, match in [("callbacks__nope__patience", r"named \['es', 'Checkpoint'\]"),
                       ("callbacks__es__nope", "has no parameter 'nope'"),
                       ("callbacks__es", "names no parameter")]:
        with pytest.raises(ValueError, match=match):
            est.set_params(**{key: 2}, max_epochs=9)
        assert named["es"].patience == 1 and est.max_epochs == 3
    with pytest.raises(ValueError, match="is a class"):
        SiameseTransformer(callbacks=[EarlyStopping]).set_params(
            callbacks__EarlyStopping__patience=1)


def test_grid_search_over_a_callback_setting():
    X, y = _digits()
    est = SiameseTransformer(**SMALL, validation_fraction=0.3,
                             callbacks=[("es", EarlyStopping(patience=5))])
    search = GridSearchCV(est, {"callbacks__es__patience": [1, 2]}, cv=2,
                          scoring=lambda e, X, y: 0.0).fit(X, y)
    assert dict(search.best_estimator_.callbacks)["es"].patience in (1, 2)
    # The user's callback is untouched: GridSearchCV routed to clones.
    assert dict(est.callbacks)["es"].patience == 5
    assert dict(clone(est).callbacks)["es"].patience == 5


def test_history_records_whether_mining_finds_work():
    from sksiamese._callbacks import MiningDiagnostics

    X, y = _digits()
    for loss in ("triplet", "contrastive"):
        est = SiameseTransformer(**SMALL, loss=loss).fit(X, y)
        for key in ("train_pos_distance", "train_neg_distance",
                    "train_active_fraction"):
            values = np.asarray(est.history_[:, key])
            assert len(values) == 2 and np.isfinite(values).all()
        assert (np.asarray(est.history_[:, "train_active_fraction"]) <= 1).all()
    # The counts, on a batch worked out by hand: a and b of class 0 at
    # distance 1, c of class 1 at distance 3 from a and 2 from b.
    Z = torch.tensor([[0.0], [1.0], [3.0]])
    labels = torch.tensor([0, 0, 1])
    pos, neg, active = MiningDiagnostics("triplet", 1.5, "euclidean")._stats(Z, labels)
    # Triplets (a, b, c): 1 + 1.5 - 3 < 0 (met); (b, a, c): 1 + 1.5 - 2 > 0.
    assert (float(pos), float(neg), float(active)) == (1.0, 2.5, 0.5)
    _, _, active = MiningDiagnostics("contrastive", 2.5, "euclidean")._stats(Z, labels)
    assert float(active) == 0.5  # the pair (b, c) at 2 is inside the margin
    # A brought loss: the distances only.
    *_, active = MiningDiagnostics(None, 1.0, "euclidean")._stats(Z, labels)
    assert torch.isnan(active)


@pytest.mark.parametrize("on_train", [False, True])
def test_epoch_scoring_takes_the_librarys_scorers(on_train):
    from skorch.callbacks import EpochScoring

    from sksiamese.metrics import (
        make_n_way_k_shot_scorer,
        make_retrieval_scorer,
        precision_at_1,
    )

    X, y = _digits()
    scorers = [
        EpochScoring(make_retrieval_scorer("precision_at_1"), name="p_at_1",
                     lower_is_better=False, on_train=on_train),
        EpochScoring(make_n_way_k_shot_scorer(n_way=3, n_episodes=50,
                                              random_state=0),
                     name="one_shot", lower_is_better=False, on_train=on_train),
    ]
    est = SiameseTransformer(**SMALL, validation_fraction=0.3,
                             callbacks=scorers).fit(X, y)
    scores = np.asarray(est.history_[:, "p_at_1"])
    assert len(scores) == 2 and ((scores >= 0) & (scores <= 1)).all()
    assert (np.asarray(est.history_[:, "one_shot"]) >= 0).all()
    if not on_train:
        # The same number as the library's own held-out scoring of the
        # last epoch (same rows, same embedding).
        held = est.history_[-1, "valid_precision_at_1"]
        assert scores[-1] == pytest.approx(held)
    else:
        # On the training rows of the last epoch's network.
        train = np.isin(y, est.classes_)
        assert scores[-1] == pytest.approx(
            precision_at_1(est.transform(X[train]), y[train]), abs=0.2)


@pytest.mark.parametrize("on_train", [False, True])
def test_epoch_scoring_roc_auc_on_the_pair_classifier(on_train):
    from skorch.callbacks import EpochScoring

    pairs, same = _pairs()
    clf = SiamesePairClassifier(**SMALL, validation_fraction=0.3, callbacks=[
        EpochScoring("roc_auc", lower_is_better=False, on_train=on_train)]).fit(
            pairs, same)
    auc = np.asarray(clf.history_[:, "roc_auc"])
    assert len(auc) == 2 and ((auc >= 0) & (auc <= 1)).all()
    if on_train:
        assert auc[-1] > 0.6  # the training pairs are told apart
