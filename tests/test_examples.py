"""The demo and every gallery example run to the end, as a user would run them."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SHARED_DATA

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("plot_*.py"))


def run_script(path, *args, cwd):
    env = {**os.environ, "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"}
    # The Omniglot and SICK examples find their data through SKSIAMESE_DATA.
    if not env.get("SKSIAMESE_DATA") and SHARED_DATA.is_dir():
        env["SKSIAMESE_DATA"] = str(SHARED_DATA)
    result = subprocess.run([sys.executable, str(path), *args], cwd=cwd, env=env,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_gallery_example_runs(path, tmp_path):
    pytest.importorskip("matplotlib")
    run_script(path, cwd=tmp_path)


@pytest.mark.slow
def test_demo_prints_its_table_and_writes_the_figure(tmp_path):
    pytest.importorskip("matplotlib")
    out = run_script(ROOT / "examples" / "demo_digits.py", "--epochs", "5",
                     "--output", str(tmp_path), cwd=tmp_path)
    assert "1-NN accuracy, test split" in out
    assert "pair verification accuracy, test pairs" in out
    assert "5-way 1-shot accuracy, digits 5-9 unseen" in out
    assert "train_loss" in out  # per-epoch progress
    assert (tmp_path / "digits_embedding_2d.png").stat().st_size > 10_000
