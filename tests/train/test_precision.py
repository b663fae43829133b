"""``trainer.precision: auto`` on CPUs with and without native bf16 (cpuinfo mocked; the flag
parsing itself: tests/test_hardware.py)."""

from __future__ import annotations

import json

import pytest
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


@pytest.mark.parametrize(("cpu_class", "precision", "lstm_dtype"), [
    ("avx2", "32-true", torch.float32),          # AMD Zen 3: fp32, nothing emulated
    ("avx512_bf16", "bf16-mixed", torch.bfloat16),  # AMD Zen 4 class, no AMX
])
def test_auto_precision_trains_on_each_simulated_cpu_class(
        make_config, tmp_path, simulate_cpu, rnn_op_dtypes, cpu_class, precision, lstm_dtype):
    """``trainer.precision: auto`` end to end on a simulated CPU: the resolved precision, and the
    dtype every BLSTM of the model really returns (a bf16 LSTM where the CPU has bf16). Where this
    CPU cannot create oneDNN's bf16 LSTM, those calls run emulated (tests/conftest.py)."""
    from tfgridnet.model.recurrence import ONEDNN_BF16_LSTM as REAL_ONEDNN_BF16_LSTM
    from tfgridnet.train.config_files import config_from_dict
    from tfgridnet.train.run import train

    simulate_cpu(cpu_class)
    config = config_from_dict(make_config(trainer={"max_epochs": 1, "precision": "auto",
                                                   "accelerator": "cpu"}))
    outputs: list[torch.dtype] = []
    hook = torch.nn.modules.module.register_module_forward_hook(
        lambda module, args, out: outputs.append(out[0].dtype)
        if isinstance(module, torch.nn.LSTM) else None)
    try:
        with rnn_op_dtypes(emulate_bf16=not REAL_ONEDNN_BF16_LSTM):
            run = train(config, tmp_path / "run").run_dir
    finally:
        hook.remove()
    assert json.loads((run / "environment.json").read_text())["precision"] == precision
    assert outputs and set(outputs) == {lstm_dtype}
    assert "emulated" not in (run / "logs" / "train.log").read_text()
