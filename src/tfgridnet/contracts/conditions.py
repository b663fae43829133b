"""Breakdown of the evaluation by condition: the metrics per noise kind, SNR bin and duration bin.

A mean over a whole test set hides the condition a model fails on ("babble gains 0 dB"), so, like
the URGENT challenge's tables, ``summary.json`` gets one table per condition: for each group its
utterance count and the noisy, enhanced and improvement means of every metric. The conditions come
from the manifest's extra columns (``Pair.conditions``: ``noise_kind``, ``snr_db`` and any other);
SNR is put in 5 dB bins, the utterance duration in three bins, text columns are used as they are.

The same groups give :func:`residual_spread`: the spread of an improvement that the recorded
conditions do not explain, so that a test set built to span -5..10 dB is not "inconsistent" for
gaining more at low SNR.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict

from tfgridnet.contracts.metric_registry import METRIC_REGISTRY
from tfgridnet.contracts.names import DURATION_COLUMN, NOISE_KIND_COLUMN, SNR_COLUMN
from tfgridnet.contracts.utterance import UtteranceRow

__all__ = ["SNR_BIN_DB", "DURATION_BINS_S", "DURATION_FACTOR", "MAX_GROUPS", "GroupMetric",
           "ConditionGroup", "breakdown", "read_breakdown", "condition_group", "factor_label",
           "group_cell", "ResidualSpread", "residual_spread"]

SNR_BIN_DB = 5.0  # width of the input-SNR bins
DURATION_BINS_S = (3.0, 6.0)  # <3 s, 3-6 s, >=6 s
DURATION_FACTOR = DURATION_COLUMN  # the column the evaluator stores each utterance's length in
MAX_GROUPS = 12  # a text column with more distinct values is an id, not a condition
UNKNOWN = "(none)"  # rows without a value for the condition


def factor_label(factor: str, lang: str) -> str | None:
    """A condition's name for people in ``lang`` (catalog key ``cond.<factor>``), or None for a
    user's own column, which shows its own name."""
    from tfgridnet.i18n import catalog, tr

    key = f"cond.{factor}"
    return tr(key, lang, width=SNR_BIN_DB) if key in catalog(lang).messages else None


class GroupMetric(BaseModel):
    """One metric's means within one condition group."""

    model_config = ConfigDict(extra="ignore")

    n: int = 0
    noisy_mean: float | None = None
    enhanced_mean: float | None = None
    improvement_mean: float | None = None


class ConditionGroup(BaseModel):
    """One row of a breakdown table: a condition value (or bin) and its metrics."""

    model_config = ConfigDict(extra="ignore")

    group: str
    n: int
    metrics: dict[str, GroupMetric]


def _snr_bin(text: str) -> tuple[float, str] | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(value):
        return None
    low = math.floor(value / SNR_BIN_DB) * SNR_BIN_DB
    return low, f"[{low:g}, {low + SNR_BIN_DB:g}) dB"


def _duration_bin(seconds: float) -> tuple[float, str]:
    short, long = DURATION_BINS_S
    if seconds < short:
        return 0.0, f"< {short:g} s"
    if seconds < long:
        return 1.0, f"{short:g}–{long:g} s"
    return 2.0, f"≥ {long:g} s"


def condition_group(factor: str, row: UtteranceRow) -> tuple[float | str, str]:
    """(sort key, label) of the group ``row`` falls in for ``factor`` (a condition column or
    ``DURATION_FACTOR``)."""
    value = row.cell(factor)
    if factor == DURATION_FACTOR:
        return _duration_bin(float(value)) if value is not None else (math.inf, UNKNOWN)
    if value is None or str(value).strip() == "":
        return "\uffff", UNKNOWN  # sorts last
    if factor == SNR_COLUMN:
        binned = _snr_bin(str(value))
        return binned if binned is not None else ("\uffff", str(value))
    return str(value), str(value)


def _factors(rows: Sequence[UtteranceRow], condition_columns: Sequence[str]) -> list[str]:
    """The conditions worth a table: the manifest's columns with 2..MAX_GROUPS groups, then
    duration (binned), which every utterance has."""
    out = []
    for factor in [*condition_columns, DURATION_FACTOR]:
        labels = {condition_group(factor, r)[1] for r in rows}
        binned = factor in (SNR_COLUMN, DURATION_FACTOR)
        if len(labels) >= 2 and (binned or len(labels) <= MAX_GROUPS):
            out.append(factor)
    return out


def _mean(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None


def breakdown(rows: Sequence[UtteranceRow], metric_names: Sequence[str],
              condition_columns: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """``summary.json``'s ``conditions``: factor -> groups in order (``ConditionGroup`` dumps).

    Only scored utterances count; a factor with a single group says nothing and is left out.
    ``noise_kind`` comes first when present, as the condition users ask about first.
    """
    scored = [r for r in rows if r.ok]
    columns = sorted(condition_columns, key=lambda c: c != NOISE_KIND_COLUMN)
    tables: dict[str, list[dict[str, Any]]] = {}
    for factor in _factors(scored, columns):
        groups: dict[str, tuple[Any, list[UtteranceRow]]] = {}
        for row in scored:
            key, label = condition_group(factor, row)
            groups.setdefault(label, (key, []))[1].append(row)
        ordered = sorted(groups.items(), key=lambda item: (isinstance(item[1][0], str),
                                                           item[1][0]))
        table = []
        for label, (_, members) in ordered:
            per_metric = {}
            for name in metric_names:
                complete = [s for s in (r.score(name) for r in members) if s.complete]
                per_metric[name] = GroupMetric(
                    n=len(complete),
                    noisy_mean=_mean([s.noisy for s in complete]),
                    enhanced_mean=_mean([s.enhanced for s in complete]),
                    improvement_mean=_mean([s.improvement for s in complete]))
            table.append(ConditionGroup(group=label, n=len(members),
                                        metrics=per_metric).model_dump())
        tables[factor] = table
    return tables


def read_breakdown(summary: dict[str, Any]) -> dict[str, list[ConditionGroup]]:
    """``summary.json``'s ``conditions`` as typed tables (empty for an older evaluator's file);
    metrics this version does not know are dropped."""
    raw = summary.get("conditions")
    if not isinstance(raw, dict):
        return {}
    out: dict[str, list[ConditionGroup]] = {}
    for factor, groups in raw.items():
        if not isinstance(groups, list):
            continue
        table = [ConditionGroup.model_validate(g) for g in groups if isinstance(g, dict)]
        for group in table:
            group.metrics = {k: v for k, v in group.metrics.items() if k in METRIC_REGISTRY}
        out[str(factor)] = table
    return out


def group_cell(stats: GroupMetric | None) -> str:
    """One table cell: ``noisy → enhanced (improvement)``, the same on the page and the report."""
    if stats is None or stats.noisy_mean is None or stats.enhanced_mean is None:
        return "n/a"
    return (f"{stats.noisy_mean:.2f} → {stats.enhanced_mean:.2f} "
            f"({stats.improvement_mean:+.2f})")


@dataclass(frozen=True)
class ResidualSpread:
    """The spread of one metric's per-utterance improvement before and after removing what the
    recorded conditions explain (see :func:`residual_spread`)."""

    std: float  # sample std of the residuals, RSS / (n - parameters), NaN without a dof left
    total_std: float  # sample std of the improvement itself (n - 1)
    n: int
    dof: int  # n minus the fitted parameters (the rank of the design)
    factors: tuple[str, ...]  # the conditions removed; empty: nothing recorded, std == total_std

    @property
    def explained_share(self) -> float:
        """Share of the variance (sum of squares) the conditions account for."""
        total = self.total_std**2 * (self.n - 1)
        left = self.std**2 * self.dof if self.dof > 0 else 0.0
        return 1.0 - left / total if total > 0 else 0.0


def residual_spread(rows: Sequence[UtteranceRow], metric: str,
                    condition_columns: Sequence[str]) -> ResidualSpread | None:
    """Spread of ``metric``'s improvement left after the recorded conditions.

    An additive least-squares model: the improvement of an utterance = overall mean + one offset
    per group of each condition (the breakdown's groups: noise kind, 5 dB input-SNR bin, any other
    condition column with 2..MAX_GROUPS values; not duration, which the evaluator measures rather
    than the test set's design). What is left, sum of squared residuals over ``n - rank``, is the
    spread between utterances *of the same conditions*. Scored utterances with a finite
    improvement only; None with fewer than two.
    """
    scored = [r for r in rows if r.ok and r.improvement(metric) is not None
              and math.isfinite(r.improvement(metric))]
    if len(scored) < 2:
        return None
    gains = np.array([r.improvement(metric) for r in scored], dtype=np.float64)
    total_std = float(gains.std(ddof=1))
    factors = tuple(f for f in _factors(scored, condition_columns) if f != DURATION_FACTOR)
    design = [np.ones(len(scored))]
    for factor in factors:
        labels = [condition_group(factor, r)[1] for r in scored]
        for level in sorted(set(labels))[1:]:  # the first group is the baseline
            design.append(np.array([label == level for label in labels], dtype=np.float64))
    x = np.stack(design, axis=1)  # [n, parameters]
    coefficients, *_ = np.linalg.lstsq(x, gains, rcond=None)
    residuals = gains - x @ coefficients
    dof = len(scored) - int(np.linalg.matrix_rank(x))
    std = float(np.sqrt(residuals @ residuals / dof)) if dof > 0 else math.nan
    return ResidualSpread(std=std, total_std=total_std, n=len(scored), dof=dof, factors=factors)
