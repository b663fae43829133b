"""Score a model on a manifest against the identity baseline; write the evaluation dir.

Every utterance is scored twice with the same code: the noisy input as if it were the output (the
identity baseline, "doing nothing") and the enhanced output. A model worse than doing nothing is
said first, in the CLI output, ``highlights.txt``, ``summary.json`` and the page. A noisy-input
SI-SNR far outside [-10, 30] dB means the pairs are broken (the users' -36 dB), not the model.

Contract: DESIGN.md §4 (evaluation dir).
"""

from __future__ import annotations

import csv
import io
import math
import multiprocessing
import os
import statistics
import sys
import time
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tfgridnet.audio import AudioError, load_audio, save_audio
from tfgridnet.data.manifest import read_manifest
from tfgridnet.enhance import Enhancer
from tfgridnet.fileio import write_json_atomic, write_text_atomic
from tfgridnet.metrics import (
    MetricError,
    dnsmos,
    estoi,
    pesq_wb,
    si_sdr,
    si_snr_numpy,
    snr,
    stoi,
)

__all__ = ["evaluate", "evaluate_cli", "score_pair", "summarize", "METRICS",
           "NOISY_SISNR_PLAUSIBLE_DB"]

# (name, higher is better). Each gets noisy_<m>, <enhanced column>, <m>_improvement in the CSV.
METRICS = ("sisnr", "sisdr", "snr", "pesq_wb", "stoi", "estoi")
DNSMOS_METRICS = ("dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl", "dnsmos_p808")
# SI-SNR-like metrics keep the "enhanced_" prefix (DESIGN.md), perceptual ones are named bare.
_PREFIXED = ("sisnr", "sisdr", "snr")
NOISY_SISNR_PLAUSIBLE_DB = (-10.0, 30.0)
IDENTITY_BASELINE = "identity (the noisy input scored as the output)"


def enhanced_column(metric: str) -> str:
    return f"enhanced_{metric}" if metric in _PREFIXED else metric


def _metric_names(with_dnsmos: bool) -> tuple[str, ...]:
    return METRICS + (DNSMOS_METRICS if with_dnsmos else ())


def csv_columns(with_dnsmos: bool) -> list[str]:
    columns = ["uttid"]
    for metric in _metric_names(with_dnsmos):
        columns += [f"noisy_{metric}", enhanced_column(metric), f"{metric}_improvement"]
    return columns + ["duration_s", "enhanced_peak", "status", "error", "notes"]


# --- per-utterance scoring (runs in worker processes) -----------------------------------------

def _score_one(metric: str, est: np.ndarray, ref: np.ndarray, sample_rate: int) -> float:
    if metric == "sisnr":
        return float(si_snr_numpy(est, ref))
    if metric == "sisdr":
        return float(si_sdr(est.astype(np.float64), ref.astype(np.float64)))
    if metric == "snr":
        return float(snr(est.astype(np.float64), ref.astype(np.float64)))
    if metric == "pesq_wb":
        return pesq_wb(est, ref, sample_rate)
    if metric == "stoi":
        return stoi(est, ref, sample_rate)
    if metric == "estoi":
        return estoi(est, ref, sample_rate)
    raise KeyError(metric)


def score_pair(noisy: np.ndarray, enhanced: np.ndarray, clean: np.ndarray, sample_rate: int,
               with_dnsmos: bool = False) -> dict[str, Any]:
    """All metrics of one utterance, noisy and enhanced, by the same code; undefined ones are
    left out with their reason in ``metric_errors``."""
    row: dict[str, Any] = {}
    errors: list[str] = []
    # An unchanged signal gets the very same scores (SIMD summation order can differ with memory
    # alignment by ~1e-15, which would make "doing nothing" look like a change).
    unchanged = noisy.shape == enhanced.shape and np.array_equal(noisy, enhanced)
    for metric in METRICS:
        for prefix, signal_ in (("noisy_", noisy), ("", enhanced)):
            column = f"noisy_{metric}" if prefix else enhanced_column(metric)
            if unchanged and not prefix:
                row[column] = row[f"noisy_{metric}"]
                continue
            try:
                value = _score_one(metric, signal_, clean, sample_rate)
                row[column] = value if math.isfinite(value) else None
            except (MetricError, ValueError, RuntimeError) as exc:
                row[column] = None
                errors.append(f"{column}: {exc}")
    if with_dnsmos:
        for prefix, signal_ in (("noisy_", noisy), ("", enhanced)):
            try:
                scores = dnsmos(signal_, sample_rate)
            except (MetricError, ValueError, RuntimeError) as exc:
                scores = dict.fromkeys(DNSMOS_METRICS)
                errors.append(f"{prefix}dnsmos: {exc}")
            row.update({f"{prefix}{k}": v for k, v in scores.items()})
    for metric in _metric_names(with_dnsmos):
        noisy_value, enhanced_value = row.get(f"noisy_{metric}"), row.get(enhanced_column(metric))
        row[f"{metric}_improvement"] = (enhanced_value - noisy_value
                                        if noisy_value is not None and enhanced_value is not None
                                        else None)
    row["metric_errors"] = errors
    return row


# --- summary -------------------------------------------------------------------------------

def _stats(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"mean": None, "std": None, "median": None, "min": None, "max": None}
    # Sample standard deviation (n - 1), the same figure the report computes from the CSV.
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return {"mean": statistics.fmean(values), "std": std,
            "median": statistics.median(values), "min": min(values), "max": max(values)}


def summarize(rows: list[dict[str, Any]], with_dnsmos: bool = False) -> dict[str, Any]:
    """Means, spread, medians and share improved per metric, identity baseline and warnings."""
    scored = [r for r in rows if r.get("status") == "ok"]
    summary: dict[str, Any] = {"n": len(rows), "n_scored": len(scored),
                               "n_failed": sum(r.get("status") == "failed" for r in rows)}
    per_metric: dict[str, Any] = {}
    for metric in _metric_names(with_dnsmos):
        complete = [r for r in scored if r.get(f"{metric}_improvement") is not None]
        noisy = [r[f"noisy_{metric}"] for r in complete]
        enhanced = [r[enhanced_column(metric)] for r in complete]
        gains = [r[f"{metric}_improvement"] for r in complete]
        noisy_stats, enhanced_stats, gain_stats = _stats(noisy), _stats(enhanced), _stats(gains)
        per_metric[metric] = {
            "n": len(complete), "n_missing": len(scored) - len(complete),
            "noisy_mean": noisy_stats["mean"], "enhanced_mean": enhanced_stats["mean"],
            "noisy_median": noisy_stats["median"], "enhanced_median": enhanced_stats["median"],
            "improvement_mean": gain_stats["mean"], "improvement_std": gain_stats["std"],
            "improvement_median": gain_stats["median"],
            "share_improved": (sum(g > 0 for g in gains) / len(gains)) if gains else None,
        }
    sisnr = per_metric["sisnr"]
    gains = [r["sisnr_improvement"] for r in scored if r.get("sisnr_improvement") is not None]
    gain_stats = _stats(gains)
    summary.update({
        "noisy_sisnr_mean": sisnr["noisy_mean"], "enhanced_sisnr_mean": sisnr["enhanced_mean"],
        "sisnr_improvement_mean": gain_stats["mean"], "sisnr_improvement_std": gain_stats["std"],
        "sisnr_improvement_min": gain_stats["min"], "sisnr_improvement_max": gain_stats["max"],
        "sisnr_improvement_median": gain_stats["median"],
        "share_improved": sisnr["share_improved"],
    })
    for metric in _metric_names(with_dnsmos):
        summary[f"noisy_{metric}_mean"] = per_metric[metric]["noisy_mean"]
        summary[f"{enhanced_column(metric)}_mean"] = per_metric[metric]["enhanced_mean"]
    ranked = _ranked(rows)
    if ranked:
        summary["best"] = {"uttid": ranked[0]["uttid"],
                           "sisnr_improvement": ranked[0]["sisnr_improvement"]}
        summary["worst"] = {"uttid": ranked[-1]["uttid"],
                            "sisnr_improvement": ranked[-1]["sisnr_improvement"]}
    summary["baseline"] = {"name": IDENTITY_BASELINE,
                           **{f"{m}_mean": per_metric[m]["noisy_mean"]
                              for m in _metric_names(with_dnsmos)}}
    summary["worse_than_input"] = bool(gains) and (gain_stats["mean"] or 0.0) < 0.0
    summary["metrics"] = per_metric
    summary["warnings"] = _warnings(summary)
    summary["failed"] = [{"uttid": r["uttid"], "error": r.get("error", "")}
                         for r in rows if r.get("status") == "failed"]
    return summary


def _warnings(summary: dict[str, Any]) -> list[str]:
    warnings: list[str] = []
    low, high = NOISY_SISNR_PLAUSIBLE_DB
    noisy_mean = summary["noisy_sisnr_mean"]
    if noisy_mean is not None and not low <= noisy_mean <= high:
        warnings.append(
            f"The noisy inputs score {noisy_mean:.1f} dB SI-SNR against their clean references, "
            f"outside the plausible [{low:.0f}, {high:.0f}] dB: the pairs are probably broken "
            "(misaligned, shifted, swapped, different utterances or wrong scale), so these "
            "numbers say nothing about the model. Run `tfgridnet check-data MANIFEST`.")
    if summary["worse_than_input"]:
        warnings.append(
            f"The model is worse than doing nothing: mean SI-SNR improvement "
            f"{summary['sisnr_improvement_mean']:+.2f} dB against the identity baseline.")
    if summary["n_failed"]:
        warnings.append(f"{summary['n_failed']} of {summary['n']} utterances could not be "
                        "evaluated (see `failed` and the error column of evaluation_results.csv).")
    for metric, stats in summary["metrics"].items():
        if stats["n_missing"]:
            warnings.append(f"{metric}: undefined for {stats['n_missing']} utterances "
                            "(reasons in the notes column).")
    return warnings


def _ranked(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    ok = [r for r in rows if r.get("status") == "ok" and r.get("sisnr_improvement") is not None]
    return sorted(ok, key=lambda r: (-r["sisnr_improvement"], r["uttid"]))


def select_highlights(rows: list[dict[str, Any]], k: int) -> list[tuple[str, dict[str, Any]]]:
    """The best k and worst k utterances by SI-SNR improvement, each once."""
    ranked = _ranked(rows)
    if k <= 0 or not ranked:
        return []
    chosen: list[tuple[str, dict[str, Any]]] = [("best", r) for r in ranked[:k]]
    taken = {r["uttid"] for _, r in chosen}
    chosen += [("worst", r) for r in reversed(ranked[-k:]) if r["uttid"] not in taken]
    return chosen


# --- writing the evaluation dir ---------------------------------------------------------------

def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}" if math.isfinite(value) else ""
    return str(value)


def write_results_csv(path: Path, rows: list[dict[str, Any]], with_dnsmos: bool) -> Path:
    columns = csv_columns(with_dnsmos)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_fmt(row.get(c)) for c in columns])
    return write_text_atomic(path, buffer.getvalue())


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
    ranked = _ranked(rows)
    lines = _headline(summary) + [
        f"utterances: {summary['n']} ({summary['n_failed']} failed)",
        f"improvement min {_fmt(summary['sisnr_improvement_min'])} dB, "
        f"median {_fmt(summary['sisnr_improvement_median'])} dB, "
        f"max {_fmt(summary['sisnr_improvement_max'])} dB", ""]
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
    ranked = _ranked(rows)
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


# --- the run ---------------------------------------------------------------------------------

def _load_pair(pair: Any, sample_rate: int) -> tuple[np.ndarray, np.ndarray, str]:
    noisy, _ = load_audio(pair.noisy, target_sr=sample_rate, mono="average")
    clean, _ = load_audio(pair.clean, target_sr=sample_rate, mono="average")
    note = ""
    if noisy.size != clean.size:
        note = (f"length mismatch: noisy {noisy.size} vs clean {clean.size} samples; "
                "both cropped to the shorter")
        n = min(noisy.size, clean.size)
        noisy, clean = noisy[:n], clean[:n]
    return noisy, clean, note


def _default_workers(n_items: int) -> int:
    # Process start-up (spawn, importing torch) costs seconds: only worth it on larger sets.
    return 1 if n_items < 16 else max(1, min(os.cpu_count() or 1, 8))


def evaluate(model_or_path: Any, manifest: str | os.PathLike, out_dir: str | os.PathLike,
             save_audio: bool = True, n_plots: int = 5, dnsmos: bool = False,
             device: str | None = None, workers: int | None = None,
             chunk_seconds: float = 30.0, batch_size: int | None = None,
             progress: bool = True) -> dict[str, Any]:
    """Enhance and score every pair of ``manifest``; write the evaluation dir; return the summary.

    Utterances up to ``chunk_seconds`` go through the model in one pass (longer ones by overlap-add).
    On a GPU, utterances of identical length are batched (``batch_size``, default 8); padding
    would change the model's normalisation statistics, so unequal lengths are never mixed.
    """
    from rich.progress import Progress

    started = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if isinstance(model_or_path, Enhancer):
        enhancer = model_or_path
        model_name = type(enhancer.model).__name__
    elif isinstance(model_or_path, torch.nn.Module):
        # Scores are computed in fp32 everywhere, whatever CPU runs them (no "auto" bf16).
        enhancer = Enhancer(model_or_path, device=device, chunk_seconds=chunk_seconds,
                            precision="fp32")
        model_name = type(model_or_path).__name__
    else:
        enhancer = Enhancer.from_pretrained(model_or_path, device=device,
                                            chunk_seconds=chunk_seconds, precision="fp32")
        model_name = str(model_or_path)
    sample_rate = enhancer.sample_rate
    pairs = read_manifest(manifest, require=("noisy", "clean"))
    if not pairs:
        raise ValueError(f"{manifest}: manifest holds no pairs")
    batch_size = batch_size or (8 if enhancer.device.type == "cuda" else 1)
    workers = workers or _default_workers(len(pairs))
    rows: dict[str, dict[str, Any]] = {}
    audio_seconds = 0.0
    pool = (ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
            if workers > 1 else None)
    in_flight: deque[tuple[dict[str, Any], Future]] = deque()

    def collect(row: dict[str, Any], scores: dict[str, Any]) -> None:
        errors = scores.pop("metric_errors")
        row.update(scores)
        row["notes"] = "; ".join(filter(None, [row.get("notes", "")] + errors))
        bar.advance(task)

    def drain(limit: int) -> None:
        while len(in_flight) > limit:
            row, future = in_flight.popleft()
            try:
                scores = future.result()
            except Exception as exc:  # a crashed worker must not lose the other utterances
                scores = {"metric_errors": [f"scoring failed: {type(exc).__name__}: {exc}"]}
            collect(row, scores)

    def submit(row: dict[str, Any], noisy: np.ndarray, enhanced: np.ndarray,
               clean: np.ndarray) -> None:
        if pool is None:
            collect(row, score_pair(noisy, enhanced, clean, sample_rate, dnsmos))
        else:
            in_flight.append((row, pool.submit(score_pair, noisy, enhanced, clean, sample_rate,
                                               dnsmos)))
            drain(4 * workers)  # bounded memory: at most this many utterances wait in flight

    def finish_batch(batch: list[tuple[dict[str, Any], np.ndarray, np.ndarray]]) -> None:
        if not batch:
            return
        try:
            if len(batch) == 1 or batch[0][1].size > enhancer.chunk:
                outputs = [enhancer.enhance_mono(noisy) for _, noisy, _ in batch]
            else:
                outputs = list(enhancer.forward_batch(np.stack([noisy for _, noisy, _ in batch])))
        except (RuntimeError, ValueError) as exc:
            for row, _, _ in batch:
                row.update(status="failed", error=f"enhancement failed: {exc}")
                bar.advance(task)
            return
        for (row, noisy, clean), enhanced in zip(batch, outputs):
            if not np.all(np.isfinite(enhanced)):
                row.update(status="failed", error="enhancement produced NaN/inf samples")
                bar.advance(task)
                continue
            row["enhanced_peak"] = float(np.max(np.abs(enhanced)))
            if save_audio:
                _save_triplet(out_dir, row["uttid"], noisy, enhanced, clean, sample_rate)
            submit(row, noisy, enhanced, clean)

    try:
        with Progress(transient=True, disable=not progress) as bar:
            task = bar.add_task("evaluating", total=len(pairs))
            pending: dict[int, list[tuple[dict[str, Any], np.ndarray, np.ndarray]]] = {}
            for pair in pairs:
                row: dict[str, Any] = {"uttid": pair.uttid, "status": "ok", "error": "",
                                       "notes": ""}
                rows[pair.uttid] = row
                try:
                    noisy, clean, note = _load_pair(pair, sample_rate)
                except (AudioError, ValueError, OSError) as exc:
                    row.update(status="failed", error=str(exc))
                    bar.advance(task)
                    continue
                row["notes"] = note
                row["duration_s"] = noisy.size / sample_rate
                audio_seconds += noisy.size / sample_rate
                bucket = pending.setdefault(noisy.size, [])
                bucket.append((row, noisy, clean))
                if len(bucket) >= batch_size:
                    finish_batch(pending.pop(noisy.size))
            for length in list(pending):
                finish_batch(pending.pop(length))
            drain(0)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)

    ordered = [rows[p.uttid] for p in pairs]
    summary = summarize(ordered, with_dnsmos=dnsmos)
    elapsed = time.perf_counter() - started
    summary.update({
        "model": model_name, "manifest": str(manifest), "sample_rate": sample_rate,
        "device": str(enhancer.device), "workers": workers, "elapsed_s": elapsed,
        "audio_seconds": audio_seconds,
        "real_time_factor": elapsed / audio_seconds if audio_seconds else None,
    })
    chosen = select_highlights(ordered, n_plots)
    summary["highlights"] = {"best": [r["uttid"] for g, r in chosen if g == "best"],
                             "worst": [r["uttid"] for g, r in chosen if g == "worst"]}
    write_results_csv(out_dir / "evaluation_results.csv", ordered, dnsmos)
    write_json_atomic(out_dir / "summary.json", summary)
    write_highlights(out_dir / "highlights.txt", summary, ordered)
    page_items = _write_visualizations(out_dir, chosen, {p.uttid: p for p in pairs}, enhancer,
                                       save_audio)
    write_visualization_index(out_dir, chosen)
    write_recommended(out_dir, summary, ordered)
    from tfgridnet.evaluate_page import write_page

    write_page(out_dir, summary, ordered, page_items, sample_rate)
    return summary


def _save_triplet(out_dir: Path, uttid: str, noisy: np.ndarray, enhanced: np.ndarray,
                  clean: np.ndarray, sample_rate: int) -> None:
    for kind, audio in (("noisy", noisy), ("enhanced", enhanced), ("clean", clean)):
        save_audio(out_dir / kind / f"{uttid}.wav", audio, sample_rate, subtype="PCM_16")


def _write_visualizations(out_dir: Path, chosen: list[tuple[str, dict[str, Any]]],
                          pairs: dict[str, Any], enhancer: Enhancer,
                          audio_saved: bool) -> list[dict[str, Any]]:
    """Plots of the highlighted utterances. Only these few are held in memory: their audio is
    read back from the saved WAVs (what a listener hears), or enhanced again when not saved."""
    from tfgridnet.viz import plot_spectrograms, plot_waveforms

    items = []
    vis = out_dir / "visualizations"
    for group, row in chosen:
        saved = [out_dir / kind / f"{row['uttid']}.wav" for kind in ("noisy", "enhanced", "clean")]
        if audio_saved and all(path.is_file() for path in saved):
            noisy, enhanced, clean = (load_audio(path, mono="first")[0] for path in saved)
        else:
            noisy, clean, _ = _load_pair(pairs[row["uttid"]], enhancer.sample_rate)
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


def evaluate_cli(model: str, manifest: Path, out_dir: Path, save_audio: bool = True,
                 n_plots: int = 5, dnsmos: bool = False, device: str | None = None) -> int:
    """`tfgridnet evaluate`: 0 when every utterance was evaluated, 1 when some failed."""
    summary = evaluate(model, manifest, out_dir, save_audio=save_audio, n_plots=n_plots,
                       dnsmos=dnsmos, device=device)
    print(format_summary(summary))
    print(f"results in {out_dir} (open {Path(out_dir) / 'index.html'})")
    for failure in summary["failed"]:
        print(f"failed: {failure['uttid']}: {failure['error']}", file=sys.stderr)
    return 1 if summary["n_failed"] else 0

