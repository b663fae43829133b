"""Verdicts right both ways, on real tiny trainings: a run that learns is HEALTHY without a
warning (and, stopped at its budget while still improving, says so), a run cut after a few steps
is INCONCLUSIVE with the reason and the next command in its first lines. The broken counterparts
(failed data check, divergence) stay BROKEN however short: tests/train/test_faults.py and
test_training.py; the replayed broken runs: tests/report/test_replay.py and test_rules.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tfgridnet.cli import main
from tfgridnet.metrics import MIN_STEPS_TO_JUDGE
from tfgridnet.report.analysis import analyse
from tfgridnet.report.loading import read_metrics
from tfgridnet.report.render import write_report
from tfgridnet.report.rules import THRESHOLDS
from tfgridnet.train.config_files import config_from_dict, load_config
from tfgridnet.train.run import train


def _first_lines(run: Path, lang: str, n: int = 6) -> str:
    text = write_report(run, lang=lang)["markdown"].read_text(encoding="utf-8")
    return "\n".join(text.splitlines()[:n])


@pytest.mark.slow
def test_a_run_that_learns_is_healthy_and_says_it_stopped_while_improving(
        make_config, corpus, tmp_path: Path) -> None:
    # Dynamic mixing: 50 steps an epoch, 3 epochs = 150 steps at a constant learning rate, so the
    # validation still rises when the epoch budget ends.
    steps_per_epoch, epochs = 50, 3
    assert steps_per_epoch * epochs >= MIN_STEPS_TO_JUDGE
    raw = make_config(
        data={"train_manifest": None, "train_clean_manifest": str(corpus["clean"]),
              "train_noise_manifest": str(corpus["noise"]), "snr_range": [0.0, 5.0],
              "epoch_size": 4 * steps_per_epoch, "check_pairs": 4},
        scheduler={"name": "none"}, trainer={"max_epochs": epochs})
    run = train(config_from_dict(raw), tmp_path / "run").run_dir
    analysis = analyse(run)
    assert analysis.verdict == "healthy", [(f.code, f.severity) for f in analysis.findings]
    assert not [f for f in analysis.findings if f.severity != "info"]

    improving = analysis.finding("stopped_while_improving")
    assert improving is not None and improving.evidence["stop_reason"] == "max_epochs"
    metrics = read_metrics(run / "metrics.csv")  # the slope, independently of the report
    window = THRESHOLDS.improving_window
    slope = np.polyfit(metrics["epoch"][-window:], metrics["valid_sisnr"][-window:], 1)[0]
    assert improving.evidence["db_per_epoch"] == pytest.approx(slope, rel=1e-9)
    assert slope >= THRESHOLDS.valid_flat_db
    assert improving.evidence["next"] == (f"tfgridnet train {run / 'config.yaml'} --out {run} "
                                          f"--resume -o trainer.max_epochs={2 * epochs}")
    for lang, word in (("en", "HEALTHY"), ("zh-TW", "健康")):
        head = _first_lines(run, lang, 3)
        assert word in head and "too_short_to_judge" not in head
        assert f"{slope:+.2f}" in improving.message(lang)
    assert json.loads((run / "findings.json").read_text(encoding="utf-8"))  # info findings


def test_a_run_cut_after_a_few_steps_is_inconclusive_and_says_why_and_what_next(
        make_config, tmp_path: Path, capsys) -> None:
    # The time budget ends the first epoch after one or two optimiser steps, then one validation
    # of a model still far below its own noisy input (which the learning rules would call broken).
    raw = make_config(trainer={"max_epochs": 50}, data={"check_pairs": 4})
    run = train(config_from_dict(raw), tmp_path / "run", max_minutes=0.0005).run_dir
    summary = json.loads((run / "train_summary.json").read_text(encoding="utf-8"))
    steps = summary["global_step"]
    assert summary["stop_reason"] == "time budget" and 1 <= steps <= 2

    analysis = analyse(run)
    assert analysis.verdict == "inconclusive"
    assert not [f for f in analysis.findings if f.severity == "error"]
    short = analysis.finding("too_short_to_judge")
    assert (short.evidence["steps"], short.evidence["validations"]) == (steps, 1)
    assert "`train_not_learning`" in short.evidence["withheld"]
    command = short.evidence["next"]
    assert command.startswith(f"tfgridnet train {run / 'config.yaml'} --out {run} --resume "
                              "-o trainer.max_minutes=")
    # The suggested command is one the trainer accepts: the run's config with that budget.
    override = command.split(" -o ")[1]
    assert load_config(run / "config.yaml", [override]).trainer.max_minutes >= 1

    for lang, word in (("en", "INCONCLUSIVE"), ("zh-TW", "無法判定")):
        head = _first_lines(run, lang)
        assert word in head and "`too_short_to_judge`" in head
        assert "`time budget`" in head and command in head
        assert f"{MIN_STEPS_TO_JUDGE}" in head
    assert f"after {steps} optimiser steps, validated 1×" in _first_lines(run, "en")
    assert "BROKEN" not in (run / "EXPERIMENT_ANALYSIS.md").read_text(encoding="utf-8")

    assert main(["report", str(run)]) == 0
    assert "verdict: INCONCLUSIVE" in capsys.readouterr().out
