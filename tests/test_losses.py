import itertools
import re

import numpy as np
import pytest
import torch

from sksiamese.losses import (
    ContrastiveLoss,
    PairContrastiveLoss,
    TripletLoss,
    pairwise_distances,
)

MINERS = ["all", "hard", "semi-hard"]


def _dist(a, b, distance):
    if distance == "euclidean":
        return float(np.linalg.norm(a - b))
    return float(1 - a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def _batch(seed=0, n=10, d=3, n_classes=3):
    rng = np.random.default_rng(seed)
    emb = rng.normal(size=(n, d))
    labels = np.arange(n) % n_classes
    return emb, labels


def slow_contrastive(emb, labels, margin, distance, miner):
    """The contrastive loss written as an explicit loop over pairs."""
    n = len(labels)
    d = np.array([[_dist(emb[i], emb[j], distance) for j in range(n)]
                  for i in range(n)])
    pos_cost = lambda i, j: d[i, j] ** 2  # noqa: E731
    neg_cost = lambda i, j: max(0.0, margin - d[i, j]) ** 2  # noqa: E731
    costs = []
    if miner == "hard":
        for i in range(n):
            pos = [j for j in range(n) if j != i and labels[j] == labels[i]]
            neg = [j for j in range(n) if labels[j] != labels[i]]
            if pos:
                costs.append(pos_cost(i, max(pos, key=lambda j: d[i, j])))
            if neg:
                costs.append(neg_cost(i, min(neg, key=lambda j: d[i, j])))
        return np.mean(costs) if costs else 0.0
    for i, j in itertools.combinations(range(n), 2):
        if labels[i] == labels[j]:
            costs.append(pos_cost(i, j))
        elif miner != "semi-hard" or neg_cost(i, j) > 0:
            costs.append(neg_cost(i, j))
    return np.mean(costs) if costs else 0.0


def slow_triplet(emb, labels, margin, distance, miner):
    """The triplet loss written as an explicit loop over triplets."""
    n = len(labels)
    d = np.array([[_dist(emb[i], emb[j], distance) for j in range(n)]
                  for i in range(n)])
    costs = []
    for a in range(n):
        pos = [p for p in range(n) if p != a and labels[p] == labels[a]]
        neg = [q for q in range(n) if labels[q] != labels[a]]
        if miner == "hard":
            if pos and neg:
                p = max(pos, key=lambda j: d[a, j])
                q = min(neg, key=lambda j: d[a, j])
                costs.append(max(0.0, d[a, p] - d[a, q] + margin))
            continue
        for p in pos:
            for q in neg:
                if miner == "semi-hard" and not d[a, p] < d[a, q] < d[a, p] + margin:
                    continue
                costs.append(max(0.0, d[a, p] - d[a, q] + margin))
    return np.mean(costs) if costs else 0.0


@pytest.mark.parametrize("miner", MINERS)
@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
@pytest.mark.parametrize(
    "loss_cls, slow", [(ContrastiveLoss, slow_contrastive), (TripletLoss, slow_triplet)]
)
def test_loss_matches_explicit_loop(loss_cls, slow, distance, miner):
    margin = 1.5 if distance == "euclidean" else 0.4
    for seed in range(3):
        emb, labels = _batch(seed)
        loss = loss_cls(margin=margin, distance=distance, miner=miner)
        got = loss(torch.tensor(emb), torch.tensor(labels))
        expected = slow(emb, labels, margin, distance, miner)
        assert float(got) == pytest.approx(expected, rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("miner", MINERS)
@pytest.mark.parametrize("loss_cls", [ContrastiveLoss, TripletLoss])
def test_gradcheck_including_zero_distance(loss_cls, miner):
    # Rows 0 and 1 share a class and coincide; rows 2 and 4 differ in class and
    # coincide: a positive and a negative pair at distance zero. The other rows
    # are placed so that no anchor's hardest pair is a tie (where batch-hard
    # mining is not differentiable whatever the implementation).
    rng = np.random.default_rng(0)
    emb = np.array([[5, 5, 5], [5, 5, 5], [0, 0, 0], [4, 4, 4], [0, 0, 0],
                    [4.2, 4, 4]]) + rng.normal(scale=0.05, size=(6, 3))
    emb[1] = emb[0]
    emb[4] = emb[2]
    if loss_cls is TripletLoss and miner == "semi-hard":
        # Row 4 coinciding with row 2 puts triplet (3, 2, 4) exactly on the
        # semi-hard boundary d(a, n) = d(a, p), where the selection jumps.
        emb[4] += 0.3
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    emb = torch.tensor(emb / 3, requires_grad=True)
    loss = loss_cls(margin=2.0, miner=miner)

    (grad,) = torch.autograd.grad(loss(emb, labels), emb)
    assert torch.isfinite(grad).all()
    # The finite-difference step must be resolvable by the matrix-form
    # distances' float64 rounding at zero distance (about 1e-16 on d^2).
    assert torch.autograd.gradcheck(
        lambda e: loss(e, labels), (emb,), eps=1e-5, atol=1e-5
    )


def test_contrastive_gradient_is_finite_for_identical_embeddings():
    emb = torch.zeros(4, 2, requires_grad=True)
    loss = ContrastiveLoss()(emb, torch.tensor([0, 0, 1, 1]))
    loss.backward()
    assert float(loss.detach()) == pytest.approx(2 / 3)  # 4 different pairs, of 6
    assert torch.isfinite(emb.grad).all()


def test_triplet_negatives_come_from_another_class():
    # One class only: no triplet exists, so the loss is zero and has a graph.
    emb = torch.randn(5, 2, requires_grad=True)
    loss = TripletLoss()(emb, torch.zeros(5, dtype=torch.long))
    loss.backward()
    assert float(loss.detach()) == 0.0
    assert torch.equal(emb.grad, torch.zeros_like(emb))


@pytest.mark.parametrize("miner", ["all", "semi-hard"])
def test_triplet_large_batch_is_chunked_and_exact(miner):
    # 300 rows are more anchors than one chunk of (anchors, 300, 300) holds.
    emb, labels = _batch(3, n=300, d=4, n_classes=20)
    emb_t, labels_t = torch.tensor(emb), torch.tensor(labels)
    d = pairwise_distances(emb_t)
    same = labels_t[:, None] == labels_t[None, :]
    pos = same & ~torch.eye(300, dtype=torch.bool)
    d_ap, d_an = d[:, :, None], d[:, None, :]
    full = (d_ap - d_an + 0.5).clamp_min(0)
    valid = pos[:, :, None] & ~same[:, None, :]
    if miner == "semi-hard":
        valid = valid & (d_an > d_ap) & (d_an < d_ap + 0.5)
    expected = full[valid].mean()
    got = TripletLoss(margin=0.5, miner=miner)(emb_t, labels_t)
    assert float(got) == pytest.approx(float(expected), rel=1e-9)


@pytest.mark.parametrize("miner", MINERS)
@pytest.mark.parametrize(
    "loss_cls, slow", [(ContrastiveLoss, slow_contrastive), (TripletLoss, slow_triplet)]
)
def test_anchors_without_positives_or_negatives(loss_cls, slow, miner):
    # Class 1 is a single row (an anchor without positives), class 3 holds
    # half the batch; all but the single row also have negatives.
    labels = np.array([0, 0, 1, 2, 2, 3, 3, 3, 3, 3])
    emb, _ = _batch(4, n=len(labels))
    got = loss_cls(margin=1.5, miner=miner)(torch.tensor(emb), torch.tensor(labels))
    expected = slow(emb, labels, 1.5, "euclidean", miner)
    assert float(got) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("miner", MINERS)
@pytest.mark.parametrize("loss_cls, emb, labels", [
    # An empty batch.
    (ContrastiveLoss, torch.randn(0, 3), torch.zeros(0, dtype=torch.long)),
    (TripletLoss, torch.randn(0, 3), torch.zeros(0, dtype=torch.long)),
    # One row: no pair at all.
    (ContrastiveLoss, torch.randn(1, 3), torch.tensor([0])),
    # One class: no negative, so no triplet.
    (TripletLoss, torch.randn(5, 2), torch.zeros(5, dtype=torch.long)),
    # Every row its own class: no positive, so no triplet.
    (TripletLoss, torch.randn(5, 2), torch.arange(5)),
])
def test_nothing_to_learn_gives_a_zero_attached_to_the_graph(
        loss_cls, emb, labels, miner):
    emb = emb.clone().requires_grad_(True)
    loss = loss_cls(miner=miner)(emb, labels)
    loss.backward()
    assert float(loss.detach()) == 0.0
    assert torch.equal(emb.grad, torch.zeros_like(emb))


def test_semi_hard_contrastive_without_negatives_inside_the_margin():
    # No positives, and every negative beyond the margin: nothing counts.
    emb = torch.tensor([[0.0, 0.0], [3.0, 0.0], [0.0, 3.0]], requires_grad=True)
    loss = ContrastiveLoss(margin=1.0, miner="semi-hard")(emb, torch.arange(3))
    loss.backward()
    assert float(loss.detach()) == 0.0
    assert torch.equal(emb.grad, torch.zeros_like(emb))


def test_pairwise_distances_are_exact_and_symmetric():
    emb, _ = _batch(2, n=7, d=5)
    d = pairwise_distances(torch.tensor(emb)).numpy()
    expected = np.linalg.norm(emb[:, None] - emb[None, :], axis=-1)
    np.testing.assert_allclose(d, expected, atol=1e-7)
    np.testing.assert_array_equal(np.diag(d), 0)
    d_cos = pairwise_distances(torch.tensor(emb), "cosine").numpy()
    unit = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    np.testing.assert_allclose(d_cos, 1 - unit @ unit.T, atol=1e-12)


@pytest.mark.parametrize("loss_cls", [ContrastiveLoss, TripletLoss])
def test_bad_parameters(loss_cls):
    with pytest.raises(ValueError, match="margin must be a positive number; got -1"):
        loss_cls(margin=-1)
    with pytest.raises(ValueError, match="miner must be one of 'all', 'hard', "):
        loss_cls(miner="easy")
    with pytest.raises(ValueError, match="distance must be one of 'euclidean', "):
        loss_cls(distance="manhattan")


def test_bad_batch_shapes():
    loss = ContrastiveLoss()
    with pytest.raises(ValueError, match=r"embeddings must be a 2-D tensor"):
        loss(torch.zeros(4), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match=r"labels must be 1-D with one label per"):
        loss(torch.zeros(4, 2), torch.zeros(3, dtype=torch.long))


# -- PairContrastiveLoss: explicit pairs -------------------------------------
def loop_loss(left, right, labels, margin, distance):
    costs = []
    for a, b, same in zip(left.tolist(), right.tolist(), labels.tolist(), strict=True):
        a, b = np.array(a), np.array(b)
        if distance == "euclidean":
            d = np.sqrt(((a - b) ** 2).sum())
        else:
            d = 1 - a @ b / (np.linalg.norm(a) * np.linalg.norm(b))
        costs.append(d**2 if same else max(0.0, margin - d) ** 2)
    return np.mean(costs)


@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_pair_contrastive_loss_matches_a_loop(distance):
    gen = torch.Generator().manual_seed(0)
    left = torch.randn(12, 3, generator=gen, dtype=torch.float64)
    right = torch.randn(12, 3, generator=gen, dtype=torch.float64)
    right[:3] = left[:3]  # zero distance, same and different
    labels = torch.tensor([1, 0, 1, 0, 1, 1, 0, 0, 1, 0, 1, 0])
    margin = 1.5 if distance == "euclidean" else 0.8
    loss = PairContrastiveLoss(margin=margin, distance=distance)(left, right, labels)
    expected = loop_loss(left, right, labels, margin, distance)
    assert float(loss) == pytest.approx(expected, rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_pair_contrastive_loss_gradient_is_finite_and_right_at_zero_distance(distance):
    gen = torch.Generator().manual_seed(1)
    left = torch.randn(6, 3, generator=gen, dtype=torch.float64)
    right = torch.randn(6, 3, generator=gen, dtype=torch.float64)
    right[:2] = left[:2]  # identical embeddings: a "same" and a "different" pair
    labels = torch.tensor([1, 0, 1, 0, 1, 0])
    loss = PairContrastiveLoss(margin=1.0, distance=distance)

    left_req = left.clone().requires_grad_(True)
    right_req = right.clone().requires_grad_(True)
    loss(left_req, right_req, labels).backward()
    assert torch.isfinite(left_req.grad).all()
    assert torch.isfinite(right_req.grad).all()
    assert torch.autograd.gradcheck(
        lambda a, b: loss(a, b, labels),
        (left.clone().requires_grad_(True), right.clone().requires_grad_(True)),
    )


def test_pair_contrastive_loss_checks_its_input():
    loss = PairContrastiveLoss()
    with pytest.raises(ValueError, match=re.escape(
            "left and right must be 2-D tensors of the same shape (n_pairs, "
            "n_components); got shapes (3, 2) and (3, 4).")):
        loss(torch.zeros(3, 2), torch.zeros(3, 4), torch.zeros(3))
    with pytest.raises(ValueError, match=re.escape(
            "labels must be 1-D with one label per pair; got shape (2,) for 3 "
            "pairs.")):
        loss(torch.zeros(3, 2), torch.zeros(3, 2), torch.zeros(2))
    with pytest.raises(ValueError, match=re.escape(
            "margin must be a positive number; got 0.")):
        PairContrastiveLoss(margin=0)


def test_pair_contrastive_loss_without_pairs_is_a_zero_attached_to_the_graph():
    left = torch.zeros(0, 3, requires_grad=True)
    loss = PairContrastiveLoss()(left, torch.zeros(0, 3), torch.zeros(0))
    loss.backward()
    assert float(loss.detach()) == 0.0
    assert left.grad.shape == (0, 3)

