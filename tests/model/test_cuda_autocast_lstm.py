"""The BLSTMs under mixed precision (model/recurrence.py).

CUDA autocast would run cuDNN LSTMs in fp16 even in a bf16 region, with no gradient scaler under
``bf16-mixed``. The policy and the explicit-dtype path run here on the CPU; the last test checks the
real CUDA dispatch when a GPU is present.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tfgridnet.model import recurrence
from tfgridnet.model.recurrence import CUDNN_BF16_RNN_VERSION, lstm_compute_dtype, run_lstm
from tfgridnet.model.tfgridnetv2 import TFGridNetV2

from .conftest import TINY


@pytest.mark.parametrize(("device", "autocast", "cudnn", "onednn_bf16", "expected"), [
    ("cuda", torch.bfloat16, CUDNN_BF16_RNN_VERSION, True, torch.bfloat16),
    ("cuda", torch.bfloat16, CUDNN_BF16_RNN_VERSION - 1, True, torch.float32),
    ("cuda", torch.bfloat16, None, True, torch.float32),
    ("cuda", torch.float16, CUDNN_BF16_RNN_VERSION, True, None),  # autocast's own fp16 was asked
    ("cuda", None, CUDNN_BF16_RNN_VERSION, True, None),           # no autocast: the parameters' dtype
    ("cpu", torch.bfloat16, None, True, None),   # oneDNN's LSTM already follows autocast
    ("cpu", torch.bfloat16, None, False, torch.float32),  # AVX2 only: oneDNN has no bf16 LSTM
    ("cpu", None, None, False, None),
])
def test_policy(device, autocast, cudnn, onednn_bf16, expected) -> None:
    assert lstm_compute_dtype(device, autocast, cudnn, onednn_bf16) is expected


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.double() - b.double()).norm() / b.double().norm())


def test_explicit_bf16_matches_float64_and_trains_the_fp32_weights() -> None:
    torch.manual_seed(0)
    rnn = nn.LSTM(12, 16, 1, bidirectional=True)
    ref = nn.LSTM(12, 16, 1, bidirectional=True).double()
    ref.load_state_dict(rnn.state_dict())
    x = torch.randn(20, 3, 12)
    out = run_lstm(rnn, x, dtype=torch.bfloat16)
    expected = ref(x.double())[0]
    assert out.dtype == torch.bfloat16
    assert _rel(out, expected) < 2e-2
    out.float().square().sum().backward()
    expected.square().sum().backward()
    for (name, param), ref_param in zip(rnn.named_parameters(), ref.parameters()):
        assert param.dtype == torch.float32 and param.grad.dtype == torch.float32, name
        assert _rel(param.grad, ref_param.grad) < 5e-2, name


def test_the_model_routes_every_lstm_through_the_policy(monkeypatch) -> None:
    """With the policy forced to bf16, every BLSTM of the model sees bf16 input (CPU stand-in)."""
    monkeypatch.setattr(recurrence, "lstm_compute_dtype", lambda *args: torch.bfloat16)
    torch.manual_seed(0)
    model = TFGridNetV2(**TINY)
    seen: list[torch.dtype] = []
    for module in model.modules():
        if isinstance(module, nn.LSTM):
            module.register_forward_pre_hook(lambda _m, args: seen.append(args[0].dtype))
    with torch.autocast("cpu", dtype=torch.bfloat16):  # plain rnn(x) would get the fp32 input
        out = model(torch.randn(2, 1600))
    out.float().square().mean().backward()
    assert seen == [torch.bfloat16] * (2 * TINY["n_layers"])
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())


@pytest.mark.cuda
def test_cuda_bf16_autocast_runs_the_lstms_in_bf16_with_fp32_like_gradients() -> None:
    torch.manual_seed(0)
    model = TFGridNetV2(**TINY).cuda()
    seen: list[torch.dtype] = []
    for module in model.modules():
        if isinstance(module, nn.LSTM):
            module.register_forward_hook(lambda _m, _a, out: seen.append(out[0].dtype))
    noisy, clean = torch.randn(2, 2, 16000, device="cuda").unbind(0)

    def grads(autocast: bool) -> list[torch.Tensor]:
        model.zero_grad()
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=autocast):
            est = model(noisy)
        (est.float() - clean).square().mean().backward()
        return [p.grad.clone() for p in model.parameters()]

    reference = grads(False)
    seen.clear()
    mixed = grads(True)
    expected = lstm_compute_dtype("cuda", torch.bfloat16, torch.backends.cudnn.version())
    assert seen == [expected] * (2 * TINY["n_layers"])
    assert _rel(torch.cat([g.flatten() for g in mixed]),
                torch.cat([g.flatten() for g in reference])) < 5e-2
