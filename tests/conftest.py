from pathlib import Path

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
