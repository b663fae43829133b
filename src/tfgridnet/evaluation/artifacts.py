"""The evaluation folder's human-facing files: highlights, visualisation index, recommended samples,
plots of the highlighted utterances and the CLI's summary text.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tfgridnet.audio.io import AudioError, load_audio, save_audio
from tfgridnet.evaluation.schema import fmt_value, rank_by_improvement
from tfgridnet.fileio import write_text_atomic

if TYPE_CHECKING:
    from tfgridnet.inference.enhancer import Enhancer

__all__ = ["load_pair", "write_highlights", "write_visualization_index", "recommend_samples",
           "write_recommended", "save_triplet", "write_visualizations", "format_summary"]


def _headline(summary: dict[str, Any]) -> list[str]:
    """The first lines of every human-facing output: verdict, identity baseline, warnings."""
    lines = []
    if summary["worse_than_input"]:
        lines.append("WARNING: the model is WORSE than doing nothing (identity baseline).")
    noisy, enhanced = summary["noisy_sisnr_mean"], summary["enhanced_sisnr_mean"]
    if noisy is not None:
        lines.append(f"identity baseline (noisy input as output): SI-SNR {noisy:.2f} dB")
        lines.append(f"model output:                              SI-SNR {enhanced:.2f} dB "
                     f"(improvement {summary['sisnr_improvement_mean']:+.2f} "
                     f"± {summary['sisnr_improvement_std']:.2f} dB, "
                     f"{100 * summary['share_improved']:.0f}% of utterances improved)")
    lines += [f"WARNING: {w}" for w in summary["warnings"]
              if not w.startswith("The model is worse")]
    return lines


def write_highlights(path: Path, summary: dict[str, Any], rows: list[dict[str, Any]],
                     k: int = 5) -> Path:
    ranked = rank_by_improvement(rows)
    lines = _headline(summary) + [
        f"utterances: {summary['n']} ({summary['n_failed']} failed)",
        f"improvement min {fmt_value(summary['sisnr_improvement_min'])} dB, "
        f"median {fmt_value(summary['sisnr_improvement_median'])} dB, "
        f"max {fmt_value(summary['sisnr_improvement_max'])} dB", ""]
    header = f"{'uttid':<24} {'improvement':>12} {'noisy SI-SNR':>13} {'enhanced SI-SNR':>16}"
    for title, group in ((f"Top {k} (largest SI-SNR improvement)", ranked[:k]),
                         (f"Bottom {k} (smallest SI-SNR improvement)", list(reversed(ranked))[:k])):
        lines += [title, header]
        lines += [f"{r['uttid']:<24} {r['sisnr_improvement']:>+12.2f} {r['noisy_sisnr']:>13.2f} "
                  f"{r['enhanced_sisnr']:>16.2f}" for r in group]
        lines.append("")
    return write_text_atomic(path, "\n".join(lines))


def _audio_link(out_dir: Path, kind: str, uttid: str) -> str:
    path = out_dir / kind / f"{uttid}.wav"
    return f"[{kind}]({kind}/{uttid}.wav)" if path.is_file() else f"{kind}: not saved"


def write_visualization_index(out_dir: Path, chosen: list[tuple[str, dict[str, Any]]]) -> Path:
    lines = ["# Visualisations", "",
             "Waveform and spectrogram comparisons (Noisy red, Enhanced green, Clean blue; "
             "STFT 512/256; 150 DPI) of the utterances with the largest and smallest SI-SNR "
             "improvement.", "",
             "| group | uttid | SI-SNR improvement (dB) | noisy (dB) | enhanced (dB) | waveform "
             "| spectrogram |", "|---|---|---:|---:|---:|---|---|"]
    for group, r in chosen:
        u = r["uttid"]
        lines.append(f"| {group} | {u} | {r['sisnr_improvement']:+.2f} | {r['noisy_sisnr']:.2f} | "
                     f"{r['enhanced_sisnr']:.2f} | [png]({u}_waveform.png) | "
                     f"[png]({u}_spectrogram.png) |")
    return write_text_atomic(out_dir / "visualizations" / "VISUALIZATION_INDEX.md",
                             "\n".join(lines) + "\n")


def recommend_samples(rows: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any], str]]:
    """Which utterances to listen to, and why: one line per reason, each utterance once."""
    ranked = rank_by_improvement(rows)
    if not ranked:
        return []
    picks: list[tuple[str, dict[str, Any], str]] = []

    def add(title: str, row: dict[str, Any], why: str) -> None:
        if row["uttid"] not in {p[1]["uttid"] for p in picks}:
            picks.append((title, row, why))

    add("best", ranked[0], "largest SI-SNR improvement: what the model does at its best")
    add("typical", ranked[len(ranked) // 2], "median improvement: what most listeners will hear")
    add("worst", ranked[-1], "smallest improvement: look for distortion or suppressed speech")
    by_output = min(ranked, key=lambda r: r["enhanced_sisnr"])
    add("lowest output", by_output, "lowest enhanced SI-SNR: is the output even audible/speech?")
    hardest = min(ranked, key=lambda r: r["noisy_sisnr"])
    add("hardest input", hardest, "noisiest input: how the model copes with heavy noise")
    degraded = [r for r in ranked if r["sisnr_improvement"] < 0]
    for r in degraded[-3:]:
        add("degraded", r, "the output is worse than the input: listen for what went wrong")
    loud = [r for r in ranked if (r.get("enhanced_peak") or 0) > 1.0]
    for r in loud[:2]:
        add("clipping", r, f"enhanced peak {r['enhanced_peak']:.2f} exceeds full scale; the "
                           "saved 16-bit WAV is clipped")
    return picks


def write_recommended(out_dir: Path, summary: dict[str, Any], rows: list[dict[str, Any]]) -> Path:
    lines = ["# Recommended samples to listen to", ""]
    lines += [f"> {line}" for line in _headline(summary)] + [""]
    lines += ["Play noisy, enhanced and clean of each in turn (or open `../index.html`).", "",
              "| why | uttid | SI-SNR improvement (dB) | noisy | enhanced | clean | reason |",
              "|---|---|---:|---|---|---|---|"]
    for title, r, why in recommend_samples(rows):
        links = [_audio_link(out_dir, kind, r["uttid"]).replace("](", "](../")
                 for kind in ("noisy", "enhanced", "clean")]
        lines.append(f"| {title} | {r['uttid']} | {r['sisnr_improvement']:+.2f} | "
                     f"{' | '.join(links)} | {why} |")
    return write_text_atomic(out_dir / "visualizations" / "RECOMMENDED_SAMPLES.md",
                             "\n".join(lines) + "\n")


def load_pair(pair: Any, sample_rate: int) -> tuple[np.ndarray, np.ndarray, str]:
    """Both sides of a pair at ``sample_rate``, mono, cropped to the shorter (said in the note).

    An input with NaN/inf or a silent reference is refused here (AudioError naming the file), so
    neither is blamed on the model nor scored.
    """
    from tfgridnet.audio.levels import rms_dbfs
    from tfgridnet.data.checks import THRESHOLDS

    noisy, _ = load_audio(pair.noisy, target_sr=sample_rate, mono="average")
    clean, _ = load_audio(pair.clean, target_sr=sample_rate, mono="average")
    for path, audio in ((pair.noisy, noisy), (pair.clean, clean)):
        if not np.all(np.isfinite(audio)):
            raise AudioError(f"{path}: input audio holds NaN or inf samples")
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
                  clean: np.ndarray, sample_rate: int) -> None:
    for kind, audio in (("noisy", noisy), ("enhanced", enhanced), ("clean", clean)):
        save_audio(out_dir / kind / f"{uttid}.wav", audio, sample_rate, subtype="PCM_16")


def write_visualizations(out_dir: Path, chosen: list[tuple[str, dict[str, Any]]],
                          pairs: dict[str, Any], enhancer: Enhancer,
                          audio_saved: bool) -> list[dict[str, Any]]:
    """Plots of the highlighted utterances. Only these few are held in memory: their audio is
    read back from the saved WAVs (what a listener hears), or enhanced again when not saved."""
    from tfgridnet.evaluation.plots import plot_spectrograms, plot_waveforms

    items = []
    vis = out_dir / "visualizations"
    for group, row in chosen:
        saved = [out_dir / kind / f"{row['uttid']}.wav" for kind in ("noisy", "enhanced", "clean")]
        if audio_saved and all(path.is_file() for path in saved):
            noisy, enhanced, clean = (load_audio(path, mono="first")[0] for path in saved)
        else:
            noisy, clean, _ = load_pair(pairs[row["uttid"]], enhancer.sample_rate)
            enhanced = enhancer.enhance_mono(noisy)
        title = (f"{row['uttid']}: SI-SNR {row['noisy_sisnr']:.2f} -> {row['enhanced_sisnr']:.2f} "
                 f"dB ({row['sisnr_improvement']:+.2f} dB)")
        waveform = plot_waveforms(noisy, enhanced, clean, enhancer.sample_rate,
                                  vis / f"{row['uttid']}_waveform.png", title)
        spectrogram = plot_spectrograms(noisy, enhanced, clean, enhancer.sample_rate,
                                        vis / f"{row['uttid']}_spectrogram.png", title)
        items.append({"group": group, "row": row, "noisy": noisy, "enhanced": enhanced,
                      "clean": clean, "waveform": waveform, "spectrogram": spectrogram})
    return items


def format_summary(summary: dict[str, Any]) -> str:
    """The CLI's report: verdict and identity baseline first, then the per-metric table."""
    lines = _headline(summary) + ["", f"{'metric':<12} {'noisy':>9} {'enhanced':>9} "
                                      f"{'gain':>8} {'improved':>9}  (means; n)"]
    for metric, stats in summary["metrics"].items():
        if stats["n"] == 0:
            lines.append(f"{metric:<12} {'n/a':>9}")
            continue
        lines.append(f"{metric:<12} {stats['noisy_mean']:>9.3f} {stats['enhanced_mean']:>9.3f} "
                     f"{stats['improvement_mean']:>+8.3f} {100 * stats['share_improved']:>8.0f}%"
                     f"  n={stats['n']}")
    lines.append(f"\n{summary['n']} utterances, {summary['n_failed']} failed; "
                 f"{summary['elapsed_s']:.1f} s ({summary['device']})")
    return "\n".join(lines)
