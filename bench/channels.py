"""Multichannel clean references: how related are two channels of one talker, and of two talkers?

Sets check-data's ``unrelated_channels`` threshold (``THRESHOLDS["channel_same_source_coherence"]``,
docs/data-checks.md). Every reference is built from the demo corpus's speech (eSpeak NG through
``tfgridnet.data.demo``: its sentences and its train voices) at 16 kHz, then measured by
``tfgridnet.data.checks.channels.channel_relations``, the detector's own measurement:

one source (should stay a warning):
  * gains: channel 2 = channel 1 at 0, -6, -12, -20 dB, delayed 0, 0.5, 1, 2, 3, 5 ms
    (fractional delays: an exact FFT phase shift);
  * two rooms: each channel through its own simulated room (``data.distortions.simulate_rir``,
    RT60 0.2-0.8 s): harder than any real pair of microphones, which share one room;
  * one room, two microphones 5-50 cm apart (pyroomacoustics image sources, RT60 0.2-0.8 s);
  * sensor noise: independent white noise on each channel at 20 and 30 dB SNR (with a delay);

different signals (should be an error):
  * another talker: channel 2 = another voice speaking another sentence, at 0, -6, -12, -20 dB;
  * same voice, another sentence;
  * crosstalk: two lapel microphones, each talker on its own channel with the other leaking in
    at -20 or -10 dB (the hardest: each channel holds some of the other).

Prints each family's envelope correlation distribution, and how many fall on each side of the
threshold. A measurement for the docs, not a speed benchmark: nothing is appended
to RESULTS.md.

    python bench/channels.py [--count 24] [--seed 0]
"""

from __future__ import annotations

import argparse
from collections import defaultdict

import numpy as np
from _common import markdown_table

from tfgridnet.audio.resample import resample
from tfgridnet.data.checks.channels import channel_relations
from tfgridnet.data.checks.thresholds import THRESHOLDS
from tfgridnet.data.demo import _TRAIN_VOICES, EspeakSynth, make_sentences
from tfgridnet.data.distortions import simulate_rir

RATE = 16000
ONE_SOURCE = ("gains", "two rooms", "one room, two mics", "sensor noise")


def speech(text: str, voice: str) -> np.ndarray:
    synth = EspeakSynth.shared()
    audio = resample(synth.synthesize(text, voice=voice), synth.sample_rate, RATE)
    return audio.astype(np.float64) / (np.max(np.abs(audio)) + 1e-12) * 0.5


def delayed(x: np.ndarray, ms: float) -> np.ndarray:
    """``x`` delayed by ``ms`` (fractional samples: FFT phase shift on a zero-padded copy)."""
    pad = int(np.ceil(0.02 * RATE))
    spectrum = np.fft.rfft(np.pad(x, (0, pad)))
    freqs = np.fft.rfftfreq(x.size + pad, 1 / RATE)
    return np.fft.irfft(spectrum * np.exp(-2j * np.pi * freqs * ms / 1000), x.size + pad)[:x.size]


def convolve(x: np.ndarray, rir: np.ndarray) -> np.ndarray:
    from scipy.signal import fftconvolve

    return fftconvolve(x, rir)[:x.size]


def two_mics_one_room(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``[2, N]``: ``x`` in a shoebox room at two microphones 5-50 cm apart."""
    import pyroomacoustics as pra

    size = np.array([rng.uniform(3, 8), rng.uniform(3, 8), rng.uniform(2.5, 3.5)])
    rt60 = rng.uniform(0.2, 0.8)
    absorption, max_order = pra.inverse_sabine(rt60, size)
    room = pra.ShoeBox(size, fs=RATE, materials=pra.Material(absorption),
                       max_order=min(max_order, 30), use_rand_ism=False)
    room.add_source(rng.uniform(0.5, size - 0.5))
    first = rng.uniform(1.0, size - 1.0)
    direction = rng.standard_normal(3)
    second = first + direction / np.linalg.norm(direction) * rng.uniform(0.05, 0.5)
    room.add_microphone_array(np.c_[first, second])
    room.compute_rir()
    return np.stack([convolve(x, np.asarray(room.rir[m][0])) for m in range(2)])


def references(count: int, seed: int) -> dict[str, list[np.ndarray]]:
    """family -> two-channel references ``[2, N]``."""
    rng = np.random.default_rng(seed)
    texts = make_sentences(2 * count, seed=seed)
    families: dict[str, list[np.ndarray]] = defaultdict(list)
    for k in range(count):
        voices = rng.choice(len(_TRAIN_VOICES), size=2, replace=False)
        a = speech(texts[2 * k], _TRAIN_VOICES[voices[0]])
        b = speech(texts[2 * k + 1], _TRAIN_VOICES[voices[1]])
        same_voice = speech(texts[2 * k + 1], _TRAIN_VOICES[voices[0]])
        n = min(a.size, b.size, same_voice.size)
        a, b, same_voice = a[:n], b[:n], same_voice[:n]
        for gain_db in (0, -6, -12, -20):
            g = 10 ** (gain_db / 20)
            for ms in (0, 0.5, 1, 2, 3, 5):
                families["gains"].append(np.stack([a, g * delayed(a, ms)]))
            families["another talker"].append(np.stack([a, g * b]))
        families["same voice, another sentence"].append(np.stack([a, same_voice]))
        for leak_db in (-20, -10):
            leak = 10 ** (leak_db / 20)
            families["crosstalk"].append(np.stack([a + leak * delayed(b, 2), b + leak * delayed(a, 2)]))
        rt60 = rng.uniform(0.2, 0.8)
        families["two rooms"].append(np.stack([convolve(a, simulate_rir(rng, RATE, rt60)),
                                               convolve(a, simulate_rir(rng, RATE, rt60))]))
        families["one room, two mics"].append(two_mics_one_room(a, rng))
        for snr_db in (20, 30):
            second = delayed(a, rng.uniform(0, 5))
            noise = rng.standard_normal((2, n)) * np.sqrt(np.mean(a ** 2) / 10 ** (snr_db / 10))
            families["sensor noise"].append(np.stack([a, second]) + noise)
    return families


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=24, help="talker pairs (default 24)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    threshold = THRESHOLDS["channel_same_source_correlation"]
    rows = []
    for family, items in references(args.count, args.seed).items():
        measured = [channel_relations(x, RATE)[0][0] for x in items]
        values = np.array([r.envelope_correlation for r in measured])
        related = int(np.sum(values >= threshold))
        expected = "one source" if family in ONE_SOURCE else "different"
        rows.append([family, expected, str(len(items)),
                     *(f"{v:.2f}" for v in np.percentile(values, [0, 5, 50, 95, 100])),
                     f"{related} / {len(items) - related}"])
    print(markdown_table(["family", "is", "n", "min", "p5", "median", "p95", "max",
                          f">= {threshold} / below"], rows))


if __name__ == "__main__":
    main()
