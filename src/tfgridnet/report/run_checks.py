"""The report's checks of how a run ended (train_summary.json, data_check.json, metrics.csv's step
counts), listed in ``RULES``: too short to judge, stopped while still improving, trained on pairs
the start-up data check had refused.

Each recommendation that says "train more" carries the command that continues the run
(``--resume`` from its ``last.ckpt`` with a larger budget), sized from the run's own pace.
"""

from __future__ import annotations

import math

from tfgridnet.contracts.folders import RunDir
from tfgridnet.contracts.train_summary import STOP_MAX_EPOCHS, STOP_TIME_BUDGET
from tfgridnet.report.facts import TrainingStats
from tfgridnet.report.thresholds import Evidence, Facts, Thresholds

__all__ = ["continue_command", "data_check_failed", "stopped_while_improving",
           "too_short_to_judge"]


def _elapsed_s(t: TrainingStats) -> float | None:
    """Seconds the run took: train_summary.json's wall time, else the epochs' durations."""
    if t.wall_time_s:
        return float(t.wall_time_s)
    return t.total_time_h * 3600.0 if t.total_time_h else None


def _steps(t: TrainingStats) -> float | None:
    """Optimiser steps run: metrics.csv's step counts, else train_summary.json's global step."""
    steps = t.total_steps
    return steps if steps is not None else t.global_step


def continue_command(t: TrainingStats, scale: float) -> str:
    """``tfgridnet train`` resuming this run with ``scale`` times its budget: the one it ran out
    of (``trainer.max_minutes`` or ``trainer.max_epochs``), from its own pace."""
    run = t.run_dir or "RUN_DIR"
    command = f"tfgridnet train {RunDir(run).config} --out {run} --resume"
    stop = t.stop_reason
    elapsed = _elapsed_s(t)
    if stop == STOP_TIME_BUDGET and elapsed:
        return f"{command} -o trainer.max_minutes={max(1, math.ceil(elapsed * scale / 60.0))}"
    if stop == STOP_MAX_EPOCHS or (stop is None and t.n_epochs):
        epochs = max(t.n_epochs + 1, math.ceil(t.n_epochs * scale))
        return f"{command} -o trainer.max_epochs={epochs}"
    return command


def too_short_to_judge(f: Facts, th: Thresholds) -> Evidence | None:
    """Too few optimiser steps (or, without step counts, validations) for the learning rules:
    a healthy model is still near its random start there (bench/RESULTS.md §51)."""
    t = f.training
    steps, validations = _steps(t), t.n_validations
    if steps is not None:
        if steps >= th.min_steps_to_judge:
            return None
    elif validations >= th.min_validations_without_steps or (
            validations == 0 and f.evaluation is None):  # nothing at all: insufficient_evidence
        return None
    scale = th.min_steps_to_judge / steps if steps else 2.0
    return {"steps": steps, "validations": validations, "min_steps": th.min_steps_to_judge,
            "min_validations": th.min_validations_without_steps,
            "stop_reason": t.stop_reason or "—", "withheld": "—",
            "next": continue_command(t, max(scale, 1.0))}


def stopped_while_improving(f: Facts, th: Thresholds) -> Evidence | None:
    """Ended on its time or epoch budget with validation still rising over its last epochs."""
    t = f.training
    slope = t.valid_recent_slope
    if slope is None or slope < th.valid_flat_db:
        return None
    if t.best_epoch < t.valid_recent_from_epoch:  # the best lies before the window
        return None
    ended_on_budget = t.ended_on_budget
    if ended_on_budget is None:  # no train_summary.json: the epoch budget, if it was reached
        planned = t.planned_epochs
        ended_on_budget = planned is not None and t.n_epochs >= planned
    if not ended_on_budget:
        return None
    return {"db_per_epoch": slope, "window": th.improving_window,
            "threshold_db": th.valid_flat_db, "from_epoch": t.valid_recent_from_epoch,
            "last_epoch": t.last_epoch, "valid_last": t.valid.last,
            "stop_reason": t.stop_reason or "max_epochs",
            "next": continue_command(t, 2.0)}


def data_check_failed(f: Facts, th: Thresholds) -> Evidence | None:
    """The start-up data check found broken pairs and training went on anyway
    (``--ignore-data-errors``): the run is built on them, however short it is."""
    check = f.training.data_check
    if check is None or not check.errors_ignored:
        return None
    return check.evidence()
