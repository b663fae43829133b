"""The evaluation folder's human-facing files: highlights, visualisation index, recommended samples,
plots of the highlighted utterances and the CLI's summary text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from tfgridnet.audio.io import AudioError, load_audio, save_audio
from tfgridnet.contracts.evaluation import fmt_value
from tfgridnet.contracts.folders import EvalDir
from tfgridnet.contracts.metric_registry import METRIC_REGISTRY, Metric, improvement_legend
from tfgridnet.contracts.names import (
    AUDIO_KINDS,
    CLEAN,
    ENHANCED,
    NOISY,
    PAGE_FILE,
    UTTID,
)
from tfgridnet.contracts.utterance import UtteranceRow
from tfgridnet.evaluation.schema import rank_by_improvement
from tfgridnet.fileio import write_text_atomic

__all__ = ["load_pair", "write_highlights", "write_visualization_index", "recommend_samples",
           "write_recommended", "save_triplet", "write_visualizations", "format_summary"]


def headline_metric(summary: dict[str, Any]) -> Metric:
    """The metric the verdict and highlights use (SI-SNR, or a MOS on a clean-less set)."""
    return METRIC_REGISTRY[summary.get("headline_metric") or "sisnr"]


def _unit(metric: Metric) -> str:
    return f" {metric.unit}" if metric.unit else ""


def _headline(summary: dict[str, Any]) -> list[str]:
    """The first lines of every human-facing output: verdict, identity baseline, warnings."""
    lines = []
    if summary["worse_than_input"]:
        lines.append("WARNING: the model is WORSE than doing nothing (identity baseline).")
    if summary.get("skipped_metrics"):
        lines.append("no clean references: scored by non-intrusive metrics only (not measured: "
                     f"{', '.join(summary['skipped_metrics'])})")
    metric = headline_metric(summary)
    stats = summary["metrics"].get(metric.name) or {}
    if stats.get("noisy_mean") is not None:
        unit = _unit(metric)
        lines.append(f"identity baseline (noisy input as output): {metric.label} "
                     f"{stats['noisy_mean']:.2f}{unit}")
        lines.append(f"model output:                              {metric.label} "
                     f"{stats['enhanced_mean']:.2f}{unit} "
                     f"(improvement {stats['improvement_mean']:+.2f} "
                     f"± {stats['improvement_std']:.2f}{unit}, "
                     f"{100 * stats['share_improved']:.0f}% of utterances improved)")
    lines += [f"WARNING: {w}" for w in summary["warnings"]
              if not w.startswith("The model is worse")]
    return lines


def write_highlights(path: Path, summary: dict[str, Any], rows: list[UtteranceRow],
                     k: int = 5) -> Path:
    m = headline_metric(summary)
    ranked = rank_by_improvement(rows, m.name)
    gains = [r.improvement(m.name) for r in ranked]
    lines = _headline(summary) + [
        f"utterances: {summary['n']} ({summary['n_failed']} failed)",
        f"improvement min {fmt_value(min(gains, default=None))}{_unit(m)}, "
        f"median {fmt_value(summary['metrics'][m.name]['improvement_median'])}{_unit(m)}, "
        f"max {fmt_value(max(gains, default=None))}{_unit(m)}", ""]
    header = (f"{UTTID:<24} {'improvement':>12} {'noisy ' + m.label:>16} "
              f"{'enhanced ' + m.label:>19}")
    for title, group in ((f"Top {k} (largest {m.label} improvement)", ranked[:k]),
                         (f"Bottom {k} (smallest {m.label} improvement)",
                          list(reversed(ranked))[:k])):
        lines += [title, header]
        lines += [f"{r.uttid:<24} {r.score(m.name).improvement:>+12.2f} "
                  f"{r.score(m.name).noisy:>16.2f} {r.score(m.name).enhanced:>19.2f}"
                  for r in group]
        lines.append("")
    return write_text_atomic(path, "\n".join(lines))


def _audio_link(out_dir: Path, kind: str, uttid: str) -> str:
    path = EvalDir(out_dir).audio(kind, uttid)
    link = path.relative_to(out_dir).as_posix()
    return f"[{kind}]({link})" if path.is_file() else f"{kind}: not saved"


def plot_path(out_dir: Path, uttid: str, kind: str, lang: str = "en") -> Path:
    """Where an utterance's ``waveform`` or ``spectrogram`` plot in ``lang`` is written."""
    return EvalDir(out_dir).plot(uttid, kind, lang)


def write_visualization_index(out_dir: Path, chosen: list[tuple[str, UtteranceRow]],
                              metric: str = "sisnr", lang: str = "en") -> Path:
    m = METRIC_REGISTRY[metric]
    unit = f" ({m.unit})" if m.unit else ""
    lines = ["# Visualisations", "",
             "Waveform and spectrogram comparisons (Noisy red, Enhanced green, Clean blue; "
             f"STFT 512/256; 150 DPI) of the utterances with the largest and smallest {m.label} "
             "improvement.", "",
             f"| group | uttid | {m.label} improvement{unit} | noisy{unit} | enhanced{unit} | "
             "waveform | spectrogram |", "|---|---|---:|---:|---:|---|---|"]
    for group, r in chosen:
        u, scores = r.uttid, r.score(m.name)
        lines.append(f"| {group} | {u} | {scores.improvement:+.2f} | {scores.noisy:.2f} | "
                     f"{scores.enhanced:.2f} | "
                     f"[png]({plot_path(out_dir, u, 'waveform', lang).name}) | "
                     f"[png]({plot_path(out_dir, u, 'spectrogram', lang).name}) |")
    return write_text_atomic(EvalDir(out_dir).visualization_index,
                             "\n".join(lines) + "\n")


def recommend_samples(rows: list[UtteranceRow],
                      metric: str = "sisnr") -> list[tuple[str, UtteranceRow, str]]:
    """Which utterances to listen to, and why: one line per reason, each utterance once."""
    m = METRIC_REGISTRY[metric]
    ranked = rank_by_improvement(rows, metric)
    if not ranked:
        return []
    picks: list[tuple[str, UtteranceRow, str]] = []

    def add(title: str, row: UtteranceRow, why: str) -> None:
        if row.uttid not in {p[1].uttid for p in picks}:
            picks.append((title, row, why))

    add("best", ranked[0], f"largest {m.label} improvement: what the model does at its best")
    add("typical", ranked[len(ranked) // 2], "median improvement: what most listeners will hear")
    add("worst", ranked[-1], "smallest improvement: look for distortion or suppressed speech")
    by_output = min(ranked, key=lambda r: r.score(m.name).enhanced)
    add("lowest output", by_output,
        f"lowest enhanced {m.label}: is the output even audible/speech?")
    hardest = min(ranked, key=lambda r: r.score(m.name).noisy)
    add("hardest input", hardest, "noisiest input: how the model copes with heavy noise")
    degraded = [r for r in ranked if r.improvement(m.name) < 0]
    for r in degraded[-3:]:
        add("degraded", r, "the output is worse than the input: listen for what went wrong")
    loud = [r for r in ranked if (r.enhanced_peak or 0) > 1.0]
    for r in loud[:2]:
        add("clipping", r, f"enhanced peak {r.enhanced_peak:.2f} exceeds full scale; the "
                           "saved 16-bit WAV is clipped")
    return picks


def write_recommended(out_dir: Path, summary: dict[str, Any], rows: list[UtteranceRow]) -> Path:
    lines = ["# Recommended samples to listen to", ""]
    lines += [f"> {line}" for line in _headline(summary)] + [""]
    m = headline_metric(summary)
    kinds = AUDIO_KINDS if summary.get("reference", True) else (NOISY, ENHANCED)
    unit = f" ({m.unit})" if m.unit else ""
    lines += [f"Play {' and '.join(kinds)} of each in turn (or open `../{PAGE_FILE}`).", "",
              f"| why | uttid | {m.label} improvement{unit} | {' | '.join(kinds)} | reason |",
              "|---|---|---:|" + "---|" * len(kinds) + "---|"]
    for title, r, why in recommend_samples(rows, m.name):
        links = [_audio_link(out_dir, kind, r.uttid).replace("](", "](../") for kind in kinds]
        lines.append(f"| {title} | {r.uttid} | {r.improvement(m.name):+.2f} | "
                     f"{' | '.join(links)} | {why} |")
    return write_text_atomic(EvalDir(out_dir).recommended_samples,
                             "\n".join(lines) + "\n")


def load_pair(pair: Any, sample_rate: int) -> tuple[np.ndarray, np.ndarray | None, str]:
    """Both sides of a pair at ``sample_rate``, mono, cropped to the shorter (said in the note);
    clean is None for a clean-less manifest.

    An input with NaN/inf or a silent reference is refused here (AudioError naming the file), so
    neither is blamed on the model nor scored.
    """
    from tfgridnet.audio.levels import rms_dbfs
    from tfgridnet.data.checks import THRESHOLDS

    noisy, _ = load_audio(pair.noisy, target_sr=sample_rate, mono="average")
    if not np.all(np.isfinite(noisy)):
        raise AudioError(f"{pair.noisy}: input audio holds NaN or inf samples")
    if pair.clean is None:
        return noisy, None, ""
    clean, _ = load_audio(pair.clean, target_sr=sample_rate, mono="average")
    if not np.all(np.isfinite(clean)):
        raise AudioError(f"{pair.clean}: input audio holds NaN or inf samples")
    level = rms_dbfs(clean)
    if level < THRESHOLDS["silence_dbfs"]:
        raise AudioError(f"{pair.clean}: clean reference is silent (RMS {level:.1f} dBFS < "
                         f"{THRESHOLDS['silence_dbfs']:.0f} dBFS); no score against it means "
                         "anything")
    note = ""
    if noisy.size != clean.size:
        note = (f"length mismatch: noisy {noisy.size} vs clean {clean.size} samples; "
                "both cropped to the shorter")
        n = min(noisy.size, clean.size)
        noisy, clean = noisy[:n], clean[:n]
    return noisy, clean, note


def save_triplet(out_dir: Path, uttid: str, noisy: np.ndarray, enhanced: np.ndarray,
                  clean: np.ndarray | None, sample_rate: int) -> None:
    for kind, audio in zip(AUDIO_KINDS, (noisy, enhanced, clean)):
        if audio is not None:
            save_audio(EvalDir(out_dir).audio(kind, uttid), audio, sample_rate, subtype="PCM_16")


def write_visualizations(out_dir: Path, chosen: list[tuple[str, UtteranceRow]],
                         signals: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray | None]],
                         sample_rate: int, audio_saved: bool, metric: str = "sisnr",
                         lang: str = "en") -> list[dict[str, Any]]:
    """Plots of the highlighted utterances, their text in ``lang``. ``signals``: the (noisy,
    enhanced, clean) the evaluation kept of each (only these few are held in memory); with the
    audio saved, the saved WAVs are read back instead (what a listener hears)."""
    from tfgridnet.evaluation.plots import plot_spectrograms, plot_waveforms
    from tfgridnet.i18n import tr

    m = METRIC_REGISTRY[metric]
    items = []
    for group, row in chosen:
        uttid, scores = row.uttid, row.score(m.name)
        noisy, enhanced, clean = signals[uttid]
        kinds = (NOISY, ENHANCED) + ((CLEAN,) if clean is not None else ())
        saved = [EvalDir(out_dir).audio(kind, uttid) for kind in kinds]
        if audio_saved and all(path.is_file() for path in saved):
            noisy, enhanced, *rest = (load_audio(path, mono="first")[0] for path in saved)
            clean = rest[0] if rest else None
        title = tr("fig.utterance", lang, uttid=uttid, metric=m.label_in(lang),
                   noisy=scores.noisy, enhanced=scores.enhanced, unit=_unit(m),
                   change=scores.improvement)
        waveform = plot_waveforms(noisy, enhanced, clean, sample_rate,
                                  plot_path(out_dir, uttid, "waveform", lang), title, lang)
        spectrogram = plot_spectrograms(noisy, enhanced, clean, sample_rate,
                                        plot_path(out_dir, uttid, "spectrogram", lang),
                                        title, lang)
        items.append({"group": group, "row": row, "noisy": noisy, "enhanced": enhanced,
                      "clean": clean, "waveform": waveform, "spectrogram": spectrogram})
    return items


def format_summary(summary: dict[str, Any]) -> str:
    """The CLI's report: verdict and identity baseline first, then the per-metric table."""
    lines = _headline(summary) + ["", f"{'metric':<12} {'noisy':>9} {'enhanced':>9} "
                                      f"{'improvement':>11} {'improved':>9}  (means; n)"]
    for metric, stats in summary["metrics"].items():
        if stats["n"] == 0:
            lines.append(f"{metric:<12} {'n/a':>9}")
            continue
        lines.append(f"{metric:<12} {stats['noisy_mean']:>9.3f} {stats['enhanced_mean']:>9.3f} "
                     f"{stats['improvement_mean']:>+11.3f} {100 * stats['share_improved']:>8.0f}%"
                     f"  n={stats['n']}")
    lines.append(f"({improvement_legend(summary['metrics'])})")
    from tfgridnet.evaluation.baseline import baseline_lines

    lines += ["", *baseline_lines(summary)] if summary.get("baseline_model") else []
    lines.append(f"\n{summary['n']} utterances, {summary['n_failed']} failed; "
                 f"{summary['elapsed_s']:.1f} s ({summary['device']})")
    return "\n".join(lines)
