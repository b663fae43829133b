"""`--precision auto`: bf16 exactly where /proc/cpuinfo advertises native bf16 (detection mocked)."""

from __future__ import annotations

import pytest
import torch

from tfgridnet.cli import build_parser
from tfgridnet.inference import precision as precision_mod
from tfgridnet.inference.enhancer import Enhancer
from tfgridnet.inference.precision import cpu_has_fast_bf16, resolve_precision

CPUINFO = "processor\t: 0\nflags\t\t: fpu sse2 avx2 {extra}\nmodel name\t: Test CPU\n"


@pytest.mark.parametrize("extra,fast", [("avx512f", False), ("avx512_bf16", True),
                                        ("amx_tile amx_bf16", True), ("", False)])
def test_cpuinfo_flags_decide(tmp_path, extra, fast):
    (tmp_path / "cpuinfo").write_text(CPUINFO.format(extra=extra))
    assert cpu_has_fast_bf16(tmp_path / "cpuinfo") is fast


def test_unreadable_cpuinfo_means_no_bf16(tmp_path):
    assert cpu_has_fast_bf16(tmp_path / "missing") is False


@pytest.mark.parametrize("fast", [True, False])
def test_auto_is_bf16_only_for_torch_on_a_fast_bf16_cpu(monkeypatch, fast):
    monkeypatch.setattr(precision_mod, "cpu_has_fast_bf16", lambda: fast)
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
