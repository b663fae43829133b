"""The written files: Markdown, self-contained HTML, findings.json, plots, zh-TW, CLI."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter

import pytest

from tfgridnet.cli import main
from tfgridnet.report.analysis import analyse
from tfgridnet.report.findings import read_findings
from tfgridnet.report.i18n import LANGUAGES, catalog, tr
from tfgridnet.report.render import write_report
from tfgridnet.report.rules import RULES, RULES_BY_CODE

# A number as written in the report: sign, thousands separators, decimals, exponent.
NUMBER = re.compile(r"[-+]?\d+(?:,\d{3})*(?:\.\d+)?(?:e[-+]?\d+)?")


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
    assert page.count('src="data:image/png;base64,') == 5  # four training plots, the headline
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert 'href="../eval/index.html"' in page
    assert "<table>" in page and "HEALTHY" in page


def test_findings_json_follows_the_contract(users_run):
    write_report(users_run, users_run.parent / "inference_epoch_100")
    records = read_findings(users_run / "findings.json")
    assert [r.code for r in records] == analyse(users_run, users_run.parent /
                                                "inference_epoch_100").codes
    for item in json.loads((users_run / "findings.json").read_text(encoding="utf-8")):
        assert set(item) == {"code", "severity", "message", "evidence"}
    assert all(r.message and r.severity in RULES_BY_CODE[r.code].severities for r in records)


def test_findings_file_with_a_code_no_rule_defines_is_refused(tmp_path):
    path = tmp_path / "findings.json"
    path.write_text(json.dumps([{"code": "made_up", "severity": "error", "message": "x",
                                 "evidence": {}}]))
    with pytest.raises(ValueError, match=r"findings\.json.*unknown finding code 'made_up'"):
        read_findings(path)


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
    chinese = (users_run / "EXPERIMENT_ANALYSIS.zh-TW.md").read_text(encoding="utf-8")
    findings_zh = json.loads((users_run / "findings.json").read_text(encoding="utf-8"))

    # Both languages live side by side; the English files are unchanged by the Chinese report.
    assert (users_run / "EXPERIMENT_ANALYSIS.md").read_text(encoding="utf-8") == english
    assert (users_run / "report.html").is_file() and (users_run / "report.zh-TW.html").is_file()
    for plot in ("sisnr", "lr", "grad_norm", "memory_throughput"):
        assert (users_run / "plots" / f"{plot}.png").is_file()
        assert (users_run / "plots" / f"{plot}.zh-TW.png").is_file()
    assert "](plots/sisnr.zh-TW.png)" in chinese
    assert Counter(NUMBER.findall(chinese)) == Counter(NUMBER.findall(english))
    codes = re.compile(r"`([a-z_]+)`")
    assert Counter(codes.findall(chinese)) == Counter(codes.findall(english))
    assert findings_zh == findings_en  # findings.json is language-neutral: one file for both
    headings = [line for line in chinese.splitlines() if line.startswith("#")]
    assert all(re.search(r"[\u4e00-\u9fff]", h) for h in headings)
    assert "## 問題診斷" in chinese and "## 建議" in chinese


@pytest.mark.parametrize("lang", LANGUAGES[1:])
def test_every_message_exists_in_every_language_with_the_same_placeholders(lang):
    english, other = catalog("en"), catalog(lang)
    assert set(other.messages) == set(english.messages)
    for key in english.messages:
        assert other.messages[key].strip(), key
        assert other.placeholders(key) == english.placeholders(key), key


def test_every_rule_has_its_messages_and_recommendation():
    messages = catalog("en").messages
    for rule in RULES:
        assert f"rec.{rule.code}" in messages, rule.code
        for key in rule.message_keys:
            assert f"finding.{key}" in messages, key


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
    # the spike at epoch 0 was clipped and validation came back: information, not a warning
    assert out.startswith("結論：故障（broken）（3 個錯誤、6 個警告、2 則資訊）\n  錯誤：")
    assert "eval_noisy_sisnr_abnormal" in out and "EXPERIMENT_ANALYSIS.zh-TW.md" in out
    assert main(["report", str(users_run), "--eval",
                 str(users_run.parent / "inference_epoch_100")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("verdict: BROKEN (3 errors, 6 warnings, 2 notes)\n  error: ")
    assert f"wrote {users_run / 'EXPERIMENT_ANALYSIS.md'}" in out


def test_cli_on_a_folder_without_metrics_exits_2_with_a_clear_message(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "metrics.csv not found" in capsys.readouterr().err


def test_bad_evaluation_folder_is_named(healthy_run, tmp_path):
    empty = tmp_path / "not_eval"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="not an evaluation folder"):
        write_report(healthy_run, empty)


@pytest.mark.parametrize(("steps", "word"), [(10, "無法判定"), (5000, "可疑")])
def test_one_epoch_run_without_validation_still_gets_a_report(tmp_path, steps, word):
    (tmp_path / "metrics.csv").write_text(
        f"epoch,step,train_loss,train_sisnr,valid_sisnr,lr\n0,{steps},-3.5,3.5,,0.001\n")
    write_report(tmp_path, lang="zh-TW")
    text = (tmp_path / "EXPERIMENT_ANALYSIS.zh-TW.md").read_text(encoding="utf-8")
    # Nothing can be certified without validation: too short to judge at 10 steps, and at
    # 5,000 steps still no evidence that the model enhances anything.
    assert word in text.splitlines()[2]
    assert "`insufficient_evidence`" in text
    assert "`metrics.csv:valid_sisnr`" in text
    assert (tmp_path / "plots" / "sisnr.zh-TW.png").is_file()


def test_title_names_the_experiment_from_its_config(healthy_run):
    config_path = healthy_run / "config.yaml"
    config_path.write_text("name: seed-baseline\n" + config_path.read_text())
    markdown = write_report(healthy_run)["markdown"].read_text()
    assert markdown.splitlines()[0] == "# Experiment analysis: seed-baseline (run)"


def test_html_page_is_the_markdown_rendered_and_escapes_text_from_the_run(healthy_run):
    config_path = healthy_run / "config.yaml"
    config_path.write_text("name: <script>alert(1)</script>\n" + config_path.read_text())
    paths = write_report(healthy_run)
    page = paths["html"].read_text(encoding="utf-8")
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    markdown = paths["markdown"].read_text(encoding="utf-8")
    # Every table row of the Markdown is a row of the page (one renderer of one text).
    md_rows = sum(1 for line in markdown.splitlines() if line.startswith("| "))
    assert page.count("<tr>") == md_rows


def test_plotting_leaves_matplotlibs_global_state_alone(healthy_run):
    """The plots use the object API: no backend switch, no pyplot figures left open."""
    code = ("import matplotlib, sys; backend = matplotlib.get_backend(); "
            "from tfgridnet.report.render import write_report; "
            f"write_report({str(healthy_run)!r}); "
            "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'; "
            "assert matplotlib.get_backend() == backend, 'backend switched'")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**os.environ, "MPLBACKEND": "svg"})
    assert result.returncode == 0, result.stderr[-2000:]


def test_experiment_sections_say_what_an_older_run_lacks(healthy_run):
    text = write_report(healthy_run)["markdown"].read_text(encoding="utf-8")
    assert "No `model` section in config.yaml" in text
    assert "No `data_check.json`" in text
    assert "| `model/` | export of the best epoch (safetensors + config.json) | missing |" in text
    config_path = healthy_run / "config.yaml"
    config_path.write_text("model:\n  emb_dim: 30\n  attn_n_head: 4\n" + config_path.read_text())
    text = write_report(healthy_run)["markdown"].read_text(encoding="utf-8")
    assert "is not a TF-GridNetV2 configuration (" in text and "emb_dim 30" in text
