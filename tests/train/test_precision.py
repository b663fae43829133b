"""``trainer.precision: auto`` on CPUs with and without native bf16 (cpuinfo mocked)."""

from __future__ import annotations

import pytest
import torch

from tfgridnet.train.precision import auto_precision, cpu_has_bf16

FLAGS = "fpu vme sse sse2 avx avx2 avx512f avx512bw"


def _cpuinfo(tmp_path, flags: str):
    path = tmp_path / "cpuinfo"
    path.write_text(f"processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: {flags}\n\n"
                    f"processor\t: 1\nflags\t\t: {flags}\n")
    return path


@pytest.mark.parametrize("extra,expected", [("", False), ("amx_tile amx_bf16", True),
                                            ("avx512_bf16", True), ("avx512_bf16x", False)])
def test_bf16_is_detected_from_the_cpu_flags(tmp_path, extra, expected):
    assert cpu_has_bf16(_cpuinfo(tmp_path, f"{FLAGS} {extra}")) is expected


def test_unreadable_cpuinfo_means_no_bf16(tmp_path):
    assert cpu_has_bf16(tmp_path / "missing") is False


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
