"""TF-GridNetV3: the sampling-frequency-independent TF-GridNet, parameter-compatible with ESPnet.

The network is ESPnet's ``TFGridNetV3`` separator (same module names and parameter shapes, so its
state_dict loads with ``strict=True``) wrapped in the two pieces of ESPnet's enhancement model that
it is trained with, so that ``model(noisy, sample_rate=fs)`` is the whole waveform-to-waveform path:

* the STFT encoder/decoder whose FFT size, window and hop are given at ``default_fs`` and scale
  with the input's rate (``n * fs // default_fs``): the frames last the same time at every rate and
  only the number of frequency bins changes;
* the model-level variance normalisation (``normalize_variance=True``): the input is divided by its
  standard deviation and the output multiplied back.

What V3 changes against V2, and why no layer depends on the number of frequency bins: the
attention's Q/K width is a constant ``attn_qk_output_channel`` per head, the per-head norms
normalise over that width only (affine per channel, not per bin), and the projection after the
attention normalises over channels only. The intra/inter-frame BLSTM paths, the attention itself and
the edge handling are V2's (imported from :mod:`tfgridnet.model.tfgridnetv2`, the same math):

* the std has a floor, so silence gives silence instead of NaN;
* the input is zero-padded to a multiple of the hop at its rate (and to more than half a window,
  so a very short input still has a centred frame) and the output cropped back;
* with ``lengths``, samples past each item's length are zeroed;
* normalisation statistics run in float32 under autocast.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from tfgridnet.errors import UserInputError
from tfgridnet.model.config import model_defaults, validate_model_args
from tfgridnet.model.stack import GridNetStack, frames_within, input_std, samples_within
from tfgridnet.model.stft import STFT, padded_length
from tfgridnet.model.tfgridnetv2 import AllHeadPReLULayerNormalization4DCF, GridNetV2Block

__all__ = ["TFGridNetV3", "GridNetV3Block", "LayerNormalization4DC",
           "AllHeadPReLULayerNormalization4DC", "scaled_stft_sizes"]


def scaled_stft_sizes(n_fft: int, win_length: int, hop: int, default_fs: int,
                      sample_rate: int) -> tuple[int, int, int]:
    """(n_fft, win_length, hop) at ``sample_rate``: ESPnet's ``size * fs // default_fs``."""
    sizes = tuple(size * sample_rate // default_fs for size in (n_fft, win_length, hop))
    if min(sizes) < 1:
        raise UserInputError(f"sample_rate={sample_rate}: too low for an STFT of n_fft={n_fft}, "
                         f"hop={hop} samples at default_fs={default_fs} (the hop would be 0)")
    return sizes  # type: ignore[return-value]


class LayerNormalization4DC(nn.Module):
    """Normalise each (batch, frame, bin) over channels; affine per channel ([1, C, 1, 1])."""

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(1, channels, 1, 1))
        self.beta = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, C, T, F]
        return self.forward_channel_last(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)

    def forward_channel_last(self, x: torch.Tensor) -> torch.Tensor:
        """The same normalisation on [..., C]: one fused ``layer_norm`` over the last axis."""
        return F.layer_norm(x.float(), x.shape[-1:], self.gamma.flatten(), self.beta.flatten(),
                            self.eps)


class AllHeadPReLULayerNormalization4DC(AllHeadPReLULayerNormalization4DCF):
    """Per-head PReLU, then per-(head, frame, bin) normalisation over E with per-(head, E) affine.

    Input [B, H*E, T, F] (head-major channels); output [B, H, E, T, F]. V2's per-head norm with one
    affine bin ([1, H, E, 1, 1]) and statistics over E alone; ``forward_heads_first`` is V2's.
    """

    NORM_AXES = 1  # E only

    def __init__(self, input_dimension: tuple[int, int], eps: float = 1e-5) -> None:
        if len(input_dimension) != 2:
            raise ValueError(f"input_dimension must be (heads, E), got {input_dimension}")
        super().__init__((*input_dimension, 1), eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, _, n_frames, n_freqs = x.shape
        y = x.view(batch, self.H, self.E, n_frames, n_freqs).permute(0, 1, 3, 4, 2).contiguous()
        return self.forward_heads_first(y).permute(0, 1, 4, 2, 3)


class GridNetV3Block(GridNetV2Block):
    """V2's block with frequency-independent attention norms (no layer sees the number of bins).

    The forward passes (BLSTM paths, attention, checkpointing) are inherited: they only call the
    norms through ``forward_heads_first`` / ``forward_channel_last``, which the V3 norms provide.
    """

    MODEL_NAME = "TF-GridNetV3"

    def __init__(
        self,
        emb_dim: int,
        emb_ks: int,
        emb_hs: int,
        hidden_channels: int,
        n_head: int = 4,
        qk_output_channel: int = 4,
        activation: str = "prelu",
        eps: float = 1e-5,
    ) -> None:
        # V2's constructor sizes its norms by the number of bins; build with the V3 norms instead.
        nn.Module.__init__(self)
        self._build(
            emb_dim, emb_ks, emb_hs, hidden_channels, n_head, qk_output_channel, activation, eps,
            head_norm=lambda width: AllHeadPReLULayerNormalization4DC((n_head, width), eps),
            channel_norm=lambda: LayerNormalization4DC(emb_dim, eps=eps))


# The defaults of the constructor: ModelConfig's for v3 (tfgridnet.model.config), defined there
# once. They are ESPnet's: its TFGridNetV3 separator's, and for the STFT its STFT encoder's.
_DEFAULTS = model_defaults("v3")


class TFGridNetV3(GridNetStack):
    """TF-GridNetV3 for enhancement (``n_srcs=1``) or separation, at any sample rate.

    ``model(noisy, sample_rate=fs)`` with ``noisy`` [B, N] returns [B, N] when ``n_srcs == 1`` and
    [B, S, N] otherwise; the output always has the input's length. ``sample_rate`` defaults to
    ``default_fs``. ``n_fft``, ``stride`` (ESPnet's ``hop_length``) and ``win_length`` are the STFT
    sizes at ``default_fs``.
    """

    def __init__(
        self,
        input_dim: int | None = None,
        n_srcs: int = _DEFAULTS["n_srcs"],
        n_imics: int = _DEFAULTS["n_imics"],
        n_layers: int = _DEFAULTS["n_layers"],
        lstm_hidden_units: int = _DEFAULTS["lstm_hidden_units"],
        attn_n_head: int = _DEFAULTS["attn_n_head"],
        attn_qk_output_channel: int = _DEFAULTS["attn_qk_output_channel"],
        emb_dim: int = _DEFAULTS["emb_dim"],
        emb_ks: int = _DEFAULTS["emb_ks"],
        emb_hs: int = _DEFAULTS["emb_hs"],
        activation: str = _DEFAULTS["activation"],
        eps: float = _DEFAULTS["eps"],
        n_fft: int = _DEFAULTS["n_fft"],
        stride: int = _DEFAULTS["stride"],
        win_length: int | None = _DEFAULTS["win_length"],
        window: str = _DEFAULTS["window"],
        default_fs: int = _DEFAULTS["default_fs"],
        normalize_variance: bool = _DEFAULTS["normalize_variance"],
        gradient_checkpointing: bool = _DEFAULTS["gradient_checkpointing"],
    ) -> None:
        super().__init__()
        del input_dim  # ESPnet passes the encoder's output size here; V3 does not use it.
        cfg = validate_model_args(
            "TFGridNetV3", version="v3", n_srcs=n_srcs, n_imics=n_imics, n_layers=n_layers,
            lstm_hidden_units=lstm_hidden_units, attn_n_head=attn_n_head,
            attn_qk_output_channel=attn_qk_output_channel, emb_dim=emb_dim, emb_ks=emb_ks,
            emb_hs=emb_hs, activation=activation, eps=eps, n_fft=n_fft, stride=stride,
            win_length=win_length or n_fft, window=window, default_fs=default_fs,
            normalize_variance=normalize_variance, gradient_checkpointing=gradient_checkpointing)
        self.default_fs = default_fs
        self.normalize_variance = normalize_variance
        self._init_stack(
            cfg.architecture(),
            (GridNetV3Block(emb_dim, emb_ks, emb_hs, lstm_hidden_units, n_head=attn_n_head,
                            qk_output_channel=attn_qk_output_channel, activation=activation,
                            eps=eps)
             for _ in range(n_layers)),
            n_srcs=n_srcs, n_imics=n_imics, n_layers=n_layers, emb_dim=emb_dim, eps=eps,
            gradient_checkpointing=gradient_checkpointing)

    def stft_at(self, sample_rate: int) -> STFT:
        """The STFT front end at ``sample_rate`` (window and hop scaled from ``default_fs``)."""
        c = self._config
        n_fft, win_length, hop = scaled_stft_sizes(c["n_fft"], c["win_length"], c["stride"],
                                                   self.default_fs, int(sample_rate))
        return STFT(n_fft, hop, c["window"], win_length=win_length)

    def hop_at(self, sample_rate: int) -> int:
        """STFT hop in samples at ``sample_rate``."""
        return self.stft_at(sample_rate).hop

    def forward(self, noisy: torch.Tensor, lengths: torch.Tensor | None = None,
                sample_rate: int | None = None) -> torch.Tensor:
        if noisy.ndim != 2:
            raise ValueError(f"expected mono input [batch, samples], got {tuple(noisy.shape)}")
        stft = self.stft_at(sample_rate or self.default_fs).to(noisy.device)
        batch, n_samples = noisy.shape
        x = noisy.float()
        if self.normalize_variance:
            std = input_std(x, 1)  # [B, 1]
            x = x / std

        hop = stft.hop
        padded_len = padded_length(n_samples, stft.n_fft, hop)
        pad = padded_len - n_samples
        spec = stft(F.pad(x, (0, pad)) if pad else x)  # [B, T, F] complex
        n_frames, n_freqs = spec.shape[1], spec.shape[2]
        if lengths is not None:
            spec = spec * frames_within(lengths.to(spec.device), hop, n_frames)[:, :, None]
        h = torch.stack((spec.real, spec.imag), dim=1)  # [B, 2, T, F]

        h = self._network(h).view(batch * self.n_srcs, 2, n_frames, n_freqs)
        est = stft.inverse(torch.complex(h[:, 0], h[:, 1]), padded_len)
        est = est.view(batch, self.n_srcs, padded_len)[..., :n_samples]
        if self.normalize_variance:
            est = est * std[:, :, None]
        if lengths is not None:
            est = est * samples_within(lengths.to(est.device), n_samples)[:, None, :]
        return est[:, 0] if self.n_srcs == 1 else est
