"""Per-utterance scoring: every metric of the registry (``tfgridnet.contracts.metric_registry``,
also importable from here) on the noisy input and the enhanced output.

Every utterance is scored twice with the same code: the noisy input as if it were the output (the
identity baseline, "doing nothing") and the enhanced output. Runs in worker processes, so it
imports no torch model code.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from tfgridnet.contracts.metric_registry import (
    DEFAULT_METRICS,
    DNSMOS_METRICS,
    METRIC_REGISTRY,
    METRICS,
    NO_REFERENCE,
    Metric,
    MetricSet,
    improvement_legend,
)

__all__ = ["Metric", "MetricSet", "METRIC_REGISTRY", "METRICS", "DNSMOS_METRICS",
           "score_pair", "NO_REFERENCE", "DEFAULT_METRICS", "improvement_legend"]


def _group_scorer(group: str) -> Callable[[np.ndarray, int], dict[str, float]]:
    from tfgridnet import metrics

    return {"dnsmos": metrics.dnsmos, "distillmos": metrics.distill_mos}[group]


def _score_one(metric: str, est: np.ndarray, ref: np.ndarray, sample_rate: int) -> float:
    compute = METRIC_REGISTRY[metric].compute
    if compute is None:
        raise KeyError(metric)
    return compute(est, ref, sample_rate)


def score_pair(noisy: np.ndarray, enhanced: np.ndarray, clean: np.ndarray | None,
               sample_rate: int, metrics: MetricSet = DEFAULT_METRICS) -> dict[str, Any]:
    """All metrics of one utterance, noisy and enhanced, by the same code; undefined ones are
    left out with their reason in ``metric_errors``."""
    from tfgridnet.metrics import MetricError

    row: dict[str, Any] = {}
    errors: list[str] = []
    # An unchanged signal gets the very same scores (SIMD summation order can differ with memory
    # alignment by ~1e-15, which would make "doing nothing" look like a change).
    unchanged = noisy.shape == enhanced.shape and np.array_equal(noisy, enhanced)
    intrusive = [n for n in metrics.names if METRIC_REGISTRY[n].needs_reference]
    if intrusive and clean is None:
        raise ValueError("score_pair: intrusive metrics need the clean reference")
    for metric in intrusive:
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
    for group in metrics.groups:
        members = [m for m in METRIC_REGISTRY.values() if m.group == group]
        for prefix, signal_ in (("noisy_", noisy), ("", enhanced)):
            try:
                scores = _group_scorer(group)(signal_, sample_rate)
            except (MetricError, ValueError, RuntimeError) as exc:
                scores = dict.fromkeys(m.name for m in members)
                errors.append(f"{prefix}{group}: {exc}")
            row.update({(m.noisy_column if prefix else m.enhanced_column): scores[m.name]
                        for m in members})
    for metric in metrics.names:
        m = METRIC_REGISTRY[metric]
        noisy_value, enhanced_value = row.get(m.noisy_column), row.get(m.enhanced_column)
        row[m.delta_column] = (m.improvement(noisy_value, enhanced_value)
                               if noisy_value is not None and enhanced_value is not None
                               else None)
    row["metric_errors"] = errors
    return row
