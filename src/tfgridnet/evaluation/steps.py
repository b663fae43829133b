"""The per-utterance steps of ``evaluate``: read each pair, enhance it (in batches of equal
length), score it (in worker processes) and keep the outputs the highlights will show.

``evaluate`` (evaluation/evaluate.py) runs them between loading the model and writing the folder.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from tfgridnet.audio.io import AudioError
from tfgridnet.contracts.metric_registry import MetricSet
from tfgridnet.contracts.utterance import UtteranceRow
from tfgridnet.evaluation.artifacts import load_pair
from tfgridnet.evaluation.baseline import score_with_baseline
from tfgridnet.evaluation.schema import ranking_key
from tfgridnet.evaluation.scoring import Scores, score_pair
from tfgridnet.inference.enhancer import Enhancer

__all__ = ["Job", "HighlightKeeper", "Scoring", "new_row", "pairs_at", "equal_length_batches",
           "enhanced"]


@dataclass
class Job:
    """What one evaluation runs with: the model (and the --baseline model), the metrics, the
    manifest's condition columns."""

    enhancer: Enhancer
    model_name: str
    manifest: str | os.PathLike
    metric_set: MetricSet
    conditions: list[str]
    baseline: Enhancer | None = None
    baseline_name: str | None = None


def new_row(pair: Any) -> UtteranceRow:
    """An utterance's row of evaluation_results.csv before it is read: ok until something fails."""
    return UtteranceRow(uttid=pair.uttid, conditions=dict(pair.conditions))


_Loaded = tuple[UtteranceRow, np.ndarray, "np.ndarray | None"]  # row, noisy, clean


def pairs_at(pairs: list[Any], rows: dict[str, UtteranceRow], sample_rate: int,
              scoring: Scoring) -> Iterator[_Loaded]:
    """Step 1, read: each pair at the model's rate; one that cannot be read is a failed row."""
    for pair in pairs:
        row = rows[pair.uttid]
        try:
            noisy, clean, note = load_pair(pair, sample_rate)
        except (AudioError, ValueError, OSError) as exc:
            row.fail(str(exc))
            scoring.done()
            continue
        row.notes = note
        row.duration_s = noisy.size / sample_rate
        yield row, noisy, clean


def equal_length_batches(loaded: Iterator[_Loaded], batch_size: int) -> Iterator[list[_Loaded]]:
    """Utterances of the same length, ``batch_size`` at a time (the rest at the end)."""
    pending: dict[int, list[_Loaded]] = {}
    for item in loaded:
        bucket = pending.setdefault(item[1].size, [])
        bucket.append(item)
        if len(bucket) >= batch_size:
            yield pending.pop(item[1].size)
    yield from pending.values()


def _run(model: Enhancer, batch: list[_Loaded]) -> list[np.ndarray]:
    if len(batch) == 1 or batch[0][1].size > model.chunk:
        return [model.enhance_mono(noisy) for _, noisy, _ in batch]
    stacked = np.stack([noisy for _, noisy, _ in batch])  # [B, N]
    return list(model.level(model.forward_batch(stacked), stacked))


def enhanced(batch: list[_Loaded], job: Job, scoring: Scoring
              ) -> Iterator[tuple[UtteranceRow, np.ndarray, np.ndarray | None, np.ndarray,
                              np.ndarray | None]]:
    """Step 2, enhance: (row, noisy, clean, enhanced, baseline output) of each utterance the
    model (and the --baseline model) enhanced to finite samples; the others are failed rows."""
    try:
        outputs = _run(job.enhancer, batch)
        base_outputs = (_run(job.baseline, batch) if job.baseline is not None
                        else [None] * len(batch))
    except (RuntimeError, ValueError) as exc:
        for row, _, _ in batch:
            row.fail(f"enhancement failed: {exc}")
            scoring.done()
        return
    for (row, noisy, clean), enhanced, base_out in zip(batch, outputs, base_outputs):
        if not np.all(np.isfinite(enhanced)) or (
                base_out is not None and not np.all(np.isfinite(base_out))):
            row.fail("enhancement produced NaN/inf samples")
            scoring.done()
            continue
        row.enhanced_peak = float(np.max(np.abs(enhanced)))
        yield row, noisy, clean, enhanced, base_out


class HighlightKeeper:
    """The signals of the utterances that can still be among the ``k`` best or worst by the
    headline improvement (``select_highlights``' order): the plots and the listening page use
    these outputs, so no utterance is enhanced twice, and at most ``2 k`` are held."""

    def __init__(self, k: int, metric: str) -> None:
        self.k, self.metric = max(k, 0), metric
        self.best: list[tuple[float, str]] = []  # ranking_key of each: (-gain, uttid)
        self.worst: list[tuple[float, str]] = []
        self.signals: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray | None]] = {}

    def offer(self, row: UtteranceRow, noisy: np.ndarray, enhanced: np.ndarray,
              clean: np.ndarray | None) -> None:
        if not self.k or row.improvement(self.metric) is None:
            return
        key = ranking_key(row, self.metric)
        self.best = sorted([*self.best, key])[: self.k]
        self.worst = sorted([*self.worst, key])[-self.k:]
        kept = {uttid for _, uttid in (*self.best, *self.worst)}
        if row.uttid in kept:
            self.signals[row.uttid] = (noisy, enhanced, clean)
        self.signals = {u: s for u, s in self.signals.items() if u in kept}


class Scoring:
    """Step 3, score: every metric of an utterance, in ``workers`` processes (at most
    ``4 x workers`` utterances in flight) or in this one; each scored row is offered to the
    highlight keeper and counted done."""

    def __init__(self, job: Job, workers: int, keeper: HighlightKeeper) -> None:
        self.job, self.workers, self.keeper = job, workers, keeper
        self.pool = (ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
                     if workers > 1 else None)
        self.in_flight: deque[tuple[UtteranceRow, tuple[np.ndarray, ...], Future]] = deque()
        self.n_done = 0
        self.on_done: Callable[[int], None] | None = None

    def __enter__(self) -> Scoring:
        return self

    def __exit__(self, kind: Any, *_: Any) -> None:
        try:
            if kind is None:
                self.drain(0)
        finally:
            if self.pool is not None:
                self.pool.shutdown(cancel_futures=True)

    def done(self) -> None:
        """One utterance finished: scored, or failed before it could be."""
        self.n_done += 1
        if self.on_done is not None:
            self.on_done(self.n_done)

    def submit(self, row: UtteranceRow, noisy: np.ndarray, enhanced: np.ndarray,
               clean: np.ndarray | None, base_out: np.ndarray | None) -> None:
        score, extra = ((score_pair, ()) if base_out is None
                        else (score_with_baseline, (base_out,)))
        args = (noisy, enhanced, clean, self.job.enhancer.sample_rate, self.job.metric_set,
                *extra)
        if self.pool is None:
            self._collect(row, (noisy, enhanced, clean), score(*args))
            return
        self.in_flight.append((row, (noisy, enhanced, clean), self.pool.submit(score, *args)))
        self.drain(4 * self.workers)  # bounded memory

    def drain(self, limit: int) -> None:
        while len(self.in_flight) > limit:
            row, signals, future = self.in_flight.popleft()
            try:
                scored = future.result()
            except Exception as exc:  # a crashed worker must not lose the other utterances
                scored = ({}, [f"scoring failed: {type(exc).__name__}: {exc}"])
            self._collect(row, signals, scored)

    def _collect(self, row: UtteranceRow, signals: tuple[Any, ...],
                 scored: tuple[Scores, list[str]]) -> None:
        row.scores, errors = scored
        row.add_note(*errors)
        self.keeper.offer(row, *signals)
        self.done()
