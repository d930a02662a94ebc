"""pytorch-metric-learning's losses and miners in the estimators."""

import copy
import functools
import io
import warnings

import numpy as np
import pytest
import torch

pml = pytest.importorskip("pytorch_metric_learning")

from pytorch_metric_learning import distances, losses, miners, reducers  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402

from sksiamese import SiamesePairClassifier, SiameseTransformer  # noqa: E402
from sksiamese.losses import ContrastiveLoss, TripletLoss  # noqa: E402
from sksiamese.persistence import load_model, save_model  # noqa: E402


def blobs(n_classes=4, per_class=12, n_features=6, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=3.0, size=(n_classes, n_features))
    y = np.repeat(np.arange(n_classes), per_class)
    X = centres[y] + rng.normal(size=(len(y), n_features))
    return X.astype(np.float32), y


def small(**params):
    defaults = {"max_epochs": 2, "batch_size": 16, "n_components": 3,
                "random_state": 0}
    return SiameseTransformer(**{**defaults, **params})


def l2():
    return distances.LpDistance(normalize_embeddings=False, p=2, power=1)


def pml_triplet(margin, miner):
    loss = losses.TripletMarginLoss(margin=margin, distance=l2(),
                                    reducer=reducers.MeanReducer())
    if miner == "all":
        return lambda e, y: loss(e, y)
    if miner == "hard":
        mine = miners.BatchHardMiner(distance=l2())
    else:
        mine = miners.TripletMarginMiner(margin=margin, type_of_triplets="semihard",
                                         distance=l2())
    return lambda e, y: loss(e, y, mine(e, y))


def batch():
    gen = torch.Generator().manual_seed(0)
    emb = torch.randn(12, 4, generator=gen, dtype=torch.float64)
    labels = torch.tensor([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3])
    return emb, labels


@pytest.mark.parametrize("miner", ["all", "hard", "semi-hard"])
@pytest.mark.parametrize("margin", [0.5, 2.0])
def test_triplet_loss_equals_pml_triplet_margin_loss(miner, margin):
    emb, labels = batch()
    ours_in = emb.clone().requires_grad_(True)
    theirs_in = emb.clone().requires_grad_(True)
    ours = TripletLoss(margin=margin, miner=miner)(ours_in, labels)
    theirs = pml_triplet(margin, miner)(theirs_in, labels)
    ours.backward()
    theirs.backward()
    assert float(ours.detach()) > 0
    np.testing.assert_allclose(float(ours), float(theirs), rtol=1e-12, atol=1e-14)
    assert ours_in.grad.abs().sum() > 0
    np.testing.assert_allclose(ours_in.grad.numpy(), theirs_in.grad.numpy(),
                               rtol=1e-10, atol=1e-13)


def test_pml_contrastive_loss_is_another_formula():
    emb, labels = batch()
    same = labels[:, None] == labels[None, :]
    upper = torch.ones_like(same).triu(diagonal=1)
    d = torch.cdist(emb, emb)
    pos, neg = d[same & upper], d[~same & upper]
    # pytorch-metric-learning: unsquared hinges, each averaged over its
    # non-zero terms, then added.
    neg_cost = torch.relu(1.0 - neg)
    pml_formula = pos.mean() + neg_cost[neg_cost > 0].mean()
    theirs = losses.ContrastiveLoss(pos_margin=0, neg_margin=1, distance=l2())(
        emb, labels)
    np.testing.assert_allclose(float(theirs), float(pml_formula), rtol=1e-12)
    # sksiamese: squared terms, one mean over every pair.
    ours = ContrastiveLoss(margin=1.0)(emb, labels)
    ours_formula = torch.cat([pos ** 2, neg_cost ** 2]).mean()
    np.testing.assert_allclose(float(ours), float(ours_formula), rtol=1e-12)
    assert abs(float(ours) - float(theirs)) > 0.1


class RecordingMiner:
    """Batch-hard mining that records what it returned."""

    def __init__(self):
        self.miner = miners.BatchHardMiner()
        self.calls = 0

    def __call__(self, embeddings, labels):
        self.calls += 1
        return self.miner(embeddings, labels)


class RecordingLoss(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.loss = losses.TripletMarginLoss(margin=0.2)
        self.seen = []

    def forward(self, embeddings, labels, indices_tuple=None):
        self.seen.append(indices_tuple)
        return self.loss(embeddings, labels, indices_tuple)


def test_miner_object_gives_its_indices_to_the_loss():
    X, y = blobs()
    est = small(loss=RecordingLoss(), miner=RecordingMiner()).fit(X, y)
    criterion = est.net_.criterion_
    assert criterion.miner.calls == len(est.history_[-1, "batches"]) * 2
    seen = criterion.loss.seen
    assert len(seen) == criterion.miner.calls
    assert all(isinstance(t, tuple) and len(t) == 3 for t in seen)
    # The user's objects were copied, not used.
    assert est.miner.calls == 0 and est.loss.seen == []


def test_miner_with_empty_indices_trains_nothing():
    X, y = blobs()
    empty = lambda e, y: (torch.empty(0, dtype=torch.long),) * 3  # noqa: E731
    slow = small(loss=losses.TripletMarginLoss(), miner=empty, lr=1e-3).fit(X, y)
    fast = small(loss=losses.TripletMarginLoss(), miner=empty, lr=1.0).fit(X, y)
    assert all(row["train_loss"] == 0.0 for row in fast.history_)
    # No triplet, no gradient: any learning rate leaves the initial weights.
    np.testing.assert_array_equal(slow.transform(X), fast.transform(X))


@pytest.mark.parametrize("bad, match", [
    (lambda e, y: e.sum(), "it returned Tensor"),
    (lambda e, y: (torch.arange(2),) * 2, "a tuple of length 2"),
    (lambda e, y: (torch.zeros(2),) * 3, "its entry 0 is a tensor of shape"),
    (lambda e, y: (torch.arange(2), torch.arange(3), torch.arange(2)),
     r"lengths \[2, 3, 2\]"),
    (lambda e, y: (torch.tensor([0, 999]),) * 3, "indices from 0 to 999"),
])
def test_miner_that_returns_no_index_tuple_is_an_error(bad, match):
    X, y = blobs()
    with pytest.raises(ValueError, match=match):
        small(loss=losses.TripletMarginLoss(), miner=bad).fit(X, y)


def test_miner_object_with_a_builtin_loss_is_an_error():
    X, y = blobs()
    with pytest.raises(ValueError, match="built-in loss='triplet' does not take"):
        small(loss="triplet", miner=miners.BatchHardMiner()).fit(X, y)


def arcface(n_classes=4, width=3):
    torch.manual_seed(0)
    return losses.ArcFaceLoss(num_classes=n_classes, embedding_size=width,
                              margin=10.0, scale=8)


def test_loss_parameters_are_trained_and_the_users_loss_is_unchanged():
    X, y = blobs()
    loss = arcface()
    before = copy.deepcopy(loss.state_dict())
    est = small(loss=loss).fit(X, y)
    trained = est.net_.criterion_.W
    in_optimizer = {id(p) for g in est.net_.optimizer_.param_groups
                    for p in g["params"]}
    assert id(trained) in in_optimizer
    assert not torch.equal(trained.detach(), before["W"])
    assert torch.equal(loss.W.detach(), before["W"])
    again = small(loss=loss).fit(X, y)
    np.testing.assert_array_equal(est.transform(X), again.transform(X))
    assert torch.equal(again.net_.criterion_.W, trained)


def test_proxy_anchor_loss_trains_its_proxies():
    X, y = blobs()
    torch.manual_seed(0)
    loss = losses.ProxyAnchorLoss(num_classes=4, embedding_size=3)
    est = small(loss=loss, lr=1e-2).fit(X, y)
    assert not torch.equal(est.net_.criterion_.proxies.detach(),
                           loss.proxies.detach())
    assert est.history_[-1, "train_loss"] < est.history_[0, "train_loss"]


def test_loss_parameters_are_saved_and_loaded_and_warm_start_continues():
    X, y = blobs()
    est = small(loss=arcface()).fit(X, y)
    buffer = io.BytesIO()
    save_model(est, buffer)
    buffer.seek(0)
    loaded = load_model(buffer, estimator=small(loss=arcface()))
    assert torch.equal(loaded.net_.criterion_.W, est.net_.criterion_.W)
    np.testing.assert_array_equal(loaded.transform(X), est.transform(X))
    W = est.net_.criterion_.W.detach().clone()
    assert (W - arcface().W).abs().max() > 1e-3
    est.set_params(warm_start=True, max_epochs=1, lr=1e-9)
    est.fit(X, y)
    # Continued from the trained centres, not from the loss given.
    assert len(est.history_) == 3
    torch.testing.assert_close(est.net_.criterion_.W.detach(), W, rtol=0, atol=1e-6)


def test_loaded_loss_parameters_must_fit_the_templates_loss():
    X, y = blobs()
    est = small(loss=arcface()).fit(X, y)
    buffer = io.BytesIO()
    save_model(est, buffer)
    buffer.seek(0)
    with pytest.raises(ValueError, match="do not fit the loss of the template"):
        load_model(buffer, estimator=small(loss=arcface(n_classes=5)))


def test_files_without_loss_parameters_load_as_before():
    X, y = blobs()
    est = small(loss=losses.TripletMarginLoss()).fit(X, y)
    buffer = io.BytesIO()
    save_model(est, buffer)
    buffer.seek(0)
    assert "criterion_state_dict" not in torch.load(buffer, weights_only=True)
    buffer.seek(0)
    loaded = load_model(buffer, estimator=small(loss=losses.TripletMarginLoss()))
    np.testing.assert_array_equal(loaded.transform(X), est.transform(X))


@pytest.mark.parametrize("params, named", [
    ({"margin": 0.3}, "margin=0.3"),
    ({"miner": "semi-hard"}, "miner='semi-hard'"),
    ({"distance": "cosine"}, "distance still measures"),
])
def test_parameters_a_brought_loss_ignores_warn(params, named):
    X, y = blobs()
    with pytest.warns(UserWarning, match=named):
        small(loss=losses.TripletMarginLoss(), **params).fit(X, y)


def test_no_warning_for_defaults_or_a_miner_object():
    X, y = blobs()
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        small(loss=losses.TripletMarginLoss()).fit(X, y)
        small(loss=losses.TripletMarginLoss(), miner=miners.BatchHardMiner()).fit(X, y)


def test_clone_and_grid_search_with_pml_parts():
    X, y = blobs()
    est = small(loss=losses.TripletMarginLoss(), miner=miners.BatchHardMiner())
    assert isinstance(clone(est).miner, miners.BatchHardMiner)
    grid = GridSearchCV(est, {"loss": [losses.TripletMarginLoss(margin=0.1),
                                       losses.TripletMarginLoss(margin=1.0)]},
                        cv=2, scoring=lambda e, X, y: -float(
                            np.var(e.transform(X))))
    grid.fit(X, y)
    assert len(grid.cv_results_["mean_test_score"]) == 2


def test_plain_function_with_a_miner_object():
    X, y = blobs()
    inner = losses.TripletMarginLoss(margin=0.3)
    fn = functools.partial(lambda e, y, t, loss: loss(e, y, t), loss=inner)
    est = small(loss=fn, miner=miners.BatchHardMiner()).fit(X, y)
    assert np.isfinite(est.history_[:, "train_loss"]).all()


def test_pair_classifier_refuses_a_class_label_loss():
    pairs = np.random.default_rng(0).normal(size=(20, 2, 3))
    with pytest.raises(ValueError, match="explicit pairs carry only 'same' or"):
        SiamesePairClassifier(loss=losses.TripletMarginLoss()).fit(
            pairs, np.tile([0, 1], 10))


def _pml_digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return X[:300].astype(np.float32) / 16, y[:300]


@pytest.mark.parametrize("make", [
    lambda: losses.ArcFaceLoss(num_classes=10, embedding_size=3),
    lambda: losses.ProxyAnchorLoss(num_classes=10, embedding_size=3),
], ids=["arcface", "proxy-anchor"])
def test_losses_with_class_parameters_record_no_valid_loss(make):
    # The held-out classes have no centres: a loss on them would mean nothing.
    X, y = _pml_digits()
    torch.manual_seed(0)
    est = small(loss=make(), max_epochs=3, validation_fraction=0.3)
    with pytest.warns(UserWarning, match=r"valid_loss is not recorded: the loss "
                                         r"\w+ has parameters learned for the "
                                         r"training classes"):
        est.fit(X, y)
    keys = set(est.history_[-1].keys())
    assert "valid_loss" not in keys
    assert {"valid_precision_at_1", "valid_one_shot_accuracy"} <= keys
    assert est.best_epoch_ in (1, 2, 3)


def test_early_stopping_works_with_class_parameters():
    X, y = _pml_digits()
    torch.manual_seed(0)
    est = small(loss=losses.ArcFaceLoss(num_classes=10, embedding_size=3),
                max_epochs=3, validation_fraction=0.3, early_stopping=True,
                n_iter_no_change=1)
    with pytest.warns(UserWarning, match="valid_loss is not recorded"):
        est.fit(X, y)
    scores = est.history_[:, "valid_precision_at_1"]
    assert est.best_epoch_ == int(np.argmax(scores)) + 1


def test_losses_without_class_parameters_still_record_valid_loss():
    X, y = _pml_digits()
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        est = small(loss=losses.TripletMarginLoss(), max_epochs=2,
                    validation_fraction=0.3).fit(X, y)
    assert "valid_loss" in est.history_[-1]


@pytest.mark.parametrize("make, match", [
    (lambda: losses.ArcFaceLoss(num_classes=3, embedding_size=3),
     r"The loss ArcFaceLoss was built with num_classes=3, but fit trains it on 4 "
     r"classes .* Build it with num_classes=4"),
    (lambda: losses.ProxyAnchorLoss(num_classes=2, embedding_size=3),
     r"The loss ProxyAnchorLoss was built with num_classes=2, but fit trains it on "
     r"4 classes"),
    (lambda: losses.ArcFaceLoss(num_classes=4, embedding_size=8),
     r"The loss \(ArcFaceLoss\) cannot be computed on the training embeddings: "
     r".* embeddings of width 3 .* RuntimeError: mat1 and mat2 .* "
     r"num_classes=4 \(or more\) and embedding_size=3"),
    (lambda: losses.ProxyNCALoss(num_classes=4, embedding_size=5),
     r"The loss \(ProxyNCALoss\) cannot be computed .* embedding_size=3"),
    # These keep no num_classes of their own; ProxyNCALoss used to train
    # silently without proxies for the classes it lacks.
    (lambda: losses.ProxyNCALoss(num_classes=3, embedding_size=3),
     r"The loss ProxyNCALoss was built with num_classes=3, but fit trains it on 4"),
    (lambda: losses.NormalizedSoftmaxLoss(num_classes=3, embedding_size=3),
     r"The loss NormalizedSoftmaxLoss was built with num_classes=3"),
    (lambda: losses.MarginLoss(num_classes=2, learn_beta=True),
     r"The loss MarginLoss was built with num_classes=2"),
], ids=["arcface-classes", "proxy-anchor-classes", "arcface-width", "proxy-nca-width",
        "proxy-nca-classes", "normalized-softmax-classes", "margin-beta-classes"])
def test_losses_sized_for_other_data_are_clear_errors(make, match):
    X, y = blobs()
    est = small(loss=losses.TripletMarginLoss()).fit(X, y)
    embedding = est.transform(X)
    torch.manual_seed(0)
    est.set_params(loss=make())
    before = dict(vars(est))
    with pytest.raises(ValueError, match=match):
        est.fit(X, y)
    assert vars(est).keys() == before.keys()
    assert all(vars(est)[k] is v for k, v in before.items())
    np.testing.assert_array_equal(est.transform(X), embedding)


def test_a_margin_loss_with_one_learned_beta_trains_and_records_valid_loss():
    # One learned value is no per-class parameter.
    X, y = _pml_digits()
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        est = small(loss=losses.MarginLoss(learn_beta=True), max_epochs=2,
                    validation_fraction=0.3).fit(X, y)
    assert "valid_loss" in est.history_[-1]
