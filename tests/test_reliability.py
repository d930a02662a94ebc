"""Fine-tuning and schedules that must not silently change what the user froze."""

import re
import warnings

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from skorch.callbacks import Callback

from sksiamese import SiamesePairClassifier, SiameseTransformer


def _digits(n=200):
    X, y = load_digits(return_X_y=True)
    return X[:n].astype(np.float32) / 16, y[:n]


class _Backbone(torch.nn.Module):
    """A pretrained-looking backbone with batch norm, and a head."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.backbone = torch.nn.Sequential(torch.nn.Linear(64, 8),
                                            torch.nn.BatchNorm1d(8))
        self.head = torch.nn.Linear(8, 3)

    def forward(self, x):
        return self.head(torch.relu(self.backbone(x)))


def _encoder(est):
    module = est.net_.module_
    return getattr(module, "encoder", module)


def _backbone_state(est):
    backbone = _encoder(est).backbone
    return {k: v.detach().clone() for k, v in backbone.state_dict().items()}


def test_cosine_schedule_keeps_each_groups_own_rate():
    X, y = _digits()
    given = _Backbone()
    before = {k: v.clone() for k, v in given.backbone.state_dict().items()}
    est = SiameseTransformer(encoder=given, encoder_init="keep", n_components=3,
                             lr_schedule="cosine", lr_groups={"backbone.": 0.0},
                             freeze=None, max_epochs=2, random_state=0)
    est.fit(X, y)
    rates = {id(p): g["lr"] for g in est.net_.optimizer_.param_groups
             for p in g["params"]}
    module = _encoder(est)
    assert rates[id(module.backbone[0].weight)] == 0.0
    after = _backbone_state(est)
    for name in ("0.weight", "0.bias", "1.weight", "1.bias"):
        assert torch.equal(after[name], before[name]), name


def test_cosine_schedule_continues_across_partial_fit():
    X, y = _digits()
    est = SiameseTransformer(lr_schedule="cosine", lr=0.01, max_epochs=4,
                             random_state=0)
    rates = []
    for _ in range(3):
        est.partial_fit(X, y)
        rates.append(est.net_.optimizer_.param_groups[0]["lr"])
    # Annealing goes on (cos schedule over 4 epochs: 0.85, 0.5, 0.15 of lr).
    expected = [0.01 * (1 + np.cos(np.pi * k / 4)) / 2 for k in (1, 2, 3)]
    np.testing.assert_allclose(rates, expected, rtol=1e-9)


def test_frozen_batchnorm_keeps_its_running_statistics():
    X, y = _digits()
    given = _Backbone()
    with torch.no_grad():
        given.backbone[1].running_mean.fill_(0.3)
        given.backbone[1].running_var.fill_(2.0)
    before = {k: v.clone() for k, v in given.backbone.state_dict().items()}
    est = SiameseTransformer(encoder=given, encoder_init="keep", n_components=3,
                             freeze=("backbone.",), max_epochs=2, random_state=0)
    est.fit(X, y)
    after = _backbone_state(est)
    assert after.keys() == before.keys()
    for name, value in before.items():
        assert torch.equal(after[name], value), name
    # The head still trained.
    assert not torch.equal(_encoder(est).head.weight.detach(),
                           given.head.weight.detach())


class _InterruptInFirstEpoch(Callback):
    """Press Ctrl-C in the middle of the first epoch of a fit."""

    def on_batch_end(self, net, **kwargs):
        if len(net.history) == 1 and len(net.history[-1]["batches"]) == 2:
            raise KeyboardInterrupt


def test_interrupted_refit_keeps_the_previous_model():
    X, y = _digits()
    est = SiameseTransformer(max_epochs=2, random_state=0).fit(X, y)
    before = est.transform(X)
    history = len(est.history_)
    est.set_params(callbacks=[_InterruptInFirstEpoch()], random_state=1)
    with pytest.raises(KeyboardInterrupt, match=r"the previously fitted model was "
                                                r"kept"):
        est.fit(X[:150], y[:150])
    est.set_params(callbacks=None, random_state=0)
    np.testing.assert_array_equal(est.transform(X), before)
    assert len(est.history_) == history


@pytest.mark.parametrize("params, match", [
    ({"scale": 1.0}, r"scale must be a pair \(low, high\) of zoom factors"),
    ({"scale": (1.2, 0.8)}, r"scale must be a pair"),
    ({"degrees": -5}, r"degrees must be a finite number >= 0"),
    ({"shear": float("nan")}, r"shear must be a finite number >= 0"),
])
def test_random_affine_parameters_are_validated(params, match):
    from sksiamese.augment import RandomAffine

    with pytest.raises(ValueError, match=match):
        RandomAffine(**params)


# -- failures that must say what is wrong, and change nothing ------------------
def _small(**params):
    defaults = {"max_epochs": 2, "n_components": 4, "batch_size": 32,
                "random_state": 0}
    return SiameseTransformer(**{**defaults, **params})


def _raises_and_changes_nothing(est, call, match):
    """``call()`` raises ValueError(match); ``est`` holds the very same state."""
    before = dict(vars(est))
    with pytest.raises(ValueError, match=match):
        call()
    assert vars(est).keys() == before.keys()
    changed = [k for k, v in vars(est).items() if v is not before[k]]
    assert not changed, changed


def _refit_raises(params, match, X=None, y=None):
    """A fitted transformer given ``params`` refuses to fit, and is unchanged."""
    X, y = _digits() if X is None else (X, y)
    est = _small().fit(X, y)
    embedding = est.transform(X)
    est.set_params(**params)
    _raises_and_changes_nothing(est, lambda: est.fit(X, y), match)
    np.testing.assert_array_equal(est.transform(X), embedding)


@pytest.mark.parametrize("augment, what", [
    (lambda x: x.double(), "dtype torch.float64"),
    (lambda x: x.long(), "dtype torch.int64"),
    (lambda x: x.half(), "dtype torch.float16"),
    (lambda x: x[:, :-1], r"shape \(\d+, 63\)"),
], ids=["double", "int64", "float16", "shape"])
def test_augment_returning_another_dtype_or_shape_is_a_clear_error(augment, what):
    _refit_raises({"augment": augment},
                  r"augment must return a tensor of the batch's shape "
                  rf"\(\d+, 64\), dtype torch.float32 and device cpu; it "
                  rf"returned {what}")


@pytest.mark.parametrize("loss", [torch.nn.MSELoss(), torch.nn.L1Loss()],
                         ids=["mse", "l1"])
def test_a_loss_of_a_prediction_against_a_target_is_refused(loss):
    _refit_raises({"loss": loss},
                  rf"loss={type(loss).__name__}\(\) compares a prediction with a "
                  r"target of the same shape; a Siamese loss is called as "
                  r"loss\(embeddings, labels\)")


def test_a_loss_that_fails_on_embeddings_and_labels_says_so():
    # torch's TripletMarginLoss takes (anchor, positive, negative).
    _refit_raises({"loss": torch.nn.TripletMarginLoss()},
                  r"The loss \(TripletMarginLoss\) cannot be computed on the "
                  r"training embeddings: called as loss\(embeddings, labels\) on "
                  r"4 embeddings of width 4 .* it raised TypeError")


def test_an_encoder_built_for_other_features_is_a_clear_error():
    _refit_raises({"encoder": torch.nn.Linear(10, 4)},
                  r"The encoder cannot embed these samples: on samples of shape "
                  r"\(64,\) it raised RuntimeError: mat1 and mat2 .* "
                  r"torch.nn.Linear\(64, ...\)")


def test_an_encoder_of_another_dtype_is_a_clear_error():
    _refit_raises({"encoder": torch.nn.Linear(64, 4).double()},
                  r"its weights are torch.float64 but the samples are "
                  r"torch.float32: convert the module with .float\(\)")


def test_callbacks_that_are_not_skorch_callbacks_are_refused():
    _refit_raises({"callbacks": [1]},
                  r"callbacks\[0\] is 1, which is not a skorch callback")
    _refit_raises({"callbacks": [("name", print)]},
                  r"callbacks\[0\] is \('name', <built-in function print>\)")


def test_a_pair_encoder_built_for_other_features_is_a_clear_error():
    X, y = _digits(80)
    pairs = np.stack([X[:40], X[40:]], axis=1)
    same = (y[:40] == y[40:]) | (np.arange(40) % 2 == 0)
    est = SiamesePairClassifier(encoder=torch.nn.Linear(10, 4), n_components=4,
                                max_epochs=1, random_state=0)
    _raises_and_changes_nothing(
        est, lambda: est.fit(pairs, same),
        r"The encoder cannot embed these samples: on samples of shape \(64,\) "
        r"it raised RuntimeError")


@pytest.mark.parametrize("params, name", [
    ({"lr": 1e39}, re.escape("lr=1e+39")),
    ({"lr_groups": {"": 1e39}}, re.escape("lr_groups['']=1e+39")),
    ({"lr_groups": {"": float("inf")}}, re.escape("lr_groups['']=inf")),
], ids=["lr", "lr_groups", "lr_groups-inf"])
def test_a_learning_rate_beyond_float32_is_refused(params, name):
    _refit_raises(params, rf"{name} is not a finite learning rate in float32")


@pytest.mark.parametrize("estimator", [SiameseTransformer, SiamesePairClassifier])
def test_every_estimator_refuses_a_learning_rate_beyond_float32(estimator):
    est = estimator(lr=1e39)
    with pytest.raises(ValueError, match=r"lr=1e\+39 is not a finite learning"):
        est.fit(np.zeros((8, 4)), np.arange(8) % 2)
    assert not hasattr(est, "net_")


def test_validation_fraction_with_three_classes_says_four_are_needed():
    X, y = _digits()
    three = y < 3
    _refit_raises({"validation_fraction": 0.5},
                  r"validation_fraction=0.5 holds out classes of y .* so at least 4 "
                  r"classes, 3 of them with 2 or more samples; y has 3 classes",
                  X[three], y[three])


def test_validation_never_holds_out_every_class_with_a_pair():
    # Two classes with pairs, three single samples: holding out the two
    # would leave nothing to learn from.
    X, _ = _digits(23)
    y = np.array([0] * 10 + [1] * 10 + [2, 3, 4])
    est = _small(validation_fraction=0.4)
    with pytest.raises(ValueError, match=r"3 of them with 2 or more samples; y has "
                                         r"5 classes, 2 of them"):
        est.fit(X, y)
    assert not hasattr(est, "net_")


def test_a_range_that_fits_no_fraction_is_not_suggested():
    X, y = _digits()
    four = y < 4
    with pytest.raises(ValueError, match=r"With 4 classes, use "
                                         r"validation_fraction=0.5\."):
        _small(validation_fraction=0.1).fit(X[four], y[four])


# -- training that blows up ----------------------------------------------------
def test_embeddings_that_grow_without_bound_warn_and_keep_a_sane_epoch():
    X, y = _digits()
    # Unnormalised embeddings (normalised ones cannot grow).
    est = _small(optimizer="sgd", lr=1e6, max_epochs=3, normalize=False)
    with pytest.warns(ConvergenceWarning, match=r"training diverged \(the "
                                                r"embeddings grew without bound"):
        est.fit(X, y)
    Z = est.transform(X)
    assert np.abs(Z).max() < 1e3
    assert len(est.history_) < 3


def test_a_long_fit_at_a_high_rate_is_no_blow_up():
    # 250 epochs at ten times the default rate grow the unnormalised
    # embeddings about 80 times: a fit, not a blow-up.
    X, y = _digits()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est = SiameseTransformer(lr=1e-2, max_epochs=250, random_state=0).fit(X, y)
    assert len(est.history_) == 250


class _Inflate(Callback):
    """Scale the last linear layer ten thousand times as each epoch begins."""

    def on_epoch_begin(self, net, **kwargs):
        last = [m for m in net.module_.modules() if isinstance(m, torch.nn.Linear)][-1]
        with torch.no_grad():
            last.weight.mul_(1e4)
            last.bias.mul_(1e4)


def test_growth_over_partial_fit_calls_counts_from_the_first():
    # Each call grows the embedding ten thousand times: no single call blows
    # up, but two of them grow it a hundred million times.
    X, y = _digits()
    est = _small(callbacks=[_Inflate()], normalize=False)
    est.partial_fit(X, y)
    once = np.abs(est.transform(X)).max()
    with pytest.warns(ConvergenceWarning, match=r"embeddings grew without bound"):
        est.partial_fit(X, y)
    # The weights of the first call, the last sane ones, were kept.
    assert np.abs(est.transform(X)).max() == once


def test_a_failed_continued_fit_does_not_shift_the_next_ones_batches():
    # A continued fit draws its seed from the fitted net's batch generator:
    # one that fails must leave that stream where it was.
    X, y = _digits()
    failed, clean = _small().fit(X, y), _small().fit(X, y)
    failed.set_params(loss=torch.nn.MSELoss())
    with pytest.raises(ValueError, match="compares a prediction with a target"):
        failed.partial_fit(X, y)
    failed.set_params(loss="triplet")
    failed.partial_fit(X, y)
    clean.partial_fit(X, y)
    np.testing.assert_array_equal(failed.transform(X), clean.transform(X))
