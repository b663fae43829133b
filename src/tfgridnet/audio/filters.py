"""Zero-phase filters as second-order sections (scipy), applied along the last axis."""

from __future__ import annotations

import numpy as np
from scipy import signal

__all__ = ["BANDPASS_ORDER", "bandpass"]

BANDPASS_ORDER = 8  # Butterworth order of each edge (sosfiltfilt doubles the effective order)


def bandpass(audio: np.ndarray, sample_rate: int, low_hz: float | None, high_hz: float | None,
             order: int = BANDPASS_ORDER) -> np.ndarray:
    """Zero-phase Butterworth band-pass (or low/high-pass) as second-order sections.

    ``sosfiltfilt`` doubles the effective order and has no group delay, so a pair filtered on
    both sides stays aligned; the SOS form is stable where ``(b, a)`` is not (order 8 at 48 kHz).
    """
    nyquist = sample_rate / 2.0
    low = low_hz if low_hz is not None and low_hz > 0 else None
    high = high_hz if high_hz is not None and high_hz < nyquist else None
    if low is not None and high is not None and low >= high:
        raise ValueError(f"bandpass: low_hz {low_hz} must be below high_hz {high_hz}")
    if low is None and high is None:
        return np.asarray(audio)
    if low is not None and high is not None:
        sos = signal.butter(order, [low, high], btype="bandpass", fs=sample_rate, output="sos")
    elif low is not None:
        sos = signal.butter(order, low, btype="highpass", fs=sample_rate, output="sos")
    else:
        sos = signal.butter(order, high, btype="lowpass", fs=sample_rate, output="sos")
    audio = np.asarray(audio)
    out = signal.sosfiltfilt(sos, audio, axis=-1)
    dtype = audio.dtype if audio.dtype in (np.float32, np.float64) else np.float32
    return np.ascontiguousarray(out, dtype=dtype)  # filtfilt leaves negative strides
