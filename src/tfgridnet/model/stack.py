"""What TFGridNetV2 and TFGridNetV3 share around their blocks: conv -> blocks -> deconv, length masks.

The two models differ in their STFT front end and their blocks' attention norms, not in this part, so
it is written once here and both inherit it (ESPnet's module names ``conv``, ``blocks``, ``deconv``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["GridNetStack", "STD_FLOOR", "deconv_channel_last", "embed_channel_last", "frames_within",
           "input_std", "samples_within"]

# Smallest input std we divide by. Far below any real recording (16-bit LSB is 3e-5).
STD_FLOOR = 1e-8


def input_std(x: torch.Tensor, dim: int | tuple[int, ...]) -> torch.Tensor:
    """The std the models normalise their input by (kept dims): ESPnet's unbiased std, floored so
    silence stays finite; a single sample has no unbiased std (NaN), so it counts as silence."""
    dims = (dim,) if isinstance(dim, int) else dim
    n = 1
    for d in dims:
        n *= x.shape[d]
    return x.std(dim=dims, correction=1 if n > 1 else 0, keepdim=True).clamp_min(STD_FLOOR)


def frames_within(lengths: torch.Tensor, hop: int, n_frames: int) -> torch.Tensor:
    """[B, T] bool: the centred STFT frames that start within each item's ``lengths`` samples."""
    return torch.arange(n_frames, device=lengths.device)[None, :] < (lengths[:, None] // hop + 1)


def samples_within(lengths: torch.Tensor, n_samples: int) -> torch.Tensor:
    """[B, N] bool: the samples before each item's length."""
    return torch.arange(n_samples, device=lengths.device)[None, :] < lengths[:, None]


def deconv_channel_last(deconv: nn.ConvTranspose2d, h: torch.Tensor) -> torch.Tensor:
    """``deconv(h.permute(1, 3, 0, 2))`` for a [T, B, F, C] ``h``, without moving the C-wide tensor.

    One GEMM takes each position's C channels to its (output channel, kt, kf) contributions, and
    the 3 x 3 overlap-add then runs on that 2S x 9-channel map: the permute copy of the whole
    C-channel stream that ConvTranspose2d needs is gone (torch: 31 -> 4 ms on the seed model's
    4 s pass; in onnxruntime the permute is one of its slowest nodes; bench/RESULTS.md §30).
    """
    if (deconv.kernel_size, deconv.stride, deconv.padding, deconv.dilation, deconv.groups,
            deconv.output_padding) != ((3, 3), (1, 1), (1, 1), (1, 1), 1, (0, 0)):
        raise ValueError("deconv_channel_last: expected a 3x3, stride 1, padding 1 ConvTranspose2d")
    n_frames, batch, n_freqs, _ = h.shape
    n_out = deconv.out_channels
    # weight [C, S', 3, 3] -> [S'*9, C]; cols [T, B, F, S', kt, kf]
    cols = F.linear(h, deconv.weight.flatten(1).t()).view(n_frames, batch, n_freqs, n_out, 3, 3)
    # -> [B, S', kt, kf, T + 2, F + 2]: output (t, f) sums cols[t - kt + 1, f - kf + 1, kt, kf]
    cols = F.pad(cols.permute(1, 3, 4, 5, 0, 2), (1, 1, 1, 1))
    out = deconv.bias.view(1, n_out, 1, 1)
    for kt in range(3):
        for kf in range(3):
            out = out + cols[:, :, kt, kf, 2 - kt:2 - kt + n_frames, 2 - kf:2 - kf + n_freqs]
    return out  # [B, S', T, F]


def embed_channel_last(embed: nn.Sequential, spec: torch.Tensor) -> torch.Tensor:
    """``embed(spec).permute(2, 0, 3, 1)`` (3 x 3 conv, then GroupNorm(1, C)) written channel-last.

    The 3 x 3 neighbourhoods of the few input channels are gathered into [T, B, F, 9 x 2M] and
    one GEMM maps them to the C channels, so the C-wide output is never transposed. In torch the
    oneDNN conv and one permute are as fast; onnxruntime's Transpose of that output is one of its
    slowest nodes (~0.2 s per 4 s pass of the seed model; bench/RESULTS.md §33), so the ONNX
    export uses this form.
    """
    conv, norm = embed
    if (conv.kernel_size, conv.stride, conv.padding, conv.dilation, conv.groups) != \
            ((3, 3), (1, 1), (1, 1), (1, 1), 1) or not isinstance(norm, nn.GroupNorm) \
            or norm.num_groups != 1:
        raise ValueError("embed_channel_last: expected a 3x3, stride 1, padding 1 Conv2d and "
                         "GroupNorm(1, C)")
    n_frames, n_freqs = spec.shape[2], spec.shape[3]
    # [B, 2M, T, F] -> zero-padded [T + 2, B, F + 2, 2M]
    padded = F.pad(spec.permute(2, 0, 3, 1), (0, 0, 1, 1, 0, 0, 1, 1))
    # the (kt, kf) neighbours, each [T, B, F, 2M] -> [T, B, F, 9 * 2M], feature (kt, kf, c)
    patches = torch.cat([padded[kt:kt + n_frames, :, kf:kf + n_freqs]
                         for kt in range(3) for kf in range(3)], dim=-1)
    # weight [C, 2M, kt, kf] -> [C, kt, kf, 2M] -> [C, 9 * 2M]
    h = F.linear(patches, conv.weight.permute(0, 2, 3, 1).flatten(1), conv.bias)
    # GroupNorm(1, C): one mean and variance per batch item over (T, F, C), each a mean of
    # means over one axis at a time (equal counts, so the same value): onnxruntime's float32
    # ReduceMean over all three axes at once is off by 1 % at the seed model's 8 M values.
    def mean_tfc(x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=3, keepdim=True).mean(dim=2, keepdim=True).mean(dim=0, keepdim=True)

    centred = h - mean_tfc(h)
    var = mean_tfc(centred.square())
    return centred * torch.rsqrt(var + norm.eps) * norm.weight + norm.bias


class GridNetStack(nn.Module):
    """Base of the TF-GridNet models: the first conv, the blocks, the last deconv and the config."""

    def _init_stack(self, config: dict[str, Any], blocks: Iterable[nn.Module], *, n_srcs: int,
                    n_imics: int, n_layers: int, emb_dim: int, eps: float,
                    gradient_checkpointing: bool) -> None:
        """Register conv, blocks and deconv in the reference's state_dict order."""
        self.n_srcs = n_srcs
        self.n_layers = n_layers
        self.n_imics = n_imics
        self.gradient_checkpointing = gradient_checkpointing
        self._config = config
        self.conv = nn.Sequential(
            nn.Conv2d(2 * n_imics, emb_dim, (3, 3), padding=(1, 1)),
            nn.GroupNorm(1, emb_dim, eps=eps),
        )
        self.blocks = nn.ModuleList(blocks)
        self.deconv = nn.ConvTranspose2d(emb_dim, n_srcs * 2, (3, 3), padding=(1, 1))

    @property
    def config(self) -> dict[str, Any]:
        """Constructor arguments (JSON-able) that rebuild this architecture."""
        return dict(self._config)

    @property
    def num_spk(self) -> int:
        return self.n_srcs

    def _network(self, h: torch.Tensor, channel_last_embed: bool = False) -> torch.Tensor:
        """[B, 2M, T, F] real/imag spectra -> [B, 2S, T, F] (float32), the blocks time-major.

        ``channel_last_embed``: the first conv and norm as :func:`embed_channel_last` (the ONNX
        export's choice; the same function).
        """
        if channel_last_embed:
            h = embed_channel_last(self.conv, h)  # [T, B, F, C] between blocks
        else:
            h = self.conv(h).permute(2, 0, 3, 1).contiguous()
        checkpoint_paths = (self.gradient_checkpointing and self.training
                            and torch.is_grad_enabled())
        for block in self.blocks:
            h = block.forward_tbfc(h, checkpoint_paths=checkpoint_paths)
        return deconv_channel_last(self.deconv, h).float()  # [T, B, F, C] -> [B, 2S, T, F]
