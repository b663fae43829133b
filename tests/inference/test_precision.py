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


@pytest.mark.parametrize(("cpu_class", "backend"), [
    ("avx2", "onnx"), ("avx512", "torch"), ("avx512_bf16", "torch"), ("amx", "torch")])
def test_backend_auto_picks_the_backend_measured_faster_on_each_cpu_family(simulate_cpu,
                                                                          cpu_class, backend):
    from tfgridnet.inference.precision import faster_cpu_backend, resolve_backend

    simulate_cpu(cpu_class)
    assert faster_cpu_backend() == backend
    assert resolve_backend("auto", has_onnx=True, on_gpu=False) == backend
    # torch whenever onnxruntime cannot do what is asked, or there is no model.onnx
    assert resolve_backend("auto", has_onnx=False, on_gpu=False) == "torch"
    assert resolve_backend("auto", has_onnx=True, on_gpu=True) == "torch"
    assert resolve_backend("auto", has_onnx=True, on_gpu=False, compile=True) == "torch"
    assert resolve_backend("auto", has_onnx=True, on_gpu=False, precision="bf16") == "torch"
    assert resolve_backend("onnx", has_onnx=False, on_gpu=False) == "onnx"  # as asked
    with pytest.raises(ValueError, match="backend='tpu'"):
        resolve_backend("tpu", has_onnx=True, on_gpu=False)


def test_backend_auto_is_offered_by_the_cli():
    args = build_parser().parse_args(["enhance", "m", "x.wav", "--out", "o", "--backend", "auto"])
    assert args.backend == "auto"
