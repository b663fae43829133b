"""One line of ``evaluation_results.csv`` as a type (:class:`UtteranceRow`), for the evaluator that
fills it step by step and every reader of the file.

The columns are not a fixed list (the metrics scored and the manifest's conditions choose them),
so the row holds each scored metric as one :class:`MetricScores` under the metric's name, and
:meth:`UtteranceRow.cell` is the one place that says which column holds which field: the metric
columns by the registry's patterns (``noisy_<name>``, ``enhanced_<name>`` ...), the rest by
``names``. Code that works on rows uses the fields, so a misspelt column is an AttributeError,
not a silent ``None``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from tfgridnet.contracts.metric_registry import METRIC_REGISTRY
from tfgridnet.contracts.names import (
    DURATION_COLUMN,
    ENHANCED_PEAK_COLUMN,
    ERROR_COLUMN,
    NOTES_COLUMN,
    STATUS_COLUMN,
    STATUS_FAILED,
    STATUS_OK,
    UTTID,
)

__all__ = ["MetricScores", "UtteranceRow", "MEASUREMENT_COLUMNS", "TEXT_COLUMNS",
           "METRIC_COLUMNS"]


@dataclass
class MetricScores:
    """One metric of one utterance (None: not scored, or undefined for this signal)."""

    noisy: float | None = None  # the noisy input scored as the output (the identity baseline)
    enhanced: float | None = None
    improvement: float | None = None  # Metric.improvement(noisy, enhanced): positive is better
    baseline: float | None = None  # evaluate --baseline: that model's score
    over_baseline: float | None = None  # evaluate --baseline: how much better this model is

    @property
    def complete(self) -> bool:
        """Both signals scored, so the improvement exists."""
        return self.improvement is not None


# Each MetricScores field is the column of the Metric property named here.
_FIELD_COLUMN = {"noisy": "noisy_column", "enhanced": "enhanced_column",
                 "improvement": "delta_column", "baseline": "baseline_column",
                 "over_baseline": "over_baseline_column"}
assert set(_FIELD_COLUMN) == {f.name for f in fields(MetricScores)}
# Every metric column of any metric set -> (metric name, MetricScores field).
METRIC_COLUMNS: dict[str, tuple[str, str]] = {
    getattr(m, prop): (m.name, name) for m in METRIC_REGISTRY.values()
    for name, prop in _FIELD_COLUMN.items()}
# The per-utterance measurements after the metric columns (numbers), and the free-text columns.
MEASUREMENT_COLUMNS = (DURATION_COLUMN, ENHANCED_PEAK_COLUMN)
TEXT_COLUMNS = (STATUS_COLUMN, ERROR_COLUMN, NOTES_COLUMN)
# The fixed columns after the metric ones -> the UtteranceRow field that holds them.
_ATTRIBUTE = {DURATION_COLUMN: "duration_s", ENHANCED_PEAK_COLUMN: "enhanced_peak",
              STATUS_COLUMN: "status", ERROR_COLUMN: "error", NOTES_COLUMN: "notes"}


def _number(value: Any) -> float | None:
    """A cell's number: None for empty, missing or non-finite (what the writer leaves empty)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


@dataclass
class UtteranceRow:
    """One utterance of an evaluation: ok until a step fails it."""

    uttid: str
    conditions: dict[str, str] = field(default_factory=dict)  # the manifest's extra columns
    scores: dict[str, MetricScores] = field(default_factory=dict)  # Metric.name ->
    duration_s: float | None = None
    enhanced_peak: float | None = None  # the enhanced output's largest |sample|
    status: str = STATUS_OK
    error: str = ""
    notes: str = ""

    @property
    def ok(self) -> bool:
        return self.status == STATUS_OK

    def fail(self, error: str) -> None:
        self.status, self.error = STATUS_FAILED, error

    def add_note(self, *notes: str) -> None:
        self.notes = "; ".join(filter(None, [self.notes, *notes]))

    def score(self, metric: str) -> MetricScores:
        """``metric``'s scores (all None when it was not scored)."""
        return self.scores.get(metric) or MetricScores()

    def improvement(self, metric: str) -> float | None:
        return self.score(metric).improvement

    def cell(self, column: str) -> Any:
        """The value under ``column`` (a metric column, a condition, or a fixed column); None for
        a column this row has no value in."""
        if column == UTTID:
            return self.uttid
        if column in _ATTRIBUTE:
            return getattr(self, _ATTRIBUTE[column])
        if column in METRIC_COLUMNS:
            metric, name = METRIC_COLUMNS[column]
            return getattr(self.score(metric), name)
        return self.conditions.get(column)

    @classmethod
    def from_columns(cls, cells: Mapping[str, Any]) -> UtteranceRow:
        """The row a CSV line (column -> cell) holds: metric columns and measurements as
        numbers (empty or non-finite: None), every other column but the fixed ones a
        condition."""
        row = cls(uttid=str(cells[UTTID]))
        for column, value in cells.items():
            if column in METRIC_COLUMNS:
                metric, name = METRIC_COLUMNS[column]
                if _number(value) is not None:  # an empty cell: not scored (``score`` says so)
                    setattr(row.scores.setdefault(metric, MetricScores()), name, _number(value))
            elif column in MEASUREMENT_COLUMNS:
                setattr(row, _ATTRIBUTE[column], _number(value))
            elif column in TEXT_COLUMNS:
                setattr(row, _ATTRIBUTE[column], "" if value is None else str(value))
            elif column != UTTID:
                row.conditions[column] = "" if value is None else str(value)
        return row

