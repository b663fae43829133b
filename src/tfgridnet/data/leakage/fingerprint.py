"""What a file is, by content: a digest of its decoded samples and a landmark fingerprint.

The digest finds exact copies under another name or container (WAV, FLAC, a 24-bit or float
rewrite of 16-bit audio all decode to the same samples). The fingerprint finds copies that are
not sample-identical: another gain, another sample rate, a lossy re-encoding, extra silence, a
crop, added noise. It is the peak-constellation idea of Wang's Shazam paper with triplet hashes:

1. resample to a fixed internal rate (8 kHz) so 8, 16, 22.05 and 48 kHz copies give the same
   spectrogram, mix channels down, take a log-magnitude STFT (64 ms Hann window, 16 ms hop) of
   250-3500 Hz (inside an 8 kHz file's band);
2. subtract each frequency bin's median over time, so stationary sounds (hum, a fan, a noise
   floor) leave no landmarks, and keep the spectral peaks: local maxima of a 13-frame x 25-bin
   (208 ms x 390 Hz) neighbourhood, at least 6 dB above their bin's median and within 50 dB of
   the file's loudest bin; at most 20 per second, the strongest;
3. pair each peak (the anchor) with two of the next four peaks within ~1 s and +-1 kHz and
   hash (anchor frequency, both frequency steps, both time steps) into 32 bits. A gain change
   moves no peak; resampling and codecs move few; the hash keeps no absolute time, so a copy
   with extra silence or cut short still matches at one constant time offset.

Triplets rather than peak pairs: pair hashes take ~2^17 distinct values on speech, so an index of
10,000 files would return ~100 unrelated entries per lookup; triplets are practically unique.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import scipy.fft
from scipy.ndimage import maximum_filter

from tfgridnet.audio.resample import resample

__all__ = ["FingerprintParams", "FINGERPRINT", "Fingerprint", "content_digest", "fingerprint",
           "spectral_peaks"]


@dataclass(frozen=True)
class FingerprintParams:
    """The fingerprint's recipe (docs/data-checks.md, "Leakage between splits")."""

    version: int = 1
    sample_rate: int = 8000  # every file is fingerprinted at this rate
    n_fft: int = 512  # 64 ms
    hop: int = 128  # 16 ms: the time unit of landmark times and offsets
    low_bin: int = 16  # 250 Hz
    high_bin: int = 224  # 3500 Hz (exclusive): below an 8 kHz file's anti-alias band edge
    neighbourhood: tuple[int, int] = (13, 25)  # frames x bins of the local-maximum test
    above_median_db: float = 6.0
    floor_db: float = 50.0  # below the file's loudest bin
    peaks_per_second: float = 20.0
    targets: int = 4  # next peaks each anchor is paired with (two at a time: 6 triplets)
    target_window: int = 16  # peaks looked at to find them
    max_dt: int = 63  # frames (~1 s); 6 bits
    max_df: int = 63  # bins (~1 kHz); 7 bits with the sign

    @property
    def frame_seconds(self) -> float:
        return self.hop / self.sample_rate


FINGERPRINT = FingerprintParams()
_FRAMES_AT_ONCE = 8192  # ~2 min of audio per FFT block (16 MB of frames)


@dataclass
class Fingerprint:
    """One file's content: ``digest`` of its samples (None for digital silence), its landmark
    ``hashes`` (uint32) with the frame of each anchor (``times``, int32), its duration."""

    digest: int | None
    hashes: np.ndarray
    times: np.ndarray
    seconds: float


def content_digest(audio: np.ndarray) -> int | None:
    """64-bit BLAKE2b of the decoded float32 samples (``[C, N]``), or None when all are zero:
    digital silence is not "the same audio" (check-data names silent files)."""
    samples = np.ascontiguousarray(audio, dtype=np.float32)
    if not np.any(samples):
        return None
    header = np.asarray(samples.shape, dtype=np.int64).tobytes()
    return int.from_bytes(hashlib.blake2b(header + samples.tobytes(), digest_size=8).digest(),
                          "little")


def _log_spectrogram(mono: np.ndarray, sample_rate: int, p: FingerprintParams) -> np.ndarray:
    """``[T, F]`` log magnitude (dB) of the fingerprint band at the internal rate."""
    x = resample(mono.astype(np.float32, copy=False), sample_rate, p.sample_rate)
    x = np.asarray(x, dtype=np.float32)
    if x.size < p.n_fft:
        x = np.pad(x, (0, p.n_fft - x.size))
    n_frames = 1 + (x.size - p.n_fft) // p.hop
    frames = np.lib.stride_tricks.sliding_window_view(x, p.n_fft)[::p.hop][:n_frames]  # [T, n_fft]
    window = np.hanning(p.n_fft).astype(np.float32)
    out = np.empty((n_frames, p.high_bin - p.low_bin), dtype=np.float32)  # [T, F]
    for start in range(0, n_frames, _FRAMES_AT_ONCE):  # long files: bounded temporaries
        block = frames[start:start + _FRAMES_AT_ONCE] * window
        # scipy's FFT: ~9x faster than numpy's on float32 frames here
        magnitude = np.abs(scipy.fft.rfft(block, axis=1)[:, p.low_bin:p.high_bin])
        out[start:start + block.shape[0]] = 20.0 * np.log10(magnitude + 1e-9)
    return out


def spectral_peaks(mono: np.ndarray, sample_rate: int,
                   p: FingerprintParams = FINGERPRINT) -> tuple[np.ndarray, np.ndarray]:
    """Landmark peaks ``(frames, bins)`` sorted by time, then frequency (step 2 above)."""
    spec = _log_spectrogram(mono, sample_rate, p)  # [T, F]
    loudest = float(spec.max())
    above = spec - np.median(spec, axis=0, keepdims=True)
    local = maximum_filter(spec, size=p.neighbourhood, mode="constant", cval=-np.inf)
    mask = (spec == local) & (above > p.above_median_db) & (spec > loudest - p.floor_db)
    frames, bins = np.nonzero(mask)
    budget = int(np.ceil(p.peaks_per_second * spec.shape[0] * p.frame_seconds))
    if frames.size > budget:
        keep = np.sort(np.argsort(-above[frames, bins], kind="stable")[:budget])
        frames, bins = frames[keep], bins[keep]
    return frames, bins  # np.nonzero gives them row-major: by time, then frequency


def _targets(frames: np.ndarray, bins: np.ndarray, p: FingerprintParams) -> np.ndarray:
    """``[n, targets]``: index of each anchor's first valid target peaks (-1 where none)."""
    n = frames.size
    candidate = np.arange(n)[:, None] + np.arange(1, p.target_window + 1)[None, :]  # [n, W]
    valid = candidate < n
    candidate = np.minimum(candidate, max(n - 1, 0))
    dt = frames[candidate] - frames[:, None]
    df = bins[candidate] - bins[:, None]
    valid &= (dt >= 1) & (dt <= p.max_dt) & (np.abs(df) <= p.max_df)
    rank = np.cumsum(valid, axis=1) - 1
    valid &= rank < p.targets
    out = np.full((n, p.targets), -1, dtype=np.int64)
    rows, cols = np.nonzero(valid)
    out[rows, rank[rows, cols]] = candidate[rows, cols]
    return out


_MIX = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing: spreads the 34 packed bits over 32


def landmark_hashes(frames: np.ndarray, bins: np.ndarray, p: FingerprintParams = FINGERPRINT
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Triplet hashes (uint32) and their anchor frames (int32) of sorted peaks (step 3)."""
    if frames.size < 3:
        return np.zeros(0, np.uint32), np.zeros(0, np.int32)
    frames = frames.astype(np.int64)
    bins = bins.astype(np.int64)
    targets = _targets(frames, bins, p)
    hashes, times = [], []
    offset = p.max_df + 1  # df in [-63, 63] -> [1, 127]: 7 bits
    for first, second in combinations(range(p.targets), 2):
        anchor = np.flatnonzero((targets[:, first] >= 0) & (targets[:, second] >= 0))
        a, b = targets[anchor, first], targets[anchor, second]
        packed = ((bins[anchor] << 26) | ((bins[a] - bins[anchor] + offset) << 19)
                  | ((frames[a] - frames[anchor]) << 13)
                  | ((bins[b] - bins[anchor] + offset) << 6) | (frames[b] - frames[anchor]))
        hashes.append(packed)
        times.append(frames[anchor])
    mixed = (np.concatenate(hashes).astype(np.uint64) * _MIX) >> np.uint64(32)
    return mixed.astype(np.uint32), np.concatenate(times).astype(np.int32)


def fingerprint(audio: np.ndarray, sample_rate: int,
                p: FingerprintParams = FINGERPRINT) -> Fingerprint:
    """Digest and landmarks of decoded audio, ``[N]`` or ``[C, N]`` at any rate."""
    audio = np.atleast_2d(np.asarray(audio, dtype=np.float32))  # [C, N]
    digest = content_digest(audio)
    seconds = audio.shape[-1] / sample_rate
    mono = np.nan_to_num(audio.mean(axis=0), nan=0.0, posinf=0.0, neginf=0.0)
    if digest is None or not np.any(mono):
        return Fingerprint(digest, np.zeros(0, np.uint32), np.zeros(0, np.int32), seconds)
    frames, bins = spectral_peaks(mono, sample_rate, p)
    hashes, times = landmark_hashes(frames, bins, p)
    return Fingerprint(digest, hashes, times, seconds)
