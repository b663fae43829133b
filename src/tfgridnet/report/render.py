"""Write a report: EXPERIMENT_ANALYSIS.md and report.html from jinja2 templates, findings.json.

The blocks (report/sections.py) go through one Markdown template; the HTML page is the same
Markdown rendered by markdown-it-py inside the page template, with the plots inlined as data URIs,
so the two formats cannot say different things. In another language than English the Markdown,
the page and the plots get that language in their names (``EXPERIMENT_ANALYSIS.zh-TW.md``,
``report.zh-TW.html``, ``plots/sisnr.zh-TW.png``), so every language lives beside the others;
``findings.json`` (codes, severities, evidence; English messages) is the same in every language.
"""

from __future__ import annotations

import base64
import html
import itertools
import os
from collections.abc import Callable
from functools import cache
from pathlib import Path

import jinja2
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml

from tfgridnet.contracts.folders import RunDir
from tfgridnet.fileio import write_text_atomic
from tfgridnet.i18n import DEFAULT_LANGUAGE, catalog
from tfgridnet.marks import MARK_CSS, marks_to_html
from tfgridnet.report.analysis import Analysis, analyse
from tfgridnet.report.blocks import Block
from tfgridnet.report.findings import write_findings
from tfgridnet.report.sections import build_blocks

__all__ = ["render_html", "render_markdown", "write_analysis", "write_report"]


def _cell(text: str) -> str:
    """A Markdown table cell: a pipe would end the cell, a newline the row."""
    return str(text).replace("|", "\\|").replace("\n", " ")


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("tfgridnet.report", "templates"),
                             autoescape=jinja2.select_autoescape(["html.j2"]),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.filters["cell"] = _cell
    return env


def render_markdown(blocks: list[Block], image_src: Callable[[Path], str]) -> str:
    """The blocks as Markdown; ``image_src`` gives each plot's link."""
    text = _environment().get_template("report.md.j2").render(blocks=blocks, image_src=image_src)
    return text.strip() + "\n"


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


@cache
def _markdown_to_html() -> MarkdownIt:
    """CommonMark with tables; raw HTML in the text is escaped, not passed through. Status mark
    characters become SVG badges (tfgridnet.marks) and each table scrolls inside its own box, so
    a wide table never widens the page."""
    parser = MarkdownIt("commonmark", {"html": False}).enable("table")
    parser.add_render_rule("text", lambda self, tokens, idx, options, env:
                           marks_to_html(escapeHtml(tokens[idx].content)))
    parser.add_render_rule("table_open", lambda *_: '<div class="table-box"><table>\n')
    parser.add_render_rule("table_close", lambda *_: "</table></div>\n")
    return parser


def render_html(blocks: list[Block], lang: str) -> str:
    """Self-contained page: the Markdown rendered by markdown-it-py, plots inlined as base64 PNG,
    no external resources; the blocks of one ``section`` inside one ``<section>``."""
    parts = []
    for section, group in itertools.groupby(blocks, key=lambda block: block.section):
        body = _markdown_to_html().render(render_markdown(list(group), _data_uri))
        parts.append(f'<section id="{html.escape(section)}" class="{html.escape(section)}">'
                     f"\n{body}</section>\n" if section else body)
    title = blocks[0].text if blocks else "report"
    return _environment().get_template("report.html.j2").render(
        lang=lang, title=title, mark_css=jinja2.utils.markupsafe.Markup(MARK_CSS),
        body=jinja2.utils.markupsafe.Markup("".join(parts)))


def write_analysis(analysis: Analysis, lang: str = "en") -> dict[str, Path]:
    """Write the Markdown, HTML, findings and plots of an existing analysis into its run folder."""
    from tfgridnet.report.plots import write_plots

    run_dir = analysis.run_dir
    run = RunDir(run_dir)
    plots = write_plots(analysis, run.plots, lang)
    blocks = build_blocks(analysis, lang, plots)

    def relative(path: Path) -> str:
        return Path(os.path.relpath(path, run_dir)).as_posix()

    paths = {
        "markdown": write_text_atomic(run.analysis(lang), render_markdown(blocks, relative)),
        "html": write_text_atomic(run.report_page(lang), render_html(blocks, lang)),
        "findings": write_findings(run.findings, analysis.findings, DEFAULT_LANGUAGE),
    }
    paths.update({f"plot_{name}": path for name, path in plots.items()})
    return paths


def write_report(run_dir: str | Path, eval_dir: str | Path | None = None,
                 lang: str = "en") -> dict[str, Path]:
    """Analyse the run and write EXPERIMENT_ANALYSIS.md, report.html, findings.json and plots/
    (names with the language in them for another ``lang`` than English: module docstring)."""
    catalog(lang)  # reject an unknown language before any work
    return write_analysis(analyse(run_dir, eval_dir), lang)
