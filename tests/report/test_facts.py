"""The report's statistics are types: a figure read or written under a wrong name is an error
where it happens, not a silent None further on."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from tfgridnet.report.analysis import analyse
from tfgridnet.report.facts import EvalStats, SeriesStats, TrainingStats


def test_a_misspelt_figure_is_an_attribute_error_both_ways() -> None:
    stats = TrainingStats(n_epochs=1, first_epoch=0, last_epoch=0)
    with pytest.raises(AttributeError):
        stats.valid_bestt = 1.0  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        _ = stats.valid_bestt  # type: ignore[attr-defined]
    evaluation = EvalStats(dir=Path("eval"), source="summary.json")
    with pytest.raises(AttributeError):
        evaluation.improvement = 1.0  # type: ignore[attr-defined]


def test_every_statistic_the_report_computes_is_a_declared_field(healthy_run) -> None:
    """analyse() fills the fine-tune and run-end figures by name: each one it sets on a healthy
    run (with its evaluation) is a field of the types, and the figures the sections read are
    there."""
    analysis = analyse(healthy_run)
    training, evaluation = analysis.training, analysis.evaluation
    assert evaluation is not None
    names = {f.name for f in dataclasses.fields(TrainingStats)}
    assert {"run_dir", "train", "valid", "best_epoch", "lr_initial", "peak_mem_share"} <= names
    series = {f.name for f in dataclasses.fields(SeriesStats)}
    assert series == {"mean", "best", "worst", "first", "last"}
    assert training.valid.best is not None and training.best_epoch is not None
    assert training.run_dir == str(healthy_run)
    assert evaluation.improvement_mean is not None and evaluation.worst
    assert evaluation.worst[0].uttid.startswith("utt")
