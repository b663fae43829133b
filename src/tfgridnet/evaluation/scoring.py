"""Per-utterance scoring: which metrics exist, their CSV column names, and how each is computed.

Every utterance is scored twice with the same code: the noisy input as if it were the output (the
identity baseline, "doing nothing") and the enhanced output. Runs in worker processes, so it
imports no torch model code.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Metric", "METRIC_REGISTRY", "METRICS", "DNSMOS_METRICS", "enhanced_column",
           "metric_names", "score_pair"]

Scorer = Callable[[np.ndarray, np.ndarray, int], float]  # (estimate, reference, sample_rate)


@dataclass(frozen=True)
class Metric:
    """One evaluation metric: how it is named in files and reports, and how it is computed.

    Each metric gets three CSV columns, ``noisy_<name>``, the enhanced column and
    ``<name>_improvement``, and one entry of ``summary.json``'s ``metrics``. SI-SNR-like metrics
    name the enhanced column ``enhanced_<name>``, perceptual ones the bare name (docs/design.md, file contract).
    """

    name: str
    label: str
    unit: str
    higher_is_better: bool
    compute: Scorer | None  # None: scored as a group without a reference (DNSMOS)
    prefixed: bool = False

    @property
    def noisy_column(self) -> str:
        return f"noisy_{self.name}"

    @property
    def enhanced_column(self) -> str:
        return f"enhanced_{self.name}" if self.prefixed else self.name

    @property
    def delta_column(self) -> str:
        return f"{self.name}_improvement"


def _metric_fn(name: str, as_float64: bool = False) -> Scorer:
    """``tfgridnet.metrics.<name>`` as a ``(estimate, reference, sample_rate)`` scorer, looked up
    on call so the registry stays a plain table of names."""

    def score(est: np.ndarray, ref: np.ndarray, sample_rate: int) -> float:
        from tfgridnet import metrics

        fn = getattr(metrics, name)
        if as_float64:
            return float(fn(est.astype(np.float64), ref.astype(np.float64)))
        if name == "si_snr_numpy":
            return float(fn(est, ref))
        return float(fn(est, ref, sample_rate))

    return score


_REGISTRY = (
    Metric("sisnr", "SI-SNR", "dB", True, _metric_fn("si_snr_numpy"), prefixed=True),
    Metric("sisdr", "SI-SDR", "dB", True, _metric_fn("si_sdr", as_float64=True), prefixed=True),
    Metric("snr", "SNR", "dB", True, _metric_fn("snr", as_float64=True), prefixed=True),
    Metric("pesq_wb", "PESQ-WB", "MOS-LQO", True, _metric_fn("pesq_wb")),
    Metric("stoi", "STOI", "", True, _metric_fn("stoi")),
    Metric("estoi", "ESTOI", "", True, _metric_fn("estoi")),
    Metric("dnsmos_sig", "DNSMOS SIG", "MOS", True, None),
    Metric("dnsmos_bak", "DNSMOS BAK", "MOS", True, None),
    Metric("dnsmos_ovrl", "DNSMOS OVRL", "MOS", True, None),
    Metric("dnsmos_p808", "DNSMOS P.808", "MOS", True, None),
)
METRIC_REGISTRY: dict[str, Metric] = {m.name: m for m in _REGISTRY}
METRICS = tuple(m.name for m in _REGISTRY if m.compute is not None)
DNSMOS_METRICS = tuple(m.name for m in _REGISTRY if m.compute is None)


def enhanced_column(metric: str) -> str:
    return METRIC_REGISTRY[metric].enhanced_column


def metric_names(with_dnsmos: bool) -> tuple[str, ...]:
    return METRICS + (DNSMOS_METRICS if with_dnsmos else ())


def _score_one(metric: str, est: np.ndarray, ref: np.ndarray, sample_rate: int) -> float:
    compute = METRIC_REGISTRY[metric].compute
    if compute is None:
        raise KeyError(metric)
    return compute(est, ref, sample_rate)


def score_pair(noisy: np.ndarray, enhanced: np.ndarray, clean: np.ndarray, sample_rate: int,
               with_dnsmos: bool = False) -> dict[str, Any]:
    """All metrics of one utterance, noisy and enhanced, by the same code; undefined ones are
    left out with their reason in ``metric_errors``."""
    from tfgridnet.metrics import MetricError, dnsmos

    row: dict[str, Any] = {}
    errors: list[str] = []
    # An unchanged signal gets the very same scores (SIMD summation order can differ with memory
    # alignment by ~1e-15, which would make "doing nothing" look like a change).
    unchanged = noisy.shape == enhanced.shape and np.array_equal(noisy, enhanced)
    for metric in METRICS:
        for prefix, signal_ in (("noisy_", noisy), ("", enhanced)):
            m = METRIC_REGISTRY[metric]
            column = m.noisy_column if prefix else m.enhanced_column
            if unchanged and not prefix:
                row[column] = row[m.noisy_column]
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
        m = METRIC_REGISTRY[metric]
        noisy_value, enhanced_value = row.get(m.noisy_column), row.get(m.enhanced_column)
        row[m.delta_column] = (enhanced_value - noisy_value
                                        if noisy_value is not None and enhanced_value is not None
                                        else None)
    row["metric_errors"] = errors
    return row
