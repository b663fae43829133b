"""Score a model on a manifest against the identity baseline; write the evaluation dir.

Every utterance is scored twice with the same code: the noisy input as if it were the output (the
identity baseline, "doing nothing") and the enhanced output. A model worse than doing nothing is
said first, in the CLI output, ``highlights.txt``, ``summary.json`` and the page. A noisy-input
SI-SNR far outside [-10, 30] dB means the pairs are broken (the users' -36 dB), not the model.

The files it writes are defined in ``tfgridnet.contracts`` (``EvalDir``, ``contracts.evaluation``;
docs/design.md, file contract).
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tfgridnet.audio.io import AudioError, audio_info
from tfgridnet.contracts.folders import EvalDir
from tfgridnet.contracts.names import NOISY, UTTID
from tfgridnet.data.manifest import ManifestError, read_manifest
from tfgridnet.evaluation.artifacts import (
    load_pair,
    save_triplet,
    write_highlights,
    write_recommended,
    write_visualization_index,
    write_visualizations,
)
from tfgridnet.evaluation.baseline import (
    baseline_enhancer,
    score_with_baseline,
    summarize_baseline,
)
from tfgridnet.evaluation.schema import (
    EvaluationSummary,
    MetricSummary,
    csv_columns,
    evaluation_warnings,
    select_highlights,
    summarize,
    write_results_csv,
)
from tfgridnet.evaluation.scoring import MetricSet, score_pair
from tfgridnet.fileio import write_json_atomic
from tfgridnet.inference.enhancer import Enhancer
from tfgridnet.progress import progress_reporter

__all__ = ["evaluate", "EvaluationResult"]


@dataclass(frozen=True)
class EvaluationResult(Mapping[str, Any]):
    """What :func:`evaluate` returns: the evaluation folder and ``summary.json``'s content.

    It reads as the summary dict ``evaluate`` returned before (``result["n_failed"]``,
    ``result["metrics"]["sisnr"]``, ``dict(result)``), with typed access beside it.
    """

    out_dir: Path
    summary: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.summary[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.summary)

    def __len__(self) -> int:
        return len(self.summary)

    @property
    def n(self) -> int:
        """Utterances in the manifest."""
        return int(self.summary["n"])

    @property
    def n_failed(self) -> int:
        """Utterances that could not be evaluated (listed in :attr:`failed`)."""
        return int(self.summary["n_failed"])

    @property
    def failed(self) -> list[dict[str, str]]:
        """``{"uttid", "error"}`` of each utterance that could not be evaluated."""
        return list(self.summary.get("failed", []))

    @property
    def warnings(self) -> list[str]:
        """What a reader must know first (broken pairs, worse than doing nothing, ...)."""
        return list(self.summary.get("warnings", []))

    @property
    def worse_than_input(self) -> bool:
        """The model's mean SI-SNR improvement over the identity baseline is negative."""
        return bool(self.summary.get("worse_than_input", False))

    @property
    def metrics(self) -> dict[str, MetricSummary]:
        """Per-metric noisy/enhanced statistics, through the summary.json schema."""
        return EvaluationSummary.model_validate(self.summary).metrics


def _default_workers(n_items: int) -> int:
    # Process start-up (spawn, importing torch) costs seconds: only worth it on larger sets.
    return 1 if n_items < 16 else max(1, min(os.cpu_count() or 1, 8))


def _metric_set(manifest: str | os.PathLike, pairs: list[Any], dnsmos: bool,
                distillmos: bool) -> MetricSet:
    """Intrusive metrics when every pair has a clean file, the MOS predictors when none has."""
    without = [p.uttid for p in pairs if p.clean is None]
    if without and len(without) < len(pairs):
        raise ManifestError(
            f"{manifest}: uttid {without[0]!r} has no clean file while other rows have one; "
            "give every row a clean file, or none (clean-less evaluation with DNSMOS and "
            "Distill-MOS)")
    if without:
        return MetricSet(reference=False, dnsmos=True, distillmos=True)
    return MetricSet(reference=True, dnsmos=dnsmos, distillmos=distillmos)


def _condition_columns(manifest: str | os.PathLike, pairs: list[Any],
                       metric_set: MetricSet) -> list[str]:
    """The manifest's condition columns (``Pair.conditions``), kept per utterance in the CSV."""
    columns = list(dict.fromkeys(name for pair in pairs for name in pair.conditions))
    clash = [c for c in columns if c in csv_columns(metric_set)]
    if clash:
        raise ManifestError(f"{manifest}: condition column(s) {', '.join(clash)} have the name of "
                            "an evaluation_results.csv column; rename them")
    return columns


def evaluate(model_or_path: Any, manifest: str | os.PathLike, out_dir: str | os.PathLike,
             save_audio: bool = True, n_plots: int = 5, dnsmos: bool = False,
             device: str | None = None, workers: int | None = None,
             chunk_seconds: float = 30.0, batch_size: int | None = None,
             progress: bool | Callable[[int, int], None] = True, overwrite: bool = False,
             distillmos: bool = False, level: bool = True, lang: str = "en",
             baseline: Any = None) -> EvaluationResult:
    """Enhance and score every pair of ``manifest``; write the evaluation dir; return the summary
    (an :class:`EvaluationResult`, which reads as the summary dict).

    ``lang`` is the language of the listening page and the plots (``index.html``, or
    ``index.zh-TW.html`` and ``visualizations/*.zh-TW.png`` in Traditional Chinese).
    ``baseline``: a second model (any MODEL, e.g. the one a fine-tune started from) scored on the
    same utterances beside it (``evaluation.baseline``).
    ``progress``: True shows a bar on a terminal and plain lines elsewhere
    (:func:`tfgridnet.progress.progress_reporter`); a callable gets ``(done, total)`` instead.

    ``out_dir`` may not hold the manifest or any of its audio (it is refused before any work);
    a previous evaluation there is cleared first, anything else needs ``overwrite``.
    """
    from tfgridnet.i18n import catalog
    from tfgridnet.safety import claim_output_dir, refuse_input_folder

    catalog(lang)  # an unknown language is refused before any work
    pairs = read_manifest(manifest, require=(NOISY,))
    inputs = [Path(manifest)] + [p for pair in pairs for p in (pair.noisy, pair.clean)
                                 if p is not None]
    refuse_input_folder(out_dir, inputs)
    with claim_output_dir(out_dir, "evaluate", inputs=inputs, overwrite=overwrite):
        return _evaluate(model_or_path, manifest, out_dir, save_audio=save_audio,
                         n_plots=n_plots, dnsmos=dnsmos, device=device, workers=workers,
                         chunk_seconds=chunk_seconds, batch_size=batch_size, progress=progress,
                         distillmos=distillmos, level=level, lang=lang, baseline=baseline)


def _evaluate(model_or_path: Any, manifest: str | os.PathLike, out_dir: str | os.PathLike,
              save_audio: bool, n_plots: int, dnsmos: bool, device: str | None,
              workers: int | None, chunk_seconds: float, batch_size: int | None,
              progress: bool | Callable[[int, int], None], distillmos: bool, level: bool,
              lang: str = "en", baseline: Any = None) -> EvaluationResult:
    """The evaluation itself, into an ``out_dir`` already cleared by :func:`evaluate`.

    Utterances up to ``chunk_seconds`` go through the model in one pass (longer ones by overlap-add).
    On a GPU, utterances of identical length are batched (``batch_size``, default 8); padding
    would change the model's normalisation statistics, so unequal lengths are never mixed.
    A manifest without a ``clean`` column (real recordings) is scored by the non-intrusive
    metrics only, DNSMOS and Distill-MOS, noisy vs enhanced; ``summary.json`` lists the
    intrusive metrics it skipped and why.
    ``level=False`` scores the model's raw output gain instead of the level-corrected output.
    """
    started = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if isinstance(model_or_path, Enhancer):
        enhancer = model_or_path
        model_name = type(enhancer.model).__name__
    elif isinstance(model_or_path, torch.nn.Module):
        # Scores are computed in fp32 everywhere, whatever CPU runs them (no "auto" bf16).
        enhancer = Enhancer(model_or_path, device=device, chunk_seconds=chunk_seconds,
                            precision="fp32", level=level)
        model_name = type(model_or_path).__name__
    else:
        enhancer = Enhancer.from_pretrained(model_or_path, device=device,
                                            chunk_seconds=chunk_seconds, precision="fp32",
                                            level=level)
        model_name = str(model_or_path)
    pairs = read_manifest(manifest, require=(NOISY,))
    if not pairs:
        raise ManifestError(f"{manifest}: manifest holds no pairs")
    metric_set = _metric_set(manifest, pairs, dnsmos, distillmos)
    conditions = _condition_columns(manifest, pairs, metric_set)
    if enhancer.rate_independent:
        # A V3 model is run and scored at the test set's own rate (its first noisy file's).
        enhancer = enhancer.at_rate(int(audio_info(pairs[0].noisy).samplerate))
    sample_rate = enhancer.sample_rate
    base, base_name = (baseline_enhancer(baseline, enhancer, chunk_seconds, level)
                       if baseline is not None else (None, None))
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
        advance()

    def drain(limit: int) -> None:
        while len(in_flight) > limit:
            row, future = in_flight.popleft()
            try:
                scores = future.result()
            except Exception as exc:  # a crashed worker must not lose the other utterances
                scores = {"metric_errors": [f"scoring failed: {type(exc).__name__}: {exc}"]}
            collect(row, scores)

    def submit(row: dict[str, Any], noisy: np.ndarray, enhanced: np.ndarray,
               clean: np.ndarray | None, base_out: np.ndarray | None) -> None:
        score, extra = ((score_pair, ()) if base_out is None
                        else (score_with_baseline, (base_out,)))
        if pool is None:
            collect(row, score(noisy, enhanced, clean, sample_rate, metric_set, *extra))
        else:
            in_flight.append((row, pool.submit(score, noisy, enhanced, clean, sample_rate,
                                               metric_set, *extra)))
            drain(4 * workers)  # bounded memory: at most this many utterances wait in flight

    def finish_batch(batch: list[tuple[dict[str, Any], np.ndarray, np.ndarray | None]]) -> None:
        if not batch:
            return
        def run(model: Enhancer) -> list[np.ndarray]:
            if len(batch) == 1 or batch[0][1].size > model.chunk:
                return [model.enhance_mono(noisy) for _, noisy, _ in batch]
            stacked = np.stack([noisy for _, noisy, _ in batch])
            return list(model.level(model.forward_batch(stacked), stacked))

        try:
            outputs = run(enhancer)
            base_outputs = run(base) if base is not None else [None] * len(batch)
        except (RuntimeError, ValueError) as exc:
            for row, _, _ in batch:
                row.update(status="failed", error=f"enhancement failed: {exc}")
                advance()
            return
        for (row, noisy, clean), enhanced, base_out in zip(batch, outputs, base_outputs):
            if not np.all(np.isfinite(enhanced)) or (
                    base_out is not None and not np.all(np.isfinite(base_out))):
                row.update(status="failed", error="enhancement produced NaN/inf samples")
                advance()
                continue
            row["enhanced_peak"] = float(np.max(np.abs(enhanced)))
            if save_audio:
                save_triplet(out_dir, row[UTTID], noisy, enhanced, clean, sample_rate)
            submit(row, noisy, enhanced, clean, base_out)

    done = 0
    report: Callable[[int, int], None] | None = None

    def advance() -> None:  # one utterance finished (scored, or failed)
        nonlocal done
        done += 1
        if report is not None:
            report(done, len(pairs))

    reporter = (progress_reporter("evaluate", unit="utterances") if progress is True
                else nullcontext(progress or None))
    try:
        with reporter as report:
            pending: dict[int, list[tuple[dict[str, Any], np.ndarray, np.ndarray | None]]] = {}
            for pair in pairs:
                row: dict[str, Any] = {UTTID: pair.uttid, "status": "ok", "error": "",
                                       "notes": "", **pair.conditions}
                rows[pair.uttid] = row
                try:
                    noisy, clean, note = load_pair(pair, sample_rate)
                except (AudioError, ValueError, OSError) as exc:
                    row.update(status="failed", error=str(exc))
                    advance()
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
    elapsed = time.perf_counter() - started
    chosen = select_highlights(ordered, n_plots, metric_set.headline)
    summary_model = summarize(ordered, metric_set, conditions).model_copy(update={
        "model": model_name, "manifest": str(manifest), "sample_rate": sample_rate,
        "device": str(enhancer.device), "workers": workers, "elapsed_s": elapsed,
        "audio_seconds": audio_seconds,
        "real_time_factor": elapsed / audio_seconds if audio_seconds else None,
        "highlights": {"best": [r[UTTID] for g, r in chosen if g == "best"],
                       "worst": [r[UTTID] for g, r in chosen if g == "worst"]},
        "baseline_model": (summarize_baseline(ordered, metric_set, base_name)
                           if base is not None else None),
    })
    summary = summary_model.to_json()
    folder = EvalDir(out_dir)
    write_results_csv(folder.results, ordered, metric_set, conditions, baseline=base is not None)
    write_json_atomic(folder.summary, summary)
    write_highlights(folder.highlights, summary, ordered)
    page_items = write_visualizations(out_dir, chosen, {p.uttid: p for p in pairs}, enhancer,
                                       save_audio, metric_set.headline, lang)
    write_visualization_index(out_dir, chosen, metric_set.headline, lang)
    write_recommended(out_dir, summary, ordered)
    from tfgridnet.evaluation.page import write_page

    write_page(out_dir, summary, ordered, page_items, sample_rate, lang,
               warnings=evaluation_warnings(summary_model, lang))
    return EvaluationResult(out_dir, summary)
