"""Read a run's contract files, compute its statistics and apply every rule of ``RULES``.

``analyse`` is the one entry point: loading (report/loading.py), statistics
(report/statistics.py) and the rules registry (report/rules.py) each live in their own module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tfgridnet.contracts.data_check import DataCheckFile
from tfgridnet.contracts.environment import RunEnvironment
from tfgridnet.contracts.train_summary import TrainSummary
from tfgridnet.report.facts import EvalStats, TrainingStats
from tfgridnet.report.finetune_checks import finetune_stats
from tfgridnet.report.loading import find_eval_dir, load_run
from tfgridnet.report.rules import Facts, Finding, apply_rules, verdict
from tfgridnet.report.statistics import evaluation_stats, run_end_stats, training_stats

__all__ = ["Analysis", "analyse"]


@dataclass
class Analysis:
    """Everything the renderer needs: statistics, findings and what could not be read."""

    run_dir: Path
    eval_dir: Path | None
    eval_dir_auto: bool
    metrics: dict[str, np.ndarray]
    environment: RunEnvironment
    config: dict[str, Any]
    checkpoints: list[str]
    training: TrainingStats
    evaluation: EvalStats | None
    findings: list[Finding] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    initial: dict[str, float] | None = None  # metrics.csv's step-0 row (a fine-tune's start)
    summary: TrainSummary | None = None  # train_summary.json, when the run has one
    data_check: DataCheckFile | None = None  # data_check.json, when the run has one

    @property
    def verdict(self) -> str:
        """``broken``, ``inconclusive``, ``suspicious`` or ``healthy`` (``rules.verdict``)."""
        return verdict(self.findings)

    @property
    def codes(self) -> list[str]:
        return [f.code for f in self.findings]

    def finding(self, code: str) -> Finding | None:
        return next((f for f in self.findings if f.code == code), None)


def analyse(run_dir: str | Path, eval_dir: str | Path | None = None) -> Analysis:
    """Read a run folder (and an evaluation folder, found next to the run if not given)."""
    files = load_run(Path(run_dir))
    missing, notes = list(files.missing), []
    eval_auto = False
    if eval_dir is None:
        eval_dir = find_eval_dir(files.run_dir)
        eval_auto = eval_dir is not None
    eval_dir = Path(eval_dir) if eval_dir is not None else None
    if eval_dir is not None and not eval_dir.is_dir():
        raise FileNotFoundError(f"{eval_dir}: evaluation folder not found")

    training = training_stats(files.metrics, files.config, files.environment, notes)
    for name, value in {**finetune_stats(files, training),
                        **run_end_stats(files.summary, files.data_check, files.run_dir)}.items():
        setattr(training, name, value)  # a name TrainingStats lacks is an AttributeError
    evaluation = evaluation_stats(eval_dir, missing) if eval_dir is not None else None
    findings = apply_rules(Facts(training, evaluation, missing, notes))
    return Analysis(run_dir=files.run_dir, eval_dir=eval_dir, eval_dir_auto=eval_auto,
                    metrics=files.metrics, environment=files.environment, config=files.config,
                    checkpoints=files.checkpoints, training=training, evaluation=evaluation,
                    findings=findings, missing=missing, notes=notes, initial=files.initial,
                    summary=files.summary, data_check=files.data_check)
