"""Training-curve plots of a run, written atomically as PNG.

Figures are built with matplotlib's object API on an Agg canvas (no pyplot state, no global
backend switch), so importing this module changes nothing for a caller that uses pyplot. Labels
stay in English in every report language: the default fonts have no CJK glyphs.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from tfgridnet.fileio import write_bytes_atomic
from tfgridnet.report.analysis import Analysis
from tfgridnet.train.metrics_schema import INITIAL_EPOCH, VALID_EXTRA_PREFIX

__all__ = ["PLOT_NAMES", "write_plots"]

PLOT_NAMES = ("sisnr", "lr", "grad_norm", "memory_throughput")


def _finite_series(epochs: np.ndarray, values: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    if values is None:
        return np.array([]), np.array([])
    keep = np.isfinite(values)
    return epochs[keep], values[keep]


def _positive_series(epochs: np.ndarray, values: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    x, y = _finite_series(epochs, values)
    keep = y > 0  # a log axis cannot show zero or negative values
    return x[keep], y[keep]


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=110)
    return buffer.getvalue()


def _sisnr(analysis: Analysis) -> bytes | None:
    tr, epochs = analysis.training, analysis.metrics["epoch"]
    if tr.get("valid_sisnr") is None and tr.get("train_sisnr") is None:
        return None
    fig = _figure(8, 4.2)
    ax = fig.subplots()
    start = analysis.initial or {}  # a fine-tune's step-0 row: the curves start from the source
    extra = VALID_EXTRA_PREFIX + "sisnr"
    for name, label, colour, values in (
            ("train_sisnr", "train", "tab:blue", tr.get("train_sisnr")),
            ("valid_sisnr", "valid", "tab:orange", tr.get("valid_sisnr")),
            (extra, "valid_extra (second set)", "tab:red", analysis.metrics.get(extra))):
        x, y = _finite_series(epochs, values)
        if start.get(name) is not None and np.isfinite(start[name]):
            x, y = np.concatenate([[INITIAL_EPOCH], x]), np.concatenate([[start[name]], y])
            ax.scatter([INITIAL_EPOCH], [start[name]], color=colour, marker="s", zorder=5)
        if len(x):
            ax.plot(x, y, label=label, color=colour, linewidth=1.2)
    if start:
        ax.axvline(INITIAL_EPOCH, color="grey", linestyle=":", linewidth=0.8)
        ax.annotate("start (step 0)", (INITIAL_EPOCH, ax.get_ylim()[1]), fontsize=7,
                    xytext=(2, -10), textcoords="offset points")
    x, y = _finite_series(epochs, analysis.metrics.get("valid_noisy_sisnr"))
    if len(x):
        ax.plot(x, y, label="identity baseline (noisy input, valid)", color="grey",
                linestyle="--", linewidth=1.0)
    if "best_epoch" in tr:
        ax.axvline(tr["best_epoch"], color="tab:green", linestyle=":", linewidth=1.0)
        ax.scatter([tr["best_epoch"]], [tr["valid_best"]], color="tab:green", zorder=5,
                   label=f"best valid {tr['valid_best']:.2f} dB (epoch {tr['best_epoch']})")
    ax.set_xlabel("epoch")
    ax.set_ylabel("SI-SNR (dB, higher is better)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("SI-SNR per epoch")
    return _png(fig)


def _lr(analysis: Analysis) -> bytes | None:
    x, y = _positive_series(analysis.metrics["epoch"], analysis.metrics.get("lr"))
    if not len(x):
        return None
    fig = _figure(8, 3.2)
    ax = fig.subplots()
    ax.plot(x, y, color="tab:purple")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("learning rate")
    ax.grid(alpha=0.3, which="both")
    ax.set_title("Learning rate (log axis)")
    return _png(fig)


def _grad_norm(analysis: Analysis) -> bytes | None:
    epochs = analysis.metrics["epoch"]
    series = [(name, *_positive_series(epochs, analysis.metrics.get(name)))
              for name in ("grad_norm_mean", "grad_norm_max")]
    if not any(len(x) for _, x, _ in series):
        return None
    fig = _figure(8, 3.6)
    ax = fig.subplots()
    for name, x, y in series:
        if len(x):
            ax.plot(x, y, label=name.replace("grad_norm_", "epoch "), linewidth=1.0)
    clip = analysis.training.get("grad_clip")
    if clip:
        ax.axhline(clip, color="tab:red", linestyle="--", label=f"clip threshold {clip:g}")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("gradient norm")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    ax.set_title("Gradient norm (log axis)")
    return _png(fig)


def _memory_throughput(analysis: Analysis) -> bytes | None:
    epochs = analysis.metrics["epoch"]
    mem_x, mem_y = _finite_series(epochs, analysis.metrics.get("peak_mem_mb"))
    thr_x, thr_y = _finite_series(epochs, analysis.metrics.get("samples_per_sec"))
    if not len(mem_x) and not len(thr_x):
        return None
    fig = _figure(10, 3.4)
    ax_mem, ax_thr = fig.subplots(1, 2)
    if len(mem_x):
        ax_mem.plot(mem_x, mem_y / 1024, color="tab:brown", label="peak")
        device_mb = analysis.training.get("device_mem_mb")
        if device_mb:
            ax_mem.axhline(device_mb / 1024, color="black", linestyle="--",
                           label=f"device {device_mb / 1024:.1f} GB")
        ax_mem.set_ylim(bottom=0)
        ax_mem.legend(fontsize=8)
    ax_mem.set_xlabel("epoch")
    ax_mem.set_ylabel("memory (GB)")
    ax_mem.set_title("Peak memory")
    ax_mem.grid(alpha=0.3)
    if len(thr_x):
        ax_thr.plot(thr_x, thr_y, color="tab:cyan")
        ax_thr.set_ylim(bottom=0)
    ax_thr.set_xlabel("epoch")
    ax_thr.set_ylabel("samples / s")
    ax_thr.set_title("Throughput")
    ax_thr.grid(alpha=0.3)
    return _png(fig)


def write_plots(analysis: Analysis, out_dir: Path) -> dict[str, Path]:
    """Draw every plot the logged columns allow into ``out_dir``; returns name -> PNG path."""
    makers = {"sisnr": _sisnr, "lr": _lr, "grad_norm": _grad_norm,
              "memory_throughput": _memory_throughput}
    written: dict[str, Path] = {}
    for name in PLOT_NAMES:
        data = makers[name](analysis)
        if data is not None:
            written[name] = write_bytes_atomic(out_dir / f"{name}.png", data)
    return written
