"""What TFGridNetV2 and TFGridNetV3 share around their blocks: conv -> blocks -> deconv, length masks.

The two models differ in their STFT front end and their blocks' attention norms, not in this part, so
it is written once here and both inherit it (ESPnet's module names ``conv``, ``blocks``, ``deconv``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

__all__ = ["GridNetStack", "STD_FLOOR", "frames_within", "input_std", "samples_within"]

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

    def _network(self, h: torch.Tensor) -> torch.Tensor:
        """[B, 2M, T, F] real/imag spectra -> [B, 2S, T, F] (float32), the blocks time-major."""
        h = self.conv(h).permute(2, 0, 3, 1).contiguous()  # [T, B, F, C] between blocks
        checkpoint_paths = (self.gradient_checkpointing and self.training
                            and torch.is_grad_enabled())
        for block in self.blocks:
            h = block.forward_tbfc(h, checkpoint_paths=checkpoint_paths)
        # [T, B, F, C] -> [B, C, T, F] -> deconv -> [B, 2S, T, F]
        return self.deconv(h.permute(1, 3, 0, 2)).float()
