"""`evaluate --baseline MODEL`: a second model scored on the same utterances by the same code."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch

from tfgridnet.evaluation.evaluate import evaluate
from tfgridnet.evaluation.schema import EvaluationSummary
from tfgridnet.evaluation.scoring import METRIC_REGISTRY


def _table(out: Path) -> list[dict[str, str]]:
    with open(out / "evaluation_results.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_the_same_model_as_baseline_gains_exactly_nothing(exported_dir, pairs_manifest, tmp_path):
    result = evaluate(exported_dir, pairs_manifest, tmp_path / "eval", save_audio=False,
                      n_plots=0, progress=False, baseline=exported_dir)
    for row in _table(tmp_path / "eval"):
        for name in result["metrics"]:
            m = METRIC_REGISTRY[name]
            if row[m.enhanced_column]:
                assert row[m.baseline_column] == row[m.enhanced_column]
                assert float(row[m.over_baseline_column]) == 0.0
    baseline = EvaluationSummary.read(tmp_path / "eval" / "summary.json")[0].baseline_model
    assert baseline is not None and baseline.model == str(exported_dir) and baseline.n == 4
    sisnr = baseline.metrics["sisnr"]
    assert sisnr.mean == pytest.approx(result["enhanced_sisnr_mean"], abs=1e-9)
    for name, stats in baseline.metrics.items():  # not "better" by a metric's rounding noise
        assert (name, stats.gain_mean, stats.share_better) == (name, 0.0, 0.0)


def test_another_model_as_baseline_is_scored_per_utterance(exported_dir, pairs_manifest, tmp_path):
    from tfgridnet.model import TFGridNetV2

    from .conftest import TINY

    torch.manual_seed(1)
    other = TFGridNetV2(**TINY).eval()
    other.sample_rate = 16000
    evaluate(other, pairs_manifest, tmp_path / "other", save_audio=False, n_plots=0,
             progress=False)
    evaluate(exported_dir, pairs_manifest, tmp_path / "eval", save_audio=False, n_plots=0,
             progress=False, baseline=other)
    own, theirs = _table(tmp_path / "eval"), _table(tmp_path / "other")
    sisnr = METRIC_REGISTRY["sisnr"]
    for row, alone in zip(own, theirs):  # the baseline's column is that model's own evaluation
        assert float(row[sisnr.baseline_column]) == pytest.approx(
            float(alone[sisnr.enhanced_column]), abs=1e-4)
        assert float(row[sisnr.over_baseline_column]) == pytest.approx(
            float(row[sisnr.enhanced_column]) - float(row[sisnr.baseline_column]), abs=2e-4)
    summary = json.loads((tmp_path / "eval" / "summary.json").read_text())
    assert summary["baseline_model"]["model"] == "TFGridNetV2"
    page = (tmp_path / "eval" / "index.html").read_text(encoding="utf-8")
    assert "id='baseline'" in page and sisnr.baseline_column in page


def test_baseline_at_another_rate_is_refused(exported_dir, pairs_manifest, tmp_path, tiny_model):
    from tfgridnet.errors import UserInputError

    tiny_model.sample_rate = 8000
    with pytest.raises(UserInputError, match="8000 Hz model"):
        evaluate(exported_dir, pairs_manifest, tmp_path / "eval", save_audio=False, n_plots=0,
                 progress=False, baseline=tiny_model)
