from pathlib import Path

import pytest

# The project's data sets live beside the checkout, in ../shared/data; they are
# never copied into the project.
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data():
    """Path of ../shared/data; skips the test where that folder is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data folder {SHARED_DATA} is absent (installed copy?)")
    return SHARED_DATA
