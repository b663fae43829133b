"""Per-utterance scoring: which metrics exist, their CSV column names, and how each is computed.

Every utterance is scored twice with the same code: the noisy input as if it were the output (the
identity baseline, "doing nothing") and the enhanced output. Runs in worker processes, so it
imports no torch model code.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tfgridnet.metrics import (
    MetricError,
    dnsmos,
    estoi,
    pesq_wb,
    si_sdr,
    si_snr_numpy,
    snr,
    stoi,
)

__all__ = ["METRICS", "DNSMOS_METRICS", "enhanced_column", "metric_names", "score_pair"]

# (name, higher is better). Each gets noisy_<m>, <enhanced column>, <m>_improvement in the CSV.
METRICS = ("sisnr", "sisdr", "snr", "pesq_wb", "stoi", "estoi")
DNSMOS_METRICS = ("dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl", "dnsmos_p808")
# SI-SNR-like metrics keep the "enhanced_" prefix (DESIGN.md), perceptual ones are named bare.
_PREFIXED = ("sisnr", "sisdr", "snr")


def enhanced_column(metric: str) -> str:
    return f"enhanced_{metric}" if metric in _PREFIXED else metric


def metric_names(with_dnsmos: bool) -> tuple[str, ...]:
    return METRICS + (DNSMOS_METRICS if with_dnsmos else ())


def _score_one(metric: str, est: np.ndarray, ref: np.ndarray, sample_rate: int) -> float:
    if metric == "sisnr":
        return float(si_snr_numpy(est, ref))
    if metric == "sisdr":
        return float(si_sdr(est.astype(np.float64), ref.astype(np.float64)))
    if metric == "snr":
        return float(snr(est.astype(np.float64), ref.astype(np.float64)))
    if metric == "pesq_wb":
        return pesq_wb(est, ref, sample_rate)
    if metric == "stoi":
        return stoi(est, ref, sample_rate)
    if metric == "estoi":
        return estoi(est, ref, sample_rate)
    raise KeyError(metric)


def score_pair(noisy: np.ndarray, enhanced: np.ndarray, clean: np.ndarray, sample_rate: int,
               with_dnsmos: bool = False) -> dict[str, Any]:
    """All metrics of one utterance, noisy and enhanced, by the same code; undefined ones are
    left out with their reason in ``metric_errors``."""
    row: dict[str, Any] = {}
    errors: list[str] = []
    # An unchanged signal gets the very same scores (SIMD summation order can differ with memory
    # alignment by ~1e-15, which would make "doing nothing" look like a change).
    unchanged = noisy.shape == enhanced.shape and np.array_equal(noisy, enhanced)
    for metric in METRICS:
        for prefix, signal_ in (("noisy_", noisy), ("", enhanced)):
            column = f"noisy_{metric}" if prefix else enhanced_column(metric)
            if unchanged and not prefix:
                row[column] = row[f"noisy_{metric}"]
                continue
            try:
                value = _score_one(metric, signal_, clean, sample_rate)
                row[column] = value if math.isfinite(value) else None
            except (MetricError, ValueError, RuntimeError) as exc:
                row[column] = None
                errors.append(f"{column}: {exc}")
    if with_dnsmos:
        for prefix, signal_ in (("noisy_", noisy), ("", enhanced)):
            try:
                scores = dnsmos(signal_, sample_rate)
            except (MetricError, ValueError, RuntimeError) as exc:
                scores = dict.fromkeys(DNSMOS_METRICS)
                errors.append(f"{prefix}dnsmos: {exc}")
            row.update({f"{prefix}{k}": v for k, v in scores.items()})
    for metric in metric_names(with_dnsmos):
        noisy_value, enhanced_value = row.get(f"noisy_{metric}"), row.get(enhanced_column(metric))
        row[f"{metric}_improvement"] = (enhanced_value - noisy_value
                                        if noisy_value is not None and enhanced_value is not None
                                        else None)
    row["metric_errors"] = errors
    return row
