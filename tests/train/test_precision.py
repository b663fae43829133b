"""``trainer.precision: auto`` on CPUs with and without native bf16 (cpuinfo mocked; the flag
parsing itself: tests/test_hardware.py)."""

from __future__ import annotations

import torch

from tfgridnet.train.precision import auto_precision

FLAGS = "fpu vme sse sse2 avx avx2 avx512f avx512bw"


def _cpuinfo(tmp_path, flags: str):
    path = tmp_path / "cpuinfo"
    path.write_text(f"processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: {flags}\n\n"
                    f"processor\t: 1\nflags\t\t: {flags}\n")
    return path


def test_auto_precision_on_the_cpu(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with_bf16, without = _cpuinfo(tmp_path, f"{FLAGS} amx_bf16"), tmp_path / "plain"
    without.write_text(f"flags\t: {FLAGS}\n")
    assert auto_precision("auto", with_bf16) == "bf16-mixed"
    assert auto_precision("cpu", with_bf16) == "bf16-mixed"
    assert auto_precision("auto", without) == "32-true"
    assert auto_precision("mps", with_bf16) == "32-true"


def test_auto_precision_on_a_gpu(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert auto_precision("auto", tmp_path / "missing") == "bf16-mixed"
    assert auto_precision("cpu", tmp_path / "missing") == "32-true"
