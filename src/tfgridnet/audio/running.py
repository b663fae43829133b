"""Centred running minimum and mean along the last axis, edges extended ("nearest"), in numpy.

The peak limiter (:func:`tfgridnet.inference.level.limit_peaks`) smooths its gain with these; they
are the functions of ``scipy.ndimage.minimum_filter1d`` / ``uniform_filter1d`` with
``mode="nearest"`` (tested against them), written in numpy so that enhancement runs on numpy,
soxr, soundfile and onnxruntime alone (``tfgridnet.onnx``).
"""

from __future__ import annotations

import numpy as np

__all__ = ["running_min", "running_mean"]


def _edge_padded(x: np.ndarray, size: int) -> np.ndarray:
    if size < 1 or size % 2 == 0:
        raise ValueError(f"window size must be a positive odd number, got {size}")
    half = size // 2
    return np.pad(np.asarray(x, dtype=np.float64), [(0, 0)] * (np.ndim(x) - 1) + [(half, half)],
                  mode="edge")


def running_min(x: np.ndarray, size: int) -> np.ndarray:
    """``out[..., i] = min(x[..., i - size//2 : i + size//2 + 1])``, edges extended; float64.

    Van Herk / Gil-Werman: prefix and suffix minima within blocks of ``size`` samples, so the
    cost does not grow with the window.
    """
    padded = _edge_padded(x, size)
    n = padded.shape[-1] - size + 1  # outputs
    blocks = -(-padded.shape[-1] // size)
    fill = blocks * size - padded.shape[-1]
    padded = np.pad(padded, [(0, 0)] * (padded.ndim - 1) + [(0, fill)], constant_values=np.inf)
    shaped = padded.reshape(*padded.shape[:-1], blocks, size)
    prefix = np.minimum.accumulate(shaped, axis=-1).reshape(padded.shape)
    suffix = np.minimum.accumulate(shaped[..., ::-1], axis=-1)[..., ::-1].reshape(padded.shape)
    # window [i, i + size): the suffix of i's block and the prefix of the next block up to its end
    return np.minimum(suffix[..., :n], prefix[..., size - 1:size - 1 + n])


def running_mean(x: np.ndarray, size: int) -> np.ndarray:
    """``out[..., i] = mean(x[..., i - size//2 : i + size//2 + 1])``, edges extended; float64."""
    padded = _edge_padded(x, size)
    sums = np.cumsum(padded, axis=-1)
    sums = np.concatenate([np.zeros(sums.shape[:-1] + (1,)), sums], axis=-1)
    return (sums[..., size:] - sums[..., :-size]) / size
