"""The evaluation folder's file contract: the columns of ``evaluation_results.csv`` (one row per
utterance) and the schema of ``summary.json`` (:class:`EvaluationSummary`), for the evaluator
that writes them and every reader (the report, ``evaluate --baseline``, the benchmarks).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tfgridnet.contracts.conditions import ConditionGroup
from tfgridnet.contracts.metric_registry import (
    COLUMN_ALIASES,
    DEFAULT_METRICS,
    METRIC_REGISTRY,
    Metric,
    MetricSet,
)
from tfgridnet.contracts.names import PAGE_FILE, RESULTS_FILE, SUMMARY_FILE, UTTID
from tfgridnet.contracts.tables import parse_number, read_csv_table
from tfgridnet.contracts.utterance import (
    MEASUREMENT_COLUMNS,
    METRIC_COLUMNS,
    TEXT_COLUMNS,
    MetricScores,
    UtteranceRow,
)
from tfgridnet.errors import UserInputError
from tfgridnet.fileio import write_text_atomic

__all__ = ["EvaluationSummary", "MetricSummary", "BaselineModelSummary", "BaselineMetricSummary",
           "UtteranceRef", "csv_columns", "number_columns", "fmt_value", "write_results_csv",
           "read_results_csv", "table_rows", "UtteranceRow", "MetricScores",
           "MEASUREMENT_COLUMNS", "TEXT_COLUMNS", "RESULTS_FILE",
           "SUMMARY_FILE", "PAGE_FILE", "IDENTITY_BASELINE", "aliases", "alias_keys"]

_SISNR = METRIC_REGISTRY["sisnr"]


class MetricSummary(BaseModel):
    """One entry of ``summary.json``'s ``metrics`` (keyed by ``Metric.name``): every figure of
    one metric, said once (the flat keys beside it are generated from these: :func:`aliases`).
    Written by ``summarize``, read by the report. Keys a foreign or older file lacks read as
    ``None``."""

    model_config = ConfigDict(extra="ignore")

    n: int = 0
    n_missing: int = 0
    noisy_mean: float | None = None
    enhanced_mean: float | None = None
    noisy_median: float | None = None
    enhanced_median: float | None = None
    improvement_mean: float | None = None
    improvement_std: float | None = None
    improvement_min: float | None = None
    improvement_max: float | None = None
    improvement_median: float | None = None
    share_improved: float | None = None


IDENTITY_BASELINE = "identity (the noisy input scored as the output)"


def alias_keys(metric: Metric) -> dict[str, str]:
    """The flat keys of ``summary.json`` that repeat a figure of ``metrics.<name>`` (the file's
    original contract: ``noisy_sisnr_mean``, ``sisnr_improvement_std`` ... and each metric's
    ``noisy_<name>_mean`` / 0.1.0-named enhanced mean, ``pesq_wb_mean``): flat key ->
    :class:`MetricSummary` field. SI-SNR's improvement spread and share are flat too."""
    keys = {f"{metric.noisy_column}_mean": "noisy_mean",
            f"{metric.release_enhanced_column}_mean": "enhanced_mean"}
    if metric.name == _SISNR.name:
        keys.update({f"{metric.delta_column}_{stat}": f"improvement_{stat}"
                     for stat in ("mean", "std", "min", "max", "median")})
        keys[_SHARE_IMPROVED] = "share_improved"
    return keys


_SHARE_IMPROVED = "share_improved"
_IDENTITY_KEY = "baseline"  # {"name": IDENTITY_BASELINE, "<name>_mean": noisy mean, ...}


def aliases(metrics: dict[str, MetricSummary]) -> dict[str, Any]:
    """Every flat key of ``summary.json``, generated from ``metrics`` (the one place they are
    made): SI-SNR's always (None when it was not scored, as 0.1.0 wrote them), each scored
    metric's means, and the identity baseline's table of noisy means."""
    out: dict[str, Any] = {}
    for name in dict.fromkeys([_SISNR.name, *metrics]):
        stats = metrics.get(name, MetricSummary())
        out.update({key: getattr(stats, field)
                    for key, field in alias_keys(METRIC_REGISTRY[name]).items()})
    out[_IDENTITY_KEY] = {"name": IDENTITY_BASELINE,
                          **{f"{name}_mean": stats.noisy_mean for name, stats in metrics.items()}}
    return out


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

    Each figure is said once, in ``metrics`` (one :class:`MetricSummary` per scored metric); the
    flat keys of the original contract (``noisy_sisnr_mean``, ``sisnr_improvement_mean`` ...,
    ``pesq_wb_mean``) are written beside it by :meth:`to_json`, generated by :func:`aliases`, for
    readers outside this package. :meth:`read` takes a file's ``metrics`` and fills what an older
    or foreign file has only as flat keys; every key is optional on reading, and it says which
    contract figures (``CONTRACT_KEYS``, the flat names) the file lacked.
    """

    model_config = ConfigDict(extra="ignore")

    n: int | None = None
    n_scored: int | None = None
    n_failed: int | None = None
    best: UtteranceRef | None = None
    worst: UtteranceRef | None = None
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
        "n", "n_failed", *(k for k in alias_keys(_SISNR) if k != _SHARE_IMPROVED
                           and not k.endswith("_median")), "metrics")

    @property
    def sisnr(self) -> MetricSummary:
        """SI-SNR's figures (all None when it was not scored: a clean-less set)."""
        return self.metrics.get(_SISNR.name, MetricSummary())

    def to_json(self) -> dict[str, Any]:
        """The file's content: the fields, then the flat aliases generated from ``metrics``."""
        return {**self.model_dump(mode="json"), **aliases(self.metrics)}

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
        entries = raw.get("metrics") if isinstance(raw.get("metrics"), dict) else {}
        missing = [key for key in ("n", "n_failed", "metrics") if raw.get(key) is None]
        metrics: dict[str, dict[str, Any]] = {}
        for name, metric in METRIC_REGISTRY.items():
            entry = entries.get(name)
            if name in entries and not isinstance(entry, dict):
                missing.append(f"metrics.{name}")
                continue
            # a figure only the flat keys hold (an older or foreign file) fills the entry
            flat = {field: raw[key] for key, field in alias_keys(metric).items()
                    if raw.get(key) is not None}
            if isinstance(entry, dict):
                metrics[name] = {**flat, **entry}
                missing += [f"metrics.{name}.{k}" for k in ("noisy_mean", "enhanced_mean",
                                                            "improvement_mean") if k not in entry]
            elif flat:
                metrics[name] = flat
        # A clean-less evaluation has no SI-SNR: its figures are rightly empty.
        if raw.get("reference") is not False:
            sisnr = metrics.get(_SISNR.name, {})
            missing[2:2] = [key for key, field in alias_keys(_SISNR).items()
                            if key in cls.CONTRACT_KEYS and sisnr.get(field) is None]
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


def number_columns() -> frozenset[str]:
    """Every column of ``evaluation_results.csv`` that holds a number, for any metric set: the
    metric columns and the measurements (``MEASUREMENT_COLUMNS``). uttid, the condition
    columns and the text columns (``TEXT_COLUMNS``) are text."""
    return frozenset([*METRIC_COLUMNS, *MEASUREMENT_COLUMNS])


def csv_columns(metrics: MetricSet = DEFAULT_METRICS,
                conditions: Sequence[str] = (), baseline: bool = False) -> list[str]:
    """``evaluation_results.csv``'s header: the utterance's conditions (the manifest's extra
    columns), three columns per scored metric (five with ``evaluate --baseline``: the baseline
    model's score and the gain over it), then the rest."""
    columns = [UTTID, *conditions]
    for m in metrics.metrics:
        columns += [m.noisy_column, m.enhanced_column, m.delta_column]
        if baseline:
            columns += [m.baseline_column, m.over_baseline_column]
    return columns + [*MEASUREMENT_COLUMNS, *TEXT_COLUMNS]


def fmt_value(value: Any) -> str:
    """A CSV cell: floats at 4 decimals, missing or non-finite values empty."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}" if math.isfinite(value) else ""
    return str(value)


def write_results_csv(path: Path, rows: Sequence[UtteranceRow],
                      metrics: MetricSet = DEFAULT_METRICS, conditions: Sequence[str] = (),
                      baseline: bool = False) -> Path:
    columns = csv_columns(metrics, conditions, baseline)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([fmt_value(row.cell(c)) for c in columns])
    return write_text_atomic(path, buffer.getvalue())


def read_results_csv(path: Path) -> dict[str, list[Any]]:
    """evaluation_results.csv -> column -> list: the number columns (``number_columns``) as
    floats, a non-number there refused naming the line; uttid, conditions and notes as text.

    A column an older release named otherwise (``pesq_wb`` for ``enhanced_pesq_wb``:
    ``COLUMN_ALIASES``) is read under its current name."""
    header, rows = read_csv_table(path)
    if UTTID not in header:
        raise UserInputError(f"{path}: expected a CSV header starting with '{UTTID}'")
    columns = [COLUMN_ALIASES[c] if c in COLUMN_ALIASES and COLUMN_ALIASES[c] not in header
               else c for c in header]
    numeric = number_columns()
    table: dict[str, list[Any]] = {c: [] for c in columns}
    for number, fields in rows:
        for column, value in zip(columns, fields):
            if column in numeric:
                table[column].append(parse_number(value, path, number, column))
            else:
                table[column].append(value)
    return table



def table_rows(table: dict[str, list[Any]]) -> list[UtteranceRow]:
    """The rows of a table :func:`read_results_csv` returned, as :class:`UtteranceRow` (empty or
    non-finite numbers: None)."""
    return [UtteranceRow.from_columns(dict(zip(table, cells))) for cells in zip(*table.values())]
