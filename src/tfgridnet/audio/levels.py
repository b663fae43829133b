"""Signal levels: the one RMS-in-dBFS helper, and pair gains that keep SI-SNR(noisy, clean).

Pair helpers apply ONE gain to both sides so the pair's SNR is unchanged.
"""

from __future__ import annotations

import numpy as np

__all__ = ["rms_dbfs", "level_error_db", "peak_normalise_pair", "loudness_normalise_pair", "EPS"]

EPS = 1e-12  # power floor: silence reads as -120 dBFS, never -inf


def rms_dbfs(audio: np.ndarray) -> float:
    """RMS level in dB relative to full scale (a full-scale sine is -3 dBFS); empty reads as silence."""
    audio = np.asarray(audio, dtype=np.float64)
    power = float(np.mean(audio * audio)) if audio.size else 0.0
    return float(10.0 * np.log10(power + EPS))


def level_error_db(audio: np.ndarray, reference: np.ndarray) -> float:
    """How much louder ``audio`` is than ``reference``, RMS in dB (0: the same level)."""
    return rms_dbfs(audio) - rms_dbfs(reference)


def peak_normalise_pair(noisy: np.ndarray, clean: np.ndarray,
                        peak: float = 0.9) -> tuple[np.ndarray, np.ndarray, float]:
    """Scale both sides by one gain so the louder peak of the pair becomes ``peak``."""
    current = max(float(np.max(np.abs(noisy), initial=0.0)), float(np.max(np.abs(clean), initial=0.0)))
    gain = peak / current if current > EPS else 1.0
    return noisy * np.asarray(gain, noisy.dtype), clean * np.asarray(gain, clean.dtype), gain


def loudness_normalise_pair(noisy: np.ndarray, clean: np.ndarray,
                            target_dbfs: float = -25.0) -> tuple[np.ndarray, np.ndarray, float]:
    """Scale both sides by one gain so the noisy side's RMS sits at ``target_dbfs``."""
    level = rms_dbfs(noisy)
    gain = 10.0 ** ((target_dbfs - level) / 20.0) if level > 10 * np.log10(EPS) + 1 else 1.0
    return noisy * np.asarray(gain, noisy.dtype), clean * np.asarray(gain, clean.dtype), gain
