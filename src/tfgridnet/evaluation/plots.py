"""Waveform and spectrogram comparisons of noisy / enhanced / clean audio.

Colours follow the users' convention: Noisy red, Enhanced green, Clean blue. Spectrograms use the
model's analysis (STFT 512 / hop 256, Hann) on one shared dB scale so the panels compare honestly.
Figures are built with matplotlib's object API (no pyplot state) and written atomically at 150 DPI;
their text comes from the report's catalogs in the evaluation's language (``tfgridnet.i18n``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from matplotlib import rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from scipy import signal

from tfgridnet.audio.levels import rms_dbfs
from tfgridnet.fileio import atomic_path
from tfgridnet.i18n import plot_fonts, tr

__all__ = ["COLORS", "DPI", "WAVEFORM_SIZE", "SPECTROGRAM_SIZE", "plot_waveforms",
           "plot_spectrograms", "spectrogram_db"]

COLORS = {"noisy": "#d62728", "enhanced": "#2ca02c", "clean": "#1f77b4"}  # red, green, blue
DPI = 150
WAVEFORM_SIZE = (12.0, 7.0)  # inches: 1800 x 1050 px at 150 DPI
SPECTROGRAM_SIZE = (12.0, 9.0)  # 1800 x 1350 px
N_FFT, HOP = 512, 256
DYNAMIC_RANGE_DB = 80.0


def _signals(noisy: np.ndarray, enhanced: np.ndarray,
             clean: np.ndarray | None) -> list[tuple[str, np.ndarray]]:
    items = [("noisy", noisy), ("enhanced", enhanced)]
    if clean is not None:
        items.append(("clean", clean))
    for name, audio in items:
        if np.asarray(audio).ndim != 1:
            raise ValueError(f"{name}: expected mono audio [N], got shape {np.shape(audio)}")
    return [(name, np.asarray(audio, dtype=np.float64)) for name, audio in items]


def _save(fig: Figure, out_path: str | os.PathLike) -> Path:
    FigureCanvasAgg(fig)
    with atomic_path(out_path) as tmp:
        fig.savefig(tmp, dpi=DPI, format="png")
    return Path(out_path)


def plot_waveforms(noisy: np.ndarray, enhanced: np.ndarray, clean: np.ndarray | None,
                   sample_rate: int, out_path: str | os.PathLike, title: str = "",
                   lang: str = "en") -> Path:
    """Stacked waveforms on one amplitude scale (a quiet or exploding output is visible at once)."""
    with rc_context({"font.family": list(plot_fonts())}):
        return _save(_waveforms(_signals(noisy, enhanced, clean), sample_rate, title, lang),
                     out_path)


def _waveforms(items: list[tuple[str, np.ndarray]], sample_rate: int, title: str,
               lang: str) -> Figure:
    peak = max(float(np.max(np.abs(a), initial=0.0)) for _, a in items) or 1.0
    fig = Figure(figsize=WAVEFORM_SIZE, layout="constrained")
    axes = fig.subplots(len(items), 1, sharex=True)
    for ax, (name, audio) in zip(axes, items):
        t = np.arange(audio.size) / sample_rate
        ax.plot(t, audio, color=COLORS[name], linewidth=0.6)
        ax.set_ylim(-1.05 * peak, 1.05 * peak)
        ax.set_ylabel(tr("fig.amplitude", lang))
        ax.set_title(tr("fig.rms_title", lang, signal=tr(f"signal.{name}", lang),
                        rms=rms_dbfs(audio)), color=COLORS[name], loc="left", fontsize=10)
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel(tr("fig.time", lang))
    fig.suptitle(title)
    return fig


def spectrogram_db(audio: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray,
                                                                  np.ndarray]:
    """Power spectrogram in dB (STFT 512 / hop 256, Hann): frequencies, times, [F, T]."""
    audio = np.asarray(audio, dtype=np.float64)
    nperseg = min(N_FFT, max(audio.size, 16))
    freqs, times, power = signal.spectrogram(audio, fs=sample_rate, window="hann",
                                             nperseg=nperseg, noverlap=nperseg - HOP
                                             if nperseg > HOP else nperseg // 2,
                                             mode="psd", scaling="spectrum")
    return freqs, times, 10.0 * np.log10(power + 1e-12)


def plot_spectrograms(noisy: np.ndarray, enhanced: np.ndarray, clean: np.ndarray | None,
                      sample_rate: int, out_path: str | os.PathLike, title: str = "",
                      lang: str = "en") -> Path:
    """Stacked spectrograms on one shared dB colour scale, panel titles in the signal's colour."""
    items = [(name, *spectrogram_db(a, sample_rate)) for name, a in _signals(noisy, enhanced,
                                                                             clean)]
    with rc_context({"font.family": list(plot_fonts())}):
        return _save(_spectrograms(items, title, lang), out_path)


def _spectrograms(items: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]], title: str,
                  lang: str) -> Figure:
    vmax = max(float(np.max(spec)) for *_, spec in items)
    vmin = vmax - DYNAMIC_RANGE_DB
    fig = Figure(figsize=SPECTROGRAM_SIZE, layout="constrained")
    axes = fig.subplots(len(items), 1, sharex=True)
    image = None
    for ax, (name, freqs, times, spec) in zip(axes, items):
        image = ax.pcolormesh(times, freqs / 1000.0, spec, vmin=vmin, vmax=vmax, cmap="magma",
                              shading="auto")
        ax.set_ylabel("kHz")
        ax.set_title(tr(f"signal.{name}", lang), color=COLORS[name], loc="left", fontsize=10)
        for spine in ax.spines.values():
            spine.set_edgecolor(COLORS[name])
            spine.set_linewidth(2.5)
    axes[-1].set_xlabel(tr("fig.time", lang))
    fig.suptitle(title)
    fig.colorbar(image, ax=list(axes), label="dB", shrink=0.9)
    return fig
