"""Tests of the batch samplers in ``sksiamese._sampling``.

The module is private and has no public path: its functions are imported and
tested directly, since the estimators' tests only see their effect on training.
"""

import pytest
import torch

from sksiamese._sampling import balanced_batches, sequential_batches


def codes_of(counts):
    """Class codes with ``counts[c]`` rows of class ``c``, in a mixed order."""
    codes = torch.repeat_interleave(torch.arange(len(counts)), torch.tensor(counts))
    return codes[torch.randperm(len(codes), generator=torch.Generator().manual_seed(0))]


def epoch(codes, batch_size, k, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return balanced_batches(codes, batch_size, k, gen)


def group_sizes(count, k):
    """The sizes of the groups a class of ``count`` rows is cut into."""
    sizes = [k] * (count // k) + ([count % k] if count % k else [])
    if len(sizes) > 1 and sizes[-1] == 1:
        sizes[-2:] = [k + 1]
    return sizes


# Several class sizes: multiples of K, K * q + 1 (a tail of one), a single row,
# fewer rows than K, and a class code without any row.
COUNTS = [8, 9, 5, 1, 3, 0, 12, 6, 4, 13]


@pytest.mark.parametrize("batch_size", [1, 7, 16, 64, 1000])
@pytest.mark.parametrize("k", [2, 4])
def test_every_row_exactly_once_per_epoch(batch_size, k):
    codes = codes_of(COUNTS)
    batches = epoch(codes, batch_size, k)
    assert all(b.dtype == torch.int64 and len(b) > 0 for b in batches)
    assert torch.equal(torch.cat(batches).sort().values, torch.arange(len(codes)))


@pytest.mark.parametrize("batch_size", [1, 7, 16, 64])
@pytest.mark.parametrize("k", [2, 4])
def test_groups_of_k_stay_together(batch_size, k):
    codes = codes_of(COUNTS)
    batches = epoch(codes, batch_size, k)
    for c, count in enumerate(COUNTS):
        per_batch = [int((codes[b] == c).sum()) for b in batches]
        present = sorted(n for n in per_batch if n)
        sizes = group_sizes(count, k)
        assert sum(present) == count
        # A batch holds whole groups: its rows of one class are a multiple of
        # K, but in the one batch that holds the class's odd-sized group.
        odd = [s for s in sizes if s % k]
        assert sum(n % k != 0 for n in present) == len(odd)
        if odd:
            assert [n % k for n in present if n % k] == [odd[0] % k]
        if count > 1:
            # So a class with two rows or more is never alone in a batch.
            assert min(present) >= 2


def test_a_tail_of_one_joins_the_group_before_it():
    # 9 rows of one class, K = 4: groups of 4 and 5, never 4, 4 and 1.
    codes = codes_of([9, 8])
    for seed in range(10):
        batches = epoch(codes, 4, 4, seed)
        per_batch = sorted(int((codes[b] == 0).sum()) for b in batches)
        assert [n for n in per_batch if n] == [4, 5]


@pytest.mark.parametrize("batch_size", [5, 16, 33])
@pytest.mark.parametrize("k", [2, 4])
def test_batch_sizes_differ_from_batch_size_by_less_than_one_group(batch_size, k):
    codes = codes_of(COUNTS * 3)
    largest_group = max(max(group_sizes(c, k), default=0) for c in COUNTS)
    for seed in range(5):
        sizes = [len(b) for b in epoch(codes, batch_size, k, seed)]
        # The last batch is what remains of the epoch.
        assert all(abs(s - batch_size) < largest_group for s in sizes[:-1])
        assert 0 < sizes[-1] < batch_size + largest_group


def test_same_seed_same_batches_other_seed_other_batches():
    codes = codes_of(COUNTS)
    first, again = epoch(codes, 8, 2, seed=0), epoch(codes, 8, 2, seed=0)
    other = epoch(codes, 8, 2, seed=1)
    assert len(first) == len(again)
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert torch.cat(first).tolist() != torch.cat(other).tolist()


def test_only_the_generator_is_drawn_from():
    codes = codes_of(COUNTS)
    torch.manual_seed(123)
    state = torch.get_rng_state()
    first = epoch(codes, 8, 2)
    assert torch.equal(torch.get_rng_state(), state)
    # And the global seed does not change the batches.
    torch.manual_seed(456)
    again = epoch(codes, 8, 2)
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))


def test_a_generator_continues_from_epoch_to_epoch():
    codes = codes_of(COUNTS)
    gen = torch.Generator().manual_seed(0)
    first = torch.cat(balanced_batches(codes, 8, 2, gen))
    second = torch.cat(balanced_batches(codes, 8, 2, gen))
    assert first.tolist() != second.tolist()
    assert torch.equal(second.sort().values, torch.arange(len(codes)))


@pytest.mark.parametrize("n, batch_size, sizes", [
    (10, 4, [4, 4, 2]), (8, 4, [4, 4]), (3, 10, [3]),
])
def test_sequential_batches_are_in_order(n, batch_size, sizes):
    batches = sequential_batches(n, batch_size)
    assert [len(b) for b in batches] == sizes
    assert torch.cat(batches).tolist() == list(range(n))
