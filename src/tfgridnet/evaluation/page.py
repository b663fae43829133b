"""The listening page: one self-contained ``index.html`` (audio and plots embedded as data URIs,
no network, works opened from disk) with the verdict first, the summary, a sortable table and
noisy / enhanced / clean players side by side for the highlighted utterances. Its text comes from
the report's catalogs (``tfgridnet.i18n``) in the evaluation's language: ``index.html`` in English,
``index.zh-TW.html`` in Traditional Chinese."""

from __future__ import annotations

import base64
import html
import io
import math
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from tfgridnet.contracts.conditions import factor_label, group_cell, read_breakdown
from tfgridnet.contracts.folders import EvalDir
from tfgridnet.contracts.metric_registry import METRIC_REGISTRY, improvement_legend
from tfgridnet.contracts.names import (
    AUDIO_KINDS,
    DURATION_COLUMN,
    ERROR_COLUMN,
    STATUS_COLUMN,
    UTTID,
)
from tfgridnet.contracts.utterance import UtteranceRow
from tfgridnet.evaluation.baseline import baseline_html
from tfgridnet.evaluation.plots import COLORS
from tfgridnet.fileio import write_text_atomic
from tfgridnet.i18n import tr
from tfgridnet.marks import MARK_CSS, MARKS, mark_html

__all__ = ["write_page", "wav_data_uri", "table_columns"]

# Shown per utterance (noisy and enhanced) beside the headline metric, when scored.
_BESIDE = ("pesq_wb", "stoi", "estoi", "level_error_db", "dnsmos_ovrl", "distillmos")


def table_columns(headline: str, scored: list[str] | tuple[str, ...],
                  conditions: list[str] | tuple[str, ...] = (),
                  baseline: bool = False) -> tuple[str, ...]:
    """The per-utterance table: the utterance's conditions, the headline metric's three columns
    (and the --baseline model's score and the gain over it), then the others scored."""
    first = METRIC_REGISTRY[headline]
    beside = [METRIC_REGISTRY[n] for n in _BESIDE if n in scored and n != headline]
    versus = (first.baseline_column, first.over_baseline_column) if baseline else ()
    return (UTTID, *conditions, first.noisy_column, first.enhanced_column, first.delta_column,
            *versus,
            *(column for m in beside for column in (m.noisy_column, m.enhanced_column)),
            DURATION_COLUMN, STATUS_COLUMN)

# The page fits its window down to ~800 px: the body never exceeds the window, every table scrolls
# inside its own box (.table-box) instead of widening the page, players and plots wrap.
_STYLE = """
*, *::before, *::after { box-sizing: border-box; }
body { font-family: system-ui, sans-serif; margin: 1.5rem auto; max-width: 1200px;
  padding: 0 1rem; color: #222; line-height: 1.4; }
h1 { margin-bottom: .2rem; } .muted { color: #666; }
.verdict { padding: .8rem 1rem; border-radius: 6px; margin: 1rem 0; font-weight: 600; }
.bad { background: #fde2e2; border: 2px solid #d62728; } .good { background: #e3f5e1;
  border: 2px solid #2ca02c; } .warn { background: #fff4d6; border: 1px solid #e0a800;
  padding: .5rem 1rem; border-radius: 6px; margin: .4rem 0; }
.table-box { overflow-x: auto; max-width: 100%; margin: .8rem 0; }
table { border-collapse: collapse; font-size: .85rem; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #ccc; padding: .25rem .5rem; text-align: right; }
th { background: #f2f2f2; } td:first-child, th:first-child { text-align: left; }
table.sortable th { cursor: pointer; user-select: none; }
table.sortable td { white-space: nowrap; }
th[aria-sort=ascending]::after { content: " \\25B2"; } th[aria-sort=descending]::after {
  content: " \\25BC"; }
.utt { border-top: 1px solid #ddd; padding: 1rem 0; }
.players { display: flex; gap: 1rem; flex-wrap: wrap; }
.player { flex: 1 1 240px; min-width: 0; border-left: 6px solid; padding-left: .5rem; }
.player audio { width: 100%; } .plots { display: flex; gap: .5rem; flex-wrap: wrap; }
.plots img { flex: 1 1 420px; min-width: 0; max-width: 100%; height: auto; }
""" + MARK_CSS

# Sorts numerically where both cells are numbers (empty cells last), else as text.
_SCRIPT = """
document.querySelectorAll('table.sortable').forEach(function (table) {
  var headers = table.querySelectorAll('th');
  headers.forEach(function (th, index) {
    th.addEventListener('click', function () {
      var ascending = th.getAttribute('aria-sort') !== 'ascending';
      headers.forEach(function (h) { h.removeAttribute('aria-sort'); });
      th.setAttribute('aria-sort', ascending ? 'ascending' : 'descending');
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[index].getAttribute('data-value');
        var y = b.cells[index].getAttribute('data-value');
        if (x === '' || y === '') { return (x === '') - (y === ''); }
        var nx = Number(x), ny = Number(y), cmp;
        if (!isNaN(nx) && !isNaN(ny)) { cmp = nx - ny; } else { cmp = x.localeCompare(y); }
        return ascending ? cmp : -cmp;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
"""


def wav_data_uri(audio: np.ndarray, sample_rate: int) -> str:
    """16-bit PCM WAV as a ``data:`` URI (clipped to full scale, as the saved WAVs are)."""
    buffer = io.BytesIO()
    sf.write(buffer, np.clip(np.asarray(audio, dtype=np.float64), -1.0, 1.0), sample_rate,
             subtype="PCM_16", format="WAV")
    return "data:audio/wav;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _png_data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


def _boxed(table: str) -> str:
    """A table inside its own horizontally scrolling box: a wide table never widens the page."""
    return f'<div class="table-box">{table}</div>'


def _status_cell(value: Any) -> str:
    """The per-utterance status with its mark; sorts by the status word."""
    text = html.escape(str(value or ""))
    mark = MARKS["ok"] if value == "ok" else MARKS["bad"] if value else MARKS["none"]
    return f'<td data-value="{text}">{mark_html(mark)} {text}</td>'


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return '<td data-value=""></td>'
    if isinstance(value, float):
        return f'<td data-value="{value:.6g}">{value:.2f}</td>'
    text = html.escape(str(value))
    return f'<td data-value="{text}">{text}</td>'


def _number(value: Any, fmt: str = ".2f") -> str:
    return "n/a" if value is None else format(value, fmt)


def _verdict(summary: dict[str, Any], lang: str) -> str:
    m = METRIC_REGISTRY[summary.get("headline_metric") or "sisnr"]
    stats = summary["metrics"].get(m.name) or {}
    gain = stats.get("improvement_mean")
    if gain is None:
        return (f'<div class="verdict bad" id="verdict">{mark_html(MARKS["bad"])} '
                f'{html.escape(tr("page.none_scored", lang))}</div>')
    unit = f" {m.unit}" if m.unit else ""
    text = tr("page.baseline", lang, metric=m.label_in(lang), noisy=_number(stats["noisy_mean"]),
              enhanced=_number(stats["enhanced_mean"]), unit=unit, gain=gain,
              improved=100 * (stats.get("share_improved") or 0))
    if summary.get("worse_than_input"):
        return (f'<div class="verdict bad" id="verdict">{mark_html(MARKS["bad"])} '
                f'{html.escape(tr("page.worse", lang))} {html.escape(text)}</div>')
    return (f'<div class="verdict good" id="verdict">{mark_html(MARKS["ok"])} '
            f"{html.escape(text)}</div>")


def _metric_table(summary: dict[str, Any], lang: str) -> str:
    head = "".join(f"<th>{html.escape(tr(f'page.col_{key}', lang))}</th>" for key in (
        "metric", "noisy", "enhanced", "improvement", "noisy_median", "enhanced_median",
        "improved")) + "<th>n</th>"
    rows = [f"<table id='summary'><thead><tr>{head}</tr></thead><tbody>"]
    for metric, s in summary["metrics"].items():
        share = "n/a" if s["share_improved"] is None else f"{100 * s['share_improved']:.0f}%"
        spread = ("n/a" if s["improvement_mean"] is None
                  else f"{s['improvement_mean']:+.3f} ± {s['improvement_std']:.3f}")
        rows.append(f"<tr><td>{html.escape(METRIC_REGISTRY[metric].label_in(lang))}</td>"
                    f"<td>{_number(s['noisy_mean'], '.3f')}</td>"
                    f"<td>{_number(s['enhanced_mean'], '.3f')}</td><td>{spread}</td>"
                    f"<td>{_number(s['noisy_median'], '.3f')}</td>"
                    f"<td>{_number(s['enhanced_median'], '.3f')}</td><td>{share}</td>"
                    f"<td>{s['n']}</td></tr>")
    return _boxed("".join(rows) + "</tbody></table>") + (
        f"<p class='muted'>{html.escape(improvement_legend(summary['metrics'], lang))}</p>")


def _wrap_after_arrow(cell: str) -> str:
    """``noisy → enhanced (improvement)`` that may break only before the improvement, so a
    narrow window gets two tidy lines instead of a wider page."""
    return html.escape(cell).replace(" → ", "\u00a0→\u00a0")


def _breakdown(summary: dict[str, Any], lang: str) -> str:
    """One table per condition (URGENT-style): each group's means of every metric."""
    tables = read_breakdown(summary)
    if not tables:
        return ""
    names = list(summary["metrics"])
    parts = [f"<h2>{html.escape(tr('h.conditions', lang))}</h2>"
             f"<p class='muted'>{html.escape(tr('cond.note', lang))} "
             f"{html.escape(improvement_legend(names, lang))}</p>"]
    for factor, groups in tables.items():
        label = html.escape(factor_label(factor, lang) or factor)
        head = f"<th>{label}</th><th>n</th>" + "".join(
            f"<th>{html.escape(METRIC_REGISTRY[n].label_in(lang))}</th>" for n in names)
        body = "".join(
            f"<tr><td>{html.escape(g.group)}</td><td>{g.n}</td>"
            + "".join(f"<td>{_wrap_after_arrow(group_cell(g.metrics.get(n)))}</td>" for n in names)
            + "</tr>" for g in groups)
        parts.append(_boxed(f"<table class='breakdown' id='by-{html.escape(factor)}'><thead><tr>"
                            f"{head}</tr></thead><tbody>{body}</tbody></table>"))
    return "".join(parts)


def _results_table(rows: list[UtteranceRow], columns: tuple[str, ...]) -> str:
    head = "".join(f"<th>{c}</th>" for c in columns)
    body = "".join("<tr>" + "".join(_status_cell(r.status) if c == STATUS_COLUMN else _cell(r.cell(c))
                                    for c in columns) + "</tr>" for r in rows)
    return _boxed(f"<table class='sortable' id='results'><thead><tr>{head}</tr></thead>"
                  f"<tbody>{body}</tbody></table>")


def _utterance(item: dict[str, Any], sample_rate: int, headline: str, lang: str) -> str:
    row: UtteranceRow = item["row"]
    m = METRIC_REGISTRY[headline]
    scores = row.score(m.name)
    players = "".join(
        f'<div class="player" style="border-color:{COLORS[kind]}">'
        f'<div style="color:{COLORS[kind]}"><b>{html.escape(tr(f"signal.{kind}", lang))}</b></div>'
        f'<audio controls preload="metadata" data-kind="{kind}" '
        f'src="{wav_data_uri(item[kind], sample_rate)}"></audio></div>'
        for kind in AUDIO_KINDS if item.get(kind) is not None)
    uttid = html.escape(row.uttid)
    plots = "".join(f'<img alt="{uttid} {name}" src="{_png_data_uri(item[name])}">'
                    for name in ("waveform", "spectrogram"))
    group = html.escape(tr(f"page.group.{item['group']}", lang))
    return (f'<div class="utt" id="utt-{uttid}"><h3>{group}: {uttid} '
            f'<span class="muted">{html.escape(m.label_in(lang))} {scores.noisy:.2f} → '
            f'{scores.enhanced:.2f} {m.unit} ({scores.improvement:+.2f})</span></h3>'
            f'<div class="players">{players}</div><div class="plots">{plots}</div></div>')


def write_page(out_dir: Path, summary: dict[str, Any], rows: list[UtteranceRow],
               items: list[dict[str, Any]], sample_rate: int, lang: str = "en",
               warnings: list[str] | None = None) -> Path:
    """Write ``out_dir/index.html`` (``index.<lang>.html`` in another language than English)
    atomically and return its path; ``warnings`` in ``lang`` (default: the summary's own)."""
    warnings = "".join(f'<div class="warn">{mark_html(MARKS["warn"])} {html.escape(w)}</div>'
                       for w in (summary.get("warnings", []) if warnings is None else warnings))
    failed = "".join(f"<li>{html.escape(f[UTTID])}: {html.escape(f[ERROR_COLUMN])}</li>"
                     for f in summary.get("failed", []))
    headline = summary.get("headline_metric") or "sisnr"
    label = METRIC_REGISTRY[headline].label_in(lang)
    skipped = summary.get("skipped_metrics") or {}
    no_reference = ('<div class="warn" id="no-reference">' + mark_html(MARKS["info"]) + ' '
                    + html.escape(tr("page.no_reference", lang, metrics=", ".join(skipped),
                                     reason=next(iter(skipped.values()))))
                    + '</div>' if skipped else "")
    meta = html.escape(tr("page.meta", lang, model=summary.get("model", ""), n=summary["n"],
                          failed=summary["n_failed"], rate=sample_rate,
                          device=summary.get("device", "")))
    t = {key: html.escape(tr(f"page.{key}", lang)) for key in (
        "heading", "summary", "failed", "colours", "no_utterance", "all", "sort")}
    page = f"""<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(tr("page.title", lang, model=summary.get("model", "")))}</title>
<link rel="icon" href="data:,">
<style>{_STYLE}</style></head>
<body>
<h1>{t["heading"]}</h1>
<div class="muted">{meta}</div>
{_verdict(summary, lang)}
{no_reference}
{warnings}
<h2>{t["summary"]}</h2>
{_metric_table(summary, lang)}
{baseline_html(summary, lang)}
{_breakdown(summary, lang)}
{f'<h2>{t["failed"]}</h2><ul>{failed}</ul>' if failed else ''}
<h2>{html.escape(tr("page.listen", lang, metric=label))}</h2>
<p class="muted">{t["colours"]}</p>
{''.join(_utterance(item, sample_rate, headline, lang) for item in items)
 or f'<p>{t["no_utterance"]}</p>'}
<h2>{t["all"]}</h2>
<p class="muted">{t["sort"]}</p>
{_results_table(rows, table_columns(headline, list(summary["metrics"]),
                                    summary.get("condition_columns") or (),
                                    summary.get("baseline_model") is not None))}
<script>{_SCRIPT}</script>
</body></html>
"""
    return write_text_atomic(EvalDir(out_dir).page(lang), page)
