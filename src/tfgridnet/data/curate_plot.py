"""The picture of ``tfgridnet curate``: one histogram per measure, its thresholds drawn, the rows
curate dropped stacked in red on the kept ones (matplotlib object API, written atomically)."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from tfgridnet.data.checks import THRESHOLDS, CheckReport
from tfgridnet.data.checks.corpus import outlier_bounds
from tfgridnet.fileio import atomic_path

__all__ = ["write_curation_plot"]

_KEPT, _DROPPED, _LINE = "#4c72b0", "#c44e52", "#333333"


def _thresholds(name: str, report: CheckReport, values: np.ndarray, min_mos: float | None
                ) -> list[tuple[float, str]]:
    """(x, label) of each threshold of the measure ``name`` for this report."""
    t = THRESHOLDS
    snr_error = report.stats.get("reference_snr_error_db")
    if name == "sisnr_db":
        bounds = outlier_bounds(values)
        return [] if bounds is None else [(bounds[0], "outlier"), (bounds[1], "median"),
                                          (bounds[2], "outlier")]
    if name == "ref_snr_db":
        lines = [(t["ref_snr_warning_db"], "warning")]
        return lines + ([(snr_error, "error")] if snr_error is not None else [])
    if name == "ref_bandwidth_hz":
        rates = Counter(int(rate.split("/")[-1]) for rate, n in report.stats.get(
            "sample_rates", {}).items() for _ in range(n))
        if not rates:
            return []
        rate = rates.most_common(1)[0][0]
        return [(t["bandwidth_ratio"] * rate / 2, f"{t['bandwidth_ratio']:g} x Nyquist "
                 f"({rate} Hz)")]
    if name == "ref_speech_share":
        return [(t["speech_share_min"], "little speech")]
    if name == "ref_distillmos" and min_mos is not None:
        return [(min_mos, "--min-mos")]
    return []


_PANELS = (("sisnr_db", "input SI-SNR (dB)"), ("ref_snr_db", "reference's own SNR (dB)"),
           ("ref_bandwidth_hz", "reference bandwidth (Hz)"),
           ("ref_speech_share", "reference speech share"),
           ("ref_distillmos", "reference Distill-MOS"), ("ref_dnsmos_bak", "reference DNSMOS BAK"))


def write_curation_plot(path: str | os.PathLike, report: CheckReport,
                        dropped: dict[str, list[str]], min_mos: float | None = None) -> Path:
    """Histograms of every measure the report holds; returns ``path`` (a PNG)."""
    panels = []
    for name, label in _PANELS:
        values = np.array([getattr(m, name) for m in report.measures], dtype=object)
        have = np.array([v is not None for v in values], dtype=bool)
        if have.any():
            panels.append((name, label, values, have))
    columns = 2 if len(panels) > 1 else 1
    rows = max(1, int(np.ceil(len(panels) / columns)))
    fig = Figure(figsize=(6.0 * columns, 3.2 * rows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, columns)).ravel()
    is_dropped = np.array([m.uttid in dropped for m in report.measures], dtype=bool)
    for ax, (name, label, values, have) in zip(axes, panels):
        data = values[have].astype(np.float64)
        bins = np.histogram_bin_edges(data, bins=min(60, max(10, data.size // 5)))
        kept, gone = data[~is_dropped[have]], data[is_dropped[have]]
        ax.hist([kept, gone], bins=bins, stacked=True, color=[_KEPT, _DROPPED],
                label=[f"kept ({kept.size})", f"dropped ({gone.size})"])
        for x, text in _thresholds(name, report, data, min_mos):
            ax.axvline(x, color=_LINE, linestyle="--", linewidth=1)
            ax.annotate(text, (x, 1.0), xycoords=("data", "axes fraction"), rotation=90,
                        va="top", ha="right", fontsize=7, color=_LINE)
        ax.set_xlabel(label)
        ax.set_ylabel("files")
        ax.legend(fontsize=7, loc="best")
    for ax in axes[len(panels):]:
        ax.set_axis_off()
    fig.suptitle(f"curate: {len(dropped)} of {len(report.measures)} rows dropped (red)")
    FigureCanvasAgg(fig)
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    return Path(path)
