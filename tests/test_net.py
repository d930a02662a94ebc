"""Tests of the private skorch engine: sksiamese._net, _callbacks and _criteria.

The module has no public path (the estimators compose it), so it is tested
directly: the batch iterators, the checks of what encoders and losses return,
the snapshot of the last finite epoch, device resolution and data sharding.
"""

import re

import numpy as np
import pytest
import torch

from sksiamese._callbacks import Diverged, KeepLastFinite, TransferScoring
from sksiamese._criteria import CallableCriterion
from sksiamese._net import (
    Batches,
    ShardedBatches,
    SiameseNet,
    TensorData,
    check_embedding_output,
    check_loss_output,
    resolve_device,
)
from sksiamese.losses import ContrastiveLoss


def _data(n=40, d=5, n_classes=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return TensorData(torch.randn(n, d, generator=g), torch.arange(n) % n_classes)


def _net(**kwargs):
    defaults = {"module": torch.nn.Linear(5, 3), "criterion": ContrastiveLoss(),
                "optimizer": torch.optim.SGD, "lr": 0.1, "max_epochs": 2,
                "batch_size": 16, "train_split": None, "verbose": 0,
                "callbacks": [("keep_last_finite", KeepLastFinite())],
                "generator": torch.Generator().manual_seed(0)}
    return SiameseNet(**{**defaults, **kwargs})


def test_batches_cover_every_row_once_and_redraw_each_pass():
    data = _data()
    batches = Batches(data, 16, labels=data.y, samples_per_class=4,
                      generator=torch.Generator().manual_seed(0))
    first = torch.cat([x for x, _ in batches])
    second = torch.cat([x for x, _ in batches])
    assert first.shape == data.X.shape
    assert sorted(map(tuple, first.tolist())) == sorted(map(tuple, data.X.tolist()))
    assert not torch.equal(first, second)


def test_tuple_inputs_are_indexed_together():
    X = (torch.arange(10.0)[:, None], -torch.arange(10.0)[:, None])
    batches = Batches(TensorData(X, torch.zeros(10)), 4,
                      generator=torch.Generator().manual_seed(0))
    for (left, right), _ in batches:
        torch.testing.assert_close(left, -right)


def test_held_out_batches_are_the_same_every_epoch():
    data = _data()
    data.balanced_eval_seed = 3
    net = _net().initialize()
    runs = [[x for x, _ in net.get_iterator(data, training=False)] for _ in range(2)]
    assert all(torch.equal(a, b) for a, b in zip(*runs, strict=True))
    # Class-balanced: each batch holds positive pairs.
    for _, y in net.get_iterator(data, training=False):
        assert np.bincount(y.numpy()).max() >= 2


def test_sharded_batches_give_each_process_its_share_and_equal_counts():
    batches = [torch.tensor([i]) for i in range(5)]
    shares = [list(ShardedBatches(batches, rank, 2)) for rank in range(2)]
    assert [int(b) for b in shares[0]] == [0, 2, 4]
    assert [int(b) for b in shares[1]] == [1, 3, 1]  # repeats its first
    assert all(len(ShardedBatches(batches, r, 2)) == 3 for r in range(2))


@pytest.mark.parametrize("out, message", [
    ((torch.zeros(2, 3),), "returned a tuple, not a torch tensor"),
    (torch.zeros(2, 3, dtype=torch.long), "dtype torch.int64"),
    (torch.zeros(2, 3, 1), re.escape("shape (2, 3, 1)")),
])
def test_encoder_outputs_are_checked(out, message):
    with pytest.raises(ValueError, match=message):
        check_embedding_output(out)
    good = torch.zeros(2, 3)
    assert check_embedding_output(good) is good


def test_loss_outputs_are_checked():
    x = torch.ones(3, requires_grad=True)
    assert check_loss_output((x * 2).mean(), needs_grad=True).shape == ()
    assert check_loss_output(torch.ones(1), needs_grad=False).shape == ()
    with pytest.raises(ValueError, match="reduce it"):
        check_loss_output(x * 2, needs_grad=True)
    with pytest.raises(ValueError, match="with no gradient"):
        check_loss_output(torch.tensor(1.0), needs_grad=True)
    with pytest.raises(ValueError, match="dtype torch.int64"):
        check_loss_output(torch.tensor(1), needs_grad=False)


def test_callable_criterion_calls_the_function():
    criterion = CallableCriterion(lambda e, y: (e * y[:, None]).sum())
    assert float(criterion(torch.ones(2, 2), torch.tensor([1.0, 2.0]))) == 6.0


def test_keep_last_finite_restores_the_last_finite_epoch():
    data = _data()
    net = _net(max_epochs=1)
    net.fit(data, None)
    keeper = dict(net.callbacks_)["keep_last_finite"]
    assert keeper.epoch_ == 1
    after_one = {k: v.clone() for k, v in net.module_.state_dict().items()}
    with torch.no_grad():
        net.module_.weight.add_(1.0)
    keeper.restore(net)
    for k, v in net.module_.state_dict().items():
        torch.testing.assert_close(v, after_one[k])


def test_huge_but_finite_weights_count_as_divergence():
    # Weights of 1e38 are finite; the embeddings they give overflow float32.
    data = _data()
    net = _net(max_epochs=1).initialize()
    keeper = dict(net.callbacks_)["keep_last_finite"]
    keeper.on_train_begin(net, X=data)
    with torch.no_grad():
        net.module_.weight.fill_(1e38)
    with pytest.raises(Diverged, match="embeddings became NaN or infinite"):
        keeper.on_epoch_end(net)


def test_embeddings_that_grow_a_million_fold_count_as_divergence():
    data = _data()
    net = _net(max_epochs=1).initialize()
    keeper = dict(net.callbacks_)["keep_last_finite"]
    keeper.on_train_begin(net, X=data)
    with torch.no_grad():
        net.module_.weight.mul_(1e3)
    keeper.on_epoch_end(net)  # a thousand-fold growth is a fit, not a blow-up
    with torch.no_grad():
        net.module_.weight.mul_(1e4)
    with pytest.raises(Diverged, match="grew without bound"):
        keeper.on_epoch_end(net)


def test_transfer_scoring_records_scores_and_drops_its_data():
    data = _data(n=60, n_classes=6)
    scoring = TransferScoring(data, distance="euclidean", n_episodes=20)
    net = _net(max_epochs=2, callbacks=[("keep_last_finite", KeepLastFinite()),
                                        ("scoring", scoring)])
    net.fit(_data(seed=1), None)
    for key in ("valid_precision_at_1", "valid_one_shot_accuracy"):
        assert 0 <= net.history[-1, key] <= 1
    assert scoring.data is None


def test_resolve_device():
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") in ("cpu", "cuda")
    with pytest.raises(ValueError, match="is not a device torch knows"):
        resolve_device("gpu please")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="asks for a GPU"):
            resolve_device("cuda")
