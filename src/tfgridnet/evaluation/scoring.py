"""Per-utterance scoring: every metric of the registry (``tfgridnet.contracts.metric_registry``,
also importable from here) on the noisy input and the enhanced output.

Every utterance is scored twice with the same code: the noisy input as if it were the output (the
identity baseline, "doing nothing") and the enhanced output. Runs in worker processes, so it
imports no torch model code.
"""

from __future__ import annotations

import math
from collections.abc import Callable

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
from tfgridnet.contracts.utterance import MetricScores

__all__ = ["Metric", "MetricSet", "METRIC_REGISTRY", "METRICS", "DNSMOS_METRICS",
           "score_pair", "Scores", "same_signal", "NO_REFERENCE", "DEFAULT_METRICS", "improvement_legend"]


def _group_scorer(group: str) -> Callable[[np.ndarray, int], dict[str, float]]:
    from tfgridnet import metrics

    return {"dnsmos": metrics.dnsmos, "distillmos": metrics.distill_mos}[group]


def _score_one(metric: str, est: np.ndarray, ref: np.ndarray, sample_rate: int) -> float:
    compute = METRIC_REGISTRY[metric].compute
    if compute is None:
        raise KeyError(metric)
    return compute(est, ref, sample_rate)


Scores = dict[str, MetricScores]  # Metric.name -> that metric's scores of one utterance


def same_signal(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two signals are the very same samples, which must get the very same scores: a
    metric computed twice on one array can differ by ~1e-14 with memory alignment (SIMD
    summation order), which would make "doing nothing" or an identical model look like a change."""
    return a.shape == b.shape and np.array_equal(a, b)


def score_pair(noisy: np.ndarray, enhanced: np.ndarray, clean: np.ndarray | None,
               sample_rate: int, metrics: MetricSet = DEFAULT_METRICS
               ) -> tuple[Scores, list[str]]:
    """All metrics of one utterance, noisy and enhanced, by the same code, and why any value is
    missing (undefined ones are None, their reason one line each in the list)."""
    from tfgridnet.metrics import MetricError

    scores: Scores = {name: MetricScores() for name in metrics.names}
    errors: list[str] = []
    unchanged = same_signal(noisy, enhanced)
    intrusive = [n for n in metrics.names if METRIC_REGISTRY[n].needs_reference]
    if intrusive and clean is None:
        raise ValueError("score_pair: intrusive metrics need the clean reference")
    for metric in intrusive:
        m, own = METRIC_REGISTRY[metric], scores[metric]
        for side, signal_ in (("noisy", noisy), ("enhanced", enhanced)):
            if unchanged and side == "enhanced":
                own.enhanced = own.noisy
                continue
            try:
                value = _score_one(metric, signal_, clean, sample_rate)
                setattr(own, side, value if math.isfinite(value) else None)
            except (MetricError, ValueError, RuntimeError) as exc:
                column = m.noisy_column if side == "noisy" else m.enhanced_column
                errors.append(f"{column}: {exc}")
    for group in metrics.groups:
        members = [m.name for m in METRIC_REGISTRY.values() if m.group == group]
        for side, signal_ in (("noisy", noisy), ("enhanced", enhanced)):
            try:
                values = _group_scorer(group)(signal_, sample_rate)
            except (MetricError, ValueError, RuntimeError) as exc:
                values = {}
                errors.append(f"{'noisy_' if side == 'noisy' else ''}{group}: {exc}")
            for name in members:
                setattr(scores.setdefault(name, MetricScores()), side, values.get(name))
    for name, own in scores.items():
        if own.noisy is not None and own.enhanced is not None:
            own.improvement = METRIC_REGISTRY[name].improvement(own.noisy, own.enhanced)
    return scores, errors
