"""Loss speed: each built-in loss, forward and backward, against plain torch.

Each reference below is the loss's formula written by hand in masked-sum form
(costs multiplied by float masks, divided by counts), over distances in matrix
form. One timed run is ``--inner`` forward and backward passes on a batch of
``--batch`` embeddings in a P x K label structure (``--classes`` classes); the
ratio printed is library time / plain time (target: at most 1.2).

    PYTHONPATH=. python benchmarks/bench_losses.py
    git show REV:sksiamese/losses.py > /tmp/old_losses.py   # an older version
    python benchmarks/bench_losses.py --losses /tmp/old_losses.py

The first line printed names the losses file timed (an installed sksiamese
may shadow the checkout's: hence PYTHONPATH).
"""

import argparse
import importlib.util
import time

import torch
from _common import device_note, median_ratio
from torch.nn import functional as F


def load_losses(path):
    if path is None:
        from sksiamese import losses

        return losses
    spec = importlib.util.spec_from_file_location("losses_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- plain torch references --------------------------------------------------
def plain_distances(emb):
    """Squared and plain euclidean distances, zero diagonal, finite gradient."""
    sq = (emb * emb).sum(dim=1)
    off_diagonal = 1 - torch.eye(len(emb), dtype=emb.dtype, device=emb.device)
    d2 = (sq[:, None] + sq[None, :] - 2 * emb @ emb.T).clamp_min(0) * off_diagonal
    tiny = torch.finfo(emb.dtype).eps
    d = torch.sqrt(d2.clamp_min(tiny)) * (d2 > tiny)
    return d2, d


def plain_masks(labels, dtype):
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    return (same & ~eye).to(dtype), (~same).to(dtype)


def plain_contrastive(emb, labels, margin, miner):
    d2, d = plain_distances(emb)
    pos, neg = plain_masks(labels, emb.dtype)
    neg_cost = F.relu(margin - d) ** 2
    if miner == "hard":
        # d2 grows and neg_cost shrinks with d: the farthest positive and the
        # closest negative are the largest masked costs.
        hard_pos = (d2 * pos).max(dim=1).values
        hard_neg = (neg_cost * neg).max(dim=1).values
        count = pos.amax(dim=1).sum() + neg.amax(dim=1).sum()
        return (hard_pos.sum() + hard_neg.sum()) / count.clamp_min(1)
    total = (d2 * pos).sum() + (neg_cost * neg).sum()
    # Ordered pairs: every unordered pair is counted twice, above and below
    # the diagonal, in the sum and in the count alike.
    if miner == "semi-hard":
        count = pos.sum() + (neg * (neg_cost > 0)).sum()
    else:
        count = pos.sum() + neg.sum()
    return total / count.clamp_min(1)


def plain_triplet(emb, labels, margin, miner):
    _, d = plain_distances(emb)
    pos, neg = plain_masks(labels, emb.dtype)
    if miner == "hard":
        hard_pos = (d * pos).max(dim=1).values
        hard_neg = torch.where(neg > 0, d, torch.finfo(d.dtype).max).min(dim=1).values
        valid = pos.amax(dim=1) * neg.amax(dim=1)
        costs = F.relu(hard_pos - hard_neg + margin) * valid
        return costs.sum() / valid.sum().clamp_min(1)
    # Anchors in chunks, as the library does, so that both hold the same
    # (anchors, B, B) tensors in memory.
    n = len(labels)
    chunk = max(1, 2**22 // (n * n))
    total, count = 0.0, 0.0
    for start in range(0, n, chunk):
        rows = slice(start, start + chunk)
        d_ap, d_an = d[rows, :, None], d[rows, None, :]
        valid = pos[rows, :, None] * neg[rows, None, :]
        if miner == "semi-hard":
            valid = valid * ((d_an > d_ap) & (d_an < d_ap + margin))
        total = total + (F.relu(d_ap - d_an + margin) * valid).sum()
        count = count + valid.sum()
    return total / count.clamp_min(1)


def plain_pair_contrastive(left, right, labels, margin):
    d2 = ((left - right) ** 2).sum(dim=1)
    tiny = torch.finfo(d2.dtype).eps
    d = torch.sqrt(d2.clamp_min(tiny)) * (d2 > tiny)
    same = labels.to(d2.dtype)
    return (same * d2 + (1 - same) * F.relu(margin - d) ** 2).mean()


# -- timing ------------------------------------------------------------------
def forward_backward(loss_fn, tensors, inner):
    """One timed run: ``inner`` forward and backward passes on fresh leaves."""

    def run():
        for _ in range(inner):
            leaves = [t.detach().requires_grad_(True) for t in tensors]
            loss_fn(*leaves).backward()

    return run


def passes_in(seconds, loss_fn, tensors):
    """How many passes of ``loss_fn`` take about ``seconds`` (at least one)."""
    forward_backward(loss_fn, tensors, 1)()
    start = time.perf_counter()
    forward_backward(loss_fn, tensors, 1)()
    return max(1, round(seconds / (time.perf_counter() - start)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--losses", default=None,
                        help="a losses.py file to time instead of sksiamese.losses")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--classes", type=int, default=64)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--run-seconds", type=float, default=0.1,
                        help="about how long one timed run of the library takes")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--only", default=None,
                        help="time only the cases whose label contains this")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available()
                        else "cpu")
    args = parser.parse_args()
    losses = load_losses(args.losses)
    # The file, since an installed sksiamese may shadow the checkout's.
    print(f"device: {device_note()}; losses from {losses.__file__}")

    gen = torch.Generator().manual_seed(0)
    emb = torch.randn(args.batch, args.dim, generator=gen).to(args.device)
    # Inside the margin often enough that every cost term is exercised.
    emb = emb / args.dim**0.5
    labels = (torch.arange(args.batch) % args.classes).to(args.device)
    right = torch.randn(args.batch, args.dim, generator=gen).to(args.device)
    right = right / args.dim**0.5
    same = (torch.arange(args.batch) % 2).to(args.device)
    margin = 1.0

    cases = []
    for miner in ("all", "hard", "semi-hard"):
        lib = losses.ContrastiveLoss(margin=margin, miner=miner)
        cases.append((f"ContrastiveLoss miner={miner}", lib,
                      lambda e, y, miner=miner: plain_contrastive(e, y, margin, miner),
                      (emb,), (labels,)))
    for miner in ("all", "hard", "semi-hard"):
        lib = losses.TripletLoss(margin=margin, miner=miner)
        cases.append((f"TripletLoss miner={miner}", lib,
                      lambda e, y, miner=miner: plain_triplet(e, y, margin, miner),
                      (emb,), (labels,)))
    cases.append(("PairContrastiveLoss", losses.PairContrastiveLoss(margin=margin),
                  lambda a, b, y: plain_pair_contrastive(a, b, y, margin),
                  (emb, right), (same,)))

    print(f"batch {args.batch} x {args.dim}, {args.classes} classes")
    for label, lib, plain, tensors, fixed in cases:
        if args.only and args.only not in label:
            continue
        got, expected = float(lib(*tensors, *fixed)), float(plain(*tensors, *fixed))
        assert abs(got - expected) <= 1e-5 * max(1.0, abs(expected)), (
            label, got, expected)
        def library(*t, lib=lib, fixed=fixed):
            return lib(*t, *fixed)

        def reference(*t, plain=plain, fixed=fixed):
            return plain(*t, *fixed)

        # The same number of passes on both sides.
        inner = passes_in(args.run_seconds, library, tensors)
        median_ratio(forward_backward(library, tensors, inner),
                     forward_backward(reference, tensors, inner),
                     args.repeats, f"{label} (x{inner})")


if __name__ == "__main__":
    main()
