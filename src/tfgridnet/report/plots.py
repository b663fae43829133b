"""Training-curve plots of a run and the headline's evaluation picture, written atomically as PNG.

Figures are built with matplotlib's object API on an Agg canvas (no pyplot state, no global
backend switch), so importing this module changes nothing for a caller that uses pyplot. Every
label, legend and title comes from the report's catalogs in the report's language; CJK glyphs come
from the font shipped for them (``tfgridnet.i18n.plot_fonts``).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
from matplotlib import rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from tfgridnet.contracts import metrics_csv as mc
from tfgridnet.contracts.conditions import factor_label
from tfgridnet.contracts.evaluation import read_results_csv
from tfgridnet.contracts.folders import EvalDir
from tfgridnet.fileio import write_bytes_atomic
from tfgridnet.i18n import localized_name, plot_fonts, tr
from tfgridnet.report.analysis import Analysis
from tfgridnet.report.headline import HEADLINE_PLOT, headline_metric

__all__ = ["PLOT_NAMES", "write_plots"]

PLOT_NAMES = ("sisnr", "lr", "grad_norm", "memory_throughput", HEADLINE_PLOT)


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


def _sisnr(analysis: Analysis, lang: str) -> bytes | None:
    t, epochs = analysis.training, analysis.metrics[mc.EPOCH]
    if t.valid_sisnr is None and t.train_sisnr is None:
        return None
    fig = _figure(8, 4.2)
    ax = fig.subplots()
    start = analysis.initial or {}  # a fine-tune's step-0 row: the curves start from the source
    extra = mc.valid_extra(mc.VALID_SISNR)
    for name, key, colour, values in (
            (mc.TRAIN_SISNR, "fig.train", "tab:blue", t.train_sisnr),
            (mc.VALID_SISNR, "fig.valid", "tab:orange", t.valid_sisnr),
            (extra, "fig.valid_extra", "tab:red", analysis.metrics.get(extra))):
        x, y = _finite_series(epochs, values)
        if start.get(name) is not None and np.isfinite(start[name]):
            x, y = np.concatenate([[mc.INITIAL_EPOCH], x]), np.concatenate([[start[name]], y])
            ax.scatter([mc.INITIAL_EPOCH], [start[name]], color=colour, marker="s", zorder=5)
        if len(x):
            ax.plot(x, y, label=tr(key, lang), color=colour, linewidth=1.2)
    if start:
        ax.axvline(mc.INITIAL_EPOCH, color="grey", linestyle=":", linewidth=0.8)
        ax.annotate(tr("fig.start", lang), (mc.INITIAL_EPOCH, ax.get_ylim()[1]), fontsize=7,
                    xytext=(2, -10), textcoords="offset points")
    x, y = _finite_series(epochs, analysis.metrics.get(mc.VALID_NOISY_SISNR))
    if len(x):
        ax.plot(x, y, label=tr("fig.identity", lang), color="grey", linestyle="--", linewidth=1.0)
    if t.best_epoch is not None:
        ax.axvline(t.best_epoch, color="tab:green", linestyle=":", linewidth=1.0)
        ax.scatter([t.best_epoch], [t.valid.best], color="tab:green", zorder=5,
                   label=tr("fig.best", lang, value=t.valid.best, epoch=t.best_epoch))
    ax.set_xlabel(tr("fig.epoch", lang))
    ax.set_ylabel(tr("fig.sisnr_axis", lang))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(tr("plot.sisnr", lang))
    return _png(fig)


def _lr(analysis: Analysis, lang: str) -> bytes | None:
    x, y = _positive_series(analysis.metrics[mc.EPOCH], analysis.metrics.get(mc.LR))
    if not len(x):
        return None
    fig = _figure(8, 3.2)
    ax = fig.subplots()
    ax.plot(x, y, color="tab:purple")
    ax.set_yscale("log")
    ax.set_xlabel(tr("fig.epoch", lang))
    ax.set_ylabel(tr("fig.lr_axis", lang))
    ax.grid(alpha=0.3, which="both")
    ax.set_title(tr("plot.lr", lang))
    return _png(fig)


def _grad_norm(analysis: Analysis, lang: str) -> bytes | None:
    epochs = analysis.metrics[mc.EPOCH]
    series = [(name, *_positive_series(epochs, analysis.metrics.get(name)))
              for name in (mc.GRAD_NORM_MEAN, mc.GRAD_NORM_MAX)]
    if not any(len(x) for _, x, _ in series):
        return None
    fig = _figure(8, 3.6)
    ax = fig.subplots()
    for name, x, y in series:
        if len(x):
            ax.plot(x, y, label=tr(name.replace("grad_norm_", "fig.grad_"), lang), linewidth=1.0)
    clip = analysis.training.grad_clip
    if clip:
        ax.axhline(clip, color="tab:red", linestyle="--", label=tr("fig.clip", lang, value=clip))
    ax.set_yscale("log")
    ax.set_xlabel(tr("fig.epoch", lang))
    ax.set_ylabel(tr("fig.grad_axis", lang))
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    ax.set_title(tr("plot.grad_norm", lang))
    return _png(fig)


def _memory_throughput(analysis: Analysis, lang: str) -> bytes | None:
    epochs = analysis.metrics[mc.EPOCH]
    mem_x, mem_y = _finite_series(epochs, analysis.metrics.get(mc.PEAK_MEM_MB))
    thr_x, thr_y = _finite_series(epochs, analysis.metrics.get(mc.SAMPLES_PER_SEC))
    if not len(mem_x) and not len(thr_x):
        return None
    fig = _figure(10, 3.4)
    ax_mem, ax_thr = fig.subplots(1, 2)
    if len(mem_x):
        ax_mem.plot(mem_x, mem_y / 1024, color="tab:brown", label=tr("fig.peak", lang))
        device_mb = analysis.training.device_mem_mb
        if device_mb:
            ax_mem.axhline(device_mb / 1024, color="black", linestyle="--",
                           label=tr("fig.device_memory", lang, value=device_mb / 1024))
        ax_mem.set_ylim(bottom=0)
        ax_mem.legend(fontsize=8)
    ax_mem.set_xlabel(tr("fig.epoch", lang))
    ax_mem.set_ylabel(tr("fig.memory_axis", lang))
    ax_mem.set_title(tr("fig.peak_memory", lang))
    ax_mem.grid(alpha=0.3)
    if len(thr_x):
        ax_thr.plot(thr_x, thr_y, color="tab:cyan")
        ax_thr.set_ylim(bottom=0)
    ax_thr.set_xlabel(tr("fig.epoch", lang))
    ax_thr.set_ylabel(tr("fig.throughput_axis", lang))
    ax_thr.set_title(tr("fig.throughput", lang))
    ax_thr.grid(alpha=0.3)
    return _png(fig)


_IMPROVED, _WORSE = "tab:green", "tab:red"


def _per_utterance(analysis: Analysis, column_pair: tuple[str, str]) -> tuple[np.ndarray, ...]:
    """The noisy and enhanced scores of every utterance scored on both (empty without the CSV)."""
    path = EvalDir(analysis.eval_dir).results if analysis.eval_dir is not None else None
    if path is None or not path.is_file():
        return np.array([]), np.array([])
    table = read_results_csv(path)
    if not all(column in table for column in column_pair):
        return np.array([]), np.array([])
    noisy, enhanced = (np.array(table[column], dtype=np.float64) for column in column_pair)
    keep = np.isfinite(noisy) & np.isfinite(enhanced)
    return noisy[keep], enhanced[keep]


def _headline(analysis: Analysis, lang: str) -> bytes | None:
    """The headline's picture: noisy vs enhanced per utterance (above the diagonal: improved)
    and the mean improvement per group of the first condition (noise kind when known)."""
    ev = analysis.evaluation
    if ev is None:
        return None
    metric = headline_metric(ev)
    noisy, enhanced = _per_utterance(analysis, (metric.noisy_column, metric.enhanced_column))
    conditions = ev.conditions or {}
    factor = next(iter(conditions), None)
    groups = [g for g in conditions.get(factor, [])
              if g.metrics.get(metric.name) is not None
              and g.metrics[metric.name].improvement_mean is not None]
    panels = int(len(noisy) > 0) + int(bool(groups))
    if not panels:
        return None
    unit = f" ({metric.unit})" if metric.unit else ""
    label = metric.label_in(lang)
    fig = _figure(4.4 * panels, 3.0)
    axes = list(np.atleast_1d(fig.subplots(1, panels)))
    if len(noisy):
        ax = axes.pop(0)
        better = np.array([metric.improvement(a, b) > 0 for a, b in zip(noisy, enhanced)])
        low = float(min(noisy.min(), enhanced.min()))
        high = float(max(noisy.max(), enhanced.max()))
        pad = 0.05 * (high - low) or 1.0
        ax.plot([low - pad, high + pad], [low - pad, high + pad], color="grey", linestyle="--",
                linewidth=0.8, label=tr("fig.no_change", lang))
        ax.scatter(noisy[better], enhanced[better], s=16, color=_IMPROVED,
                   label=tr("fig.improved", lang, n=int(better.sum())))
        ax.scatter(noisy[~better], enhanced[~better], s=16, color=_WORSE,
                   label=tr("fig.worse", lang, n=int((~better).sum())))
        ax.set_xlim(low - pad, high + pad)
        ax.set_ylim(low - pad, high + pad)
        ax.set_xlabel(tr("fig.noisy_input", lang, metric=label, unit=unit))
        ax.set_ylabel(tr("fig.enhanced_output", lang, metric=label, unit=unit))
        ax.set_title(tr("fig.per_utterance", lang, metric=label, n=len(noisy)), fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper left")
    if groups:
        ax = axes.pop(0)
        gains = [g.metrics[metric.name].improvement_mean for g in groups]
        y = np.arange(len(groups))[::-1]
        bars = ax.barh(y, gains, color=[_IMPROVED if gain > 0 else _WORSE for gain in gains])
        ax.bar_label(bars, labels=[f"{gain:+.2f}" for gain in gains], fontsize=7, padding=2)
        ax.set_yticks(y, [f"{g.group} (n={g.n})" for g in groups], fontsize=8)
        ax.axvline(0.0, color="black", linewidth=0.8)
        span = max(max(gains), 0.0) - min(min(gains), 0.0) or 1.0
        ax.set_xlim(min(min(gains), 0.0) - 0.22 * span, max(max(gains), 0.0) + 0.22 * span)
        ax.set_xlabel(tr("fig.mean_improvement", lang, metric=label, unit=unit))
        ax.set_title(tr("fig.improvement_by", lang, metric=label, factor=factor_label(factor, lang) or factor),
                     fontsize=10)
        ax.grid(alpha=0.3, axis="x")
    return _png(fig)


_MAKERS: dict[str, Callable[[Analysis, str], bytes | None]] = {
    "sisnr": _sisnr, "lr": _lr, "grad_norm": _grad_norm, "memory_throughput": _memory_throughput,
    HEADLINE_PLOT: _headline}


def write_plots(analysis: Analysis, out_dir: Path, lang: str = "en") -> dict[str, Path]:
    """Draw every plot the logged columns allow into ``out_dir``, its text in ``lang``; returns
    name -> PNG path (``sisnr.png``, or ``sisnr.zh-TW.png`` in another language than English)."""
    written: dict[str, Path] = {}
    for name in PLOT_NAMES:
        with rc_context({"font.family": list(plot_fonts())}):
            data = _MAKERS[name](analysis, lang)
        if data is not None:
            written[name] = write_bytes_atomic(out_dir / localized_name(f"{name}.png", lang), data)
    return written
