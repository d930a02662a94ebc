"""The Python shown in README.md runs as written."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_python_block_runs(index, shared_data, monkeypatch, tmp_path):
    # Blocks that read Omniglot find it in ../shared/data, as the README says.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SKSIAMESE_DATA", str(shared_data))
    exec(compile(BLOCKS[index], f"README.md block {index}", "exec"), {})
