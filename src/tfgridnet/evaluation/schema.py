"""The evaluation folder's file contract: ``evaluation_results.csv`` columns and ``summary.json``.

A noisy-input SI-SNR far outside [-10, 30] dB means the pairs are broken (the users' -36 dB), not
the model; that range is defined here once.
"""

from __future__ import annotations

import csv
import io
import math
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from tfgridnet.evaluation.conditions import breakdown
from tfgridnet.evaluation.scoring import (
    DEFAULT_METRICS,
    METRIC_REGISTRY,
    MetricSet,
    enhanced_column,
)
from tfgridnet.fileio import write_text_atomic
from tfgridnet.metrics import NOISY_SISNR_PLAUSIBLE_DB

__all__ = ["MetricSummary", "read_metric_summaries", "csv_columns", "summarize", "select_highlights", "rank_by_improvement", "write_results_csv",
           "fmt_value", "NOISY_SISNR_PLAUSIBLE_DB", "IDENTITY_BASELINE", "TEXT_COLUMNS",
           "MEASUREMENT_COLUMNS", "number_columns"]

IDENTITY_BASELINE = "identity (the noisy input scored as the output)"


class MetricSummary(BaseModel):
    """One entry of ``summary.json``'s ``metrics`` (keyed by ``Metric.name``): written by
    ``summarize``, read by the report. Keys a foreign or older file lacks read as ``None``."""

    model_config = ConfigDict(extra="ignore")

    n: int = 0
    n_missing: int = 0
    noisy_mean: float | None = None
    enhanced_mean: float | None = None
    noisy_median: float | None = None
    enhanced_median: float | None = None
    improvement_mean: float | None = None
    improvement_std: float | None = None
    improvement_median: float | None = None
    share_improved: float | None = None


def read_metric_summaries(summary: dict[str, Any]) -> tuple[dict[str, MetricSummary], list[str]]:
    """``summary.json``'s per-metric entries in registry order, and the keys that were missing.

    Unknown metric names are skipped (a newer evaluator); an entry that is not a mapping is
    reported as missing rather than guessed at.
    """
    raw = summary.get("metrics")
    if not isinstance(raw, dict):
        return {}, ["metrics"]
    out: dict[str, MetricSummary] = {}
    missing: list[str] = []
    for name in METRIC_REGISTRY:
        if name not in raw:
            continue
        entry = raw[name]
        if not isinstance(entry, dict):
            missing.append(f"metrics.{name}")
            continue
        out[name] = MetricSummary.model_validate(entry)
        missing += [f"metrics.{name}.{k}" for k in ("noisy_mean", "enhanced_mean", "improvement_mean")
                    if k not in entry]
    return out, missing


# evaluation_results.csv's per-utterance measurements after the metric columns, and its free-text
# columns. Only the metric columns and these measurements hold numbers (or nothing): uttid, the
# condition columns and the text columns are text.
MEASUREMENT_COLUMNS = ("duration_s", "enhanced_peak")
TEXT_COLUMNS = ("status", "error", "notes")


def number_columns() -> frozenset[str]:
    """Every column of ``evaluation_results.csv`` that holds a number, for any metric set."""
    return frozenset([*(c for m in METRIC_REGISTRY.values()
                        for c in (m.noisy_column, m.enhanced_column, m.delta_column)),
                      *MEASUREMENT_COLUMNS])


def csv_columns(metrics: MetricSet = DEFAULT_METRICS,
                conditions: Sequence[str] = ()) -> list[str]:
    """``evaluation_results.csv``'s header: the utterance's conditions (the manifest's extra
    columns), three columns per scored metric, then the rest."""
    columns = ["uttid", *conditions]
    for metric in metrics.names:
        m = METRIC_REGISTRY[metric]
        columns += [m.noisy_column, m.enhanced_column, m.delta_column]
    return columns + [*MEASUREMENT_COLUMNS, *TEXT_COLUMNS]


def _stats(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"mean": None, "std": None, "median": None, "min": None, "max": None}
    # Sample standard deviation (n - 1), the same figure the report computes from the CSV.
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return {"mean": statistics.fmean(values), "std": std,
            "median": statistics.median(values), "min": min(values), "max": max(values)}


def summarize(rows: list[dict[str, Any]], metrics: MetricSet = DEFAULT_METRICS,
              conditions: Sequence[str] = ()) -> dict[str, Any]:
    """Means, spread, medians and share improved per metric, identity baseline and warnings.

    The verdict and the best/worst utterances follow ``metrics.headline`` (SI-SNR, or DNSMOS
    OVRL on a clean-less set); the ``*sisnr*`` keys are None when SI-SNR was not scored.
    ``conditions`` (the manifest's condition columns) give the per-condition tables.
    """
    scored = [r for r in rows if r.get("status") == "ok"]
    headline = METRIC_REGISTRY[metrics.headline]
    summary: dict[str, Any] = {"n": len(rows), "n_scored": len(scored),
                               "n_failed": sum(r.get("status") == "failed" for r in rows),
                               "reference": metrics.reference, "headline_metric": headline.name,
                               "skipped_metrics": metrics.skipped}
    per_metric: dict[str, Any] = {}
    for metric in metrics.names:
        m = METRIC_REGISTRY[metric]
        complete = [r for r in scored if r.get(m.delta_column) is not None]
        noisy = [r[m.noisy_column] for r in complete]
        enhanced = [r[m.enhanced_column] for r in complete]
        gains = [r[m.delta_column] for r in complete]
        noisy_stats, enhanced_stats, gain_stats = _stats(noisy), _stats(enhanced), _stats(gains)
        per_metric[metric] = MetricSummary(
            n=len(complete), n_missing=len(scored) - len(complete),
            noisy_mean=noisy_stats["mean"], enhanced_mean=enhanced_stats["mean"],
            noisy_median=noisy_stats["median"], enhanced_median=enhanced_stats["median"],
            improvement_mean=gain_stats["mean"], improvement_std=gain_stats["std"],
            improvement_median=gain_stats["median"],
            share_improved=(sum(g > 0 for g in gains) / len(gains)) if gains else None,
        ).model_dump()
    sisnr = per_metric.get("sisnr", MetricSummary(n=0).model_dump())
    gains = [r["sisnr_improvement"] for r in scored if r.get("sisnr_improvement") is not None]
    gain_stats = _stats(gains)
    summary.update({
        "noisy_sisnr_mean": sisnr["noisy_mean"], "enhanced_sisnr_mean": sisnr["enhanced_mean"],
        "sisnr_improvement_mean": gain_stats["mean"], "sisnr_improvement_std": gain_stats["std"],
        "sisnr_improvement_min": gain_stats["min"], "sisnr_improvement_max": gain_stats["max"],
        "sisnr_improvement_median": gain_stats["median"],
        "share_improved": sisnr["share_improved"],
    })
    for metric in metrics.names:
        summary[f"noisy_{metric}_mean"] = per_metric[metric]["noisy_mean"]
        summary[f"{enhanced_column(metric)}_mean"] = per_metric[metric]["enhanced_mean"]
    ranked = rank_by_improvement(rows, headline.name)
    if ranked:
        summary["best"] = {"uttid": ranked[0]["uttid"],
                           headline.delta_column: ranked[0][headline.delta_column]}
        summary["worst"] = {"uttid": ranked[-1]["uttid"],
                            headline.delta_column: ranked[-1][headline.delta_column]}
    summary["baseline"] = {"name": IDENTITY_BASELINE,
                           **{f"{m}_mean": per_metric[m]["noisy_mean"] for m in metrics.names}}
    headline_gain = per_metric[headline.name]["improvement_mean"]
    summary["worse_than_input"] = headline_gain is not None and headline_gain < 0.0
    summary["metrics"] = per_metric
    summary["condition_columns"] = list(conditions)
    summary["conditions"] = breakdown(rows, metrics.names, conditions)
    summary["warnings"] = _warnings(summary)
    summary["failed"] = [{"uttid": r["uttid"], "error": r.get("error", "")}
                         for r in rows if r.get("status") == "failed"]
    return summary


def _warnings(summary: dict[str, Any]) -> list[str]:
    warnings: list[str] = []
    low, high = NOISY_SISNR_PLAUSIBLE_DB
    noisy_mean = summary["noisy_sisnr_mean"]
    if noisy_mean is not None and not low <= noisy_mean <= high:
        warnings.append(
            f"The noisy inputs score {noisy_mean:.1f} dB SI-SNR against their clean references, "
            f"outside the plausible [{low:.0f}, {high:.0f}] dB: the pairs are probably broken "
            "(misaligned, shifted, swapped, different utterances or wrong scale), so these "
            "numbers say nothing about the model. Run `tfgridnet check-data MANIFEST`.")
    if summary["worse_than_input"]:
        headline = METRIC_REGISTRY[summary["headline_metric"]]
        gain = summary["metrics"][headline.name]["improvement_mean"]
        warnings.append(
            f"The model is worse than doing nothing: mean {headline.label} improvement "
            f"{gain:+.2f}{' ' + headline.unit if headline.unit else ''} against the identity "
            "baseline.")
    if summary["n_failed"]:
        warnings.append(f"{summary['n_failed']} of {summary['n']} utterances could not be "
                        "evaluated (see `failed` and the error column of evaluation_results.csv).")
    for metric, stats in summary["metrics"].items():
        if stats["n_missing"]:
            warnings.append(f"{metric}: undefined for {stats['n_missing']} utterances "
                            "(reasons in the notes column).")
    return warnings


def rank_by_improvement(rows: list[dict[str, Any]], metric: str = "sisnr") -> list[dict[str, Any]]:
    """Scored utterances, largest improvement of ``metric`` first."""
    delta = METRIC_REGISTRY[metric].delta_column
    ok = [r for r in rows if r.get("status") == "ok" and r.get(delta) is not None]
    return sorted(ok, key=lambda r: (-r[delta], r["uttid"]))


def select_highlights(rows: list[dict[str, Any]], k: int,
                      metric: str = "sisnr") -> list[tuple[str, dict[str, Any]]]:
    """The best k and worst k utterances by improvement of ``metric``, each once."""
    ranked = rank_by_improvement(rows, metric)
    if k <= 0 or not ranked:
        return []
    chosen: list[tuple[str, dict[str, Any]]] = [("best", r) for r in ranked[:k]]
    taken = {r["uttid"] for _, r in chosen}
    chosen += [("worst", r) for r in reversed(ranked[-k:]) if r["uttid"] not in taken]
    return chosen


def fmt_value(value: Any) -> str:
    """A CSV cell: floats at 4 decimals, missing or non-finite values empty."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}" if math.isfinite(value) else ""
    return str(value)


def write_results_csv(path: Path, rows: list[dict[str, Any]],
                      metrics: MetricSet = DEFAULT_METRICS, conditions: Sequence[str] = ()) -> Path:
    columns = csv_columns(metrics, conditions)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([fmt_value(row.get(c)) for c in columns])
    return write_text_atomic(path, buffer.getvalue())
