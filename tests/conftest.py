"""Fixtures shared by every test folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch

# Flags of an x86 CPU without native bf16; tests add amx_bf16 / avx512_bf16 to it.
PLAIN_CPU_FLAGS = "fpu vme sse sse2 avx avx2 avx512f avx512bw"


@pytest.fixture
def fake_cpuinfo(tmp_path: Path) -> Callable[[str], Path]:
    """Write a two-processor /proc/cpuinfo with the plain flags plus ``extra``; return its path."""

    def write(extra: str = "") -> Path:
        flags = f"{PLAIN_CPU_FLAGS} {extra}".strip()
        path = tmp_path / f"cpuinfo_{abs(hash(extra))}"
        path.write_text(f"processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: {flags}\n\n"
                        f"processor\t: 1\nflags\t\t: {flags}\n")
        return path

    return write


@pytest.fixture
def one_torch_thread():
    """One intra-op thread: on a shared 2-core CI box, two threads spin-wait on each other."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(autouse=True, scope="session")
def private_check_cache(tmp_path_factory):
    """The data-check result cache of the tests lives in a temporary folder, never the user's
    (session scope: module-scoped fixtures run checks too)."""
    folder = tmp_path_factory.getbasetemp() / "check-cache"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TFGRIDNET_CACHE_DIR", str(folder))
        yield folder
