"""The one SI-SNR implementation against a float64 NumPy reference and torchmetrics."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torchmetrics.functional.audio import scale_invariant_signal_noise_ratio

from tfgridnet import si_snr
from tfgridnet.losses import NegSISNRLoss
from tfgridnet.metrics import si_snr_numpy


def numpy_si_snr(est: np.ndarray, ref: np.ndarray) -> float:
    est = est.astype(np.float64) - est.mean()
    ref = ref.astype(np.float64) - ref.mean()
    target = np.dot(est, ref) / np.dot(ref, ref) * ref
    return 10 * np.log10(np.sum(target**2) / np.sum((est - target) ** 2))


def test_si_snr_equals_float64_numpy_reference() -> None:
    rng = np.random.default_rng(0)
    ref = rng.standard_normal((4, 8000))
    est = ref + rng.standard_normal((4, 8000)) * np.array([[0.1], [0.5], [1.0], [3.0]])
    ours = si_snr(torch.from_numpy(est), torch.from_numpy(ref)).numpy()
    expected = [numpy_si_snr(e, r) for e, r in zip(est, ref)]
    np.testing.assert_allclose(ours, expected, atol=1e-6)


def test_si_snr_equals_torchmetrics() -> None:
    torch.manual_seed(0)
    ref = torch.randn(3, 16000)
    est = ref + 0.3 * torch.randn(3, 16000)
    torch.testing.assert_close(si_snr(est, ref), scale_invariant_signal_noise_ratio(est, ref),
                               atol=1e-4, rtol=1e-5)


def test_si_snr_is_scale_and_sign_invariant_and_higher_is_better() -> None:
    rng = np.random.default_rng(1)
    ref = rng.standard_normal(4000)
    est = ref + 0.2 * rng.standard_normal(4000)
    worse = ref + 1.0 * rng.standard_normal(4000)
    assert si_snr_numpy(est, ref) == pytest.approx(si_snr_numpy(-32768 * est, ref), abs=1e-6)
    assert si_snr_numpy(est, ref) > si_snr_numpy(worse, ref)


def test_shape_mismatch_raises_instead_of_broadcasting() -> None:
    with pytest.raises(ValueError, match="no broadcasting"):
        si_snr(torch.randn(8, 1, 100), torch.randn(8, 100))


def test_loss_is_negative_si_snr_and_clamped() -> None:
    ref = torch.randn(2, 1000)
    est = ref + 0.1 * torch.randn(2, 1000)
    loss = NegSISNRLoss(clamp_db=None)
    assert loss(est, ref).item() == pytest.approx(-si_snr(est, ref).mean().item(), abs=1e-5)
    assert NegSISNRLoss(clamp_db=70.0)(ref.clone(), ref).item() == pytest.approx(-70.0)


def test_loss_with_lengths_scores_each_item_over_its_own_samples() -> None:
    torch.manual_seed(0)
    ref = torch.randn(2, 800)
    est = ref + 0.2 * torch.randn(2, 800)
    est[1, 500:] = 3.0  # padding garbage beyond the second item's length
    loss = NegSISNRLoss(clamp_db=None)(est, ref, torch.tensor([800, 500]))
    expected = -(si_snr(est[0], ref[0]) + si_snr(est[1, :500], ref[1, :500])) / 2
    assert loss.item() == pytest.approx(expected.item(), abs=1e-5)
