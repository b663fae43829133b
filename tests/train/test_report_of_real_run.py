"""The report states every metric the real evaluation computed, read from the real producers.

A tiny real training run writes metrics.csv and the exported model; the real `evaluate` scores it
and the real `report` reads both. No stage's output is hand-made here.
"""

from __future__ import annotations

import csv
import html
import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from safetensors import safe_open

from tfgridnet.contracts.data_check import DataCheckFile
from tfgridnet.evaluation.artifacts import format_summary
from tfgridnet.evaluation.evaluate import evaluate
from tfgridnet.evaluation.scoring import METRIC_REGISTRY
from tfgridnet.report.analysis import analyse
from tfgridnet.report.render import write_report
from tfgridnet.train.config_files import config_from_dict
from tfgridnet.train.run import train


def test_report_states_each_evaluated_metric_noisy_enhanced_and_change(
        make_config, corpus: dict[str, Path], tmp_path: Path) -> None:
    config = make_config(trainer={"max_epochs": 1}, data={"check_pairs": 4})
    run = train(config_from_dict(config), tmp_path / "run").run_dir
    evaluate(run, corpus["valid"], run / "eval", n_plots=1, progress=False, save_audio=False)
    summary = json.loads((run / "eval" / "summary.json").read_text(encoding="utf-8"))
    computed = {name: stats for name, stats in summary["metrics"].items() if stats["n"]}
    # PESQ-WB and STOI are the metrics the report used to drop: they must be among those scored.
    assert {"sisnr", "sisdr", "snr", "pesq_wb", "stoi", "estoi"} <= set(computed)
    # The report takes the evaluator's figures as written, not recomputed from the CSV's 4 decimals.
    evaluation = analyse(run).evaluation
    for ours, theirs in (("improvement_mean", "sisnr_improvement_mean"),
                         ("improvement_std", "sisnr_improvement_std"),
                         ("noisy_mean", "noisy_sisnr_mean"), ("enhanced_mean", "enhanced_sisnr_mean")):
        assert getattr(evaluation, ours) == summary[theirs], ours
    reports = {}
    for lang in ("en", "zh-TW"):
        text = write_report(run, lang=lang)["markdown"].read_text(encoding="utf-8")
        for name, stats in computed.items():
            label = METRIC_REGISTRY[name].label_in(lang)
            lines = [line for line in text.splitlines() if label in line]
            assert lines, f"{label} missing from the {lang} report"
            # One meaning of the improvement everywhere: the evaluator's, from the metric's
            # definition (for the level error, how much closer to 0 dB).
            expected = (f"{stats['noisy_mean']:.2f}", f"{stats['enhanced_mean']:.2f}",
                        f"({stats['improvement_mean']:+.2f})")
            assert any(all(value in line for value in expected) for line in lines), \
                f"{label}: {expected} not on one line of the {lang} report: {lines}"
        _assert_experiment_sections(run, text)
        reports[lang] = text
    _assert_one_improvement_meaning(run / "eval", summary, reports["en"])


def _assert_one_improvement_meaning(eval_dir: Path, summary: dict, report: str) -> None:
    """The level error's improvement reads the same in the console summary, summary.json, the
    listening page and the report, each saying what it means."""
    level = METRIC_REGISTRY["level_error_db"]
    stats = summary["metrics"][level.name]
    with open(eval_dir / "evaluation_results.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    noisy, enhanced = (np.array([float(r[c]) for r in rows])
                       for c in (level.noisy_column, level.enhanced_column))
    independent = float(np.mean(np.abs(noisy) - np.abs(enhanced)))  # closer to 0 dB
    assert stats["improvement_mean"] == pytest.approx(independent, abs=1e-3)
    console = next(line for line in format_summary(summary).splitlines()
                   if line.startswith(level.name))
    assert f"{stats['improvement_mean']:+.3f}" in console
    assert level.improvement_meaning() in format_summary(summary)
    page = (eval_dir / "index.html").read_text(encoding="utf-8")
    assert f"{stats['improvement_mean']:+.3f}" in page
    assert html.escape(level.improvement_meaning()) in page
    assert f"({stats['improvement_mean']:+.2f})" in report
    assert "how much closer to 0 dB" in report


def _assert_experiment_sections(run: Path, text: str) -> None:
    """Model, audio pipeline and files sections state what the run's own files hold."""
    # Parameters: counted independently from the exported weights of the best epoch.
    with safe_open(str(run / "model" / "model.safetensors"), framework="pt") as weights:
        n_params = sum(math.prod(weights.get_slice(k).get_shape()) for k in weights.keys())
    assert f"| {n_params:,} |" in text
    config = yaml.safe_load((run / "config.yaml").read_text(encoding="utf-8"))["model"]
    assert f"| {config['n_fft']} / {config['stride']} / {config['window']} |" in text
    assert f"| {config['n_layers']} |" in text and f"| {config['lstm_hidden_units']} |" in text
    # The start-up data check's figures, from the file training kept.
    record = DataCheckFile.read(run / "data_check.json")
    assert record.checks and record.pipeline.loader in text
    for check in record.checks:
        assert f"| `{check.key}` | {check.n_checked} / {check.n_pairs} |" in text
        assert f"{check.sisnr_db['median']:.1f}" in text
    for name in (run / "checkpoints").iterdir():
        assert f"`{name.name}`" in text


def test_report_of_a_run_with_the_spectral_term_does_not_call_its_loss_neg_sisnr(
        make_config, tmp_path: Path) -> None:
    config = make_config(trainer={"max_epochs": 1}, loss={"spectral_weight": 30.0})
    run = train(config_from_dict(config), tmp_path / "run").run_dir
    analysis = analyse(run)
    assert analysis.training.loss_spectral_weight == 30.0
    assert "train_sisnr_from_loss" not in analysis.notes
    for lang, plain in (("en", "the training loss is −SI-SNR."), ("zh-TW", "訓練損失為 −SI-SNR。")):
        text = write_report(run, lang=lang)["markdown"].read_text(encoding="utf-8")
        assert plain not in text and "30 ×" in text and "loss.spectral_weight" in text


def test_clipping_every_step_under_adam_is_info_not_a_warning(make_config,
                                                              tmp_path: Path) -> None:
    # A clip far below any gradient norm fires on every step of a real run. Under Adam it only
    # normalises the gradient (the demo recipe does it on purpose), so it is information; the same
    # metrics from a run whose config does not name its optimizer stay a warning.
    config = make_config(trainer={"max_epochs": 1, "gradient_clip_val": 1e-6},
                         optim={"name": "adam", "lr": 3e-3})
    run = train(config_from_dict(config), tmp_path / "run").run_dir
    finding = analyse(run).finding("frequent_clipping")
    assert finding is not None and finding.evidence["clipped_share"] == 1.0
    assert (finding.severity, finding.evidence["optimizer"]) == ("info", "adam")
    assert "the learning rate still sets the step size" in finding.message("en")

    saved = yaml.safe_load((run / "config.yaml").read_text(encoding="utf-8"))
    del saved["optim"]["name"]
    (run / "config.yaml").write_text(yaml.safe_dump(saved), encoding="utf-8")
    finding = analyse(run).finding("frequent_clipping")
    assert (finding.severity, finding.evidence["optimizer"]) == ("warning", "unknown")
