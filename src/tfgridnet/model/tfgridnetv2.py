"""TF-GridNetV2 (Wang et al., 2023), parameter-for-parameter compatible with ESPnet's `TFGridNetV2`.

Same constructor arguments, the same module names and parameter shapes (so an ESPnet separator
state_dict loads with ``strict=True``) and the same function where the reference is well defined.
Where the reference misbehaves we differ on purpose, and only there:

* the input std has a floor, so silent input gives silence instead of NaN;
* the input is zero-padded to a multiple of the hop before the STFT and the output cropped back:
  the centred iSTFT divides by a near-zero window envelope in the last samples when N mod hop is
  just below the hop, which makes the reference's output explode there; input shorter than half a
  window (which the reference refuses) is padded past it;
* with ``lengths``, samples past each item's length are zeroed in the output;
* the normalisation statistics run in float32 under autocast (bf16 variance loses the signal);
* under CUDA bf16 autocast the BLSTMs run in bf16, not autocast's fp16 (see model/recurrence.py).

Layout notes: between and inside the blocks the features are time-major channel-last,
[T, B, F, C] (see :class:`GridNetV2Block`); only the first conv sees the reference's
[B, C, T, F] (the last deconv reads [T, B, F, C] directly: ``stack.deconv_channel_last``).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from tfgridnet.model.config import model_defaults, validate_model_args
from tfgridnet.model.recurrence import run_lstm
from tfgridnet.model.stack import GridNetStack, frames_within, input_std, samples_within
from tfgridnet.model.stft import STFT, padded_length

__all__ = [
    "TFGridNetV2",
    "full_band_attention",
    "GridNetV2Block",
    "LayerNormalization4DCF",
    "AllHeadPReLULayerNormalization4DCF",
]

# Checkpointed paths are recomputed in this many slices of the batch (bench/RESULTS.md §4).
CHECKPOINT_BATCH_SLICES = 2


def full_band_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """softmax(q k^T / sqrt(d)) v over [B, H, T, D] tensors.

    Under CPU bf16 autocast it is two bf16 matmuls around a float32 softmax: PyTorch's CPU SDPA
    runs 5-6x slower there on these shapes (T frames, D = E*F in the thousands; bench/RESULTS.md
    §10). Everywhere else it is ``scaled_dot_product_attention``.
    """
    if q.device.type == "cpu" and torch.is_autocast_enabled("cpu") and \
            torch.get_autocast_dtype("cpu") == torch.bfloat16:
        scores = torch.matmul(q, k.transpose(-1, -2)).float() * q.shape[-1] ** -0.5  # [B, H, T, T]
        return torch.matmul(scores.softmax(-1), v)
    return F.scaled_dot_product_attention(q, k, v)


class LayerNormalization4DCF(nn.Module):
    """Normalise each (batch, frame) over (channels, frequencies); affine per (channel, frequency)."""

    def __init__(self, input_dimension: tuple[int, int], eps: float = 1e-5) -> None:
        super().__init__()
        if len(input_dimension) != 2:
            raise ValueError(f"input_dimension must be (channels, freqs), got {input_dimension}")
        channels, n_freqs = input_dimension
        self.gamma = nn.Parameter(torch.ones(1, channels, 1, n_freqs))
        self.beta = nn.Parameter(torch.zeros(1, channels, 1, n_freqs))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, C, T, F]
        if x.ndim != 4:
            raise ValueError(f"expected a 4-D [B, C, T, F] tensor, got shape {tuple(x.shape)}")
        xf = x.float()
        var, mean = torch.var_mean(xf, dim=(1, 3), unbiased=False, keepdim=True)
        return (xf - mean) * torch.rsqrt(var + self.eps) * self.gamma + self.beta

    def forward_channel_last(self, x: torch.Tensor) -> torch.Tensor:
        """The same normalisation on [..., F, C]: one fused ``layer_norm`` over the last two axes."""
        weight = self.gamma[0, :, 0, :].t()  # [F, C], the same parameters viewed channel-last
        bias = self.beta[0, :, 0, :].t()
        return F.layer_norm(x.float(), x.shape[-2:], weight, bias, self.eps)


class AllHeadPReLULayerNormalization4DCF(nn.Module):
    """Per-head PReLU, then per-(head, frame) normalisation over (E, F) with (E, F) affine.

    Input [B, H*E, T, F] (head-major channels); output [B, H, E, T, F].
    """

    # How many trailing axes of [B, H, T, F, E] the statistics cover: (F, E).
    NORM_AXES = 2

    def __init__(self, input_dimension: tuple[int, int, int], eps: float = 1e-5) -> None:
        super().__init__()
        if len(input_dimension) != 3:
            raise ValueError(f"input_dimension must be (heads, E, freqs), got {input_dimension}")
        n_heads, emb, n_freqs = input_dimension
        self.gamma = nn.Parameter(torch.ones(1, n_heads, emb, 1, n_freqs))
        self.beta = nn.Parameter(torch.zeros(1, n_heads, emb, 1, n_freqs))
        self.act = nn.PReLU(num_parameters=n_heads, init=0.25)
        self.eps = eps
        self.H = n_heads
        self.E = emb
        self.n_freqs = n_freqs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, _, n_frames, _ = x.shape
        x = self.act(x.view(batch, self.H, self.E, n_frames, self.n_freqs)).float()
        var, mean = torch.var_mean(x, dim=(2, 4), unbiased=False, keepdim=True)
        return (x - mean) * torch.rsqrt(var + self.eps) * self.gamma + self.beta

    def forward_heads_first(self, x: torch.Tensor) -> torch.Tensor:
        """The same function on a contiguous [B, H, T, F, E] tensor, returned in that layout.

        (F, E) are the last two axes there, so the statistics are one fused ``layer_norm`` and the
        per-head affine one ``addcmul``.
        """
        batch, n_heads = x.shape[:2]
        x = self.act(x.view(batch, n_heads, -1)).view(x.shape).float()  # [B, H, T*F*E]
        x = F.layer_norm(x, x.shape[-self.NORM_AXES:], eps=self.eps)
        # gamma/beta [1, H, E, 1, F] -> [1, H, 1, F, E], broadcast over [B, H, T, F, E]
        return torch.addcmul(self.beta.permute(0, 1, 3, 4, 2), x, self.gamma.permute(0, 1, 3, 4, 2))


class GridNetV2Block(nn.Module):
    """Intra-frame BLSTM (over frequency), inter-frame BLSTM (over time), full-band self-attention.

    Internally the residual stream is time-major channel-last, [T, B, F, C]: oneDNN's LSTM wants
    sequence-first input (with ``batch_first`` it pays a transpose in forward and backward), the
    inter-frame LSTM reads [T, B*F, C] with no copy, and the 1x1 convolutions of the attention become
    matrix products on the last axis, reading the same parameters.
    """

    MODEL_NAME = "TF-GridNetV2"

    def __init__(
        self,
        emb_dim: int,
        emb_ks: int,
        emb_hs: int,
        n_freqs: int,
        hidden_channels: int,
        n_head: int = 4,
        approx_qk_dim: int = 512,
        activation: str = "prelu",
        eps: float = 1e-5,
    ) -> None:
        super().__init__()
        self._build(
            emb_dim, emb_ks, emb_hs, hidden_channels, n_head, math.ceil(approx_qk_dim * 1.0 / n_freqs),
            activation, eps,
            head_norm=lambda width: AllHeadPReLULayerNormalization4DCF((n_head, width, n_freqs), eps),
            channel_norm=lambda: LayerNormalization4DCF((emb_dim, n_freqs), eps=eps))

    def _build(self, emb_dim: int, emb_ks: int, emb_hs: int, hidden_channels: int, n_head: int,
               qk_channels: int, activation: str, eps: float,
               head_norm: Callable[[int], nn.Module], channel_norm: Callable[[], nn.Module]) -> None:
        """Create the block's layers; V2 and V3 differ only in the attention norms they pass in.

        ``head_norm(E)`` normalises H heads of width E ([B, H*E, T, F] -> [B, H, E, T, F]);
        ``channel_norm()`` ends the projection after the attention.
        """
        if activation != "prelu":
            raise ValueError(f"activation={activation!r}: {self.MODEL_NAME} blocks only support "
                             "'prelu'")
        if emb_dim % n_head != 0:
            raise ValueError(f"emb_dim={emb_dim} must be divisible by attn_n_head={n_head}")
        in_channels = emb_dim * emb_ks

        def projection() -> nn.Module:
            if emb_ks == emb_hs:
                return nn.Linear(hidden_channels * 2, in_channels)
            return nn.ConvTranspose1d(hidden_channels * 2, emb_dim, emb_ks, stride=emb_hs)

        # Registration order = the reference's state_dict order. The LSTMs are sequence-first
        # (batch_first is not part of the state_dict, so ESPnet weights load unchanged).
        self.intra_norm = nn.LayerNorm(emb_dim, eps=eps)
        self.intra_rnn = nn.LSTM(in_channels, hidden_channels, 1, bidirectional=True)
        self.intra_linear = projection()
        self.inter_norm = nn.LayerNorm(emb_dim, eps=eps)
        self.inter_rnn = nn.LSTM(in_channels, hidden_channels, 1, bidirectional=True)
        self.inter_linear = projection()

        head_dim = emb_dim // n_head
        self.attn_conv_Q = nn.Conv2d(emb_dim, n_head * qk_channels, 1)
        self.attn_norm_Q = head_norm(qk_channels)
        self.attn_conv_K = nn.Conv2d(emb_dim, n_head * qk_channels, 1)
        self.attn_norm_K = head_norm(qk_channels)
        self.attn_conv_V = nn.Conv2d(emb_dim, n_head * head_dim, 1)
        self.attn_norm_V = head_norm(head_dim)
        self.attn_concat_proj = nn.Sequential(nn.Conv2d(emb_dim, emb_dim, 1), nn.PReLU(),
                                              channel_norm())

        self.emb_dim = emb_dim
        self.emb_ks = emb_ks
        self.emb_hs = emb_hs
        self.n_head = n_head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, C, T, F] -> [B, C, T, F] (the reference's interface)."""
        # [B, C, T, F] -> [T, B, F, C] -> blocks -> [B, C, T, F]
        return self.forward_tbfc(x.permute(2, 0, 3, 1)).permute(1, 3, 0, 2).contiguous()

    def forward_tbfc(self, x: torch.Tensor, checkpoint_paths: bool = False) -> torch.Tensor:
        """[T, B, F, C] -> [T, B, F, C], the layout the model keeps between blocks.

        With ``checkpoint_paths`` the intra-frame, inter-frame and attention paths are each
        recomputed in backward, half a batch at a time, so the peak holds the activations of one
        sub-path for half the batch, not those of a whole block.
        """
        old_t, _, old_f, _ = x.shape
        ks, hs = self.emb_ks, self.emb_hs
        olp = ks - hs
        n_t = math.ceil((old_t + 2 * olp - ks) / hs) * hs + ks
        n_f = math.ceil((old_f + 2 * olp - ks) / hs) * hs + ks
        padded = (n_t, n_f) != (old_t, old_f)
        if padded:
            x = F.pad(x, (0, 0, olp, n_f - old_f - olp, 0, 0, olp, n_t - old_t - olp))
        h = x.contiguous()

        def run(path, tensor: torch.Tensor) -> torch.Tensor:
            if not checkpoint_paths:
                return path(tensor)
            # Every path is independent across batch items, so each half of the batch is
            # recomputed on its own: the backward peak holds half a path's activations.
            halves = tensor.tensor_split(min(CHECKPOINT_BATCH_SLICES, tensor.shape[1]), dim=1)
            return torch.cat([checkpoint(path, half.contiguous(), use_reentrant=False,
                                         preserve_rng_state=False) for half in halves], dim=1)

        h = run(self._intra, h)
        h = run(self._inter, h)
        if padded:
            h = h[olp:olp + old_t, :, olp:olp + old_f].contiguous()
        return run(self._attention, h)

    def _intra(self, h: torch.Tensor) -> torch.Tensor:
        return self._sequence_path(h, 2, self.intra_norm, self.intra_rnn, self.intra_linear)

    def _inter(self, h: torch.Tensor) -> torch.Tensor:
        return self._sequence_path(h, 0, self.inter_norm, self.inter_rnn, self.inter_linear)

    def _sequence_path(self, h: torch.Tensor, seq_axis: int, norm: nn.Module, rnn: nn.LSTM,
                       proj: nn.Module) -> torch.Tensor:
        """``h`` + BLSTM branch along axis 0 (time) or 2 (frequency) of a contiguous [T, B, F, C].

        The sequence is gathered once (one copy, fused with the grouping of ``emb_ks`` positions)
        and the branch is added back through a strided view, so ``h`` keeps its layout.
        """
        seq = h if seq_axis == 0 else h.permute(2, 1, 0, 3)  # [L, N1, N2, C]
        seq_len, n1, n2, channels = seq.shape
        ks, hs = self.emb_ks, self.emb_hs
        if ks == hs:
            # ks consecutive positions concatenated position-major: feature = i*C + c.
            groups = seq_len // ks
            # [L, N1, N2, C] -> [G, ks, N1, N2, C] -> [G, N1, N2, ks, C]
            u = norm(seq.view(groups, ks, n1, n2, channels).permute(0, 2, 3, 1, 4))
            u = run_lstm(rnn, u.reshape(groups, n1 * n2, ks * channels))
            u = proj(u).view(groups, n1, n2, ks, channels)
            if seq_axis == 0:  # h [T, B, F, C] seen as [G, ks, B, F, C]
                out = h.view(groups, ks, n1, n2, channels) + u.permute(0, 3, 1, 2, 4)
            else:  # h [T, B, F, C] seen as [T, B, G, ks, C]; u [G, B, T, ks, C] -> [T, B, G, ks, C]
                out = h.view(n2, n1, groups, ks, channels) + u.permute(2, 1, 0, 3, 4)
            return out.reshape(h.shape)
        # Overlapping windows: unfold (channel-major features), BLSTM, overlap-add by ConvTranspose1d.
        u = norm(seq).reshape(seq_len, n1 * n2, channels)
        u = u.unfold(0, ks, hs)  # [W, N, C, ks]
        u = run_lstm(rnn, u.reshape(u.shape[0], n1 * n2, channels * ks))  # [W, N, 2H]
        # [N, 2H, W] -> ConvTranspose1d overlap-add -> [N1, N2, C, L]
        u = proj(u.permute(1, 2, 0)).view(n1, n2, channels, seq_len)
        # back to h's [T, B, F, C]: [L=T, N1=B, N2=F, C] or [N2=T, N1=B, L=F, C]
        return h + (u.permute(3, 0, 1, 2) if seq_axis == 0 else u.permute(1, 0, 3, 2))

    def _heads(self, conv: nn.Conv2d, norm: AllHeadPReLULayerNormalization4DCF,
               z: torch.Tensor) -> torch.Tensor:
        """1x1 conv as a Linear on [T, B, F, C], then per-head PReLU + norm; -> [B, H, T, F, E]."""
        n_frames, batch, n_freqs, _ = z.shape
        y = F.linear(z, conv.weight.flatten(1), conv.bias)
        # [T, B, F, H*E] -> [T, B, F, H, E] -> [B, H, T, F, E]
        y = y.view(n_frames, batch, n_freqs, self.n_head, -1).permute(1, 3, 0, 2, 4)
        return norm.forward_heads_first(y.contiguous())

    def _attention(self, z: torch.Tensor) -> torch.Tensor:
        """Full-band multi-head self-attention across frames; each token is a whole spectrum.

        Q/K features are ordered f*E + e rather than the reference's e*F + f: a dot product does
        not care, and the scale is the same 1/sqrt(E*F).
        """
        n_frames, batch, n_freqs, channels = z.shape
        q = self._heads(self.attn_conv_Q, self.attn_norm_Q, z).flatten(3)  # [B, H, T, F*E]
        k = self._heads(self.attn_conv_K, self.attn_norm_K, z).flatten(3)
        v = self._heads(self.attn_conv_V, self.attn_norm_V, z)  # [B, H, T, F, C/H]
        out = full_band_attention(q, k, v.flatten(3)).view(v.shape)
        # [B, H, T, F, C/H] -> [T, B, F, H, C/H] -> [T, B, F, C] (head-major channels)
        out = out.permute(2, 0, 3, 1, 4).reshape(n_frames, batch, n_freqs, channels)
        conv, act, norm = self.attn_concat_proj
        out = norm.forward_channel_last(act(F.linear(out, conv.weight.flatten(1), conv.bias)))
        return out + z


# The defaults of the constructor: ModelConfig's (tfgridnet.model.config), defined there once.
_DEFAULTS = model_defaults("v2")


class TFGridNetV2(GridNetStack):
    """TF-GridNetV2 for enhancement (``n_srcs=1``) or separation.

    ``model(noisy)`` with ``noisy`` [B, N] (or [B, N, M] for M > 1 microphones) returns [B, N] when
    ``n_srcs == 1`` and [B, S, N] otherwise; the output always has the input's length.
    """

    def __init__(
        self,
        input_dim: int | None = None,
        n_srcs: int = _DEFAULTS["n_srcs"],
        n_fft: int = _DEFAULTS["n_fft"],
        stride: int = _DEFAULTS["stride"],
        window: str = _DEFAULTS["window"],
        n_imics: int = _DEFAULTS["n_imics"],
        n_layers: int = _DEFAULTS["n_layers"],
        lstm_hidden_units: int = _DEFAULTS["lstm_hidden_units"],
        attn_n_head: int = _DEFAULTS["attn_n_head"],
        attn_approx_qk_dim: int = _DEFAULTS["attn_approx_qk_dim"],
        emb_dim: int = _DEFAULTS["emb_dim"],
        emb_ks: int = _DEFAULTS["emb_ks"],
        emb_hs: int = _DEFAULTS["emb_hs"],
        activation: str = _DEFAULTS["activation"],
        eps: float = _DEFAULTS["eps"],
        gradient_checkpointing: bool = _DEFAULTS["gradient_checkpointing"],
    ) -> None:
        super().__init__()
        del input_dim  # ESPnet passes the encoder's output size here; the model does not use it.
        cfg = validate_model_args(
            "TFGridNetV2", n_srcs=n_srcs, n_fft=n_fft, stride=stride, window=window,
            n_imics=n_imics, n_layers=n_layers, lstm_hidden_units=lstm_hidden_units,
            attn_n_head=attn_n_head, attn_approx_qk_dim=attn_approx_qk_dim, emb_dim=emb_dim,
            emb_ks=emb_ks, emb_hs=emb_hs, activation=activation, eps=eps,
            gradient_checkpointing=gradient_checkpointing)
        n_freqs = n_fft // 2 + 1
        self.stft = STFT(n_fft, stride, window)
        self._init_stack(
            cfg.architecture(),
            (GridNetV2Block(emb_dim, emb_ks, emb_hs, n_freqs, lstm_hidden_units, n_head=attn_n_head,
                            approx_qk_dim=attn_approx_qk_dim, activation=activation, eps=eps)
             for _ in range(n_layers)),
            n_srcs=n_srcs, n_imics=n_imics, n_layers=n_layers, emb_dim=emb_dim, eps=eps,
            gradient_checkpointing=gradient_checkpointing)

    @property
    def hop(self) -> int:
        return self.stft.hop

    def forward(self, noisy: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        if self.n_imics == 1:
            if noisy.ndim != 2:
                raise ValueError(f"expected mono input [batch, samples], got {tuple(noisy.shape)}")
            x = noisy[..., None]
        else:
            if noisy.ndim != 3 or noisy.shape[-1] != self.n_imics:
                raise ValueError(f"expected [batch, samples, {self.n_imics}] input, got "
                                 f"{tuple(noisy.shape)}")
            x = noisy
        batch, n_samples, n_mics = x.shape
        x = x.float()

        # Variance normalisation (undone at the end); floored so silence stays finite.
        std = input_std(x, (1, 2))  # [B, 1, 1]
        x = x / std

        hop = self.stft.hop
        padded_len = padded_length(n_samples, self.stft.n_fft, hop)
        pad = padded_len - n_samples
        if pad:
            x = F.pad(x, (0, 0, 0, pad))

        # [B, N, M] -> [B, M, N] -> [B*M, N]: one STFT per microphone; spec [B*M, T, F]
        spec = self.stft(x.transpose(1, 2).reshape(batch * n_mics, padded_len))
        n_frames, n_freqs = spec.shape[1], spec.shape[2]
        spec = spec.reshape(batch, n_mics, n_frames, n_freqs)
        if lengths is not None:
            spec = spec * frames_within(lengths.to(spec.device), hop, n_frames)[:, None, :, None]
        h = torch.cat((spec.real, spec.imag), dim=1)  # [B, 2M, T, F]

        h = self._network(h).view(batch * self.n_srcs, 2, n_frames, n_freqs)
        est = self.stft.inverse(torch.complex(h[:, 0], h[:, 1]), padded_len)
        est = est.view(batch, self.n_srcs, padded_len)[..., :n_samples] * std
        if lengths is not None:
            est = est * samples_within(lengths.to(est.device), n_samples)[:, None, :]
        return est[:, 0] if self.n_srcs == 1 else est
