"""URGENT-style distortions: each one against an independent reference, and their hook in mixing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import welch

from tfgridnet.data.datasets import DynamicMixDataset, collate_pairs
from tfgridnet.data.distortions import (
    DistortionConfig,
    Distortions,
    band_limit,
    clip,
    codec_round_trip,
    early_part,
    reverberate,
)
from tfgridnet.train.config import ConfigError
from tfgridnet.train.config_files import config_from_dict

from .conftest import speech_like

RATE = 16000


def _rir(rate: int, seed: int = 0) -> np.ndarray:
    """Direct path at 5 ms, then an exponentially decaying noise tail (RT60 ~ 0.3 s)."""
    rng = np.random.default_rng(seed)
    n = int(0.4 * rate)
    t = np.arange(n) / rate
    rir = 0.3 * rng.standard_normal(n) * np.exp(-6.9 * t / 0.3) * (t > 0.006)
    rir[int(0.005 * rate)] = 1.0
    return rir


def test_reverberation_target_is_the_speech_through_the_early_rir() -> None:
    speech = speech_like(1.0, RATE)
    rir = _rir(RATE)
    reverberant, target = reverberate(speech, rir, RATE, early_ms=50)
    direct = int(0.005 * RATE)
    early = early_part(rir, RATE, 50)
    assert np.all(early[direct + 801:] == 0) and np.array_equal(early[:direct + 801],
                                                               rir[:direct + 801])
    # Independent reference: direct time-domain convolution in float64.
    np.testing.assert_allclose(target, np.convolve(speech, early)[:speech.size], atol=1e-9)
    np.testing.assert_allclose(reverberant, np.convolve(speech, rir)[:speech.size], atol=1e-9)
    assert np.sum((reverberant - target) ** 2) > 0.01 * np.sum(target ** 2)  # a real tail


@pytest.mark.parametrize("low_rate", [8000, 4000])
def test_band_limiting_removes_everything_above_the_lower_nyquist(low_rate: int) -> None:
    noise = np.random.default_rng(0).standard_normal(RATE)
    out = band_limit(noise, RATE, low_rate)
    assert out.shape == noise.shape
    freqs, psd_in = welch(noise, RATE, nperseg=1024)
    _, psd_out = welch(out, RATE, nperseg=1024)
    above = freqs > low_rate / 2 * 1.1
    below = freqs < low_rate / 2 * 0.9
    assert 10 * np.log10(psd_out[above].mean() / psd_in[above].mean()) < -40
    assert abs(10 * np.log10(psd_out[below].mean() / psd_in[below].mean())) < 1


def test_clipping_bounds_the_signal_at_its_quantiles() -> None:
    x = np.random.default_rng(1).standard_normal(10000)
    out = clip(x, 0.05, 0.9)
    assert out.min() == pytest.approx(np.sort(x)[int(0.05 * 9999)], abs=0.02)
    assert np.mean(out == out.max()) == pytest.approx(0.1, abs=0.01)
    assert np.mean(out == out.min()) == pytest.approx(0.05, abs=0.01)
    inside = (x > out.min()) & (x < out.max())
    assert np.array_equal(out[inside], x[inside])


@pytest.mark.parametrize(("codec", "rate"), [("mp3", 16000), ("vorbis", 44100), ("opus", 48000)])
def test_codec_round_trip_is_lossy_but_sample_aligned(codec: str, rate: int) -> None:
    speech = speech_like(1.0, rate)
    out = codec_round_trip(speech, rate, codec)
    assert out.shape == speech.shape
    error = out - speech
    snr = 10 * np.log10(np.sum(speech ** 2) / np.sum(error ** 2))
    assert 3 < snr < 60  # changed, but the same signal
    lags = np.arange(-20, 21)
    corr = [np.dot(np.roll(out, k), speech) for k in lags]
    assert lags[int(np.argmax(corr))] == 0


def test_opus_at_an_unsupported_rate_is_refused() -> None:
    with pytest.raises(ValueError, match="44100"):
        codec_round_trip(np.zeros(100), 44100, "opus")


def _write(path: Path, audio: np.ndarray, rate: int) -> Path:
    sf.write(path, audio, rate, subtype="FLOAT")
    return path


@pytest.fixture
def mixing_files(tmp_path: Path) -> dict[str, Path]:
    _write(tmp_path / "s.wav", speech_like(1.0, RATE), RATE)
    _write(tmp_path / "n.wav", 0.1 * np.random.default_rng(2).standard_normal(RATE), RATE)
    _write(tmp_path / "r.wav", _rir(RATE), RATE)
    (tmp_path / "clean.csv").write_text("uttid,clean\ns0,s.wav\n")
    (tmp_path / "noise.csv").write_text("uttid,noise\nn0,n.wav\n")
    (tmp_path / "rir.csv").write_text("uttid,rir\nroom1,r.wav\n")
    return {k: tmp_path / f"{k}.csv" for k in ("clean", "noise", "rir")}


def test_dynamic_mixing_records_every_distortion_in_the_conditions(mixing_files) -> None:
    from tfgridnet.data.manifest import read_noise_manifest

    config = DistortionConfig(reverb_prob=1, bandlimit_prob=1, bandlimit_rates=[8000],
                              clip_prob=1, codec_prob=1, codecs=["mp3"])
    rirs = read_noise_manifest(mixing_files["rir"], column="rir")
    dataset = DynamicMixDataset(mixing_files["clean"], mixing_files["noise"], RATE,
                                crop_seconds=0.5, snr_range=(10, 10), gain_range_db=(0, 0),
                                distortions=Distortions(config, rirs))
    item = dataset[0]
    parts = item["conditions"]["distortions"].split(";")
    assert parts[0] == "reverb=rir:room1" and parts[1] == "bandlimit=8000"
    assert parts[2].startswith("clip=") and parts[3] == "codec=mp3"
    assert collate_pairs([item, dataset[0]])["conditions"] == [item["conditions"]] * 2
    assert item["conditions"]["clean_id"] == "s0"  # with the mixing's own conditions
    # Deterministic per (seed, epoch, index); the target is the early-reverberant clean speech.
    again = dataset[0]
    assert again["conditions"] == item["conditions"]
    assert np.array_equal(again["noisy"].numpy(), item["noisy"].numpy())
    plain = DynamicMixDataset(mixing_files["clean"], mixing_files["noise"], RATE,
                              crop_seconds=0.5, snr_range=(10, 10), gain_range_db=(0, 0))
    assert "distortions" not in plain[0]["conditions"]
    assert not np.allclose(plain[0]["clean"].numpy(), item["clean"].numpy(), atol=1e-3)


def test_simulated_rirs_come_from_pyroomacoustics() -> None:
    pytest.importorskip("pyroomacoustics",
                        reason="needs the urgent extra, pyroomacoustics (`make install` has it)")
    config = DistortionConfig(reverb_prob=1, simulated_rirs=1, rt60_range=(0.3, 0.3))
    draw = Distortions(config, seed=1).draw(np.random.default_rng(0), 8000)
    assert draw.conditions == "reverb=sim:rt60=0.30"
    rir = draw.rir
    assert np.max(np.abs(rir)) == pytest.approx(1.0)
    energy = np.cumsum(rir[::-1] ** 2)[::-1]  # Schroeder decay
    decay_db = 10 * np.log10(energy / energy[0])
    t20 = np.argmax(decay_db < -25) - np.argmax(decay_db < -5)
    assert 0.1 < 3 * t20 / 8000 < 0.6  # RT60 from T20, around the asked 0.3 s


def test_reverb_without_rirs_and_distortions_without_mixing_are_config_errors(tmp_path) -> None:
    with pytest.raises(ValueError, match="needs RIRs"):
        Distortions(DistortionConfig(reverb_prob=0.5))
    raw = {"data": {"train_manifest": str(tmp_path / "t.csv"), "valid_manifest": "v.csv",
                    "distortions": {"clip_prob": 0.5}}}
    with pytest.raises(ConfigError, match="dynamic mixing"):
        config_from_dict(raw)
    with pytest.raises(ConfigError, match="clip_quantiles"):
        config_from_dict({"data": {"distortions": {"clip_quantiles": [0.9, 0.1]}}})
