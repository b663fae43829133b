"""The listening page: one self-contained ``index.html`` (audio and plots embedded as data URIs,
no network, works opened from disk) with the verdict first, the summary, a sortable table and
noisy / enhanced / clean players side by side for the highlighted utterances."""

from __future__ import annotations

import base64
import html
import io
import math
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from tfgridnet.evaluation.conditions import FACTOR_LABELS, group_cell, read_breakdown
from tfgridnet.evaluation.plots import COLORS
from tfgridnet.evaluation.scoring import METRIC_REGISTRY, improvement_legend
from tfgridnet.fileio import write_text_atomic

__all__ = ["write_page", "wav_data_uri", "table_columns"]

# Shown per utterance (noisy and enhanced) beside the headline metric, when scored.
_BESIDE = ("pesq_wb", "stoi", "estoi", "level_error_db", "dnsmos_ovrl", "distillmos")


def table_columns(headline: str, scored: list[str] | tuple[str, ...],
                  conditions: list[str] | tuple[str, ...] = ()) -> tuple[str, ...]:
    """The per-utterance table: the utterance's conditions, the headline metric's three columns,
    then the others scored."""
    first = METRIC_REGISTRY[headline]
    beside = [METRIC_REGISTRY[n] for n in _BESIDE if n in scored and n != headline]
    return ("uttid", *conditions, first.noisy_column, first.enhanced_column, first.delta_column,
            *(column for m in beside for column in (m.noisy_column, m.enhanced_column)),
            "duration_s", "status")

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5rem auto; max-width: 1400px; color: #222; }
h1 { margin-bottom: .2rem; } .muted { color: #666; }
.verdict { padding: .8rem 1rem; border-radius: 6px; margin: 1rem 0; font-weight: 600; }
.bad { background: #fde2e2; border: 2px solid #d62728; } .good { background: #e3f5e1;
  border: 2px solid #2ca02c; } .warn { background: #fff4d6; border: 1px solid #e0a800;
  padding: .5rem 1rem; border-radius: 6px; margin: .4rem 0; }
table { border-collapse: collapse; margin: .8rem 0; font-size: .9rem; }
th, td { border: 1px solid #ccc; padding: .25rem .5rem; text-align: right; }
th { background: #f2f2f2; } td:first-child, th:first-child { text-align: left; }
table.sortable th { cursor: pointer; user-select: none; }
th[aria-sort=ascending]::after { content: " \\25B2"; } th[aria-sort=descending]::after {
  content: " \\25BC"; }
.utt { border-top: 1px solid #ddd; padding: 1rem 0; }
.players { display: flex; gap: 1rem; flex-wrap: wrap; }
.player { flex: 1 1 300px; border-left: 6px solid; padding-left: .5rem; }
.player audio { width: 100%; } .plots { display: flex; gap: .5rem; flex-wrap: wrap; }
.plots img { width: calc(50% - .5rem); min-width: 400px; }
"""

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


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return '<td data-value=""></td>'
    if isinstance(value, float):
        return f'<td data-value="{value:.6g}">{value:.2f}</td>'
    text = html.escape(str(value))
    return f'<td data-value="{text}">{text}</td>'


def _number(value: Any, fmt: str = ".2f") -> str:
    return "n/a" if value is None else format(value, fmt)


def _verdict(summary: dict[str, Any]) -> str:
    m = METRIC_REGISTRY[summary.get("headline_metric") or "sisnr"]
    stats = summary["metrics"].get(m.name) or {}
    gain = stats.get("improvement_mean")
    if gain is None:
        return '<div class="verdict bad">No utterance could be scored.</div>'
    unit = f" {m.unit}" if m.unit else ""
    text = (f"Identity baseline (noisy input as output): {m.label} "
            f"{_number(stats['noisy_mean'])}{unit}. Model output: "
            f"{_number(stats['enhanced_mean'])}{unit}, improvement {gain:+.2f}{unit}, "
            f"{100 * (stats.get('share_improved') or 0):.0f}% of utterances improved.")
    if summary.get("worse_than_input"):
        return ('<div class="verdict bad" id="verdict">The model is WORSE than doing nothing. '
                f"{html.escape(text)}</div>")
    return f'<div class="verdict good" id="verdict">{html.escape(text)}</div>'


def _metric_table(summary: dict[str, Any]) -> str:
    rows = ["<table id='summary'><thead><tr><th>metric</th><th>identity baseline (noisy)</th>"
            "<th>enhanced</th><th>improvement (mean ± std)</th><th>noisy median</th>"
            "<th>enhanced median</th><th>improved</th><th>n</th></tr></thead><tbody>"]
    for metric, s in summary["metrics"].items():
        share = "n/a" if s["share_improved"] is None else f"{100 * s['share_improved']:.0f}%"
        spread = ("n/a" if s["improvement_mean"] is None
                  else f"{s['improvement_mean']:+.3f} ± {s['improvement_std']:.3f}")
        rows.append(f"<tr><td>{metric}</td><td>{_number(s['noisy_mean'], '.3f')}</td>"
                    f"<td>{_number(s['enhanced_mean'], '.3f')}</td><td>{spread}</td>"
                    f"<td>{_number(s['noisy_median'], '.3f')}</td>"
                    f"<td>{_number(s['enhanced_median'], '.3f')}</td><td>{share}</td>"
                    f"<td>{s['n']}</td></tr>")
    return ("".join(rows) + "</tbody></table><p class='muted'>"
            f"{html.escape(improvement_legend(summary['metrics']))}</p>")


def _breakdown(summary: dict[str, Any]) -> str:
    """One table per condition (URGENT-style): each group's means of every metric."""
    tables = read_breakdown(summary)
    if not tables:
        return ""
    names = list(summary["metrics"])
    parts = ["<h2>By condition</h2><p class='muted'>Means per group: noisy → enhanced "
             f"(improvement: {html.escape(improvement_legend(names))}).</p>"]
    for factor, groups in tables.items():
        label = html.escape(FACTOR_LABELS.get(factor, factor))
        head = f"<th>{label}</th><th>n</th>" + "".join(
            f"<th>{html.escape(METRIC_REGISTRY[n].label)}</th>" for n in names)
        body = "".join(
            f"<tr><td>{html.escape(g.group)}</td><td>{g.n}</td>"
            + "".join(f"<td>{html.escape(group_cell(g.metrics.get(n)))}</td>" for n in names)
            + "</tr>" for g in groups)
        parts.append(f"<table class='breakdown' id='by-{html.escape(factor)}'><thead><tr>{head}"
                     f"</tr></thead><tbody>{body}</tbody></table>")
    return "".join(parts)


def _results_table(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> str:
    head = "".join(f"<th>{c}</th>" for c in columns)
    body = "".join("<tr>" + "".join(_cell(r.get(c)) for c in columns) + "</tr>"
                   for r in rows)
    return (f"<table class='sortable' id='results'><thead><tr>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table>")


def _utterance(item: dict[str, Any], sample_rate: int, headline: str) -> str:
    row = item["row"]
    m = METRIC_REGISTRY[headline]
    players = "".join(
        f'<div class="player" style="border-color:{COLORS[kind]}">'
        f'<div style="color:{COLORS[kind]}"><b>{kind.capitalize()}</b></div>'
        f'<audio controls preload="metadata" data-kind="{kind}" '
        f'src="{wav_data_uri(item[kind], sample_rate)}"></audio></div>'
        for kind in ("noisy", "enhanced", "clean") if item.get(kind) is not None)
    uttid = html.escape(row["uttid"])
    plots = "".join(f'<img alt="{uttid} {name}" src="{_png_data_uri(item[name])}">'
                    for name in ("waveform", "spectrogram"))
    return (f'<div class="utt" id="utt-{uttid}"><h3>{item["group"]}: {uttid} '
            f'<span class="muted">{m.label} {row[m.noisy_column]:.2f} → '
            f'{row[m.enhanced_column]:.2f} {m.unit} ({row[m.delta_column]:+.2f})</span></h3>'
            f'<div class="players">{players}</div><div class="plots">{plots}</div></div>')


def write_page(out_dir: Path, summary: dict[str, Any], rows: list[dict[str, Any]],
               items: list[dict[str, Any]], sample_rate: int) -> Path:
    """Write ``out_dir/index.html`` atomically and return its path."""
    warnings = "".join(f'<div class="warn">{html.escape(w)}</div>'
                       for w in summary.get("warnings", []))
    failed = "".join(f"<li>{html.escape(f['uttid'])}: {html.escape(f['error'])}</li>"
                     for f in summary.get("failed", []))
    model = html.escape(str(summary.get("model", "")))
    headline = summary.get("headline_metric") or "sisnr"
    label = METRIC_REGISTRY[headline].label
    skipped = summary.get("skipped_metrics") or {}
    no_reference = (f'<div class="warn" id="no-reference">No clean references: scored by the '
                    f'non-intrusive metrics only. Not measured: {html.escape(", ".join(skipped))} '
                    f'({html.escape(next(iter(skipped.values())))}).</div>' if skipped else "")
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tfgridnet evaluation: {model}</title>
<link rel="icon" href="data:,">
<style>{_STYLE}</style></head>
<body>
<h1>Evaluation</h1>
<div class="muted">model {model} · {summary['n']} utterances ({summary['n_failed']} failed) ·
{sample_rate} Hz · device {html.escape(str(summary.get('device', '')))}</div>
{_verdict(summary)}
{no_reference}
{warnings}
<h2>Summary</h2>
{_metric_table(summary)}
{_breakdown(summary)}
{f'<h2>Failed utterances</h2><ul>{failed}</ul>' if failed else ''}
<h2>Listen: best and worst by {label} improvement</h2>
<p class="muted">Noisy red, Enhanced green, Clean blue. Spectrograms: STFT 512 / hop 256.</p>
{''.join(_utterance(item, sample_rate, headline) for item in items)
 or '<p>No utterance to show.</p>'}
<h2>All utterances</h2>
<p class="muted">Click a column header to sort.</p>
{_results_table(rows, table_columns(headline, list(summary["metrics"]),
                                    summary.get("condition_columns") or ()))}
<script>{_SCRIPT}</script>
</body></html>
"""
    return write_text_atomic(Path(out_dir) / "index.html", page)
