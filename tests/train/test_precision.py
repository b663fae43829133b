"""``trainer.precision: auto`` on CPUs with and without native bf16 (cpuinfo mocked; the flag
parsing itself: tests/test_hardware.py)."""

from __future__ import annotations

import torch

from tfgridnet.train.precision import auto_precision, emulated_bf16_note


def test_auto_precision_on_the_cpu(fake_cpuinfo, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with_bf16, without = fake_cpuinfo("amx_bf16"), fake_cpuinfo("")
    assert auto_precision("auto", with_bf16) == "bf16-mixed"
    assert auto_precision("cpu", with_bf16) == "bf16-mixed"
    assert auto_precision("auto", without) == "32-true"
    assert auto_precision("mps", with_bf16) == "32-true"


def test_auto_precision_on_a_gpu(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert auto_precision("auto", tmp_path / "missing") == "bf16-mixed"
    assert auto_precision("cpu", tmp_path / "missing") == "32-true"


def test_an_explicit_bf16_run_on_a_cpu_without_bf16_is_flagged(fake_cpuinfo, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with_bf16, without = fake_cpuinfo("amx_bf16"), fake_cpuinfo("avx2")
    note = emulated_bf16_note("bf16-mixed", "auto", without)
    assert note and "emulated" in note and "avx512_bf16" in note
    assert emulated_bf16_note("bf16-mixed", "cpu", with_bf16) is None
    assert emulated_bf16_note("32-true", "cpu", without) is None
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert emulated_bf16_note("bf16-mixed", "auto", without) is None  # trains on the GPU
