"""Folders written by tfgridnet 0.1.0 (tests/fixtures/release_0.1.0/run and eval, made by
tests/fixtures/make_release_folders.py with that release) still load in every reader and in the
report: no renamed column or key leaves a figure behind as a silent None."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tfgridnet.contracts.data_check import DataCheckFile
from tfgridnet.contracts.evaluation import EvaluationSummary, read_results_csv
from tfgridnet.contracts.folders import EvalDir, RunDir
from tfgridnet.contracts.metric_registry import METRIC_REGISTRY
from tfgridnet.contracts.metrics_csv import METRICS_COLUMNS, read_metrics
from tfgridnet.contracts.train_summary import TrainSummary
from tfgridnet.report.analysis import analyse
from tfgridnet.report.render import write_analysis

RELEASE = Path(__file__).resolve().parents[1] / "fixtures" / "release_0.1.0"


@pytest.fixture()
def release(tmp_path: Path) -> tuple[RunDir, EvalDir]:
    """A copy of the release's folders (the report writes into the run folder)."""
    shutil.copytree(RELEASE / "run", tmp_path / "run")
    shutil.copytree(RELEASE / "eval", tmp_path / "eval")
    return RunDir(tmp_path / "run"), EvalDir(tmp_path / "eval")


def _csv_column(path: Path, column: str) -> np.ndarray:
    with open(path, newline="", encoding="utf-8") as handle:
        return np.array([float(row[column]) for row in csv.DictReader(handle)])


def test_run_files_load_through_their_contracts(release) -> None:
    run, _ = release
    metrics = read_metrics(run.metrics)
    assert set(METRICS_COLUMNS) <= set(metrics) and len(metrics["epoch"]) == 3
    summary = TrainSummary.read(run.path)
    assert summary.stop_reason == "max_epochs" and summary.best_epoch == 2
    assert DataCheckFile.read(run.data_check).checks


def test_evaluation_files_load_with_every_metric_of_the_release(release) -> None:
    """The release wrote `pesq_wb`, `stoi` ... as the enhanced columns: each metric's enhanced
    column reads as that metric's, and agrees with summary.json's mean."""
    _, folder = release
    table = read_results_csv(folder.results)
    summary, missing = EvaluationSummary.read(folder.summary)
    assert missing == []
    for name in ("sisnr", "sisdr", "snr", "pesq_wb", "stoi", "estoi", "level_error_db"):
        metric = METRIC_REGISTRY[name]
        values = np.array(table[metric.enhanced_column])
        assert values.shape == (4,) and np.isfinite(values).all(), name
        assert summary.metrics[name].enhanced_mean == pytest.approx(values.mean(), abs=1e-3)
        assert summary.metrics[name].improvement_mean is not None
    raw = json.loads(folder.summary.read_text())
    assert summary.metrics["sisnr"].improvement_mean == raw["sisnr_improvement_mean"]
    assert summary.n == 4 and summary.n_failed == 0
    # written again, the file keeps every key of the release's, with the same value (metrics
    # entries gain SI-SNR's min and max, which the release kept only as flat keys)
    rewritten = summary.to_json()
    assert {key: rewritten.get(key) for key in raw if key != "metrics"} == {
        key: value for key, value in raw.items() if key != "metrics"}
    for name, entry in raw["metrics"].items():
        assert {key: rewritten["metrics"][name][key] for key in entry} == entry


def test_the_report_analyses_the_release_folders(release) -> None:
    run, folder = release
    analysis = analyse(run.path, folder.path)
    assert analysis.missing == ["checkpoints/"]  # left out of the fixture: no weights needed
    evaluation = analysis.evaluation
    assert evaluation is not None
    improvement = _csv_column(folder.results, "sisnr_improvement")
    assert evaluation.improvement_mean == pytest.approx(improvement.mean(), abs=1e-3)
    assert set(evaluation.metrics) >= {"pesq_wb", "stoi", "estoi"}
    assert analysis.training.n_epochs == 3 and analysis.training.valid.best is not None
    assert analysis.verdict in ("broken", "inconclusive", "suspicious", "healthy")
    paths = write_analysis(analysis)
    text = paths["markdown"].read_text(encoding="utf-8")
    assert "PESQ" in text and "None" not in text
