"""Training losses. The loss is -SI-SNR (lower is better) and is always called `loss`."""

from __future__ import annotations

import torch
from torch import nn

from tfgridnet.metrics import sisnr_per_utterance


class NegSISNRLoss(nn.Module):
    """Mean over the batch of -SI-SNR in dB.

    ``clamp_db`` bounds SI-SNR like ESPnet's recipes (eps=1e-7 -> 70 dB) so that an already
    perfect utterance stops pulling the gradient; None disables it.
    """

    def __init__(self, clamp_db: float | None = 70.0, eps: float = 1e-8) -> None:
        super().__init__()
        self.clamp_db = clamp_db
        self.eps = eps

    def from_sisnr(self, sisnr: torch.Tensor) -> torch.Tensor:
        """Per-utterance loss from SI-SNR values already computed (e.g. also logged as metrics)."""
        return -(sisnr.clamp(max=self.clamp_db) if self.clamp_db is not None else sisnr)

    def per_utterance(self, est: torch.Tensor, ref: torch.Tensor,
                      lengths: torch.Tensor | None = None) -> torch.Tensor:
        """-SI-SNR of each item, over its own length when ``lengths`` is given."""
        return self.from_sisnr(sisnr_per_utterance(est, ref, lengths))

    def forward(self, est: torch.Tensor, ref: torch.Tensor,
                lengths: torch.Tensor | None = None) -> torch.Tensor:
        return self.per_utterance(est, ref, lengths).mean()
