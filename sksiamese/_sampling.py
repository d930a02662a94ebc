"""Class-balanced batches (P classes x K samples) drawn with a seeded generator."""

import torch


def balanced_batches(codes, batch_size, samples_per_class, generator):
    """Split one epoch into batches made of small same-class groups.

    Each class is shuffled and cut into groups of ``samples_per_class`` rows (a
    last group of one row joins the group before it, so that no group of a
    class with two or more rows is alone). The groups are shuffled and packed
    into batches of about ``batch_size`` rows, never splitting a group, so every
    batch holds positive pairs. Every row appears exactly once per epoch, and
    only ``generator`` is drawn from.

    Parameters
    ----------
    codes : torch.Tensor of shape (n,), int64
        Class codes in ``0 .. n_classes - 1``.
    batch_size : int
        Target rows per batch; a batch may differ from it by less than one
        group.
    samples_per_class : int
        Rows of one class that sit together in a batch (K).
    generator : torch.Generator
        The source of randomness.

    Returns
    -------
    batches : list of torch.Tensor
        Row indices, one int64 tensor per batch.
    """
    n = codes.shape[0]
    k = samples_per_class
    perm = torch.randperm(n, generator=generator)
    order = perm[torch.argsort(codes[perm], stable=True)]
    sorted_codes = codes[order]

    counts = torch.bincount(sorted_codes)
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.arange(n) - starts[sorted_codes]
    group = rank // k

    n_groups = (counts + k - 1) // k
    merge_tail = (counts - (n_groups - 1) * k == 1) & (counts > 1)
    in_tail = group == n_groups[sorted_codes] - 1
    group = torch.where(in_tail & merge_tail[sorted_codes], group - 1, group)
    n_groups = n_groups - merge_tail.long()
    group += (torch.cumsum(n_groups, 0) - n_groups)[sorted_codes]

    total_groups = int(n_groups.sum())
    shuffled_rank = torch.empty(total_groups, dtype=torch.long)
    shuffled_rank[torch.randperm(total_groups, generator=generator)] = torch.arange(
        total_groups
    )
    row_order = torch.argsort(shuffled_rank[group], stable=True)
    rows = order[row_order]

    # A group belongs to the batch in which it starts.
    group_sizes = torch.bincount(shuffled_rank[group], minlength=total_groups)
    group_starts = torch.cumsum(group_sizes, 0) - group_sizes
    batch_of_row = torch.repeat_interleave(group_starts // batch_size, group_sizes)
    sizes = torch.bincount(batch_of_row)
    return list(torch.split(rows, sizes[sizes > 0].tolist()))


def sequential_batches(n, batch_size):
    """Row indices ``0 .. n - 1`` in order, in batches of ``batch_size``."""
    return list(torch.arange(n).split(batch_size))
