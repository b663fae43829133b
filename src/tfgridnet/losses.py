"""Training losses. The loss is -SI-SNR (lower is better) and is always called `loss`."""

from __future__ import annotations

import torch
from torch import nn

from tfgridnet.metrics import si_snr


class NegSISNRLoss(nn.Module):
    """Mean over the batch of -SI-SNR in dB.

    ``clamp_db`` bounds SI-SNR like ESPnet's recipes (eps=1e-7 -> 70 dB) so that an already
    perfect utterance stops pulling the gradient; None disables it.
    """

    def __init__(self, clamp_db: float | None = 70.0, eps: float = 1e-8) -> None:
        super().__init__()
        self.clamp_db = clamp_db
        self.eps = eps

    def per_utterance(self, est: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        value = si_snr(est, ref, eps=self.eps)
        if self.clamp_db is not None:
            value = value.clamp(max=self.clamp_db)
        return -value

    def forward(self, est: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        return self.per_utterance(est, ref).mean()
