"""Score a model on a manifest against the identity baseline; write the evaluation dir.

Every utterance is scored twice with the same code: the noisy input as if it were the output (the
identity baseline, "doing nothing") and the enhanced output. A model worse than doing nothing is
said first, in the CLI output, ``highlights.txt``, ``summary.json`` and the page. A noisy-input
SI-SNR far outside [-10, 30] dB means the pairs are broken (the users' -36 dB), not the model.

The files it writes are defined in ``tfgridnet.contracts`` (``EvalDir``, ``contracts.evaluation``;
docs/design.md, file contract).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from tfgridnet.audio.io import audio_info
from tfgridnet.contracts.folders import EvalDir
from tfgridnet.contracts.names import NOISY, RESULTS_FILE
from tfgridnet.contracts.utterance import UtteranceRow
from tfgridnet.data.manifest import ManifestError, read_manifest
from tfgridnet.evaluation.artifacts import (
    save_triplet,
    write_highlights,
    write_recommended,
    write_visualization_index,
    write_visualizations,
)
from tfgridnet.evaluation.baseline import (
    baseline_enhancer,
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
from tfgridnet.evaluation.scoring import MetricSet
from tfgridnet.evaluation.steps import (
    HighlightKeeper,
    Job,
    Scoring,
    enhanced,
    equal_length_batches,
    new_row,
    pairs_at,
)
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
                            f"an {RESULTS_FILE} column; rename them")
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

    Utterances up to ``chunk_seconds`` go through the model in one pass (longer ones by
    overlap-add). On a GPU, utterances of identical length are batched (``batch_size``, default
    8); padding would change the model's normalisation statistics, so unequal lengths are never
    mixed. A manifest without a ``clean`` column (real recordings) is scored by the
    non-intrusive metrics only, DNSMOS and Distill-MOS, noisy vs enhanced; ``summary.json`` lists
    the intrusive metrics it skipped and why. ``level=False`` scores the model's raw output gain
    instead of the level-corrected output.

    ``out_dir`` may not hold the manifest or any of its audio (it is refused before any work);
    a previous evaluation there is cleared first, anything else needs ``overwrite``.

    The steps: the manifest, read once; :func:`_load` (the model, the metrics its pairs allow,
    their condition columns); then per utterance
    :func:`~tfgridnet.evaluation.steps.pairs_at` (read) → ``steps.enhanced`` (the model, in
    batches of equal length) → ``steps.Scoring`` (every metric, in worker processes), and
    :func:`_write` (the folder).
    """
    from tfgridnet.i18n import catalog
    from tfgridnet.safety import claim_output_dir, refuse_input_folder

    catalog(lang)  # an unknown language is refused before any work
    pairs = read_manifest(manifest, require=(NOISY,))
    inputs = [Path(manifest)] + [p for pair in pairs for p in (pair.noisy, pair.clean)
                                 if p is not None]
    refuse_input_folder(out_dir, inputs)
    with claim_output_dir(out_dir, "evaluate", inputs=inputs, overwrite=overwrite):
        started = time.perf_counter()
        job = _load(model_or_path, manifest, pairs, device, chunk_seconds, level, dnsmos,
                    distillmos, baseline)
        folder = EvalDir(out_dir)
        folder.path.mkdir(parents=True, exist_ok=True)
        batch_size = batch_size or (8 if job.enhancer.device.type == "cuda" else 1)
        workers = workers or _default_workers(len(pairs))
        rows = {pair.uttid: new_row(pair) for pair in pairs}
        keeper = HighlightKeeper(n_plots, job.metric_set.headline)
        reporter = (progress_reporter("evaluate", unit="utterances") if progress is True
                    else nullcontext(progress or None))
        with reporter as report, Scoring(job, workers, keeper) as scoring:
            scoring.on_done = lambda done: report(done, len(pairs)) if report else None
            loaded = pairs_at(pairs, rows, job.enhancer.sample_rate, scoring)
            for batch in equal_length_batches(loaded, batch_size):
                for row, noisy, clean, output, base_out in enhanced(batch, job, scoring):
                    if save_audio:
                        save_triplet(folder.path, row.uttid, noisy, output, clean,
                                     job.enhancer.sample_rate)
                    scoring.submit(row, noisy, output, clean, base_out)
        ordered = [rows[p.uttid] for p in pairs]
        return _write(folder, job, ordered, keeper, save_audio, n_plots, workers, lang,
                      elapsed=time.perf_counter() - started)


def _load(model_or_path: Any, manifest: str | os.PathLike, pairs: list[Any],
          device: str | None, chunk_seconds: float, level: bool, dnsmos: bool,
          distillmos: bool, baseline: Any) -> Job:
    """The model as an fp32 :class:`Enhancer` (at the test set's rate for a V3 model), the
    metrics the manifest allows and its condition columns."""
    if not pairs:
        raise ManifestError(f"{manifest}: manifest holds no pairs")
    if isinstance(model_or_path, Enhancer):
        enhancer, model_name = model_or_path, type(model_or_path.model).__name__
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
    metric_set = _metric_set(manifest, pairs, dnsmos, distillmos)
    conditions = _condition_columns(manifest, pairs, metric_set)
    if enhancer.rate_independent:
        # A V3 model is run and scored at the test set's own rate (its first noisy file's).
        enhancer = enhancer.at_rate(int(audio_info(pairs[0].noisy).samplerate))
    job = Job(enhancer, model_name, manifest, metric_set, conditions)
    if baseline is not None:
        job.baseline, job.baseline_name = baseline_enhancer(baseline, enhancer, chunk_seconds,
                                                            level)
    return job


def _write(folder: EvalDir, job: Job, ordered: list[UtteranceRow], keeper: HighlightKeeper,
           save_audio: bool, n_plots: int, workers: int, lang: str,
           elapsed: float) -> EvaluationResult:
    """Step 4, write: evaluation_results.csv, summary.json, highlights.txt, the plots of the
    highlighted utterances (from the kept outputs), the visualisation index, the recommended
    samples and the listening page."""
    from tfgridnet.evaluation.page import write_page

    metric_set, sample_rate = job.metric_set, job.enhancer.sample_rate
    audio_seconds = sum(r.duration_s or 0.0 for r in ordered)
    chosen = select_highlights(ordered, n_plots, metric_set.headline)
    summary_model = summarize(ordered, metric_set, job.conditions).model_copy(update={
        "model": job.model_name, "manifest": str(job.manifest), "sample_rate": sample_rate,
        "device": str(job.enhancer.device), "workers": workers, "elapsed_s": elapsed,
        "audio_seconds": audio_seconds,
        "real_time_factor": elapsed / audio_seconds if audio_seconds else None,
        "highlights": {"best": [r.uttid for g, r in chosen if g == "best"],
                       "worst": [r.uttid for g, r in chosen if g == "worst"]},
        "baseline_model": (summarize_baseline(ordered, metric_set, job.baseline_name)
                           if job.baseline is not None else None),
    })
    summary = summary_model.to_json()
    write_results_csv(folder.results, ordered, metric_set, job.conditions,
                      baseline=job.baseline is not None)
    write_json_atomic(folder.summary, summary)
    write_highlights(folder.highlights, summary, ordered)
    page_items = write_visualizations(folder.path, chosen, keeper.signals, sample_rate,
                                      save_audio, metric_set.headline, lang)
    write_visualization_index(folder.path, chosen, metric_set.headline, lang)
    write_recommended(folder.path, summary, ordered)
    write_page(folder.path, summary, ordered, page_items, sample_rate, lang,
               warnings=evaluation_warnings(summary_model, lang))
    return EvaluationResult(folder.path, summary)
