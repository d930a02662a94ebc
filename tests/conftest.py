from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

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


@pytest.fixture(autouse=True)
def still_one_torch_thread(one_torch_thread):
    # Some libraries reset the shared OpenMP runtime's threads when they run
    # (numba, under pynndescent, sets 2 here), and a float32 sum over two
    # threads rounds otherwise: a test's numbers must not depend on the tests
    # that ran before it.
    if torch.get_num_threads() != 1:
        torch.set_num_threads(1)


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


# The digits, shared by the test modules: the whole set scaled to [0, 1], its
# first 300 rows scaled, and its first 400 rows as they come (0 to 16).
@pytest.fixture(scope="session")
def digits():
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


@pytest.fixture(scope="session")
def digits300():
    X, y = load_digits(return_X_y=True)
    return X[:300] / 16.0, y[:300]


@pytest.fixture(scope="session")
def digits400_raw():
    X, y = load_digits(return_X_y=True)
    return X[:400], y[:400]
