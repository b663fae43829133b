"""What the report knows about a run, as types: the statistics of its training
(:class:`TrainingStats`) and of its evaluation (:class:`EvalStats`), and the :class:`Facts` the
rules look at.

Every figure is an attribute: a renamed or mistyped one is an ``AttributeError`` (or a type
checker's error) where it is read, never a silent ``None`` from a dict lookup. ``None`` means the
run's files did not hold the figure (a column or file that an older or foreign run lacks).
report/statistics.py computes them; nothing here judges.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tfgridnet.contracts.conditions import ConditionGroup, ResidualSpread
from tfgridnet.contracts.evaluation import BaselineModelSummary, MetricSummary
from tfgridnet.contracts.init_record import InitRecord

__all__ = ["DataCheckStats", "EvalStats", "Facts", "FROM_LOSS", "Phase", "RankedEpoch",
           "RankedUtterance", "SeriesStats", "TrainingStats", "from_loss_note", "missing_item"]

# The note that a run's SI-SNR column was derived from its loss column (-loss): "<column>_from_loss".
FROM_LOSS = "_from_loss"


def from_loss_note(column: str) -> str:
    return column + FROM_LOSS


def missing_item(file_name: str, key: str) -> str:
    """An entry of ``Facts.missing`` for a key (column) a file lacks: ``"metrics.csv:lr"``; a
    whole missing file is its name alone."""
    return f"{file_name}:{key}"


@dataclass(frozen=True)
class Phase:
    """One third of the run (early, middle, late): its epochs, mean SI-SNRs and the trend."""

    name: str
    epoch_from: int
    epoch_to: int
    train_mean: float | None
    valid_mean: float | None
    valid_delta: float | None  # against the phase before (None for the first)
    trend: str  # first | improving | declining | flat


@dataclass(frozen=True)
class RankedEpoch:
    """One of the best epochs by validation SI-SNR."""

    epoch: int
    valid_sisnr: float
    train_sisnr: float | None


@dataclass(frozen=True)
class DataCheckStats:
    """The start-up data check of data_check.json, summed over its manifests; :meth:`evidence`
    is what the ``data_check_failed`` finding says."""

    errors_ignored: bool
    n_errors: int
    n_checked: int
    manifests: str  # the failed manifests' keys, as `a`, `b` (— when none)
    kinds: str  # the problem kinds found, comma separated (— when none)

    def evidence(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True, frozen=True)
class SeriesStats:
    """One per-epoch SI-SNR series summed up over its finite epochs (all None: no such column)."""

    mean: float | None = None
    best: float | None = None
    worst: float | None = None
    first: float | None = None
    last: float | None = None

    @classmethod
    def of(cls, values: np.ndarray) -> SeriesStats:
        finite = values[np.isfinite(values)]
        return cls(mean=float(finite.mean()), best=float(finite.max()), worst=float(finite.min()),
                   first=float(finite[0]), last=float(finite[-1]))


@dataclass(slots=True)
class TrainingStats:
    """The summary numbers of a run: metrics.csv's statistics, the run's config and environment,
    a fine-tune's start (metrics.csv's step-0 row, init.json) and how the run ended
    (train_summary.json, data_check.json)."""

    n_epochs: int
    first_epoch: int
    last_epoch: int
    planned_epochs: float | None = None
    # time and throughput
    durations: np.ndarray | None = None  # seconds per epoch
    total_time_h: float | None = None
    epoch_time_s_mean: float | None = None
    time_to_best_h: float | None = None
    total_steps: float | None = None
    sec_per_batch_mean: float | None = None
    samples_per_sec_mean: float | None = None
    batch_size: float | None = None
    precision: str | None = None
    # SI-SNR (the series, and their statistics: mean, best, worst, first, last)
    loss_spectral_weight: float = 0.0
    train_sisnr: np.ndarray | None = None
    valid_sisnr: np.ndarray | None = None
    train: SeriesStats = field(default_factory=SeriesStats)  # of train_sisnr
    valid: SeriesStats = field(default_factory=SeriesStats)  # of valid_sisnr
    n_validations: int = 0
    valid_recent_slope: float | None = None  # least-squares dB per epoch over the last epochs
    valid_recent_from_epoch: int | None = None
    valid_recent_gain: float | None = None
    best_index: int | None = None
    best_epoch: int | None = None
    top_epochs: list[RankedEpoch] = field(default_factory=list)
    valid_noisy_mean: float | None = None  # the identity baseline (noisy input as the output)
    valid_noisy_median: float | None = None
    phases: list[Phase] = field(default_factory=list)
    # learning rate
    lr_initial: float | None = None
    lr_final: float | None = None
    lr_ratio: float | None = None
    lr_below_index: int | None = None  # first epoch below lr_initial / lr_decay_ratio
    lr_below_epoch: int | None = None
    # gradients
    grad_mean_first: float | None = None
    grad_mean_last: float | None = None
    grad_mean_median: float | None = None
    grad_max_index: int | None = None
    grad_max: float | None = None
    grad_max_epoch: int | None = None
    grad_max_first: float | None = None
    grad_max_last: float | None = None
    grad_clip: float | None = None
    optimizer: str | None = None
    clipped_total: float | None = None
    clipped_share: float | None = None
    nonfinite_total: float | None = None
    nonfinite_epochs: int | None = None
    nonfinite_share: float | None = None
    # memory
    device: str | None = None
    device_mem_mb: float | None = None
    peak_mem_mb: float | None = None
    peak_mem_share: float | None = None
    patience: int | None = None
    # a fine-tune: the step-0 row, init.json / config.yaml's init section, the second valid set
    initial_valid_sisnr: float | None = None
    initial_valid_noisy_sisnr: float | None = None
    initial_valid_extra_sisnr: float | None = None
    init_source: str | None = None
    lr_pretrained: float | None = None
    init_record: InitRecord | None = None
    valid_extra_best: float | None = None
    valid_extra_last: float | None = None
    valid_extra_at_best: float | None = None
    # how the run ended: train_summary.json and data_check.json
    run_dir: str | None = None
    stop_reason: str | None = None
    ended_on_budget: bool | None = None
    global_step: int | None = None
    wall_time_s: float | None = None
    nonfinite_diagnostic: str | None = None
    data_check: DataCheckStats | None = None


@dataclass(frozen=True)
class RankedUtterance:
    """One of the best or worst utterances by SI-SNR improvement."""

    uttid: str
    improvement: float
    noisy_sisnr: float | None
    enhanced_sisnr: float | None


@dataclass(slots=True)
class EvalStats:
    """The evaluation's figures: summary.json as the evaluator wrote it, with
    evaluation_results.csv ranking the utterances and standing in for what it lacks. The SI-SNR
    figures (``noisy_mean`` ... ``improvement_max``) are None on a clean-less set."""

    dir: Path
    source: str  # the file the SI-SNR figures came from
    reference: bool = True
    metrics: dict[str, MetricSummary] = field(default_factory=dict)
    conditions: dict[str, list[ConditionGroup]] = field(default_factory=dict)
    baseline_model: BaselineModelSummary | None = None
    index_html: Path | None = None
    headline: str | None = None  # a clean-less set's headline metric
    skipped: str | None = None  # a clean-less set's metrics not measured
    n: int | None = None
    n_failed: int | None = None
    noisy_mean: float | None = None
    enhanced_mean: float | None = None
    improvement_mean: float | None = None
    improvement_std: float | None = None
    improvement_min: float | None = None
    improvement_max: float | None = None
    n_degraded: int | None = None
    degraded_share: float | None = None
    worst: list[RankedUtterance] = field(default_factory=list)
    best: list[RankedUtterance] = field(default_factory=list)
    spread: ResidualSpread | None = None


@dataclass
class Facts:
    """What the rules look at: the statistics of a run (and its evaluation) and what was missing."""

    training: TrainingStats
    evaluation: EvalStats | None
    missing: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
