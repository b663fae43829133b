"""Multichannel references (data/checks/channels.py): one talker on two microphones stays a
warning; another talker on a channel is an error naming the pair and the figure. The references
are made by the data code: eSpeak NG speech of the demo corpus, its noises and simulated rooms."""

from __future__ import annotations

import re

import numpy as np
import pytest
from scipy import signal

from tfgridnet.audio.io import save_audio
from tfgridnet.audio.resample import resample
from tfgridnet.data.checks import THRESHOLDS, check_data
from tfgridnet.data.checks.channels import envelope_correlation
from tfgridnet.data.demo import EspeakSynth, make_noise, make_sentences
from tfgridnet.data.distortions import reverberate, simulate_rir
from tfgridnet.data.manifest import Pair, write_manifest

RATE = 48000  # a studio rate: the check analyses at 16 kHz
LIMIT = THRESHOLDS["channel_same_source_correlation"]
CHANNEL_KINDS = ("multichannel", "unrelated_channels")  # the channels detector's; the reference
# audit also speaks of these references (eSpeak at 48 kHz is band-limited), which is its own test
FIGURE = re.compile(r"channels (\d) and (\d): envelope correlation (-?\d\.\d\d)")


def talker(index: int, voice: str) -> np.ndarray:
    synth = EspeakSynth.shared()
    speech = synth.synthesize(make_sentences(4, seed=11)[index], voice=voice)
    return 0.3 * resample(speech, synth.sample_rate, RATE).astype(np.float64)


def delayed(x: np.ndarray, ms: float) -> np.ndarray:
    shift = int(round(ms * RATE / 1000))
    return np.concatenate([np.zeros(shift), x[:x.size - shift]])


def channel_problems(report) -> list:
    return [p for p in report.problems if p.kind in CHANNEL_KINDS]


def check(tmp_path, clean: np.ndarray, noisy: np.ndarray | None = None):
    """check-data on one pair: ``clean`` ``[C, N]``; noisy defaults to its mono mix plus pink
    noise at 5 dB (what a recording of that reference would hold)."""
    if noisy is None:
        mono = clean.mean(axis=0)
        noise = make_noise("pink", mono.size, RATE, np.random.default_rng(0))
        noisy = mono + noise * np.sqrt(np.mean(mono ** 2) / np.mean(noise ** 2) / 10 ** 0.5)
    pair = Pair("u", save_audio(tmp_path / "noisy.wav", noisy, RATE, subtype="FLOAT"),
                save_audio(tmp_path / "clean.wav", clean, RATE, subtype="FLOAT"))
    return check_data(write_manifest(tmp_path / "m.csv", [pair]), workers=1)


@pytest.fixture(scope="module")
def two_talkers() -> tuple[np.ndarray, np.ndarray]:
    a, b = talker(0, "en-us+m1"), talker(1, "en+f2")
    n = min(a.size, b.size)
    return a[:n], b[:n]


@pytest.mark.parametrize("microphones", ["gain and delay", "two room paths"])
def test_one_talker_on_two_microphones_stays_a_warning(tmp_path, two_talkers, microphones):
    a = two_talkers[0]
    if microphones == "gain and delay":  # 8 dB quieter and 3 ms later on the second microphone
        clean = np.stack([a, 0.4 * delayed(a, 3.0)])
    else:  # each microphone hears the talker through its own room path (RT60 0.4 s)
        rng = np.random.default_rng(2)
        clean = np.stack([reverberate(a, simulate_rir(rng, RATE, 0.4), RATE, 50.0)[0]
                          for _ in range(2)])
    report = check(tmp_path, clean)
    (problem,) = channel_problems(report)
    assert (problem.kind, problem.severity) == ("multichannel", "warning")
    assert "clean has 2 channels of one source" in problem.message
    first, second, value = FIGURE.search(problem.message).groups()
    assert (first, second) == ("1", "2") and float(value) >= LIMIT


def test_another_talker_on_the_second_channel_is_an_error_naming_the_pair(tmp_path, two_talkers):
    a, b = two_talkers
    report = check(tmp_path, np.stack([a, 0.7 * b]))
    assert not report.ok
    (problem,) = [p for p in report.problems if p.severity == "error"]
    assert problem.kind == "unrelated_channels" and problem.message.startswith("clean channels")
    first, second, value = FIGURE.search(problem.message).groups()
    assert (first, second) == ("1", "2") and float(value) < LIMIT
    assert f"< {LIMIT}" in problem.message


def test_the_unrelated_channel_of_three_is_the_one_named(tmp_path, two_talkers):
    a, b = two_talkers
    report = check(tmp_path, np.stack([a, 0.5 * delayed(a, 1.0), 0.8 * b]))
    (problem,) = [p for p in report.problems if p.kind == "unrelated_channels"]
    first, second, _ = FIGURE.search(problem.message).groups()
    assert second == "3" and first in ("1", "2")


def test_a_noisy_side_holding_two_talkers_is_only_a_warning(tmp_path, two_talkers):
    """The noisy side's average is the model's input, not its target: reported, not refused."""
    a, b = two_talkers
    noise = make_noise("white", a.size, RATE, np.random.default_rng(1))
    noisy = np.stack([a + 0.1 * noise, 0.6 * b + 0.1 * noise])
    report = check(tmp_path, a, noisy)
    kinds = {(p.kind, p.severity) for p in report.problems}
    assert ("multichannel", "warning") in kinds and "unrelated_channels" not in {k for k, _ in kinds}
    assert any("noisy has 2 channels holding different signals" in p.message
               for p in report.problems)


def test_a_silent_channel_is_named_and_not_compared(tmp_path, two_talkers):
    a = two_talkers[0]
    report = check(tmp_path, np.stack([a, np.zeros_like(a)]))
    (problem,) = channel_problems(report)
    assert problem.kind == "multichannel" and "channel(s) 2 silent" in problem.message


def _reference_envelope_correlation(a: np.ndarray, b: np.ndarray, rate: int) -> float:
    """scipy's STFT and numpy's corrcoef, band by band, with the same bands and frames."""
    frame = int(round(THRESHOLDS["channel_frame_s"] * rate))
    edges = 100.0 * 2.0 ** (np.arange(0, 19) / 3)
    freqs, _, spec_a = signal.stft(a, rate, window="hann", nperseg=frame, noverlap=frame // 2,
                                   boundary=None, padded=False, detrend=False)
    spec_b = signal.stft(b, rate, window="hann", nperseg=frame, noverlap=frame // 2,
                         boundary=None, padded=False, detrend=False)[2]
    values, energies = [], []
    for low, high in zip(edges[:-1], edges[1:]):
        band = (freqs >= low) & (freqs < high)
        env_a = np.sum(np.abs(spec_a[band]) ** 2, axis=0)
        env_b = np.sum(np.abs(spec_b[band]) ** 2, axis=0)
        values.append(np.corrcoef(env_a, env_b)[0, 1])
        energies.append((env_a.sum(), env_b.sum()))
    energy_a, energy_b = np.array(energies).T
    use = (energy_a > energy_a.max() * 1e-5) & (energy_b > energy_b.max() * 1e-5)
    return float(np.median(np.array(values)[use]))


def test_envelope_correlation_matches_an_independent_reference(two_talkers):
    a, b = (resample(x, RATE, 16000).astype(np.float64) for x in two_talkers)
    for first, second in ((a, 0.3 * delayed(a, 2.0)), (a, b), (a, a + 0.5 * b)):
        assert envelope_correlation(first, second, 16000) == pytest.approx(
            _reference_envelope_correlation(first, second, 16000), abs=1e-9)
