"""Output level: put the enhanced speech back at the input speech's level, never clip.

A model trained with a scale-invariant loss (-SI-SNR) leaves its output gain free: the demo model
comes out 10-12 dB below the clean speech. ``mixture_consistent_gain`` fixes this at inference for
any model (ours or an imported ESPnet one) without a reference: the gain ``g`` that makes the
estimate ``Y`` explain as much of the noisy input ``X`` as it can, a least-squares projection in
the STFT domain, each time-frequency bin weighted by the estimate's own energy:

    g = sum(|Y|^2 * Re(X conj(Y))) / sum(|Y|^4)

The plain projection ``<x, y> / <y, y>`` also rescales the residual noise, which follows the input
noise, and so overshoots at low SNR; the weights give the bins where the estimate is strong (speech)
the say. On the demo valid set (bench/level.py, bench/RESULTS.md) the weighted projection gives
mean level error +0.34 dB, 90th percentile |error| 1.28 dB, against +0.95 / 2.32 dB unweighted.

``limit_peaks`` is a look-ahead peak limiter that is guaranteed to stay under its ceiling (the
gain is smoothed, then bounded by the exact gain each sample needs) and says how many samples it
had to bring down, so a louder output is never bought with clipping.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np

from tfgridnet.audio.running import running_mean, running_min

__all__ = [
    "LIMITER_CEILING", "MAX_GAIN_DB", "LevelCorrection", "limit_peaks", "limiter_reach",
    "mixture_consistent_gain", "LevelStream", "projection_sums", "stft_frames", "frame_size",
]

# Peak ceiling of the limiter: -0.26 dBFS leaves room for the small overshoot of resampling back
# to a file's rate after the limiter ran at the model's rate.
LIMITER_CEILING = 0.97
# Largest correction applied either way; past it the estimate is too unlike the input to trust.
MAX_GAIN_DB = 40.0
# Look-ahead/hold of the limiter's gain on each side of a peak, in seconds.
LIMITER_WINDOW_S = 0.005
# Frame of the weighted projection at 16 kHz (32 ms), scaled to other rates.
PROJECTION_FRAME = 512

_TINY = 1e-30


def frame_size(sample_rate: int) -> int:
    """Samples per frame of the weighted projection: :data:`PROJECTION_FRAME` at 16 kHz, the
    nearest power of two for ~32 ms at other rates (half of it is the hop)."""
    return PROJECTION_FRAME if sample_rate == 16000 else int(
        2 ** round(np.log2(PROJECTION_FRAME * sample_rate / 16000)))


def stft_frames(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Hann-windowed one-sided spectra ``[..., frames, bins]`` of ``[..., N]`` audio, ~32 ms
    frames with half overlap; the tail is zero-padded to a whole frame."""
    size = frame_size(sample_rate)
    hop = size // 2
    audio = np.asarray(audio, dtype=np.float64)
    n = audio.shape[-1]
    n_frames = 1 + max(0, int(np.ceil((n - size) / hop)))
    padded = np.zeros(audio.shape[:-1] + (size + (n_frames - 1) * hop,))
    padded[..., :n] = audio
    return _spectra(padded, size)


def _spectra(padded: np.ndarray, size: int) -> np.ndarray:
    """Spectra of every whole frame of ``[..., M]`` (starts 0, size/2, ...; none padded)."""
    frames = np.lib.stride_tricks.sliding_window_view(padded, size, axis=-1)[..., ::size // 2, :]
    return np.fft.rfft(frames * np.hanning(size + 1)[:-1], axis=-1)


def _weighted_sums(spec_y: np.ndarray, spec_x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    weight = spec_y.real ** 2 + spec_y.imag ** 2
    cross = np.sum(weight * (spec_x * np.conj(spec_y)).real, axis=(-2, -1))
    return cross, np.sum(weight * weight, axis=(-2, -1))


def projection_sums(estimate: np.ndarray, mixture: np.ndarray, sample_rate: int
                    ) -> tuple[np.ndarray, np.ndarray]:
    """``(sum w Re(X conj Y), sum w |Y|^2)`` with ``w = |Y|^2``, over the last axis of ``[..., N]``;
    sums over several chunks of one signal give that signal's gain (``LevelStream``)."""
    y = np.asarray(estimate, dtype=np.float64)
    x = np.asarray(mixture, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"mixture_consistent_gain: estimate {y.shape} and mixture {x.shape} "
                         "must have the same shape")
    return _weighted_sums(stft_frames(y, sample_rate), stft_frames(x, sample_rate))


def mixture_consistent_gain(estimate: np.ndarray, mixture: np.ndarray,
                            sample_rate: int) -> np.ndarray:
    """Energy-weighted least-squares gain of each row of ``[..., N]`` (module docstring).

    Returns ``[...]`` float64 gains. A silent estimate, or one anti-correlated with the input,
    gets gain 1 (nothing to project onto); the rest is bounded to ``±MAX_GAIN_DB``.
    """
    cross, energy = projection_sums(estimate, mixture, sample_rate)
    return _gain_from_sums(cross, energy)


def _gain_from_sums(cross: np.ndarray, energy: np.ndarray) -> np.ndarray:
    """``cross / energy`` where usable, else 1; bounded to ``±MAX_GAIN_DB``."""
    cross, energy = np.asarray(cross, dtype=np.float64), np.asarray(energy, dtype=np.float64)
    usable = (energy > _TINY) & (cross > 0)
    gain = np.where(usable, cross / np.where(usable, energy, 1.0), 1.0)
    bound = 10.0 ** (MAX_GAIN_DB / 20.0)
    return np.clip(gain, 1.0 / bound, bound)


def limiter_reach(sample_rate: int, window_s: float = LIMITER_WINDOW_S) -> int:
    """How many samples on each side of a sample its limiter gain depends on (the minimum filter's
    half width plus the moving average's)."""
    return 2 * max(1, int(round(window_s * sample_rate)))


def limit_peaks(audio: np.ndarray, sample_rate: int, ceiling: float = LIMITER_CEILING,
                window_s: float = LIMITER_WINDOW_S) -> tuple[np.ndarray, int]:
    """Bring every sample of ``[..., N]`` audio to at most ``ceiling`` in magnitude, smoothly.

    The gain each sample needs, ``min(1, ceiling/|x|)``, goes through a minimum filter and then a
    moving average of the same width: every average only covers minima of windows that contain
    the sample, so it is never above the gain that sample needs (the final ``minimum`` only
    removes rounding). Returns the limited audio (same dtype) and how many samples were above the
    ceiling; audio already under it comes back unchanged.
    """
    if not 0 < ceiling <= 1:
        raise ValueError(f"limit_peaks: ceiling must be in (0, 1], got {ceiling}")
    audio = np.asarray(audio)
    magnitude = np.abs(audio.astype(np.float64))
    over = int(np.count_nonzero(magnitude > ceiling))
    if over == 0:
        return audio, 0
    needed = np.minimum(1.0, ceiling / np.maximum(magnitude, _TINY))
    size = limiter_reach(sample_rate, window_s) + 1  # each filter reaches half of it
    gain = running_mean(running_min(needed, size), size)
    gain = np.minimum(gain, needed)
    limited = audio.astype(np.float64) * gain
    # the float32 cast may round a sample at the ceiling up by one ulp: pull those back
    out = limited.astype(audio.dtype if audio.dtype in (np.float32, np.float64) else np.float32)
    np.clip(out, -ceiling, ceiling, out=out)
    return out, over


@dataclass
class LevelCorrection:
    """What the Enhancer applies to each model output: gain, then limiter; counts what it did.

    ``enabled=False`` passes the raw model output through (``--raw-level``); the limiter still
    runs unless ``limiter=False``, since a raw output can exceed full scale too. Calling it treats
    each row as a whole utterance; ``stream`` gives the same correction to a signal fed in blocks.
    """

    sample_rate: int
    enabled: bool = True
    limiter: bool = True
    ceiling: float = LIMITER_CEILING
    # one count shared with every at_rate() copy, so a V3 enhancer's total covers all its rates
    _limited: list[int] = field(default_factory=lambda: [0], repr=False)

    @property
    def limited_samples(self) -> int:
        """Samples the limiter brought down so far (this correction and its at_rate copies)."""
        return self._limited[0]

    def at_rate(self, sample_rate: int) -> LevelCorrection:
        """The same correction for signals at ``sample_rate`` (frames and limiter window sized in
        its samples), sharing this one's count of limited samples."""
        other = copy.copy(self)
        other.sample_rate = int(sample_rate)
        return other

    def __call__(self, estimate: np.ndarray, mixture: np.ndarray) -> np.ndarray:
        """Correct ``[B, N]`` model outputs given the ``[B, N]`` inputs they came from."""
        out = np.asarray(estimate, dtype=np.float32)
        if self.enabled:
            gain = mixture_consistent_gain(out, mixture, self.sample_rate)
            out = (out * gain[..., None]).astype(np.float32)
        return self.limit(out)

    def limit(self, audio: np.ndarray, count: slice | None = None) -> np.ndarray:
        """The peak limiter alone (when enabled), counting the samples it brought down (only
        those in ``count`` along the last axis when given: the rest is context)."""
        if not self.limiter:
            return np.asarray(audio, dtype=np.float32)
        audio = np.asarray(audio, dtype=np.float32)
        out, over = limit_peaks(audio, self.sample_rate, self.ceiling)
        if count is not None and over:
            over = int(np.count_nonzero(np.abs(audio[..., count]) > self.ceiling))
        self._limited[0] += over
        return out

    def stream(self, channels: int) -> LevelStream:
        """The correction of one signal of ``channels`` channels that arrives block by block."""
        return LevelStream(self, channels)


class LevelStream:
    """Level correction of a long signal, enhanced chunk by chunk: one gain per channel, that of
    the whole channel, exactly as ``evaluate`` corrects one utterance.

    ``observe`` takes the overlap-added raw output and its input block by block as they become
    final; its projection sums cut the frames as ``projection_sums`` does on the whole signal,
    wherever the blocks end, so a file streamed in blocks and the same signal in memory get the
    same gain. ``gains`` is known after the last block: the raw output is then read back in
    order through ``correct`` (gain, then the peak limiter, delayed by its reach) and ``flush``.
    A running gain (the chunks so far) would be the gain of a single chunk at the start: a
    recording that begins without speech had its first chunk's noise restored to the input
    level, since that chunk's estimate is residual noise which its own projection scales back.
    """

    def __init__(self, correction: LevelCorrection, channels: int) -> None:
        self.correction = correction
        self.size = frame_size(correction.sample_rate)
        self.cross = np.zeros(channels)
        self.energy = np.zeros(channels)
        self.samples = 0  # observed so far
        self._pending = (np.zeros((channels, 0)), np.zeros((channels, 0)))  # from the next frame
        self._final: np.ndarray | None = None
        self._reach = limiter_reach(correction.sample_rate)
        self._held = np.zeros((channels, 0), dtype=np.float32)  # gained, not yet limited
        self._history = np.zeros((channels, 0), dtype=np.float32)  # limiter context behind

    def observe(self, estimate: np.ndarray, mixture: np.ndarray) -> None:
        """Add ``[C, m]`` final raw output and the ``[C, m]`` model input it came from."""
        if not self.correction.enabled or self._final is not None:
            return
        est = np.concatenate([self._pending[0], np.asarray(estimate, np.float64)], axis=-1)
        mix = np.concatenate([self._pending[1], np.asarray(mixture, np.float64)], axis=-1)
        self.samples += np.shape(estimate)[-1]
        hop = self.size // 2
        whole = (est.shape[-1] - self.size) // hop + 1 if est.shape[-1] >= self.size else 0
        if whole:
            upto = self.size + (whole - 1) * hop
            cross, energy = _weighted_sums(_spectra(est[:, :upto], self.size),
                                           _spectra(mix[:, :upto], self.size))
            self.cross += cross
            self.energy += energy
        self._pending = (est[:, whole * hop:], mix[:, whole * hop:])

    def gains(self) -> np.ndarray:
        """``[C]`` gains of the whole signal (1 where level correction is off); call after the
        last ``observe``: the frames still open are completed with zeros, as ``stft_frames``
        pads a signal's tail."""
        if self._final is None:
            if not self.correction.enabled:
                self._final = np.ones(self.cross.shape)
            else:
                est, mix = self._pending
                hop = self.size // 2
                started = self.samples - est.shape[-1]  # where the first open frame starts
                frames = 1 + max(0, int(np.ceil((self.samples - self.size) / hop))) - started // hop
                if frames > 0:
                    span = self.size + (frames - 1) * hop
                    pad = ((0, 0), (0, span - est.shape[-1]))
                    cross, energy = _weighted_sums(_spectra(np.pad(est, pad), self.size),
                                                   _spectra(np.pad(mix, pad), self.size))
                    self.cross += cross
                    self.energy += energy
                self._final = _gain_from_sums(self.cross, self.energy)
        return self._final

    def correct(self, raw: np.ndarray) -> np.ndarray:
        """The next ``[C, m]`` raw output samples, gained and peak-limited; the limiter holds back
        its reach until the samples after them arrive (``flush`` returns the rest)."""
        gained = (np.asarray(raw, np.float32) * self.gains()[:, None].astype(np.float32))
        self._held = np.concatenate([self._held, gained], axis=-1)
        ready = self._held.shape[-1] - self._reach
        return self._limit(ready) if ready > 0 else self._held[:, :0]

    def flush(self) -> np.ndarray:
        """The samples ``correct`` still holds, limited at the signal's end."""
        return self._limit(self._held.shape[-1])

    def _limit(self, count: int) -> np.ndarray:
        """Limit the first ``count`` held samples with the limiter's context on both sides, as
        ``limit_peaks`` would on the whole signal."""
        context = np.concatenate([self._history, self._held], axis=-1)
        start = self._history.shape[-1]
        limited = self.correction.limit(context, count=slice(start, start + count))
        out = limited[:, start:start + count]
        self._history = context[:, max(0, start + count - self._reach):start + count]
        self._held = self._held[:, count:]
        return out
