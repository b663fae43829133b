"""``train_summary.json``: how a run ended, written by ``train`` and read by the report.

Part of the contracts layer, below the trainer (train/rundir.py needs Lightning), so that a reader
such as ``tfgridnet report`` loads the schema without importing it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tfgridnet.contracts.folders import RunDir
from tfgridnet.contracts.names import TRAIN_SUMMARY_FILE
from tfgridnet.fileio import read_json_validated, write_json_atomic

__all__ = ["BUDGET_STOPS", "STOP_EARLY_STOPPING", "STOP_MAX_EPOCHS", "STOP_NONFINITE",
           "STOP_SIGNAL", "STOP_TIME_BUDGET", "SUMMARY_NAME", "TrainSummary"]

SUMMARY_NAME = TRAIN_SUMMARY_FILE  # the name this module has always exported

# ``stop_reason`` values (a signal stop is written "signal (SIGINT)").
STOP_NONFINITE = "non-finite gradients"
STOP_SIGNAL = "signal"
STOP_TIME_BUDGET = "time budget"
STOP_EARLY_STOPPING = "early stopping"
STOP_MAX_EPOCHS = "max_epochs"
BUDGET_STOPS = (STOP_TIME_BUDGET, STOP_MAX_EPOCHS)  # the run ended on what it was given


def _mapping(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ValueError(f"expected a JSON object, got {type(raw).__name__}")
    return raw


@dataclass(frozen=True)
class TrainSummary:
    """``train_summary.json``: how a run ended, written by ``train`` and read by whoever reports it."""

    stop_reason: str
    epochs_completed: int
    global_step: int
    best_epoch: int | None
    best_valid_sisnr: float | None
    best_checkpoint: str | None
    last_checkpoint: str | None
    model_dir: str | None
    early_warning: str | None
    nonfinite_diagnostic: str | None
    weight_digests: list[str] = field(default_factory=list)
    wall_time_s: float = 0.0
    world_size: int = 1
    # validations cut short to fit the time budget: [{"epoch", "batches", "of"}]
    shortened_validations: list[dict[str, int]] = field(default_factory=list)

    def write(self, run_dir: Path) -> Path:
        """Write ``run_dir/train_summary.json`` atomically."""
        return write_json_atomic(RunDir(run_dir).train_summary, dataclasses.asdict(self))

    @classmethod
    def read(cls, run_dir: Path) -> TrainSummary:
        """Read it back; keys this version does not know are ignored, a broken file is one
        ValueError naming it."""
        path = RunDir(run_dir).train_summary
        try:
            raw = read_json_validated(path, _mapping, "a training summary")
        except ValueError as exc:
            if str(exc).startswith(str(path)):
                raise
            raise ValueError(f"{path}: not a training summary ({exc})") from None
        names = {f.name for f in dataclasses.fields(cls)}
        try:
            return cls(**{k: v for k, v in raw.items() if k in names})
        except TypeError as exc:
            raise ValueError(f"{path}: not a training summary ({exc})") from None

    @property
    def ended_on_budget(self) -> bool:
        """Stopped because its time or epoch budget was spent (not by a signal, early stopping
        or divergence)."""
        return self.stop_reason in BUDGET_STOPS
