"""Fine-tuning and schedules that must not silently change what the user froze."""

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from skorch.callbacks import Callback

from sksiamese import SiameseTransformer


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
