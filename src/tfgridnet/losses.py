"""Training losses: -SI-SNR (lower is better), optionally plus a compressed spectral term.

The logged ``loss`` is what is optimised; SI-SNR itself is always logged as ``*_sisnr``.
"""

from __future__ import annotations

import torch
from torch import nn

from tfgridnet.metrics import sisnr_per_utterance
from tfgridnet.model.stack import frames_within, samples_within

__all__ = ["CompressedSpectralLoss", "NegSISNRLoss"]


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


class CompressedSpectralLoss(nn.Module):
    """Power-law compressed spectral MSE (Braun & Tashev, 2021), per utterance.

    ``(1 - a) * mean |  |S|^c - |Ŝ|^c  |^2  +  a * mean | |S|^c e^{jφ_S} - |Ŝ|^c e^{jφ_Ŝ} |^2``
    with c = ``power``, a = ``complex_weight``, over the frames within each item's length.

    Why: SI-SNR is dominated by the loud parts and leaves the output gain free; compression
    weights the quiet time-frequency regions (residual noise in pauses, weak harmonics) that
    PESQ and STOI hear, and both signals are divided by the *clean* RMS, so the loss does not
    depend on the recording's level but does on the estimate's gain: it teaches the level too.
    """

    def __init__(self, n_fft: int = 512, hop: int = 128, power: float = 0.3,
                 complex_weight: float = 0.3, eps: float = 1e-8) -> None:
        super().__init__()
        if not 0 < power <= 1:
            raise ValueError(f"power={power}: expected 0 < power <= 1")
        if not 0 <= complex_weight <= 1:
            raise ValueError(f"complex_weight={complex_weight}: expected 0..1")
        self.n_fft, self.hop, self.power = n_fft, hop, power
        self.complex_weight, self.eps = complex_weight, eps
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)

    def _compressed(self, wave: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """[B, N] -> compressed magnitude [B, F, T] and compressed complex spectrum [B, F, T]."""
        spec = torch.stft(wave, self.n_fft, self.hop, window=self.window.to(wave.device),
                          center=True, return_complex=True)
        # |X|^c with a floor inside the root: d|X|^c/d|X| is infinite at 0
        mag = (spec.real.square() + spec.imag.square() + self.eps).pow(self.power / 2)
        phase = spec / (spec.abs() + self.eps)
        return mag, mag * phase

    def per_utterance(self, est: torch.Tensor, ref: torch.Tensor,
                      lengths: torch.Tensor | None = None) -> torch.Tensor:
        with torch.autocast(est.device.type, enabled=False):
            est, ref = est.float(), ref.float()
            n = est.shape[-1]
            if lengths is None:
                lengths = torch.full((est.shape[0],), n, device=est.device)
            within = samples_within(lengths, n)
            est, ref = est * within, ref * within
            rms = (ref.square().sum(-1) / lengths.clamp_min(1)).sqrt().clamp_min(self.eps)
            est_mag, est_cplx = self._compressed(est / rms[:, None])
            ref_mag, ref_cplx = self._compressed(ref / rms[:, None])
            mag_err = (est_mag - ref_mag).square()  # [B, F, T]
            cplx_err = (est_cplx - ref_cplx).abs().square()
            err = (1 - self.complex_weight) * mag_err + self.complex_weight * cplx_err
            frames = frames_within(lengths, self.hop, err.shape[-1])
            return (err.mean(1) * frames).sum(-1) / frames.sum(-1)

    def forward(self, est: torch.Tensor, ref: torch.Tensor,
                lengths: torch.Tensor | None = None) -> torch.Tensor:
        return self.per_utterance(est, ref, lengths).mean()
