"""TF-GridNetV2 on a CUDA GPU against the same weights on the CPU (skipped without a GPU).

fp32 parity is checked with TF32 off (TF32 rounds matmul inputs to 10 mantissa bits); bf16 autocast
and gradient checkpointing against the GPU's own fp32 run.
"""

from __future__ import annotations

import copy

import pytest
import torch

from tfgridnet.model.tfgridnetv2 import TFGridNetV2

pytestmark = pytest.mark.cuda  # skipped without a GPU: tests/conftest.py

# Small but with every path exercised: 2 blocks, 65 bins, 4 heads; both unfold variants.
MID = dict(n_srcs=1, n_fft=128, stride=64, n_layers=2, lstm_hidden_units=16, attn_n_head=4,
           emb_dim=16, emb_ks=1, emb_hs=1)


@pytest.fixture
def no_tf32():
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def _model(**overrides) -> TFGridNetV2:
    torch.manual_seed(0)
    model = TFGridNetV2(**{**MID, **overrides})
    with torch.no_grad():  # non-trivial weights: the identity-like init hides layout mistakes
        for param in model.parameters():
            param.add_(torch.randn_like(param) * 0.05)
    return model


def _data(batch: int = 3, samples: int = 8000) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    noisy = 0.1 * torch.randn(batch, samples, generator=generator)
    return noisy, noisy + 0.05 * torch.randn(batch, samples, generator=generator)


def _loss_and_grads(model: TFGridNetV2, noisy: torch.Tensor, clean: torch.Tensor,
                    autocast: bool = False) -> tuple[torch.Tensor, list[torch.Tensor]]:
    model.zero_grad(set_to_none=True)
    with torch.autocast(noisy.device.type, dtype=torch.bfloat16, enabled=autocast):
        est = model(noisy)
    (est.float() - clean).square().mean().backward()
    return est.detach().float(), [p.grad.detach().clone() for p in model.parameters()]


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.double().cpu(), b.double().cpu()
    return float((a - b).norm() / b.norm())


def _assert_grads_close(model: TFGridNetV2, grads: list[torch.Tensor],
                        reference: list[torch.Tensor], rel: float) -> None:
    """Per parameter, relative to its own gradient, with a floor at 1e-6 of the whole gradient.

    The floor is for parameters whose exact gradient is zero: the keys' norm bias shifts every
    score of a query by the same amount, which the softmax ignores, so its gradient is rounding
    noise (~1e-13, seen on an H200) and a relative error of it means nothing.
    """
    floor = 1e-6 * float(torch.cat([g.double().flatten().cpu() for g in reference]).norm())
    for (name, _), grad, ref in zip(model.named_parameters(), grads, reference):
        grad, ref = grad.double().cpu(), ref.double().cpu()
        assert float((grad - ref).norm()) <= rel * max(float(ref.norm()), floor), name


@pytest.mark.parametrize("overrides", [{}, {"emb_ks": 4, "emb_hs": 1}],
                         ids=["linear", "unfold"])
def test_fp32_forward_and_backward_match_the_cpu(no_tf32, overrides) -> None:
    cpu = _model(**overrides).train()
    gpu = copy.deepcopy(cpu).cuda()
    noisy, clean = _data()
    out_cpu, grads_cpu = _loss_and_grads(cpu, noisy, clean)
    out_gpu, grads_gpu = _loss_and_grads(gpu, noisy.cuda(), clean.cuda())
    assert _rel(out_gpu, out_cpu) < 1e-4
    _assert_grads_close(cpu, grads_gpu, grads_cpu, rel=1e-3)


def test_bf16_autocast_forward_is_finite_and_close_to_fp32() -> None:
    model = _model().cuda().eval()
    noisy, _ = _data()
    noisy = noisy.cuda()
    with torch.no_grad():
        reference = model(noisy)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            mixed = model(noisy)
    assert mixed.dtype == torch.float32  # the iSTFT and the output scaling stay fp32
    assert torch.isfinite(mixed).all()
    assert _rel(mixed, reference) < 5e-2


@pytest.mark.parametrize("autocast", [False, True], ids=["fp32", "bf16"])
def test_gradient_checkpointing_gives_the_same_gradients(no_tf32, autocast) -> None:
    plain = _model().cuda().train()
    checkpointed = copy.deepcopy(plain)
    checkpointed.gradient_checkpointing = True
    noisy, clean = (t.cuda() for t in _data(batch=4))
    out_a, grads_a = _loss_and_grads(plain, noisy, clean, autocast)
    out_b, grads_b = _loss_and_grads(checkpointed, noisy, clean, autocast)
    # Recomputation is the same arithmetic on the same inputs; only the slicing of the batch
    # into halves can change the kernels' blocking, hence a tolerance rather than equality.
    if not autocast:
        assert _rel(out_b, out_a) < 1e-5
        _assert_grads_close(plain, grads_b, grads_a, rel=1e-4)
        return
    # bf16: re-blocked rounding moves tiny, cancelling gradients a lot, so compare the whole
    # gradient, and against what bf16 itself costs relative to fp32.
    _, grads_fp32 = _loss_and_grads(plain, noisy, clean, False)
    flat = [torch.cat([g.flatten() for g in grads]) for grads in (grads_a, grads_b, grads_fp32)]
    assert _rel(out_b, out_a) < 1e-2
    assert _rel(flat[1], flat[0]) < max(2 * _rel(flat[0], flat[2]), 1e-3)
