"""Checks over a whole manifest, after every pair has been measured: pairs far from the rest
(the yardstick taken from the pairs without errors).

A pair whose input SI-SNR sits far from its corpus's is suspect whatever the cause: a "clean"
side that still carries most of the noise (its SI-SNR jumps up), a noisy side mixed at the wrong
level, a wrong file that happens to correlate. Robust statistics (median, scaled MAD) so that the
outliers themselves do not move the yardstick.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tfgridnet.data.checks.thresholds import THRESHOLDS

__all__ = ["sisnr_outliers", "outlier_bounds"]

_MAD_TO_SIGMA = 1.4826  # a normal distribution's standard deviation per MAD


def outlier_bounds(sisnr_db: Sequence[float]) -> tuple[float, float, float] | None:
    """``(low, median, high)``: input SI-SNR outside [low, high] is an outlier; None below
    ``outlier_min_pairs`` finite values. The limit is the larger of ``outlier_mad`` scaled MADs
    and ``outlier_min_db``."""
    t = THRESHOLDS
    values = np.asarray(sisnr_db, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size < t["outlier_min_pairs"]:
        return None
    median = float(np.median(values))
    spread = _MAD_TO_SIGMA * float(np.median(np.abs(values - median)))
    limit = max(t["outlier_mad"] * spread, t["outlier_min_db"])
    return median - limit, median, median + limit


def sisnr_outliers(uttids: Sequence[str | int], sisnr_db: Sequence[float],
                   reference: Sequence[float] | None = None
                   ) -> list[tuple[str | int, float, float]]:
    """``(uttid, its SI-SNR, the corpus median)`` of each pair outside :func:`outlier_bounds` of
    ``reference`` (default: ``sisnr_db`` itself; check_data passes the pairs without errors)."""
    bounds = outlier_bounds(sisnr_db if reference is None else reference)
    if bounds is None:
        return []
    low, median, high = bounds
    return [(uttid, float(value), median) for uttid, value in zip(uttids, sisnr_db)
            if np.isfinite(value) and not low <= value <= high]
