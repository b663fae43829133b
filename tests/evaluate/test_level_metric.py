"""The evaluation measures the output level, and the report says when it is off."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
import soundfile as sf
import torch

from tfgridnet.audio.levels import level_error_db
from tfgridnet.evaluation.evaluate import evaluate
from tfgridnet.evaluation.scoring import METRIC_REGISTRY
from tfgridnet.inference.enhancer import Enhancer
from tfgridnet.report.facts import TrainingStats
from tfgridnet.report.i18n import tr
from tfgridnet.report.rules import THRESHOLDS, Facts, apply_rules
from tfgridnet.report.statistics import evaluation_stats

LEVEL = METRIC_REGISTRY["level_error_db"]
class Oracle(torch.nn.Module):
    """Returns the clean reference of whichever noisy input it is given."""

    def __init__(self, manifest) -> None:
        super().__init__()
        self.lookup = {}
        with open(manifest) as handle:
            for row in csv.DictReader(handle):
                noisy = sf.read(manifest.parent / row["noisy"], dtype="float32")[0]
                self.lookup[noisy.tobytes()] = sf.read(manifest.parent / row["clean"],
                                                       dtype="float32")[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([torch.from_numpy(self.lookup[row.numpy().tobytes()]) for row in x])


class Gained(torch.nn.Module):
    """A model whose output is off by a known gain."""

    def __init__(self, model: torch.nn.Module, gain: float) -> None:
        super().__init__()
        self.model, self.gain = model, gain

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.gain * self.model(x)


def evaluation_rules(stats):
    """The registry's findings on an evaluation folder's statistics alone."""
    return apply_rules(Facts(TrainingStats(n_epochs=0, first_epoch=0, last_epoch=0), stats))


def test_level_error_matches_a_float64_reference():
    rng = np.random.default_rng(0)
    audio, reference = rng.standard_normal(8000) * 0.3, rng.standard_normal(8000) * 0.05
    expected = 20 * math.log10(math.sqrt(np.mean(audio.astype(np.float64) ** 2))
                               / math.sqrt(np.mean(reference.astype(np.float64) ** 2)))
    assert level_error_db(audio.astype(np.float32), reference) == pytest.approx(expected, abs=1e-5)
    assert level_error_db(reference, reference) == 0.0


def test_level_improvement_is_the_reduction_of_the_distance_to_zero():
    assert LEVEL.improvement(2.0, -0.5) == pytest.approx(1.5)
    assert LEVEL.improvement(1.0, -12.0) == pytest.approx(-11.0)


def _evaluate(model: torch.nn.Module, manifest, out, sr: int, level: bool = False) -> dict:
    """Evaluate ``model``; by default its raw output gain (``level=False``), the thing measured."""
    return evaluate(Enhancer(model, sr, level=level), manifest, out, save_audio=False, n_plots=0,
                    progress=False)


def test_a_quiet_output_is_measured_and_the_report_warns(pairs_manifest, tmp_path, sr):
    gain = 0.25
    out = tmp_path / "eval"
    summary = _evaluate(Gained(Oracle(pairs_manifest), gain), pairs_manifest, out, sr)
    expected = 20 * math.log10(gain)  # -12.04 dB
    with open(out / "evaluation_results.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert {LEVEL.noisy_column, LEVEL.enhanced_column, LEVEL.delta_column} <= set(rows[0])
    assert [float(r[LEVEL.enhanced_column]) for r in rows] == pytest.approx(
        [expected] * len(rows), abs=1e-3)
    on_disk = json.loads((out / "summary.json").read_text())
    assert on_disk["metrics"]["level_error_db"]["enhanced_mean"] == pytest.approx(expected, abs=1e-3)
    assert on_disk[f"{LEVEL.release_enhanced_column}_mean"] == pytest.approx(expected, abs=1e-3)
    assert summary["metrics"]["snr"]["improvement_mean"] < 0 < summary["metrics"]["sisnr"][
        "improvement_mean"]

    findings = {f.code: f for f in evaluation_rules(evaluation_stats(out, []))}
    level = findings["eval_output_level_off"]
    assert level.severity == "warning"
    assert level.evidence["level_error_db"] == pytest.approx(expected, abs=1e-3)
    assert level.evidence["threshold_db"] == THRESHOLDS.output_level_off_db
    for lang in ("en", "zh-TW"):  # the figure and the fix, in both languages
        assert "-12.0 dB" in level.message(lang)
        assert "--raw-level" in tr("rec.eval_output_level_off", lang, **level.evidence)
    disagree = findings["eval_snr_sisnr_disagree"]
    assert disagree.severity == "info" and disagree.evidence["snr_improvement"] < 0


def test_an_output_at_the_clean_level_raises_no_level_finding(pairs_manifest, tmp_path, sr):
    out = tmp_path / "eval"
    summary = _evaluate(Oracle(pairs_manifest), pairs_manifest, out, sr)
    assert abs(summary["metrics"]["level_error_db"]["enhanced_mean"]) < 1e-3
    codes = {f.code for f in evaluation_rules(evaluation_stats(out, []))}
    assert not codes & {"eval_output_level_off", "eval_snr_sisnr_disagree"}


def test_the_level_correction_brings_a_quiet_output_back(pairs_manifest, tmp_path, sr):
    """The default Enhancer (level correction on) scores the same quiet model near 0 dB."""
    out = tmp_path / "eval"
    summary = _evaluate(Gained(Oracle(pairs_manifest), 0.25), pairs_manifest, out, sr, level=True)
    assert abs(summary["metrics"]["level_error_db"]["enhanced_mean"]) < 1.0
    codes = {f.code for f in evaluation_rules(evaluation_stats(out, []))}
    assert "eval_output_level_off" not in codes
