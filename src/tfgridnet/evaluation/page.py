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

from tfgridnet.evaluation.plots import COLORS
from tfgridnet.evaluation.scoring import METRIC_REGISTRY
from tfgridnet.fileio import write_text_atomic

__all__ = ["write_page", "wav_data_uri", "TABLE_COLUMNS"]

_SISNR = METRIC_REGISTRY["sisnr"]
_BESIDE_SISNR = ("pesq_wb", "stoi", "estoi")  # noisy and enhanced shown per utterance
TABLE_COLUMNS = (
    "uttid", _SISNR.noisy_column, _SISNR.enhanced_column, _SISNR.delta_column,
    *(column for name in _BESIDE_SISNR
      for column in (METRIC_REGISTRY[name].noisy_column, METRIC_REGISTRY[name].enhanced_column)),
    "duration_s", "status",
)

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
    gain = summary.get("sisnr_improvement_mean")
    if gain is None:
        return '<div class="verdict bad">No utterance could be scored.</div>'
    text = (f"Identity baseline (noisy input as output): SI-SNR "
            f"{_number(summary['noisy_sisnr_mean'])} dB. Model output: "
            f"{_number(summary['enhanced_sisnr_mean'])} dB, improvement {gain:+.2f} dB, "
            f"{100 * (summary.get('share_improved') or 0):.0f}% of utterances improved.")
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
    return "".join(rows) + "</tbody></table>"


def _results_table(rows: list[dict[str, Any]]) -> str:
    head = "".join(f"<th>{c}</th>" for c in TABLE_COLUMNS)
    body = "".join("<tr>" + "".join(_cell(r.get(c)) for c in TABLE_COLUMNS) + "</tr>"
                   for r in rows)
    return (f"<table class='sortable' id='results'><thead><tr>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table>")


def _utterance(item: dict[str, Any], sample_rate: int) -> str:
    row = item["row"]
    players = "".join(
        f'<div class="player" style="border-color:{COLORS[kind]}">'
        f'<div style="color:{COLORS[kind]}"><b>{kind.capitalize()}</b></div>'
        f'<audio controls preload="metadata" data-kind="{kind}" '
        f'src="{wav_data_uri(item[kind], sample_rate)}"></audio></div>'
        for kind in ("noisy", "enhanced", "clean"))
    uttid = html.escape(row["uttid"])
    plots = "".join(f'<img alt="{uttid} {name}" src="{_png_data_uri(item[name])}">'
                    for name in ("waveform", "spectrogram"))
    return (f'<div class="utt" id="utt-{uttid}"><h3>{item["group"]}: {uttid} '
            f'<span class="muted">SI-SNR {row["noisy_sisnr"]:.2f} → {row["enhanced_sisnr"]:.2f} '
            f'dB ({row["sisnr_improvement"]:+.2f} dB)</span></h3>'
            f'<div class="players">{players}</div><div class="plots">{plots}</div></div>')


def write_page(out_dir: Path, summary: dict[str, Any], rows: list[dict[str, Any]],
               items: list[dict[str, Any]], sample_rate: int) -> Path:
    """Write ``out_dir/index.html`` atomically and return its path."""
    warnings = "".join(f'<div class="warn">{html.escape(w)}</div>'
                       for w in summary.get("warnings", []))
    failed = "".join(f"<li>{html.escape(f['uttid'])}: {html.escape(f['error'])}</li>"
                     for f in summary.get("failed", []))
    model = html.escape(str(summary.get("model", "")))
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
{warnings}
<h2>Summary</h2>
{_metric_table(summary)}
{f'<h2>Failed utterances</h2><ul>{failed}</ul>' if failed else ''}
<h2>Listen: best and worst by SI-SNR improvement</h2>
<p class="muted">Noisy red, Enhanced green, Clean blue. Spectrograms: STFT 512 / hop 256.</p>
{''.join(_utterance(item, sample_rate) for item in items) or '<p>No utterance to show.</p>'}
<h2>All utterances</h2>
<p class="muted">Click a column header to sort.</p>
{_results_table(rows)}
<script>{_SCRIPT}</script>
</body></html>
"""
    return write_text_atomic(Path(out_dir) / "index.html", page)
