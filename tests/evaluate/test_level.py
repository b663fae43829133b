"""Output level: mixture-consistent gain, the safe peak limiter, and their use by the Enhancer."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from tfgridnet.audio.levels import level_error_db
from tfgridnet.cli import main
from tfgridnet.inference.enhancer import Enhancer
from tfgridnet.inference.level import (
    LIMITER_CEILING,
    LevelCorrection,
    limit_peaks,
    mixture_consistent_gain,
)

OFF_DB = -12.0  # how far below the clean speech the stand-in model puts its output


class OffByGain(torch.nn.Module):
    """A denoiser that knows the clean speech of its one noisy input (it keeps ``residual`` of the
    noise) and outputs it ``OFF_DB`` too quiet: the -SI-SNR model's failure, with a known answer."""

    def __init__(self, noisy: np.ndarray, clean: np.ndarray, residual: float = 0.1) -> None:
        super().__init__()
        self.residual = residual
        self.noisy = torch.from_numpy(noisy)
        self.clean = torch.from_numpy(clean)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, N] -> [B, N]
        out = []
        noisy = self.noisy.numpy()
        for row in x:  # find the row's place in the whole signal (chunks are slices of it)
            n = row.shape[-1]
            s = next(s for s in np.flatnonzero(noisy[:noisy.size - n + 1] == float(row[0]))
                     if torch.equal(self.noisy[s:s + n], row))
            clean = self.clean[s:s + n]
            out.append(10 ** (OFF_DB / 20) * (clean + self.residual * (row - clean)))
        return torch.stack(out)


def _pair(make_speech, sr: int, seconds: float, snr_db: float, seed: int = 0):
    clean = make_speech(int(seconds * sr), sr, seed=seed).astype(np.float32)
    noise = np.random.default_rng(seed + 7).standard_normal(clean.size)
    noise *= np.sqrt(np.mean(clean**2) / np.mean(noise**2) / 10 ** (snr_db / 10))
    return (clean + noise).astype(np.float32), clean


def test_gain_is_the_energy_weighted_least_squares_solution(sr):
    from scipy.signal import stft

    rng = np.random.default_rng(0)
    n = 512 + 30 * 256  # whole frames: scipy's STFT without padding sees the same frames
    estimate, mixture = rng.standard_normal((3, n)), rng.standard_normal((3, n))
    mixture += 4.0 * estimate
    gains = mixture_consistent_gain(estimate, mixture, sr)
    for row in range(3):  # independent reference: scipy's STFT and numpy's least squares
        y = stft(estimate[row], nperseg=512, boundary=None, padded=False)[2].ravel()
        x = stft(mixture[row], nperseg=512, boundary=None, padded=False)[2].ravel()
        root_w = np.abs(y)
        a = np.concatenate([root_w * y.real, root_w * y.imag])[:, None]
        b = np.concatenate([root_w * x.real, root_w * x.imag])
        assert gains[row] == pytest.approx(np.linalg.lstsq(a, b, rcond=None)[0][0], rel=1e-9)


def test_gain_undoes_a_pure_gain_and_leaves_silence_and_anticorrelation_alone(sr):
    x = np.random.default_rng(1).standard_normal((3, 1000))
    gains = mixture_consistent_gain(np.stack([0.1 * x[0], np.zeros(1000), -x[2]]), x, sr)
    np.testing.assert_allclose(gains, [10.0, 1.0, 1.0], rtol=1e-12)
    with pytest.raises(ValueError, match="same shape"):
        mixture_consistent_gain(np.zeros(10), np.zeros(11), sr)


# The residual noise (10 %: -20 dB) follows the input noise; the energy weighting keeps it from
# pulling the level up even at 0 dB SNR (the unweighted projection: +0.8 dB there).
@pytest.mark.parametrize("snr_db,residual", [(0.0, 0.0), (0.0, 0.1), (5.0, 0.1), (10.0, 0.1)])
def test_a_model_12db_too_quiet_comes_back_within_half_a_db(make_speech, sr, snr_db, residual):
    noisy, clean = _pair(make_speech, sr, 1.0, snr_db)
    model = OffByGain(noisy, clean, residual)
    raw = Enhancer(model, sr, level=False).enhance(noisy, sr)
    fixed = Enhancer(model, sr).enhance(noisy, sr)
    assert level_error_db(raw, clean) == pytest.approx(OFF_DB, abs=0.5)
    assert abs(level_error_db(fixed, clean)) < 0.5


def test_chunked_streams_keep_the_suppression_of_a_speech_free_second(make_speech, sr, tmp_path):
    noisy, clean = _pair(make_speech, sr, 3.0, 5.0, seed=3)
    noisy[sr:2 * sr] -= clean[sr:2 * sr]  # a second without speech in the middle
    clean[sr:2 * sr] = 0.0
    enhancer = Enhancer(OffByGain(noisy, clean), sr, chunk_seconds=1.0, overlap_seconds=0.25)
    sf.write(tmp_path / "in.wav", noisy, sr, subtype="FLOAT")
    out = sf.read(enhancer.enhance_file(tmp_path / "in.wav", tmp_path / "out.wav"))[0]
    assert abs(level_error_db(out, clean)) < 0.5
    # the speech-free second keeps its noise suppression (a gain per chunk would undo it)
    kept = level_error_db(out[sr + 4000:2 * sr - 4000], noisy[sr + 4000:2 * sr - 4000])
    assert kept < -15.0


@pytest.mark.parametrize("channels", [1, 2])
def test_a_long_signal_gets_one_gain_per_channel_as_evaluate_gives_one_utterance(
        make_speech, sr, tmp_path, channels):
    """A file longer than a chunk is corrected like one utterance in evaluate: every chunk gets
    the gain of its whole channel (the energy-weighted projection of the whole raw output), not
    a running estimate from the chunks so far, which made a recording that starts without speech
    come out with its first chunk's noise unsuppressed (that chunk's own projection restores it)."""
    rows = []
    for c in range(channels):  # channel 2: another noise level, hence another gain
        noisy, clean = _pair(make_speech, sr, 4.0, 5.0 - 5.0 * c, seed=5 + c)
        lead = slice(0, int(1.5 * sr))  # 1.5 s of noise before the talker starts
        noisy[lead] -= clean[lead]
        clean[lead] = 0.0
        rows.append((noisy, clean))
    noisy, clean = np.stack([r[0] for r in rows]), np.stack([r[1] for r in rows])
    model = OffByGain(noisy.ravel(), clean.ravel())
    enhancer = Enhancer(model, sr, chunk_seconds=1.0, overlap_seconds=0.25)
    sf.write(tmp_path / "in.wav", noisy.T, sr, subtype="FLOAT")
    out = sf.read(enhancer.enhance_file(tmp_path / "in.wav", tmp_path / "out.wav"),
                  dtype="float32", always_2d=True)[0].T
    raw = Enhancer(model, sr, chunk_seconds=1.0, overlap_seconds=0.25, level=False).enhance(
        noisy, sr)
    whole = mixture_consistent_gain(raw, noisy, sr)  # evaluate's gain for the whole signal
    np.testing.assert_allclose(out, raw * whole[:, None].astype(np.float32), rtol=1e-4,
                               atol=1e-6)
    np.testing.assert_allclose(enhancer.enhance(noisy, sr), out, rtol=1e-4, atol=1e-6)
    for c in range(channels):
        assert abs(level_error_db(out[c], clean[c])) < 0.5
        # the lead-in keeps the noise suppression of the rest (the model's -20 dB residual)
        assert level_error_db(out[c, :sr], noisy[c, :sr]) < -15.0


@pytest.mark.parametrize("seed", range(3))
def test_a_level_stream_fed_in_blocks_equals_the_whole_signal_correction(seed, sr):
    """Whatever the blocks, the stream's gains are mixture_consistent_gain of the whole signal and
    its output limit_peaks of the whole gained signal (frames and limiter context cut the same)."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3000, 9000))
    mixture = rng.standard_normal((2, n)) * 0.2
    raw = 0.1 * mixture + 0.02 * rng.standard_normal((2, n))
    raw[:, rng.integers(0, n, 12)] *= 30.0  # peaks for the limiter, some near block edges
    correction = LevelCorrection(sr)
    stream = correction.stream(2)
    cuts = np.sort(rng.choice(np.arange(1, n), size=6, replace=False))
    for block in np.split(np.arange(n), cuts):
        stream.observe(raw[:, block], mixture[:, block])
    gains = stream.gains()
    np.testing.assert_allclose(gains, mixture_consistent_gain(raw, mixture, sr), rtol=1e-10)
    out = np.concatenate([stream.correct(raw[:, block]) for block in np.split(np.arange(n), cuts)]
                         + [stream.flush()], axis=-1)
    want, over = limit_peaks((raw * gains[:, None]).astype(np.float32), sr)
    assert over > 0 and correction.limited_samples == over
    np.testing.assert_allclose(out, want, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("seed", range(5))
def test_limiter_never_exceeds_the_ceiling_and_counts_what_it_limited(seed, sr):
    rng = np.random.default_rng(seed)
    audio = (rng.standard_normal(sr) * 10 ** rng.uniform(-1.5, 0.5)).astype(np.float32)
    audio[rng.integers(0, sr, 20)] = rng.choice([-1, 1], 20) * rng.uniform(1, 50, 20)
    limited, over = limit_peaks(audio, sr)
    assert over == int(np.count_nonzero(np.abs(audio) > LIMITER_CEILING))
    assert np.max(np.abs(limited)) <= LIMITER_CEILING and limited.dtype == np.float32
    # a limiter, not a compressor: it only ever turns samples down, never flips or boosts them
    assert np.all(np.abs(limited) <= np.abs(audio) + 1e-7)
    assert np.all(np.sign(limited) * np.sign(audio) >= 0)


def test_limiter_leaves_audio_under_the_ceiling_untouched(sr):
    audio = 0.5 * np.sin(np.arange(sr) * 0.01).astype(np.float32)
    limited, over = limit_peaks(audio, sr)
    assert over == 0 and limited is audio


def test_a_model_over_full_scale_is_limited_not_clipped(sr, tmp_path):
    class Loud(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return 8.0 * x

    x = 0.5 * np.sin(2 * np.pi * 200 * np.arange(sr) / sr).astype(np.float32)
    enhancer = Enhancer(Loud(), sr, level=False)
    out = enhancer.enhance(x, sr)
    assert np.max(np.abs(out)) <= LIMITER_CEILING + 1e-3  # + resampler-free path: same rate
    assert enhancer.level.limited_samples > 0
    assert np.max(np.abs(Enhancer(Loud(), sr).enhance(x, sr) - x)) < 1e-4  # corrected: x again


def test_level_correction_counts_in_the_enhance_cli(exported_dir, make_speech, sr, tmp_path,
                                                    capsys):
    noisy, _ = _pair(make_speech, sr, 1.0, 5.0)
    sf.write(tmp_path / "in.wav", noisy, sr, subtype="FLOAT")
    assert main(["enhance", str(exported_dir), str(tmp_path / "in.wav"), "--out",
                 str(tmp_path / "level")]) == 0
    assert "level matched to the input" in capsys.readouterr().out
    assert main(["enhance", str(exported_dir), str(tmp_path / "in.wav"), "--out",
                 str(tmp_path / "raw"), "--raw-level"]) == 0
    assert "level raw" in capsys.readouterr().out
    corrected = sf.read(tmp_path / "level" / "in.wav")[0]
    raw = sf.read(tmp_path / "raw" / "in.wav")[0]
    gain = mixture_consistent_gain(raw, noisy, sr)
    np.testing.assert_allclose(corrected, gain * raw, atol=1e-5)


def test_level_correction_object_can_be_switched_off(sr):
    x = np.random.default_rng(2).standard_normal((2, 300)).astype(np.float32) * 0.1
    off = LevelCorrection(sr, enabled=False)
    np.testing.assert_array_equal(off(0.25 * x, x), 0.25 * x)
    np.testing.assert_allclose(LevelCorrection(sr)(0.25 * x, x), x, rtol=1e-5)
