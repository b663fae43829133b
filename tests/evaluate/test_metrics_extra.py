from __future__ import annotations

import numpy as np
import pytest
import torch
from torchmetrics.functional.audio import (
    perceptual_evaluation_speech_quality,
    scale_invariant_signal_distortion_ratio,
    short_time_objective_intelligibility,
)

from tfgridnet.audio.resample import resample
from tfgridnet.metrics import MetricError, dnsmos, estoi, pesq_wb, si_sdr, stoi


@pytest.fixture
def speech_pair(make_speech, sr):
    clean = make_speech(2 * sr, sr, seed=3).astype(np.float64)
    noisy = clean + 0.03 * np.random.default_rng(0).standard_normal(clean.size)
    return noisy, clean


def test_si_sdr_matches_torchmetrics_and_a_float64_formula(speech_pair):
    noisy, clean = speech_pair
    noisy = noisy + 0.1  # an offset: SI-SDR (no mean removal) must see it, SI-SNR would not
    ours = float(si_sdr(noisy, clean))
    reference = float(scale_invariant_signal_distortion_ratio(
        torch.from_numpy(noisy), torch.from_numpy(clean), zero_mean=False))
    alpha = noisy @ clean / (clean @ clean)
    by_hand = 10 * np.log10(np.sum((alpha * clean) ** 2) / np.sum((noisy - alpha * clean) ** 2))
    assert ours == pytest.approx(reference, abs=1e-6)
    assert ours == pytest.approx(by_hand, abs=1e-6)


def test_pesq_wb_matches_torchmetrics_and_resamples_other_rates(speech_pair, sr):
    noisy, clean = speech_pair
    ours = pesq_wb(noisy, clean, sr)
    reference = float(perceptual_evaluation_speech_quality(
        torch.from_numpy(noisy), torch.from_numpy(clean), sr, "wb"))
    assert ours == pytest.approx(reference, abs=1e-4)
    assert pesq_wb(clean, clean, sr) > 4.5 > ours
    up_noisy, up_clean = resample(noisy, sr, 32000), resample(clean, sr, 32000)
    assert pesq_wb(up_noisy, up_clean, 32000) == pytest.approx(ours, abs=0.1)


def test_stoi_and_estoi_match_torchmetrics(speech_pair, sr):
    noisy, clean = speech_pair
    for extended, ours in ((False, stoi(noisy, clean, sr)), (True, estoi(noisy, clean, sr))):
        reference = float(short_time_objective_intelligibility(
            torch.from_numpy(noisy), torch.from_numpy(clean), sr, extended))
        assert ours == pytest.approx(reference, abs=1e-6)
    assert stoi(clean, clean, sr) == pytest.approx(1.0, abs=1e-6)


def test_undefined_metrics_raise_with_the_reason(speech_pair, sr):
    noisy, clean = speech_pair
    with pytest.raises(MetricError, match="too little active speech"):
        stoi(noisy[:3000], clean[:3000], sr)
    with pytest.raises(MetricError, match="too short"):
        pesq_wb(noisy[:1000], clean[:1000], sr)
    with pytest.raises(MetricError, match="silent"):
        pesq_wb(noisy, np.zeros_like(clean), sr)
    with pytest.raises(MetricError, match="equal length"):
        estoi(noisy[:-1], clean, sr)


@pytest.mark.slow
def test_dnsmos_scores_clean_speech_above_heavily_noisy_speech(make_speech, sr):
    pytest.importorskip("speechmos", reason="DNSMOS needs the optional extra tfgridnet[dnsmos]")
    pytest.importorskip("onnxruntime", reason="DNSMOS needs the optional extra tfgridnet[dnsmos]")
    clean = make_speech(3 * sr, sr, seed=1)
    noisy = clean + 0.2 * np.random.default_rng(1).standard_normal(clean.size)
    clean_scores, noisy_scores = dnsmos(clean, sr), dnsmos(noisy, sr)
    assert set(clean_scores) == {"dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl", "dnsmos_p808"}
    assert all(1.0 <= v <= 5.0 for v in clean_scores.values())
    assert clean_scores["dnsmos_bak"] > noisy_scores["dnsmos_bak"]
