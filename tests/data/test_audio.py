from __future__ import annotations

import librosa
import numpy as np
import pytest
import soundfile as sf
from scipy import signal

from tfgridnet.audio import (  # the package facade: every helper in one import
    AudioError,
    bandpass,
    load_audio,
    loudness_normalise_pair,
    peak_normalise_pair,
    resample,
    rms_dbfs,
    save_audio,
)
from tfgridnet.metrics import si_snr_numpy

from .conftest import mix_at_snr, speech_like


@pytest.mark.parametrize("orig_sr", [48000, 22050])
def test_resample_matches_librosa_default(orig_sr):
    audio = speech_like(1.0, orig_sr, seed=3).astype(np.float32)
    ours = resample(audio, orig_sr, 16000)
    theirs = librosa.resample(audio, orig_sr=orig_sr, target_sr=16000, res_type="soxr_hq")
    assert ours.shape == theirs.shape
    assert np.max(np.abs(ours - theirs)) < 1e-5


def test_resample_keeps_channels_on_the_first_axis():
    stereo = np.stack([speech_like(0.5, 48000, 1), speech_like(0.5, 48000, 2)]).astype(np.float32)
    out = resample(stereo, 48000, 16000)
    assert out.shape == (2, 8000)
    np.testing.assert_allclose(out[1], resample(stereo[1], 48000, 16000), atol=1e-6)


def test_bandpass_is_zero_phase_with_the_expected_gains():
    sample_rate = 48000
    rng = np.random.default_rng(0)
    noise = rng.standard_normal(sample_rate)
    filtered = bandpass(noise, sample_rate, 80.0, 7000.0, order=8)
    xcorr = signal.correlate(filtered, noise, mode="full", method="fft")
    assert int(np.argmax(xcorr)) - (noise.size - 1) == 0

    t = np.arange(sample_rate) / sample_rate

    def gain_db(freq: float) -> float:
        tone = np.sin(2 * np.pi * freq * t)
        out = bandpass(tone, sample_rate, 80.0, 7000.0, order=8)
        core = slice(4800, -4800)
        return 20 * np.log10(np.std(out[core]) / np.std(tone[core]))

    assert abs(gain_db(1000.0)) < 0.1
    assert gain_db(20.0) < -60
    assert gain_db(15000.0) < -60


def test_bandpass_high_order_at_48k_is_finite_where_ba_form_fails():
    audio = speech_like(1.0, 48000, seed=5)
    out = bandpass(audio, 48000, 50.0, 8000.0, order=10)
    assert np.all(np.isfinite(out))
    assert si_snr_numpy(out, audio) > 15


def test_bandpass_rejects_inverted_band():
    with pytest.raises(ValueError, match="below"):
        bandpass(np.zeros(100), 16000, 4000.0, 300.0)


def test_save_then_load_round_trips_and_clips_without_wrap(tmp_path):
    audio = np.array([0.0, 0.5, -0.5, 1.7, -3.0], dtype=np.float32)
    path = save_audio(tmp_path / "x.wav", audio, 16000)
    loaded, sr = load_audio(path)
    assert sr == 16000 and loaded.dtype == np.float32
    np.testing.assert_allclose(loaded[:3], audio[:3], atol=1 / 32768)
    assert loaded[3] > 0.99 and loaded[4] < -0.99  # clipped, not wrapped to the other sign
    assert sf.info(str(path)).subtype == "PCM_16"
    assert not list(tmp_path.glob(".*tmp"))


def test_mono_policies(tmp_path):
    left, right = np.full(100, 0.2), np.full(100, -0.6)
    path = save_audio(tmp_path / "st.wav", np.stack([left, right]), 8000, subtype="FLOAT")
    assert load_audio(path, mono="keep")[0].shape == (2, 100)
    np.testing.assert_allclose(load_audio(path, mono="average")[0], -0.2, atol=1e-6)
    np.testing.assert_allclose(load_audio(path, mono="first")[0], 0.2, atol=1e-6)
    with pytest.raises(AudioError, match="st.wav.*2 channels"):
        load_audio(path, mono="error")


def test_load_resamples_to_target_rate(tmp_path):
    audio = speech_like(0.5, 48000)
    path = save_audio(tmp_path / "a.wav", audio, 48000, subtype="FLOAT")
    out, sr = load_audio(path, target_sr=16000)
    assert sr == 16000 and out.shape == (8000,)


def test_missing_and_corrupt_files_raise_audio_error_naming_the_file(tmp_path):
    with pytest.raises(AudioError, match="nope.wav.*not found"):
        load_audio(tmp_path / "nope.wav")
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF\x00\x00garbage")
    with pytest.raises(AudioError, match="bad.wav.*unreadable"):
        load_audio(bad)
    assert issubclass(AudioError, ValueError)


def test_pair_normalisers_apply_one_gain_and_keep_si_snr():
    clean = speech_like(1.0, 16000)
    noisy = mix_at_snr(clean, np.random.default_rng(0).standard_normal(clean.size), 7.0)
    before = si_snr_numpy(noisy, clean)
    n2, c2, gain = peak_normalise_pair(noisy, clean, peak=0.5)
    assert max(np.abs(n2).max(), np.abs(c2).max()) == pytest.approx(0.5)
    np.testing.assert_allclose(n2, noisy * gain)
    np.testing.assert_allclose(c2, clean * gain)
    n3, c3, gain3 = loudness_normalise_pair(noisy, clean, target_dbfs=-30.0)
    assert rms_dbfs(n3) == pytest.approx(-30.0, abs=1e-6)
    np.testing.assert_allclose(c3, clean * gain3)
    assert si_snr_numpy(n3, c3) == pytest.approx(before, abs=1e-6)
    assert before == pytest.approx(7.0, abs=1e-6)
