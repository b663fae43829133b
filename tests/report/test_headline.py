"""The report's headline block and its status marks, in the Markdown and the HTML page."""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

import pytest

from tfgridnet.contracts.utterance import UtteranceRow
from tfgridnet.evaluation.schema import SUMMARY_FILE, EvaluationSummary, summarize
from tfgridnet.evaluation.scoring import METRIC_REGISTRY, MetricSet
from tfgridnet.marks import MARK_CHARACTERS, MARKS, marks_to_html
from tfgridnet.report.facts import EvalStats
from tfgridnet.report.headline import HEADLINE_PLOT, HEADLINE_SECTION, key_metrics
from tfgridnet.report.i18n import LANGUAGES, localized_name, tr
from tfgridnet.report.render import write_report


def _lines(path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_headline_sits_under_the_verdict_with_the_evaluators_own_numbers(healthy_run, lang):
    paths = write_report(healthy_run, lang=lang)
    lines = _lines(paths["markdown"])
    heading = lines.index(f"## {tr('h.headline', lang)}")
    assert heading == 2  # title, verdict line (a healthy run lists no reasons), headline
    assert lines.index(f"## {tr('h.training', lang)}") > heading
    summary, _ = EvaluationSummary.read(healthy_run.parent / "eval" / SUMMARY_FILE)
    block = "\n".join(lines[heading:lines.index(f"## {tr('h.training', lang)}")])
    for name in ("sisnr", "pesq_wb"):
        metric, stats = METRIC_REGISTRY[name], summary.metrics[name]
        improved = round(stats.share_improved * stats.n)
        assert (f"| {metric.label_in(lang)} ({metric.unit}) | {stats.noisy_mean:.2f} → "
                f"{stats.enhanced_mean:.2f} | {stats.improvement_mean:+.2f} | "
                f"{improved} / {stats.n} ({stats.share_improved:.0%}) |") in block
    assert f"{summary.n}" in lines[heading + 1] and "(../eval/index.html)" in lines[heading + 1]
    plot = localized_name(f"{HEADLINE_PLOT}.png", lang)
    assert f"](plots/{plot})" in block
    assert (healthy_run / "plots" / plot).read_bytes()[:4] == b"\x89PNG"

    page = paths["html"].read_text(encoding="utf-8")
    section = page[page.index(f'<section id="{HEADLINE_SECTION}"'):]
    section = section[:section.index("</section>")]
    assert "<table>" in section and 'href="../eval/index.html"' in section
    assert section.count('src="data:image/png;base64,') == 1
    assert page.index(f'<section id="{HEADLINE_SECTION}"') < page.index(tr("h.training", lang))


@pytest.mark.parametrize("lang", LANGUAGES)
def test_without_an_evaluation_the_headline_says_so_in_one_line(tmp_path, synth, lang):
    run = synth.write_run(tmp_path / "run", synth.healthy_metrics(), synth.HEALTHY_ENV,
                          synth.HEALTHY_CONFIG)
    paths = write_report(run, lang=lang)
    lines = _lines(paths["markdown"])
    assert tr("headline.none", lang) in lines
    assert f"## {tr('h.headline', lang)}" not in lines
    assert not (run / "plots" / f"{HEADLINE_PLOT}.png").exists()
    page = paths["html"].read_text(encoding="utf-8")
    section = page[page.index(f'<section id="{HEADLINE_SECTION}"'):]
    assert section[:section.index("</section>")].count("<p>") == 1


def test_a_clean_less_evaluation_heads_with_its_mos(tmp_path, synth):
    """No SI-SNR without clean references: the headline shows the MOS the evaluator ranked by."""
    run = synth.write_run(tmp_path / "run", synth.healthy_metrics(), synth.HEALTHY_ENV,
                          synth.HEALTHY_CONFIG)
    metrics = MetricSet(reference=False, dnsmos=True)
    rows = [UtteranceRow.from_columns({
        "uttid": f"u{i}", "status": "ok", "duration_s": 2.0,
        **{column: value for m in metrics.metrics for column, value in (
            (m.noisy_column, 2.0 + 0.1 * i), (m.enhanced_column, 2.6 + 0.1 * i),
            (m.delta_column, 0.6))}}) for i in range(4)]
    (tmp_path / "eval").mkdir()
    (tmp_path / "eval" / SUMMARY_FILE).write_text(json.dumps(summarize(rows, metrics).to_json()))
    text = write_report(run)["markdown"].read_text(encoding="utf-8")
    start, end = (text.index(f"## {tr(key, 'en')}") for key in ("h.headline", "h.training"))
    block = text[start:end]
    ovrl = METRIC_REGISTRY[metrics.headline]
    table = [line for line in block.splitlines() if line.startswith("| ")][1:]
    assert table[0].startswith(f"| {ovrl.label} (MOS) | 2.15 → 2.75 | +0.60 | 4 / 4 (100%) |")
    assert "SI-SNR" not in block


def test_key_metrics_put_the_headline_metric_first_and_skip_what_was_not_scored():
    summary = EvaluationSummary.model_validate({"metrics": {
        name: {"n": 3, "noisy_mean": 1.0, "enhanced_mean": 2.0}
        for name in ("stoi", "distillmos", "sisdr")} | {"pesq_wb": {"n": 0}}})
    evaluation = EvalStats(dir=Path("eval"), source="summary.json", headline="distillmos",
                           metrics=summary.metrics)
    assert [m.name for m, _ in key_metrics(evaluation)] == ["distillmos", "stoi"]


def _pictographic(text: str) -> set[str]:
    return {c for c in text if unicodedata.category(c) == "So" or ord(c) >= 0x1F000
            or 0xFE00 <= ord(c) <= 0xFE0F}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_reports_use_only_the_marks_that_every_system_can_draw(users_run, lang):
    paths = write_report(users_run, users_run.parent / "inference_epoch_100", lang=lang)
    markdown = paths["markdown"].read_text(encoding="utf-8")
    assert _pictographic(markdown) <= set(MARK_CHARACTERS)
    assert MARKS["bad"].text in markdown and MARKS["warn"].text in markdown
    page = paths["html"].read_text(encoding="utf-8")
    assert _pictographic(page) <= set(MARK_CHARACTERS)
    # In HTML every mark is a badge (inline SVG), its character only inside the badge.
    outside = re.sub(r'<span class="mark-text">.</span>', "", page)
    assert not set(MARK_CHARACTERS) & set(outside)
    assert page.count('<span class="mark mark-bad"') >= markdown.count(MARKS["bad"].text)
    assert page.count("<table>") == page.count('<div class="table-box"><table>')


def test_mark_badges_keep_the_surrounding_text_escaped():
    html = marks_to_html("&lt;b&gt; ✓ ok")
    assert html.startswith("&lt;b&gt; <span class=\"mark mark-ok\"") and html.endswith(" ok")
    assert "<svg" in html and marks_to_html("no marks") == "no marks"
