"""The compressed spectral loss against a float64 NumPy reference, and the properties it is for."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tfgridnet.losses import CompressedSpectralLoss


def reference_loss(est: np.ndarray, ref: np.ndarray, n_fft: int, hop: int, power: float,
                   complex_weight: float) -> float:
    """float64: centred reflect-padded periodic-Hann STFT, compressed mag/complex MSE."""
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)

    def spectrum(x: np.ndarray) -> np.ndarray:
        x = np.pad(x, n_fft // 2, mode="reflect")
        frames = np.stack([x[i:i + n_fft] for i in range(0, len(x) - n_fft + 1, hop)])
        return np.fft.rfft(frames * window, axis=-1)

    rms = np.sqrt(np.mean(ref ** 2))
    s_est, s_ref = spectrum(est / rms), spectrum(ref / rms)
    m_est, m_ref = np.abs(s_est) ** power, np.abs(s_ref) ** power
    c_est = m_est * np.exp(1j * np.angle(s_est))
    c_ref = m_ref * np.exp(1j * np.angle(s_ref))
    return float((1 - complex_weight) * np.mean((m_est - m_ref) ** 2)
                 + complex_weight * np.mean(np.abs(c_est - c_ref) ** 2))


def test_matches_float64_reference():
    rng = np.random.default_rng(0)
    ref = rng.standard_normal(4000) * 0.1
    est = ref + 0.05 * rng.standard_normal(4000)
    loss = CompressedSpectralLoss(n_fft=256, hop=64)
    got = loss(torch.tensor(est[None], dtype=torch.float32),
               torch.tensor(ref[None], dtype=torch.float32)).item()
    want = reference_loss(est, ref, 256, 64, 0.3, 0.3)
    assert got == pytest.approx(want, rel=1e-4)


def test_zero_for_a_perfect_estimate_and_level_aware():
    torch.manual_seed(0)
    ref = 0.1 * torch.randn(2, 3000)
    loss = CompressedSpectralLoss(n_fft=256, hop=64)
    assert loss(ref, ref).item() < 1e-6
    # the recording's level does not matter...
    assert loss(0.5 * ref, ref).item() == pytest.approx(loss(5.0 * ref, 10.0 * ref).item(),
                                                        rel=1e-4)
    # ...the estimate's gain does (SI-SNR would call both perfect)
    assert loss(0.3 * ref, ref).item() > 0.1


def test_samples_past_an_items_length_do_not_count():
    torch.manual_seed(0)
    ref = 0.1 * torch.randn(1, 3000)
    est = ref + 0.02 * torch.randn(1, 3000)
    loss = CompressedSpectralLoss(n_fft=256, hop=64)
    short = loss(est[:, :2048], ref[:, :2048])
    padded_est = torch.cat([est[:, :2048], 5 * torch.randn(1, 952)], dim=1)
    padded = loss(padded_est, ref, torch.tensor([2048]))
    assert padded.item() == pytest.approx(short.item(), rel=0.05)


def test_gradient_is_finite_at_silence():
    est = torch.zeros(1, 2000, requires_grad=True)
    CompressedSpectralLoss(n_fft=256, hop=64)(est, 0.1 * torch.randn(1, 2000)).backward()
    assert torch.isfinite(est.grad).all()
