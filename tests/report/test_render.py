"""The written files: Markdown, self-contained HTML, findings.json, plots, zh-TW, CLI."""

from __future__ import annotations

import json
import re
import string
from collections import Counter

import pytest

from tfgridnet.cli import main
from tfgridnet.report.i18n import STRINGS, tr
from tfgridnet.report.render import write_report

# A number as written in the report: sign, thousands separators, decimals, exponent.
NUMBER = re.compile(r"[-+]?\d+(?:,\d{3})*(?:\.\d+)?(?:e[-+]?\d+)?")
ALL_CODES = (
    "eval_noisy_sisnr_abnormal", "eval_no_improvement", "eval_low_improvement",
    "eval_high_variance", "eval_worse_than_input", "eval_failed_utterances", "train_not_learning",
    "train_loss_positive", "noisy_baseline_abnormal", "model_worse_than_identity",
    "lr_decay_too_fast", "stale_best_epoch", "overfitting", "frequent_clipping",
    "gradient_spikes", "nonfinite_steps", "memory_headroom", "memory_near_limit", "missing_data",
    "insufficient_evidence", "eval_output_level_off", "eval_snr_sisnr_disagree",
    "eval_no_reference",
)


def test_report_files_are_written_with_plots(healthy_run):
    paths = write_report(healthy_run)
    for name in ("markdown", "html", "findings"):
        assert paths[name].is_file() and paths[name].parent == healthy_run
    for plot in ("sisnr", "lr", "grad_norm", "memory_throughput"):
        png = healthy_run / "plots" / f"{plot}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(healthy_run.glob(".*tmp"))  # atomic writes leave no temporaries


def test_html_is_self_contained_and_links_the_evaluation_page(healthy_run):
    write_report(healthy_run)
    page = (healthy_run / "report.html").read_text(encoding="utf-8")
    assert page.count('src="data:image/png;base64,') == 4
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert 'href="../eval/index.html"' in page
    assert "<table>" in page and "HEALTHY" in page


def test_findings_json_follows_the_contract(users_run):
    write_report(users_run, users_run.parent / "inference_epoch_100")
    findings = json.loads((users_run / "findings.json").read_text(encoding="utf-8"))
    assert findings
    for item in findings:
        assert set(item) == {"code", "severity", "message", "evidence"}
        assert item["severity"] in ("error", "warning", "info")
        assert item["message"] and isinstance(item["evidence"], dict)


def test_missing_columns_skip_plots_and_are_reported(tmp_path, synth):
    metrics = synth.healthy_metrics()
    for name in ("lr", "grad_norm_mean", "grad_norm_max", "peak_mem_mb", "samples_per_sec"):
        del metrics[name]
    run = synth.write_run(tmp_path / "run", metrics)
    paths = write_report(run)
    assert sorted(p.name for p in (run / "plots").iterdir()) == ["sisnr.png"]
    assert "plot_lr" not in paths
    text = (run / "EXPERIMENT_ANALYSIS.md").read_text(encoding="utf-8")
    assert "`metrics.csv:lr`" in text and "No `lr` column." in text
    assert "environment.json" in text


def test_zh_tw_report_has_the_same_numbers_and_codes(users_run):
    eval_dir = users_run.parent / "inference_epoch_100"
    write_report(users_run, eval_dir, lang="en")
    english = (users_run / "EXPERIMENT_ANALYSIS.md").read_text(encoding="utf-8")
    findings_en = json.loads((users_run / "findings.json").read_text(encoding="utf-8"))
    write_report(users_run, eval_dir, lang="zh-TW")
    chinese = (users_run / "EXPERIMENT_ANALYSIS.md").read_text(encoding="utf-8")
    findings_zh = json.loads((users_run / "findings.json").read_text(encoding="utf-8"))

    assert Counter(NUMBER.findall(chinese)) == Counter(NUMBER.findall(english))
    codes = re.compile(r"`([a-z_]+)`")
    assert Counter(codes.findall(chinese)) == Counter(codes.findall(english))
    assert [(f["code"], f["severity"], f["evidence"]) for f in findings_zh] == \
        [(f["code"], f["severity"], f["evidence"]) for f in findings_en]
    assert all(re.search(r"[\u4e00-\u9fff]", f["message"]) for f in findings_zh)
    headings = [line for line in chinese.splitlines() if line.startswith("#")]
    assert all(re.search(r"[\u4e00-\u9fff]", h) for h in headings)
    assert "## 問題診斷" in chinese and "## 建議" in chinese


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_string_has_both_languages_with_the_same_placeholders():
    for key, (english, chinese) in STRINGS.items():
        assert english and chinese, key
        assert _fields(english) == _fields(chinese), key
    for code in ALL_CODES:
        assert f"rec.{code}" in STRINGS, code
        assert any(k == f"finding.{code}" or k.startswith(f"finding.{code}.") for k in STRINGS)


def test_unknown_language_is_refused(healthy_run):
    with pytest.raises(ValueError, match="zh-TW"):
        write_report(healthy_run, lang="fr")
    with pytest.raises(ValueError, match="not supported"):
        tr("title", "de", run="x")


def test_cli_prints_verdict_and_paths(users_run, capsys):
    code = main(["report", str(users_run), "--eval", str(users_run.parent / "inference_epoch_100"),
                 "--lang", "zh-TW"])
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("verdict: broken")
    assert "eval_noisy_sisnr_abnormal" in out and "EXPERIMENT_ANALYSIS.md" in out


def test_cli_on_a_folder_without_metrics_exits_2_with_a_clear_message(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "metrics.csv not found" in capsys.readouterr().err


def test_bad_evaluation_folder_is_named(healthy_run, tmp_path):
    empty = tmp_path / "not_eval"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="not an evaluation folder"):
        write_report(healthy_run, empty)


def test_one_epoch_run_without_validation_still_gets_a_report(tmp_path):
    (tmp_path / "metrics.csv").write_text(
        "epoch,step,train_loss,train_sisnr,valid_sisnr,lr\n0,10,-3.5,3.5,,0.001\n")
    write_report(tmp_path, lang="zh-TW")
    text = (tmp_path / "EXPERIMENT_ANALYSIS.md").read_text(encoding="utf-8")
    assert "可疑" in text.splitlines()[2]  # nothing can be certified without validation
    assert "`insufficient_evidence`" in text
    assert "`metrics.csv:valid_sisnr`" in text
    assert (tmp_path / "plots" / "sisnr.png").is_file()


def test_title_names_the_experiment_from_its_config(healthy_run):
    config_path = healthy_run / "config.yaml"
    config_path.write_text("name: seed-baseline\n" + config_path.read_text())
    markdown = write_report(healthy_run)["markdown"].read_text()
    assert markdown.splitlines()[0] == "# Experiment analysis: seed-baseline (run)"
