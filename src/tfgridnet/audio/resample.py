"""Sample-rate conversion with soxr "HQ" along the last axis (channels are never mixed).

Resampling ``[C, N]`` along the last axis avoids the silent ``librosa.resample`` on a
``(frames, 2)`` array bug, where the two channels were treated as two samples.
"""

from __future__ import annotations

import numpy as np
import soxr

__all__ = ["QUALITY", "resample"]

QUALITY = "HQ"  # soxr's recipe: librosa's default engine and quality


def resample(audio: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Resample along the last axis with soxr "HQ" (librosa's default engine)."""
    if orig_sr <= 0 or target_sr <= 0:
        raise ValueError(f"sample rates must be positive, got {orig_sr} -> {target_sr}")
    audio = np.asarray(audio)
    if orig_sr == target_sr:
        return audio
    dtype = audio.dtype if audio.dtype in (np.float32, np.float64) else np.float32
    if audio.ndim == 1:
        return soxr.resample(audio.astype(dtype, copy=False), orig_sr, target_sr, quality=QUALITY)
    flat = audio.reshape(-1, audio.shape[-1]).astype(dtype, copy=False)
    # soxr wants (frames, channels): transpose so channels stay channels.
    out = soxr.resample(np.ascontiguousarray(flat.T), orig_sr, target_sr, quality=QUALITY).T
    return np.ascontiguousarray(out).reshape(*audio.shape[:-1], out.shape[-1])
