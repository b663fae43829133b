"""Behaviour of our TFGridNetV2 beyond the ESPnet fixtures: shapes, edges, precision, checkpointing."""

from __future__ import annotations

import pytest
import torch
from tests.tiny import tiny_args

from tfgridnet.model.tfgridnetv2 import TFGridNetV2

SEED_CONFIG = dict(n_srcs=1, n_fft=512, stride=256, n_layers=4, lstm_hidden_units=128,
                   attn_n_head=4, emb_dim=128, emb_ks=1, emb_hs=1)

# Per-block parameter names and shapes of the reference for the seed configuration
# (D=128, H=128, L=4, F=257, E=ceil(512/257)=2), from the reference specification.
SEED_BLOCK_SHAPES = {
    "intra_norm.weight": (128,), "intra_norm.bias": (128,),
    "intra_rnn.weight_ih_l0": (512, 128), "intra_rnn.weight_hh_l0": (512, 128),
    "intra_rnn.bias_ih_l0": (512,), "intra_rnn.bias_hh_l0": (512,),
    "intra_rnn.weight_ih_l0_reverse": (512, 128), "intra_rnn.weight_hh_l0_reverse": (512, 128),
    "intra_rnn.bias_ih_l0_reverse": (512,), "intra_rnn.bias_hh_l0_reverse": (512,),
    "intra_linear.weight": (128, 256), "intra_linear.bias": (128,),
    "inter_norm.weight": (128,), "inter_norm.bias": (128,),
    "inter_rnn.weight_ih_l0": (512, 128), "inter_rnn.weight_hh_l0": (512, 128),
    "inter_rnn.bias_ih_l0": (512,), "inter_rnn.bias_hh_l0": (512,),
    "inter_rnn.weight_ih_l0_reverse": (512, 128), "inter_rnn.weight_hh_l0_reverse": (512, 128),
    "inter_rnn.bias_ih_l0_reverse": (512,), "inter_rnn.bias_hh_l0_reverse": (512,),
    "inter_linear.weight": (128, 256), "inter_linear.bias": (128,),
    "attn_conv_Q.weight": (8, 128, 1, 1), "attn_conv_Q.bias": (8,),
    "attn_norm_Q.gamma": (1, 4, 2, 1, 257), "attn_norm_Q.beta": (1, 4, 2, 1, 257),
    "attn_norm_Q.act.weight": (4,),
    "attn_conv_K.weight": (8, 128, 1, 1), "attn_conv_K.bias": (8,),
    "attn_norm_K.gamma": (1, 4, 2, 1, 257), "attn_norm_K.beta": (1, 4, 2, 1, 257),
    "attn_norm_K.act.weight": (4,),
    "attn_conv_V.weight": (128, 128, 1, 1), "attn_conv_V.bias": (128,),
    "attn_norm_V.gamma": (1, 4, 32, 1, 257), "attn_norm_V.beta": (1, 4, 32, 1, 257),
    "attn_norm_V.act.weight": (4,),
    "attn_concat_proj.0.weight": (128, 128, 1, 1), "attn_concat_proj.0.bias": (128,),
    "attn_concat_proj.1.weight": (1,),
    "attn_concat_proj.2.gamma": (1, 128, 1, 257), "attn_concat_proj.2.beta": (1, 128, 1, 257),
}


def test_seed_configuration_has_reference_names_shapes_and_count() -> None:
    model = TFGridNetV2(**SEED_CONFIG)
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    expected = {"conv.0.weight": (128, 2, 3, 3), "conv.0.bias": (128,), "conv.1.weight": (128,),
                "conv.1.bias": (128,), "deconv.weight": (128, 2, 3, 3), "deconv.bias": (2,)}
    for block in range(4):
        expected.update({f"blocks.{block}.{k}": v for k, v in SEED_BLOCK_SHAPES.items()})
    assert shapes == expected
    assert sum(p.numel() for p in model.parameters()) == 3_083_382


def test_enhancement_output_has_input_shape(tiny_model: TFGridNetV2) -> None:
    generator = torch.Generator().manual_seed(1)
    for n_samples in torch.randint(100, 3000, (10,), generator=generator).tolist():
        noisy = torch.randn(2, n_samples, generator=generator)
        with torch.no_grad():
            assert tiny_model(noisy).shape == (2, n_samples)


def test_separation_output_is_batch_sources_samples() -> None:
    model = TFGridNetV2(**tiny_args(n_srcs=3, emb_ks=4, emb_hs=2))
    with torch.no_grad():
        assert model(torch.randn(2, 777)).shape == (2, 3, 777)


def test_multichannel_input_is_batch_samples_mics() -> None:
    model = TFGridNetV2(**tiny_args(n_imics=2))
    with torch.no_grad():
        assert model(torch.randn(2, 640, 2)).shape == (2, 640)
    with pytest.raises(ValueError, match=r"\[batch, samples, 2\]"):
        model(torch.randn(2, 640))


@pytest.mark.parametrize("remainder", [0, 1, 16, 30, 31])
def test_output_stays_bounded_at_every_length_modulo_hop(remainder: int) -> None:
    # With the reference's centred iSTFT, N mod hop = hop-2 leaves a near-zero window envelope in the
    # last samples and the output explodes there. The tail must look like the rest of the signal.
    torch.manual_seed(0)
    model = TFGridNetV2(**tiny_args())
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn_like(param) * 0.1)
    n_samples = 32 * 40 + remainder
    noisy = 0.1 * torch.randn(1, n_samples)
    with torch.no_grad():
        out = model(noisy)
    body_peak = out[:, : n_samples - 64].abs().max()
    tail_peak = out[:, n_samples - 64:].abs().max()
    assert torch.isfinite(out).all()
    assert tail_peak < 3 * body_peak


@pytest.mark.parametrize(("n_samples", "stft_samples"), [(32 * 20, 32 * 20), (32 * 20 + 1, 32 * 21),
                                                        (32 * 21 - 2, 32 * 21)])
def test_stft_sees_the_input_padded_to_the_next_multiple_of_the_hop(
        tiny_model: TFGridNetV2, n_samples: int, stft_samples: int) -> None:
    # At N = k*hop nothing is padded (the reference's function exactly); otherwise the pad is
    # the least that reaches a multiple of the hop, and the output is cropped back to N.
    seen: list[int] = []
    hook = tiny_model.stft.register_forward_hook(
        lambda module, args, output: seen.append(args[0].shape[-1]))
    try:
        with torch.no_grad():
            out = tiny_model(torch.randn(1, n_samples))
    finally:
        hook.remove()
    assert seen == [stft_samples]
    assert out.shape == (1, n_samples)


def test_silent_and_near_silent_input_give_finite_output(tiny_model: TFGridNetV2) -> None:
    with torch.no_grad():
        silent = tiny_model(torch.zeros(2, 800))
        tiny = tiny_model(1e-12 * torch.randn(2, 800))
    assert torch.isfinite(silent).all() and silent.abs().max() < 1e-6  # silence in, silence out
    assert torch.isfinite(tiny).all()


def test_lengths_zero_the_padding_of_shorter_items(tiny_model: TFGridNetV2) -> None:
    noisy = torch.randn(2, 960)
    with torch.no_grad():
        out = tiny_model(noisy, lengths=torch.tensor([960, 500]))
    assert out[1, 500:].abs().max() == 0
    assert out[1, :500].abs().max() > 0


def test_bf16_autocast_forward_is_finite_and_close_to_fp32(tiny_model: TFGridNetV2) -> None:
    noisy = torch.randn(2, 1600)
    with torch.no_grad():
        reference = tiny_model(noisy)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            mixed = tiny_model(noisy)
    assert mixed.dtype == torch.float32
    assert torch.isfinite(mixed).all()
    error = (mixed - reference).norm() / reference.norm()
    assert error < 0.05


def test_config_rebuilds_the_same_architecture(tiny_model: TFGridNetV2) -> None:
    clone = TFGridNetV2(**tiny_model.config)
    clone.load_state_dict(tiny_model.state_dict(), strict=True)


@pytest.mark.parametrize(
    ("override", "message"),
    [({"n_fft": 63}, "n_fft: n_fft must be even"), ({"stride": 128}, "stride \\(hop\\) 128 > n_fft 64"),
     ({"emb_dim": 10, "attn_n_head": 4}, "emb_dim 10 is not divisible by attn_n_head 4"),
     ({"activation": "relu"}, "activation: .*prelu"), ({"emb_ks": 2, "emb_hs": 3}, "emb_hs 3 > emb_ks 2")],
)
def test_impossible_hyper_parameters_are_rejected_by_name(override: dict, message: str) -> None:
    conf = tiny_args()
    with pytest.raises(ValueError, match=message):
        TFGridNetV2(**{**conf, **override})


def test_mono_model_refuses_a_3d_input(tiny_model: TFGridNetV2) -> None:
    with pytest.raises(ValueError, match="mono input"):
        tiny_model(torch.randn(2, 100, 1))



@pytest.mark.parametrize("n_samples", [1, 2, 31, 32, 33])
def test_input_shorter_than_half_a_window_is_padded_not_refused(
        tiny_model: TFGridNetV2, n_samples: int) -> None:
    # The centred STFT reflect-pads n_fft/2 = 32 samples on each side, which needs more input than
    # that; the model pads such input (as V3 does) and crops the output back, and one sample has
    # no unbiased std, so it must not turn the output into NaN.
    out = tiny_model.eval()(torch.randn(2, n_samples))
    assert out.shape == (2, n_samples)
    assert torch.isfinite(out).all()
