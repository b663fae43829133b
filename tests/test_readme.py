"""The README's Python blocks run verbatim (a user copies them as they are)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```$", README.read_text(encoding="utf-8"),
                    flags=re.DOTALL | re.MULTILINE)


def test_the_readme_has_python_blocks():
    assert BLOCKS


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_python_block_runs_verbatim(index, tmp_path, monkeypatch):
    import torch

    monkeypatch.chdir(tmp_path)
    torch.set_num_threads(1)
    exec(compile(BLOCKS[index], f"README.md python block {index + 1}", "exec"), {})
