from pathlib import Path

import numpy as np
import pytest
import torch

# The project's data sets live beside the checkout, in ../shared/data; they are
# never copied into the project.
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data():
    """Path of ../shared/data; skips the test where that folder is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data folder {SHARED_DATA} is absent (installed copy?)")
    return SHARED_DATA


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread():
    # The tensors in the tests are tiny, so a second intra-op thread gains
    # nothing; on a busy machine it makes every op wait for a descheduled
    # thread (measured: tests 5-10x slower).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _graded_pairs(n=300, n_features=4, seed=0):
    rng = np.random.default_rng(seed)
    left = rng.normal(size=(n, n_features))
    closeness = rng.uniform(size=n)
    right = left + 2 * (1 - closeness)[:, None] * rng.normal(size=(n, n_features))
    return np.stack([left, right], axis=1).astype(np.float32), 1 + 4 * closeness


@pytest.fixture(scope="session")
def graded_pairs():
    """Make ``(pairs, y)``: the right side is the left plus noise that shrinks with y.

    ``graded_pairs(n=300, n_features=4, seed=0)``; y lies in [1, 5].
    """
    return _graded_pairs
