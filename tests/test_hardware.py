"""CPU bf16 detection from /proc/cpuinfo flags: the one detector behind both precision 'auto's."""

from __future__ import annotations

import pytest
import torch

from tfgridnet.hardware import bf16_emulation_note, cpu_has_bf16, cpu_model, machine_line


@pytest.mark.parametrize("extra,expected", [("", False), ("amx_tile amx_bf16", True),
                                            ("avx512_bf16", True), ("avx512_bf16x", False),
                                            ("avx512f", False)])
def test_bf16_is_detected_from_the_cpu_flags(fake_cpuinfo, extra, expected):
    assert cpu_has_bf16(fake_cpuinfo(extra)) is expected


def test_unreadable_cpuinfo_means_no_bf16(tmp_path):
    assert cpu_has_bf16(tmp_path / "missing") is False
    assert cpu_model(tmp_path / "missing")  # the platform's name, never empty


def test_the_machine_line_names_the_cpu_and_every_flag_that_picks_a_path(fake_cpuinfo):
    line = machine_line(fake_cpuinfo("avx512_bf16"))
    assert line.startswith("CPU: Some CPU,")
    for flag, present in (("avx2", "yes"), ("avx512f", "yes"), ("avx512_bf16", "yes"),
                          ("amx_bf16", "no")):
        assert f"{flag}={present}" in line
    assert "oneDNN bf16 LSTM=" in line and "CUDA=" in line


def test_the_emulation_note_is_given_only_without_bf16(fake_cpuinfo):
    assert bf16_emulation_note(fake_cpuinfo("avx512_bf16")) is None
    assert "emulated" in bf16_emulation_note(fake_cpuinfo("avx2"))


# What each CPU class runs (CPU_CLASSES in tests/conftest.py), simulated on any machine: the
# inference and training 'auto' precisions, the emulation note of an explicit bf16, and the dtype
# run_lstm forces on an LSTM under bf16 autocast (None: autocast's own bf16 LSTM).
CPU_CLASS_POLICY = {
    "avx2": ("fp32", "32-true", True, torch.float32),
    "avx512": ("fp32", "32-true", True, None),
    "avx512_bf16": ("bf16", "bf16-mixed", False, None),
    "amx": ("bf16", "bf16-mixed", False, None),
}


@pytest.mark.parametrize("cpu_class", sorted(CPU_CLASS_POLICY))
def test_each_cpu_class_gets_its_precision_everywhere(simulate_cpu, cpu_class):
    from tfgridnet.inference.enhancer import Enhancer
    from tfgridnet.inference.precision import resolve_precision
    from tfgridnet.model import recurrence
    from tfgridnet.train.precision import auto_precision, emulated_bf16_note

    inference, training, emulated, lstm_dtype = CPU_CLASS_POLICY[cpu_class]
    simulate_cpu(cpu_class)
    assert resolve_precision("auto", "cpu") == inference
    assert resolve_precision("auto", "cpu", backend="onnx") == "fp32"
    assert Enhancer(torch.nn.Identity(), sample_rate=8000, device="cpu").precision == inference
    assert auto_precision("auto") == auto_precision("cpu") == training
    assert (bf16_emulation_note() is not None) is emulated
    assert (emulated_bf16_note("bf16-mixed", "cpu") is not None) is emulated
    assert recurrence.lstm_compute_dtype("cpu", torch.bfloat16, None,
                                         recurrence.ONEDNN_BF16_LSTM) == lstm_dtype
    line = machine_line()
    assert f"simulated {cpu_class} CPU" in line and "CUDA=no" in line
    assert ("avx512_bf16=yes" in line) is (cpu_class in ("avx512_bf16", "amx"))
    assert ("amx_bf16=yes" in line) is (cpu_class == "amx")
