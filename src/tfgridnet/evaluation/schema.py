"""The evaluation folder's file contract: ``evaluation_results.csv`` columns and ``summary.json``.

A noisy-input SI-SNR far outside [-10, 30] dB means the pairs are broken (the users' -36 dB), not
the model; that range is defined here once.
"""

from __future__ import annotations

import csv
import io
import json
import math
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tfgridnet.errors import UserInputError
from tfgridnet.evaluation.conditions import ConditionGroup, breakdown
from tfgridnet.evaluation.scoring import DEFAULT_METRICS, METRIC_REGISTRY, MetricSet
from tfgridnet.fileio import write_text_atomic
from tfgridnet.metrics import NOISY_SISNR_PLAUSIBLE_DB

__all__ = ["EvaluationSummary", "MetricSummary", "BaselineModelSummary", "BaselineMetricSummary",
           "UtteranceRef", "csv_columns", "summarize",
           "select_highlights", "rank_by_improvement", "write_results_csv", "fmt_value",
           "NOISY_SISNR_PLAUSIBLE_DB", "IDENTITY_BASELINE", "TEXT_COLUMNS",
           "MEASUREMENT_COLUMNS", "number_columns", "evaluation_warnings", "RESULTS_FILE",
           "SUMMARY_FILE", "PAGE_FILE"]

# The evaluation folder's files: per-utterance table, summary, listening page.
RESULTS_FILE = "evaluation_results.csv"
SUMMARY_FILE = "summary.json"
PAGE_FILE = "index.html"
IDENTITY_BASELINE = "identity (the noisy input scored as the output)"
_SISNR = METRIC_REGISTRY["sisnr"]


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


class BaselineMetricSummary(BaseModel):
    """One metric of ``summary.json``'s ``baseline_model``: the ``--baseline`` model's mean and how
    much better the evaluated model is (``Metric.improvement``, positive: better), per utterance."""

    model_config = ConfigDict(extra="ignore")

    n: int = 0
    mean: float | None = None
    gain_mean: float | None = None
    gain_std: float | None = None
    share_better: float | None = None


class BaselineModelSummary(BaseModel):
    """``summary.json``'s ``baseline_model``: the model given with ``evaluate --baseline``, scored
    on the same utterances with the same code (noisy → baseline model → evaluated model)."""

    model_config = ConfigDict(extra="ignore")

    model: str
    n: int = 0
    metrics: dict[str, BaselineMetricSummary] = Field(default_factory=dict)


class UtteranceRef(BaseModel):
    """The best or worst utterance by the headline metric's improvement, kept under that
    metric's delta column (``sisnr_improvement``, ``dnsmos_ovrl_improvement`` on a clean-less
    set)."""

    model_config = ConfigDict(extra="allow")

    uttid: str


class EvaluationSummary(BaseModel):
    """``summary.json``: written by ``evaluate`` (through ``summarize``), read by the report.

    Every key is optional on reading so that an older or foreign file still loads;
    :meth:`read` says which of the contract keys (``CONTRACT_KEYS``) the file lacked. The flat
    per-metric means (``noisy_pesq_wb_mean``, ``pesq_wb_mean``, ...) are written as aliases of
    ``metrics`` for readers of the original contract; ``metrics`` is the source.
    """

    model_config = ConfigDict(extra="ignore")

    n: int | None = None
    n_scored: int | None = None
    n_failed: int | None = None
    noisy_sisnr_mean: float | None = None
    enhanced_sisnr_mean: float | None = None
    sisnr_improvement_mean: float | None = None
    sisnr_improvement_std: float | None = None
    sisnr_improvement_min: float | None = None
    sisnr_improvement_max: float | None = None
    sisnr_improvement_median: float | None = None
    share_improved: float | None = None
    best: UtteranceRef | None = None
    worst: UtteranceRef | None = None
    baseline: dict[str, Any] | None = None
    worse_than_input: bool | None = None
    metrics: dict[str, MetricSummary] = Field(default_factory=dict)
    warnings: list[str] = Field(default_factory=list)
    failed: list[dict[str, str]] = Field(default_factory=list)
    highlights: dict[str, list[str]] | None = None
    model: str | None = None
    manifest: str | None = None
    sample_rate: int | None = None
    device: str | None = None
    workers: int | None = None
    elapsed_s: float | None = None
    audio_seconds: float | None = None
    real_time_factor: float | None = None
    # Clean-less evaluation and the condition breakdown; an older file without them read as a
    # paired evaluation headed by SI-SNR, without condition tables.
    reference: bool = True
    headline_metric: str = _SISNR.name
    skipped_metrics: dict[str, str] = Field(default_factory=dict)
    condition_columns: list[str] = Field(default_factory=list)
    conditions: dict[str, list[ConditionGroup]] = Field(default_factory=dict)
    baseline_model: BaselineModelSummary | None = None  # evaluate --baseline MODEL

    CONTRACT_KEYS: ClassVar[tuple[str, ...]] = (
        "n", "n_failed", "noisy_sisnr_mean", "enhanced_sisnr_mean", "sisnr_improvement_mean",
        "sisnr_improvement_std", "sisnr_improvement_min", "sisnr_improvement_max", "metrics")

    def to_json(self) -> dict[str, Any]:
        """The file's content: the fields plus the flat per-metric mean aliases."""
        data = self.model_dump(mode="json")
        for name, stats in self.metrics.items():
            metric = METRIC_REGISTRY[name]
            data.setdefault(f"{metric.noisy_column}_mean", stats.noisy_mean)
            data.setdefault(f"{metric.enhanced_column}_mean", stats.enhanced_mean)
        return data

    @classmethod
    def read(cls, path: Path) -> tuple[EvaluationSummary, list[str]]:
        """The summary of ``path`` and the contract keys it lacked (``metrics.<name>.<key>`` for a
        metric entry without its means). Metric names this version does not know are skipped."""
        try:
            raw = json.loads(Path(path).read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise UserInputError(f"{path}: not valid JSON ({exc})") from None
        if not isinstance(raw, dict):
            raise UserInputError(f"{path}: expected a JSON object, got {type(raw).__name__}")
        # A clean-less evaluation has no SI-SNR: its sisnr keys are rightly empty.
        expected = cls.CONTRACT_KEYS if raw.get("reference") is not False else [
            k for k in cls.CONTRACT_KEYS if "sisnr" not in k]
        missing = [key for key in expected if raw.get(key) is None]
        entries = raw.get("metrics") if isinstance(raw.get("metrics"), dict) else {}
        metrics = {}
        for name in METRIC_REGISTRY:
            entry = entries.get(name)
            if name in entries and not isinstance(entry, dict):
                missing.append(f"metrics.{name}")
            elif isinstance(entry, dict):
                metrics[name] = entry
                missing += [f"metrics.{name}.{k}" for k in ("noisy_mean", "enhanced_mean",
                                                            "improvement_mean") if k not in entry]
        tables = raw.get("conditions") if isinstance(raw.get("conditions"), dict) else {}
        conditions = {str(factor): [{**g, "metrics": {k: v for k, v in g["metrics"].items()
                                                      if k in METRIC_REGISTRY}}
                                    if isinstance(g.get("metrics"), dict) else g
                                    for g in groups if isinstance(g, dict)]
                      for factor, groups in tables.items() if isinstance(groups, list)}
        baseline = raw.get("baseline_model")
        if isinstance(baseline, dict) and isinstance(baseline.get("metrics"), dict):
            raw = {**raw, "baseline_model": {**baseline, "metrics": {
                k: v for k, v in baseline["metrics"].items() if k in METRIC_REGISTRY}}}
        if raw.get("headline_metric") not in METRIC_REGISTRY:
            raw = {k: v for k, v in raw.items() if k != "headline_metric"}
        try:
            return cls.model_validate({**raw, "metrics": metrics,
                                       "conditions": conditions}), missing
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                                 for e in exc.errors())
            raise UserInputError(f"{path}: not an evaluation summary ({problems})") from None


# evaluation_results.csv's per-utterance measurements after the metric columns, and its free-text
# columns. Only the metric columns and these measurements hold numbers (or nothing): uttid, the
# condition columns and the text columns are text.
MEASUREMENT_COLUMNS = ("duration_s", "enhanced_peak")
TEXT_COLUMNS = ("status", "error", "notes")


def number_columns() -> frozenset[str]:
    """Every column of ``evaluation_results.csv`` that holds a number, for any metric set."""
    return frozenset([*(c for m in METRIC_REGISTRY.values()
                        for c in (m.noisy_column, m.enhanced_column, m.delta_column,
                                  m.baseline_column, m.over_baseline_column)),
                      *MEASUREMENT_COLUMNS])


def csv_columns(metrics: MetricSet = DEFAULT_METRICS,
                conditions: Sequence[str] = (), baseline: bool = False) -> list[str]:
    """``evaluation_results.csv``'s header: the utterance's conditions (the manifest's extra
    columns), three columns per scored metric (five with ``evaluate --baseline``: the baseline
    model's score and the gain over it), then the rest."""
    columns = ["uttid", *conditions]
    for m in metrics.metrics:
        columns += [m.noisy_column, m.enhanced_column, m.delta_column]
        if baseline:
            columns += [m.baseline_column, m.over_baseline_column]
    return columns + [*MEASUREMENT_COLUMNS, *TEXT_COLUMNS]


def _stats(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"mean": None, "std": None, "median": None, "min": None, "max": None}
    # Sample standard deviation (n - 1), the same figure the report computes from the CSV.
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return {"mean": statistics.fmean(values), "std": std,
            "median": statistics.median(values), "min": min(values), "max": max(values)}


def summarize(rows: list[dict[str, Any]], metrics: MetricSet = DEFAULT_METRICS,
              conditions: Sequence[str] = ()) -> EvaluationSummary:
    """Means, spread, medians and share improved per metric, identity baseline and warnings.

    The verdict and the best/worst utterances follow ``metrics.headline`` (SI-SNR, or DNSMOS
    OVRL on a clean-less set); the ``*sisnr*`` keys are None when SI-SNR was not scored.
    ``conditions`` (the manifest's condition columns) give the per-condition tables.
    """
    scored = [r for r in rows if r.get("status") == "ok"]
    headline = METRIC_REGISTRY[metrics.headline]
    per_metric: dict[str, MetricSummary] = {}
    for m in metrics.metrics:
        complete = [r for r in scored if r.get(m.delta_column) is not None]
        gains = [r[m.delta_column] for r in complete]
        noisy_stats = _stats([r[m.noisy_column] for r in complete])
        enhanced_stats = _stats([r[m.enhanced_column] for r in complete])
        gain_stats = _stats(gains)
        per_metric[m.name] = MetricSummary(
            n=len(complete), n_missing=len(scored) - len(complete),
            noisy_mean=noisy_stats["mean"], enhanced_mean=enhanced_stats["mean"],
            noisy_median=noisy_stats["median"], enhanced_median=enhanced_stats["median"],
            improvement_mean=gain_stats["mean"], improvement_std=gain_stats["std"],
            improvement_median=gain_stats["median"],
            share_improved=(sum(g > 0 for g in gains) / len(gains)) if gains else None)
    sisnr = per_metric.get(_SISNR.name, MetricSummary())
    gains = [r[_SISNR.delta_column] for r in scored if r.get(_SISNR.delta_column) is not None]
    gain_stats = _stats(gains)
    ranked = rank_by_improvement(rows, headline.name)

    def ref(row: dict[str, Any]) -> UtteranceRef:
        return UtteranceRef(uttid=row["uttid"], **{headline.delta_column: row[headline.delta_column]})

    headline_gain = per_metric[headline.name].improvement_mean
    summary = EvaluationSummary(
        n=len(rows), n_scored=len(scored),
        n_failed=sum(r.get("status") == "failed" for r in rows),
        noisy_sisnr_mean=sisnr.noisy_mean, enhanced_sisnr_mean=sisnr.enhanced_mean,
        sisnr_improvement_mean=gain_stats["mean"], sisnr_improvement_std=gain_stats["std"],
        sisnr_improvement_min=gain_stats["min"], sisnr_improvement_max=gain_stats["max"],
        sisnr_improvement_median=gain_stats["median"], share_improved=sisnr.share_improved,
        best=ref(ranked[0]) if ranked else None, worst=ref(ranked[-1]) if ranked else None,
        baseline={"name": IDENTITY_BASELINE,
                  **{f"{name}_mean": stats.noisy_mean for name, stats in per_metric.items()}},
        worse_than_input=headline_gain is not None and headline_gain < 0.0,
        metrics=per_metric, reference=metrics.reference, headline_metric=headline.name,
        skipped_metrics=metrics.skipped, condition_columns=list(conditions),
        conditions=breakdown(rows, metrics.names, conditions),
        failed=[{"uttid": r["uttid"], "error": r.get("error", "")}
                for r in rows if r.get("status") == "failed"])
    summary.warnings = _warnings(summary)
    return summary


def _warnings(summary: EvaluationSummary, lang: str = "en") -> list[str]:
    """What is wrong with these scores, in ``lang`` (summary.json keeps the English)."""
    from tfgridnet.i18n import tr

    warnings: list[str] = []
    low, high = NOISY_SISNR_PLAUSIBLE_DB
    noisy_mean = summary.noisy_sisnr_mean
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
                      metrics: MetricSet = DEFAULT_METRICS, conditions: Sequence[str] = (),
                      baseline: bool = False) -> Path:
    columns = csv_columns(metrics, conditions, baseline)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([fmt_value(row.get(c)) for c in columns])
    return write_text_atomic(path, buffer.getvalue())
