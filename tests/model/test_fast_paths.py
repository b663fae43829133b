"""The speed/memory paths of the model: per-path checkpointing, the channel-last norms and deconv.

The block's channel-last path as a whole is checked against ESPnet's own output
(test_espnet_fixtures.py); here each normalisation's fast path is checked against its reference
layout and both against the float64 definition."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tfgridnet.model.stack import deconv_channel_last, embed_channel_last
from tfgridnet.model.tfgridnetv2 import (
    AllHeadPReLULayerNormalization4DCF,
    LayerNormalization4DCF,
    TFGridNetV2,
)

CONF = dict(n_srcs=1, n_fft=64, stride=32, n_layers=2, lstm_hidden_units=16, attn_n_head=2,
            emb_dim=16)


def saved_activation_bytes(model: TFGridNetV2, noisy: torch.Tensor) -> int:
    """Bytes autograd keeps for backward after a training forward (each storage counted once)."""
    storages: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    model.train()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        model(noisy)
    return sum(storages.values())


def test_path_checkpointing_keeps_a_small_fraction_of_the_activations() -> None:
    torch.manual_seed(0)
    plain = TFGridNetV2(**CONF, emb_ks=1, emb_hs=1)
    ckpt = TFGridNetV2(**CONF, emb_ks=1, emb_hs=1, gradient_checkpointing=True)
    noisy = torch.randn(2, 32 * 60)
    kept = saved_activation_bytes(ckpt, noisy) / saved_activation_bytes(plain, noisy)
    # Only the three sub-path inputs per block (plus conv/STFT ends) survive the forward.
    assert kept < 0.1


@pytest.mark.parametrize(("emb_ks", "emb_hs"), [(1, 1), (4, 4), (4, 2)])
def test_path_checkpointing_gives_the_same_gradients(emb_ks: int, emb_hs: int) -> None:
    torch.manual_seed(0)
    plain = TFGridNetV2(**CONF, emb_ks=emb_ks, emb_hs=emb_hs)
    ckpt = TFGridNetV2(**plain.config, gradient_checkpointing=True)
    ckpt.load_state_dict(plain.state_dict())
    noisy, clean = torch.randn(2, 1000), torch.randn(2, 1000)
    grads = []
    for model in (plain, ckpt):
        model.train()
        model.zero_grad()
        ((model(noisy) - clean) ** 2).mean().backward()
        grads.append({k: p.grad.clone() for k, p in model.named_parameters()})
    for name, grad in grads[0].items():
        torch.testing.assert_close(grads[1][name], grad, rtol=1e-5, atol=1e-7, msg=name)


def _numpy_norm(x: np.ndarray, axes: tuple[int, ...], eps: float) -> np.ndarray:
    """Layer normalisation over ``axes`` in float64: the definition, nothing fused."""
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + eps)


def test_cf_norm_reference_layout_and_channel_last_path_match_float64() -> None:
    # The reference layout [B, C, T, F] is the oracle the model's channel-last path must equal.
    torch.manual_seed(0)
    norm = LayerNormalization4DCF((6, 17), eps=1e-5)
    with torch.no_grad():
        norm.gamma.normal_()
        norm.beta.normal_()
    x = 3.0 + 2.0 * torch.randn(2, 6, 5, 17)  # [B, C, T, F]
    gamma, beta = norm.gamma.detach().double().numpy(), norm.beta.detach().double().numpy()
    expected = _numpy_norm(x.double().numpy(), (1, 3), 1e-5) * gamma + beta
    with torch.no_grad():
        reference = norm(x)
        fast = norm.forward_channel_last(x.permute(0, 2, 3, 1))  # [B, T, F, C]
    np.testing.assert_allclose(reference.double().numpy(), expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(fast.permute(0, 3, 1, 2).double().numpy(), expected,
                               rtol=1e-4, atol=1e-5)


def test_all_head_norm_reference_layout_and_heads_first_path_match_float64() -> None:
    torch.manual_seed(0)
    heads, emb, n_freqs = 2, 3, 9
    norm = AllHeadPReLULayerNormalization4DCF((heads, emb, n_freqs), eps=1e-5)
    with torch.no_grad():
        norm.gamma.normal_()
        norm.beta.normal_()
        norm.act.weight.copy_(torch.tensor([0.1, 0.7]))
    x = torch.randn(2, heads * emb, 4, n_freqs)  # [B, H*E, T, F], head-major channels
    slope = norm.act.weight.detach().double().numpy()[None, :, None, None, None]
    h = x.double().numpy().reshape(2, heads, emb, 4, n_freqs)
    h = np.where(h >= 0, h, slope * h)  # per-head PReLU
    gamma, beta = norm.gamma.detach().double().numpy(), norm.beta.detach().double().numpy()
    expected = _numpy_norm(h, (2, 4), 1e-5) * gamma + beta  # [B, H, E, T, F]
    with torch.no_grad():
        reference = norm(x)
        heads_first = x.view(2, heads, emb, 4, n_freqs).permute(0, 1, 3, 4, 2)  # [B, H, T, F, E]
        fast = norm.forward_heads_first(heads_first.contiguous())
    np.testing.assert_allclose(reference.double().numpy(), expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(fast.permute(0, 1, 4, 2, 3).double().numpy(), expected,
                               rtol=1e-4, atol=1e-5)


def _numpy_transposed_conv(h: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """The definition, scattering each input position: [B, C, T, F] -> [B, O, T, F], padding 1."""
    batch, _, n_frames, n_freqs = h.shape
    full = np.zeros((batch, weight.shape[1], n_frames + 2, n_freqs + 2))
    for kt in range(3):
        for kf in range(3):
            # input (t, f) adds W[:, :, kt, kf] to full-size output (t + kt, f + kf)
            full[:, :, kt:kt + n_frames, kf:kf + n_freqs] += np.einsum(
                "bctf,co->botf", h, weight[:, :, kt, kf])
    return full[:, :, 1:-1, 1:-1] + bias[None, :, None, None]


@pytest.mark.parametrize("n_out", [2, 4])
def test_channel_last_deconv_matches_float64_definition_and_module(n_out: int) -> None:
    torch.manual_seed(0)
    deconv = torch.nn.ConvTranspose2d(6, n_out, (3, 3), padding=(1, 1))
    h = torch.randn(5, 2, 7, 6, requires_grad=True)  # [T, B, F, C]
    fast = deconv_channel_last(deconv, h)
    reference = deconv(h.permute(1, 3, 0, 2))
    expected = _numpy_transposed_conv(h.detach().permute(1, 3, 0, 2).double().numpy(),
                                      deconv.weight.detach().double().numpy(),
                                      deconv.bias.detach().double().numpy())
    np.testing.assert_allclose(fast.detach().double().numpy(), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(reference.detach().double().numpy(), expected, rtol=1e-5, atol=1e-5)
    # the training path: the same gradients as the module's own
    probe = torch.randn_like(fast)
    grads_fast = torch.autograd.grad((fast * probe).sum(), (h, deconv.weight, deconv.bias))
    grads_ref = torch.autograd.grad((reference * probe).sum(), (h, deconv.weight, deconv.bias))
    for got, want in zip(grads_fast, grads_ref):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_channel_last_deconv_refuses_other_geometries() -> None:
    with pytest.raises(ValueError, match="3x3, stride 1, padding 1"):
        deconv_channel_last(torch.nn.ConvTranspose2d(4, 2, (3, 3), padding=(1, 1), stride=2),
                            torch.randn(3, 1, 5, 4))


def _numpy_embed(spec: np.ndarray, weight: np.ndarray, bias: np.ndarray, gamma: np.ndarray,
                 beta: np.ndarray, eps: float) -> np.ndarray:
    """The definition: 3x3 correlation with zero padding 1, then one mean/var per batch item."""
    batch, _, n_frames, n_freqs = spec.shape
    padded = np.pad(spec, ((0, 0), (0, 0), (1, 1), (1, 1)))
    out = np.zeros((batch, weight.shape[0], n_frames, n_freqs)) + bias[None, :, None, None]
    for kt in range(3):
        for kf in range(3):
            out += np.einsum("bctf,oc->botf", padded[:, :, kt:kt + n_frames, kf:kf + n_freqs],
                             weight[:, :, kt, kf])
    mean = out.mean(axis=(1, 2, 3), keepdims=True)
    var = out.var(axis=(1, 2, 3), keepdims=True)
    return (out - mean) / np.sqrt(var + eps) * gamma[None, :, None, None] \
        + beta[None, :, None, None]


@pytest.mark.parametrize("n_in", [2, 4])
def test_channel_last_embed_matches_float64_definition_and_module(n_in: int) -> None:
    torch.manual_seed(0)
    embed = torch.nn.Sequential(torch.nn.Conv2d(n_in, 6, (3, 3), padding=(1, 1)),
                                torch.nn.GroupNorm(1, 6, eps=1e-5))
    with torch.no_grad():  # a non-trivial affine
        embed[1].weight.uniform_(0.5, 1.5)
        embed[1].bias.uniform_(-0.5, 0.5)
    spec = torch.randn(2, n_in, 7, 5, requires_grad=True)  # [B, 2M, T, F]
    fast = embed_channel_last(embed, spec)  # [T, B, F, C]
    reference = embed(spec).permute(2, 0, 3, 1)
    expected = _numpy_embed(spec.detach().double().numpy(),
                            *(p.detach().double().numpy() for p in embed.parameters()),
                            eps=1e-5).transpose(2, 0, 3, 1)
    np.testing.assert_allclose(fast.detach().double().numpy(), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(reference.detach().double().numpy(), expected, rtol=1e-5, atol=1e-5)
    probe = torch.randn_like(fast)
    params = (spec, *embed.parameters())
    grads_fast = torch.autograd.grad((fast * probe).sum(), params)
    grads_ref = torch.autograd.grad((reference * probe).sum(), params)
    for got, want in zip(grads_fast, grads_ref):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)


def test_channel_last_embed_refuses_other_geometries() -> None:
    strided = torch.nn.Sequential(torch.nn.Conv2d(2, 4, (3, 3), padding=(1, 1), stride=2),
                                  torch.nn.GroupNorm(1, 4))
    with pytest.raises(ValueError, match="3x3, stride 1, padding 1"):
        embed_channel_last(strided, torch.randn(1, 2, 5, 4))
    grouped = torch.nn.Sequential(torch.nn.Conv2d(2, 4, (3, 3), padding=(1, 1)),
                                  torch.nn.GroupNorm(2, 4))
    with pytest.raises(ValueError, match="GroupNorm"):
        embed_channel_last(grouped, torch.randn(1, 2, 5, 4))


def test_model_output_is_the_same_with_the_channel_last_embed() -> None:
    torch.manual_seed(0)
    model = TFGridNetV2(**CONF).eval()
    spec = torch.randn(2, 2, 9, 33)
    with torch.no_grad():
        torch.testing.assert_close(model._network(spec, channel_last_embed=True),
                                   model._network(spec), rtol=1e-4, atol=1e-5)
