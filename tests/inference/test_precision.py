"""`--precision auto`: bf16 exactly where /proc/cpuinfo advertises native bf16 (detection mocked)."""

from __future__ import annotations

import pytest
import torch

from tfgridnet import hardware
from tfgridnet.cli import build_parser
from tfgridnet.inference.enhancer import Enhancer
from tfgridnet.inference.precision import resolve_precision


@pytest.mark.parametrize("fast", [True, False])
def test_auto_is_bf16_only_for_torch_on_a_fast_bf16_cpu(monkeypatch, fast):
    monkeypatch.setattr(hardware, "cpu_has_bf16", lambda *_: fast)
    assert resolve_precision("auto", "cpu") == ("bf16" if fast else "fp32")
    assert resolve_precision("auto", "cuda") == "fp32"
    assert resolve_precision("auto", "cpu", backend="onnx") == "fp32"
    assert resolve_precision("fp32", "cpu") == "fp32"
    assert resolve_precision("bf16", "cpu") == "bf16"
    model = torch.nn.Identity()
    assert Enhancer(model, sample_rate=8000, device="cpu").precision == (
        "bf16" if fast else "fp32")


def test_auto_is_the_default_of_the_cli_and_the_enhancer():
    args = build_parser().parse_args(["enhance", "m", "x.wav", "--out", "o"])
    assert args.precision == "auto" and args.backend == "torch"
    with pytest.raises(ValueError, match="precision='fp16'"):
        resolve_precision("fp16", "cpu")
