"""Multichannel files: are the channels one source (microphones of one talker) or different signals?

The loader averages a multichannel file to mono (:func:`tfgridnet.audio.io.to_mono`). For a clean
reference that is right only when the channels carry one source: the same talker at different
gains, small delays or through different room paths (two microphones). When a channel holds
another signal (a second talker on channel 2, another take), the average puts it into the target
the model learns, and the checks that follow see an ordinary pair.

The relation of two channels is their **envelope correlation**: per third-octave band (100 Hz to
6.4 kHz), the correlation over time of the two channels' band energies in 128 ms frames, and the
median over the bands. One source gives both channels the same envelope whatever the gain, a
delay of a few ms or the room path (reverberation smears it a little); two talkers give
unrelated envelopes. The waveform coherence would not do: two microphones in a reverberant
room are physically incoherent above a few hundred Hz, where two talkers' channels are too.
Thresholds and their measurements: docs/data-checks.md, bench/channels.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from scipy import signal

from tfgridnet.audio.levels import rms_dbfs
from tfgridnet.audio.resample import resample
from tfgridnet.data.checks.thresholds import THRESHOLDS

__all__ = ["ChannelRelation", "envelope_correlation", "channel_relations", "check_channels"]


class ChannelPair(Protocol):
    """What the channel check reads and writes of a pair (``detectors.PairAudio`` is one), named
    here so that this module does not import the detectors that import it."""

    noisy: Any  # [C, N]
    noisy_sr: int
    clean: Any
    clean_sr: int
    facts: dict[str, Any]

    def add(self, kind: str, message: str, severity: str | None = None) -> None: ...


# At most this many channels are compared (each against each): a 64-channel array file would
# otherwise cost 2016 comparisons; the first ones are enough to tell.
MAX_CHANNELS_COMPARED = 8
# Bands of a third of an octave from 100 Hz up to 6.4 kHz (speech; below Nyquist at 16 kHz).
_BAND_EDGES_HZ = 100.0 * 2.0 ** (np.arange(0, 19) / 3)
# A band takes part where both channels hold energy within this many dB of their strongest band.
_BAND_RANGE_DB = 50.0


@dataclass(frozen=True)
class ChannelRelation:
    """How channel ``second`` relates to channel ``first`` (1-based, as people count them)."""

    first: int
    second: int
    envelope_correlation: float  # -1..1: ~1 for one source, ~0 for unrelated signals


def _band_envelopes(x: np.ndarray, rate: int, frame: int) -> np.ndarray:
    """Band energies per frame ``[bands, frames]`` (Hann frames, half overlap)."""
    frames = np.lib.stride_tricks.sliding_window_view(x, frame)[::frame // 2]
    power = np.abs(np.fft.rfft(frames * signal.get_window("hann", frame), axis=1)) ** 2
    freqs = np.fft.rfftfreq(frame, 1.0 / rate)
    band_of = np.digitize(freqs, _BAND_EDGES_HZ[_BAND_EDGES_HZ < rate / 2])
    inside = (band_of > 0) & (band_of < np.count_nonzero(_BAND_EDGES_HZ < rate / 2))
    return np.stack([power[:, inside & (band_of == b)].sum(axis=1)
                     for b in np.unique(band_of[inside])])


def envelope_correlation(a: np.ndarray, b: np.ndarray, rate: int) -> float:
    """Median over third-octave bands of the correlation of the band-energy envelopes of ``a``
    and ``b`` (``[N]`` each, at ``rate``); 0 when too short or no band holds energy in both."""
    frame = int(round(THRESHOLDS["channel_frame_s"] * rate))
    n = min(a.size, b.size)
    if n < 4 * frame:
        frame = max(64, n // 4)
    if n < frame:
        return 0.0
    env_a = _band_envelopes(a[:n].astype(np.float64), rate, frame)
    env_b = _band_envelopes(b[:n].astype(np.float64), rate, frame)
    energy_a, energy_b = env_a.sum(axis=1), env_b.sum(axis=1)
    floor = 10 ** (-_BAND_RANGE_DB / 10)
    use = (energy_a > energy_a.max() * floor) & (energy_b > energy_b.max() * floor)
    if not use.any():
        return 0.0
    a_c = env_a[use] - env_a[use].mean(axis=1, keepdims=True)
    b_c = env_b[use] - env_b[use].mean(axis=1, keepdims=True)
    norms = np.sqrt(np.sum(a_c ** 2, axis=1) * np.sum(b_c ** 2, axis=1)) + 1e-30
    return float(np.median(np.sum(a_c * b_c, axis=1) / norms))


def channel_relations(audio: np.ndarray, rate: int) -> tuple[list[ChannelRelation], list[int]]:
    """Relations of every pair of the first :data:`MAX_CHANNELS_COMPARED` channels of ``[C, N]``
    (first seconds, at the analysis rate), and the 1-based channels that are silent (left out)."""
    t = THRESHOLDS
    analysis = min(t["analysis_rate"], rate)
    window = audio[:MAX_CHANNELS_COMPARED, :int(np.ceil(t["window_s"] * rate))]
    channels = [resample(ch.astype(np.float64), rate, analysis) for ch in window]
    silent = [i + 1 for i, ch in enumerate(channels) if rms_dbfs(ch) < t["silence_dbfs"]]
    live = [i for i in range(len(channels)) if i + 1 not in silent]
    relations = [ChannelRelation(i + 1, j + 1, envelope_correlation(channels[i], channels[j],
                                                                    analysis))
                 for k, i in enumerate(live) for j in live[k + 1:]]
    return relations, silent


def check_channels(pair: ChannelPair) -> None:
    """``multichannel`` (warning) for a side whose channels carry one source, or whose channels
    cannot be compared; ``unrelated_channels`` (error) for a clean side whose channels hold
    different signals, naming the least related pair and its coherence."""
    t = THRESHOLDS
    for side, audio, rate in (("noisy", pair.noisy, pair.noisy_sr),
                              ("clean", pair.clean, pair.clean_sr)):
        audio = np.atleast_2d(audio)
        if audio.shape[0] < 2:
            continue
        relations, silent = channel_relations(audio, rate)
        count = f"{side} has {audio.shape[0]} channels"
        if silent:
            listed = ", ".join(str(c) for c in silent)
            pair.add("multichannel", f"{count}; channel(s) {listed} silent (RMS < "
                     f"{t['silence_dbfs']:.0f} dBFS): the loader averages them to mono, which "
                     "lowers the level")
            continue
        worst = min(relations, key=lambda r: r.envelope_correlation)
        pair.facts[f"{side}_channel_envelope_correlation"] = worst.envelope_correlation
        limit = t["channel_same_source_correlation"]
        figure = (f"channels {worst.first} and {worst.second}: envelope correlation "
                  f"{worst.envelope_correlation:.2f}")
        if worst.envelope_correlation >= limit:
            pair.add("multichannel", f"{count} of one source ({figure}); the loader averages "
                     "them to mono")
        elif side == "clean":
            pair.add("unrelated_channels",
                     f"clean {figure} (< {limit}): they hold "
                     "different signals (e.g. another talker on one channel), and the loader's "
                     "average to mono would put both into the target; keep the channel of the "
                     "target talker")
        else:
            pair.add("multichannel", f"{count} holding different signals ({figure} < "
                     f"{limit}); the loader averages them to mono, so the model's input holds both")
