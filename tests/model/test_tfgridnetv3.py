"""TFGridNetV3 beyond the ESPnet fixtures: rates, edges, normalisation, checkpointing, export."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from tests.tiny import tiny_args

from tfgridnet.model.io import load_model, save_exported
from tfgridnet.model.tfgridnetv3 import (
    AllHeadPReLULayerNormalization4DC,
    LayerNormalization4DC,
    TFGridNetV3,
)

TINY_V3 = tiny_args("v3")


@pytest.fixture
def tiny_v3() -> TFGridNetV3:
    torch.manual_seed(0)
    model = TFGridNetV3(**TINY_V3).eval()
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn_like(param) * 0.1)
    return model


@pytest.mark.parametrize("sample_rate", [8000, 16000, 44100, 48000])
def test_one_model_runs_at_every_rate_with_scaled_hop(tiny_v3: TFGridNetV3,
                                                      sample_rate: int) -> None:
    assert tiny_v3.hop_at(sample_rate) == 32 * sample_rate // 8000
    assert tiny_v3.stft_at(sample_rate).n_fft == 64 * sample_rate // 8000
    noisy = 0.1 * torch.randn(2, sample_rate // 5)
    with torch.no_grad():
        out = tiny_v3(noisy, sample_rate=sample_rate)
    assert out.shape == noisy.shape and torch.isfinite(out).all()


@pytest.mark.parametrize("sample_rate", [8000, 48000])
@pytest.mark.parametrize("remainder", [0, 1, 7, -2, -1])
def test_output_stays_bounded_at_every_length_modulo_hop(tiny_v3: TFGridNetV3, sample_rate: int,
                                                         remainder: int) -> None:
    hop = tiny_v3.hop_at(sample_rate)
    n_samples = hop * 40 + remainder
    noisy = 0.1 * torch.randn(1, n_samples)
    with torch.no_grad():
        out = tiny_v3(noisy, sample_rate=sample_rate)
    body_peak = out[:, : n_samples - 2 * hop].abs().max()
    tail_peak = out[:, n_samples - 2 * hop:].abs().max()
    assert torch.isfinite(out).all()
    assert tail_peak < 3 * body_peak


@pytest.mark.parametrize("n_samples", [1, 10, 100])
def test_inputs_shorter_than_half_a_window_still_enhance(tiny_v3: TFGridNetV3,
                                                         n_samples: int) -> None:
    # At 48 kHz the window is 384 samples: the centred STFT could not reflect-pad these.
    with torch.no_grad():
        out = tiny_v3(torch.randn(2, n_samples), sample_rate=48000)
    assert out.shape == (2, n_samples) and torch.isfinite(out).all()


def test_variance_normalisation_makes_the_model_scale_equivariant(tiny_v3: TFGridNetV3) -> None:
    noisy = 0.1 * torch.randn(1, 1600)
    with torch.no_grad():
        out = tiny_v3(noisy)
        louder = tiny_v3(noisy * 37.0)
    assert (louder - out * 37.0).abs().max() < 1e-5 * louder.abs().max()
    plain = TFGridNetV3(**{**TINY_V3, "normalize_variance": False}).eval()
    plain.load_state_dict(tiny_v3.state_dict())
    with torch.no_grad():
        assert not torch.allclose(plain(noisy * 37.0), plain(noisy) * 37.0, rtol=1e-2)


def test_silent_input_gives_silence(tiny_v3: TFGridNetV3) -> None:
    with torch.no_grad():
        out = tiny_v3(torch.zeros(2, 1600), sample_rate=16000)
    assert torch.isfinite(out).all() and out.abs().max() < 1e-6


def test_lengths_zero_the_padding_of_shorter_items(tiny_v3: TFGridNetV3) -> None:
    with torch.no_grad():
        out = tiny_v3(torch.randn(2, 1600), lengths=torch.tensor([1600, 700]), sample_rate=16000)
    assert out[1, 700:].abs().max() == 0 and out[1, :700].abs().max() > 0


def test_gradient_checkpointing_gives_the_same_gradients(tiny_v3: TFGridNetV3) -> None:
    ckpt = TFGridNetV3(**tiny_v3.config, gradient_checkpointing=True)
    ckpt.load_state_dict(tiny_v3.state_dict())
    noisy = torch.randn(2, 1600)
    grads = []
    for model in (tiny_v3, ckpt):
        model.train().zero_grad()
        model(noisy, sample_rate=16000).pow(2).sum().backward()
        grads.append({k: p.grad.clone() for k, p in model.named_parameters()})
    # float32 sums over half batches (other GEMM shapes, other kernels on other CPUs) round
    # differently: ~1e-5 of a parameter's largest component (1.2e-5 measured on an AVX2 CPU), and
    # a gradient that should be ~0 carries the rounding of the large terms it cancels. A wrong
    # gradient is off by its own size.
    largest = max(grad.abs().max() for grad in grads[0].values())
    for name, grad in grads[0].items():
        tol = 1e-4 * grad.abs().max() + 1e-6 * largest
        assert (grads[1][name] - grad).abs().max() <= tol, name


def test_norms_match_a_float64_reference() -> None:
    torch.manual_seed(1)
    heads = AllHeadPReLULayerNormalization4DC((2, 3))
    channels = LayerNormalization4DC(6)
    with torch.no_grad():
        for param in [*heads.parameters(), *channels.parameters()]:
            param.add_(torch.randn_like(param))
    x = torch.randn(2, 6, 5, 7)
    xn = x.double().numpy().reshape(2, 2, 3, 5, 7)
    slope = heads.act.weight.detach().double().numpy()[None, :, None, None, None]
    act = np.where(xn >= 0, xn, slope * xn)
    ref = (act - act.mean(2, keepdims=True)) / np.sqrt(act.var(2, keepdims=True) + 1e-5)
    ref = ref * heads.gamma.detach().double().numpy() + heads.beta.detach().double().numpy()
    np.testing.assert_allclose(heads(x).detach().numpy(), ref, atol=1e-5)
    xc = x.double().numpy()
    ref_c = (xc - xc.mean(1, keepdims=True)) / np.sqrt(xc.var(1, keepdims=True) + 1e-5)
    ref_c = ref_c * channels.gamma.detach().double().numpy() + channels.beta.detach().double().numpy()
    np.testing.assert_allclose(channels(x).detach().numpy(), ref_c, atol=1e-5)


@pytest.mark.parametrize(
    ("override", "message"),
    [({"stride": 128}, "stride \\(hop\\) 128 > win_length 64"),
     ({"win_length": 65}, "win_length 65 > n_fft 64"), ({"n_imics": 2}, "n_imics 2"),
     ({"emb_dim": 10, "attn_n_head": 4}, "emb_dim 10 is not divisible by attn_n_head 4"),
     ({"activation": "relu"}, "activation: .*prelu")],
)
def test_impossible_hyper_parameters_are_rejected_by_name(override: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TFGridNetV3(**{**TINY_V3, **override})


def test_a_rate_too_low_for_the_hop_is_refused(tiny_v3: TFGridNetV3) -> None:
    with pytest.raises(ValueError, match="sample_rate=100"):
        tiny_v3(torch.randn(1, 100), sample_rate=100)


def test_export_round_trip_names_the_architecture(tiny_v3: TFGridNetV3, tmp_path: Path) -> None:
    save_exported(tiny_v3, 48000, tmp_path / "export")
    config = json.loads((tmp_path / "export" / "config.json").read_text())
    assert config["architecture"] == "v3" and config["model"]["default_fs"] == 8000
    loaded = load_model(tmp_path / "export")
    assert isinstance(loaded, TFGridNetV3) and loaded.sample_rate == 48000
    noisy = torch.randn(1, 4800)
    with torch.no_grad():
        assert torch.equal(loaded(noisy, sample_rate=48000), tiny_v3(noisy, sample_rate=48000))


def test_urgent_baseline_size_matches_espnet() -> None:
    # ESPnet 202511's TFGridNetV3 with the URGENT 2024 baseline separator_conf has 8,524,352
    # parameters (counted with ESPnet's class; names and shapes equal ours).
    model = TFGridNetV3(n_srcs=1, n_layers=6, lstm_hidden_units=200, attn_n_head=4,
                        attn_qk_output_channel=2, emb_dim=48, emb_ks=4, emb_hs=1, n_fft=256,
                        stride=128, default_fs=8000)
    assert sum(p.numel() for p in model.parameters()) == 8_524_352
    assert model.state_dict()["blocks.5.attn_norm_Q.gamma"].shape == (1, 4, 2, 1, 1)
