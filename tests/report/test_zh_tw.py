"""zh-TW end to end: a real tiny run and evaluation reported in Traditional Chinese show no English
catalog text anywhere a person looks (report, page, plots, console), and the plots have glyphs."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from matplotlib.figure import Figure
from matplotlib.text import Text

from tfgridnet.cli import main
from tfgridnet.report.i18n import (
    PLOT_FONT_FILE,
    catalog,
    localized_name,
    plot_characters,
)

FONT = Path(__file__).resolve().parents[2] / "src" / "tfgridnet" / "report" / "fonts" / PLOT_FONT_FILE
TINY_CORPUS = {"n_train": 6, "n_valid": 3, "n_test": 3}
TINY_RECIPE = ["trainer.max_epochs=2", "data.epoch_size=4", "data.batch_size=2",
               "data.crop_seconds=0.5", "trainer.progress_bar=none", "data.num_workers=0",
               "model.emb_dim=8", "model.lstm_hidden_units=8", "model.attn_n_head=2"]
WORDS = re.compile(r"[A-Za-z][A-Za-z'-]*(?: [A-Za-z][A-Za-z'-]*)+")  # two words or more
WORD = re.compile(r"[A-Za-z]{4,}")


def _parse(message: str) -> list[str]:
    import string

    return [text for text, *_ in string.Formatter().parse(message.replace("{{", "").replace(
        "}}", ""))]


def english_catalog_text() -> tuple[set[str], set[str]]:
    """Phrases (two words or more) of the English catalog that the zh-TW one does not also use,
    and the one-word English messages of the plots and the page."""
    chinese = " ".join(catalog("zh-TW").messages.values())
    english = catalog("en").messages
    phrases = {phrase for text in english.values() for literal in _parse(text)
               for phrase in WORDS.findall(literal) if phrase not in chinese}
    words = {text for key, text in english.items()
             if key.startswith(("fig.", "signal.", "page.")) and WORD.fullmatch(text)
             and not re.search(rf"\b{text}\b", chinese)}
    return phrases, words


def test_localized_names():
    assert localized_name("report.html", "en") == "report.html"
    assert localized_name("EXPERIMENT_ANALYSIS.md", "zh-TW") == "EXPERIMENT_ANALYSIS.zh-TW.md"
    assert localized_name("x_waveform.png", "zh-TW") == "x_waveform.zh-TW.png"
    with pytest.raises(ValueError, match="zh-TW"):
        localized_name("report.html", "fr")


def test_the_shipped_font_has_every_plot_character():
    """A plot message with a character the subset lacks would draw an empty box: rebuild the font
    with tools/plot_font.py after changing fig.*, signal.* or plot.* messages."""
    from fontTools.ttLib import TTFont

    cmap = TTFont(str(FONT)).getBestCmap()
    missing = sorted(c for c in plot_characters() if ord(c) not in cmap)
    assert not missing, f"no glyph for {''.join(missing)}: run tools/plot_font.py"
    assert len(plot_characters()) > 30  # the zh-TW plot messages are in the set


@pytest.mark.slow
def test_zh_tw_run_shows_no_english_catalog_text(tmp_path, monkeypatch, capsys):
    from tfgridnet.demo import run_demo

    demo = run_demo(tmp_path / "demo", corpus=TINY_CORPUS, overrides=TINY_RECIPE, n_plots=1)
    run = demo.run_dir
    figure_text: list[str] = []
    real_savefig = Figure.savefig

    def recording_savefig(fig, *args, **kwargs):
        figure_text.extend(t.get_text() for t in fig.findobj(Text) if t.get_text())
        return real_savefig(fig, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", recording_savefig)
    manifest = tmp_path / "demo" / "data" / "manifests" / "test.csv"
    eval_dir = tmp_path / "eval_zh"
    capsys.readouterr()
    assert main(["evaluate", str(run), "--manifest", str(manifest), "--out", str(eval_dir),
                 "--lang", "zh-TW", "--plots", "1"]) == 0
    assert main(["report", str(run), "--eval", str(eval_dir), "--lang", "zh-TW"]) == 0
    console = capsys.readouterr().out.split("results in ")[-1].split("\n", 1)[-1]

    markdown = (run / "EXPERIMENT_ANALYSIS.zh-TW.md").read_text(encoding="utf-8")
    page = (eval_dir / "index.zh-TW.html").read_text(encoding="utf-8")
    assert not (eval_dir / "index.html").exists()
    report_html = (run / "report.zh-TW.html").read_text(encoding="utf-8")
    assert "index.zh-TW.html" in markdown  # the report links the page in its language
    assert "音量誤差" in markdown and "音量誤差" in page  # the level-error rows and columns
    assert any("振幅" in t for t in figure_text) and any("驗證" in t for t in figure_text)
    assert len({p.name for p in (eval_dir / "visualizations").glob("*.zh-TW.png")}) == 4
    assert sorted(p.name for p in (run / "plots").glob("*.zh-TW.png")) == [
        "grad_norm.zh-TW.png", "headline.zh-TW.png", "lr.zh-TW.png", "memory_throughput.zh-TW.png",
        "sisnr.zh-TW.png"]

    def visible(document: str) -> str:
        document = re.sub(r"<(script|style)>.*?</\1>", " ", document, flags=re.S)
        document = re.sub(r"<table class='sortable'.*?</table>", " ", document, flags=re.S)
        return html.unescape(re.sub(r"<[^>]+>", " ", document))

    phrases, words = english_catalog_text()
    assert "level error" in " ".join(phrases) and "Evaluation" in words  # the check has teeth
    shown = {"report": markdown, "report.html": visible(report_html), "page": visible(page),
             "plots": "\n".join(figure_text), "console": console}
    for where, text in shown.items():
        found = sorted(p for p in phrases if p in text)
        assert not found, f"English catalog text in the zh-TW {where}: {found}"
    for where in ("page", "plots"):
        found = sorted(w for w in words if re.search(rf"\b{w}\b", shown[where]))
        assert not found, f"English catalog words in the zh-TW {where}: {found}"
