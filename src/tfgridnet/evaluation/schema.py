"""Computing the evaluation's ``summary.json`` (:func:`summarize`), its warnings and the ranking of
utterances. The files' schemas (``EvaluationSummary``, the CSV columns, the file names) are the
contracts layer's ``tfgridnet.contracts.evaluation``, also importable from here.

A noisy-input SI-SNR far outside [-10, 30] dB means the pairs are broken (the users' -36 dB), not
the model; that range is ``tfgridnet.metrics.NOISY_SISNR_PLAUSIBLE_DB``.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from tfgridnet.contracts.conditions import breakdown
from tfgridnet.contracts.evaluation import (
    IDENTITY_BASELINE,
    MEASUREMENT_COLUMNS,
    PAGE_FILE,
    RESULTS_FILE,
    SUMMARY_FILE,
    TEXT_COLUMNS,
    BaselineMetricSummary,
    BaselineModelSummary,
    EvaluationSummary,
    MetricSummary,
    UtteranceRef,
    UtteranceRow,
    csv_columns,
    fmt_value,
    number_columns,
    write_results_csv,
)
from tfgridnet.contracts.metric_registry import DEFAULT_METRICS, METRIC_REGISTRY, MetricSet
from tfgridnet.contracts.names import ERROR_COLUMN, STATUS_FAILED, UTTID
from tfgridnet.metrics import NOISY_SISNR_PLAUSIBLE_DB

__all__ = ["EvaluationSummary", "MetricSummary", "BaselineModelSummary", "BaselineMetricSummary",
           "UtteranceRef", "csv_columns", "summarize",
           "select_highlights", "rank_by_improvement", "ranking_key", "write_results_csv", "fmt_value",
           "NOISY_SISNR_PLAUSIBLE_DB", "IDENTITY_BASELINE", "TEXT_COLUMNS",
           "MEASUREMENT_COLUMNS", "number_columns", "evaluation_warnings", "RESULTS_FILE",
           "SUMMARY_FILE", "PAGE_FILE"]

_SISNR = METRIC_REGISTRY["sisnr"]


def _stats(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"mean": None, "std": None, "median": None, "min": None, "max": None}
    # Sample standard deviation (n - 1), the same figure the report computes from the CSV.
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return {"mean": statistics.fmean(values), "std": std,
            "median": statistics.median(values), "min": min(values), "max": max(values)}


def summarize(rows: Sequence[UtteranceRow], metrics: MetricSet = DEFAULT_METRICS,
              conditions: Sequence[str] = ()) -> EvaluationSummary:
    """Means, spread, medians and share improved per metric, identity baseline and warnings.

    The verdict and the best/worst utterances follow ``metrics.headline`` (SI-SNR, or DNSMOS
    OVRL on a clean-less set); the file's flat ``*sisnr*`` keys are None when SI-SNR was not
    scored.
    ``conditions`` (the manifest's condition columns) give the per-condition tables.
    """
    scored = [r for r in rows if r.ok]
    headline = METRIC_REGISTRY[metrics.headline]
    per_metric: dict[str, MetricSummary] = {}
    for m in metrics.metrics:
        complete = [s for s in (r.score(m.name) for r in scored) if s.complete]
        gains = [s.improvement for s in complete]
        noisy_stats = _stats([s.noisy for s in complete])
        enhanced_stats = _stats([s.enhanced for s in complete])
        gain_stats = _stats(gains)
        per_metric[m.name] = MetricSummary(
            n=len(complete), n_missing=len(scored) - len(complete),
            noisy_mean=noisy_stats["mean"], enhanced_mean=enhanced_stats["mean"],
            noisy_median=noisy_stats["median"], enhanced_median=enhanced_stats["median"],
            improvement_mean=gain_stats["mean"], improvement_std=gain_stats["std"],
            improvement_min=gain_stats["min"], improvement_max=gain_stats["max"],
            improvement_median=gain_stats["median"],
            share_improved=(sum(g > 0 for g in gains) / len(gains)) if gains else None)
    ranked = rank_by_improvement(rows, headline.name)

    def ref(row: UtteranceRow) -> UtteranceRef:
        return UtteranceRef(uttid=row.uttid,
                            **{headline.delta_column: row.improvement(headline.name)})

    headline_gain = per_metric[headline.name].improvement_mean
    summary = EvaluationSummary(
        n=len(rows), n_scored=len(scored),
        n_failed=sum(r.status == STATUS_FAILED for r in rows),
        best=ref(ranked[0]) if ranked else None, worst=ref(ranked[-1]) if ranked else None,
        worse_than_input=headline_gain is not None and headline_gain < 0.0,
        metrics=per_metric, reference=metrics.reference, headline_metric=headline.name,
        skipped_metrics=metrics.skipped, condition_columns=list(conditions),
        conditions=breakdown(rows, metrics.names, conditions),
        failed=[{UTTID: r.uttid, ERROR_COLUMN: r.error}
                for r in rows if r.status == STATUS_FAILED])
    summary.warnings = _warnings(summary)
    return summary


def _warnings(summary: EvaluationSummary, lang: str = "en") -> list[str]:
    """What is wrong with these scores, in ``lang`` (summary.json keeps the English)."""
    from tfgridnet.i18n import tr

    warnings: list[str] = []
    low, high = NOISY_SISNR_PLAUSIBLE_DB
    noisy_mean = summary.sisnr.noisy_mean
    if noisy_mean is not None and not low <= noisy_mean <= high:
        warnings.append(tr("evalwarn.noisy_implausible", lang, noisy=noisy_mean, low=low,
                           high=high))
    if summary.worse_than_input:
        headline = METRIC_REGISTRY[summary.headline_metric or _SISNR.name]
        gain = summary.metrics[headline.name].improvement_mean or 0.0
        warnings.append(tr("evalwarn.worse", lang, metric=headline.label_in(lang), gain=gain,
                           unit=" " + headline.unit if headline.unit else ""))
    if summary.n_failed:
        warnings.append(tr("evalwarn.failed", lang, failed=summary.n_failed, n=summary.n))
    for metric, stats in summary.metrics.items():
        if stats.n_missing:
            warnings.append(tr("evalwarn.missing", lang, metric=metric, n=stats.n_missing))
    return warnings


evaluation_warnings = _warnings


def ranking_key(row: UtteranceRow, metric: str) -> tuple[float, str]:
    """The order utterances are ranked in: largest improvement of ``metric`` first, ties by
    uttid (a scored row; the highlight keeper holds signals by the same order)."""
    return -row.improvement(metric), row.uttid


def rank_by_improvement(rows: Sequence[UtteranceRow], metric: str = _SISNR.name
                        ) -> list[UtteranceRow]:
    """Scored utterances, largest improvement of ``metric`` first."""
    ok = [r for r in rows if r.ok and r.improvement(metric) is not None]
    return sorted(ok, key=lambda r: ranking_key(r, metric))


def select_highlights(rows: Sequence[UtteranceRow], k: int,
                      metric: str = _SISNR.name) -> list[tuple[str, UtteranceRow]]:
    """The best k and worst k utterances by improvement of ``metric``, each once."""
    ranked = rank_by_improvement(rows, metric)
    if k <= 0 or not ranked:
        return []
    chosen: list[tuple[str, UtteranceRow]] = [("best", r) for r in ranked[:k]]
    taken = {r.uttid for _, r in chosen}
    chosen += [("worst", r) for r in reversed(ranked[-k:]) if r.uttid not in taken]
    return chosen
