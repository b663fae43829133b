"""Running the detectors: one pair (:func:`check_pair`, :func:`check_arrays`) or a whole manifest
in worker processes with bounded memory (:func:`check_data`)."""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from array import array
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from tfgridnet.data.checks.detectors import DETECTORS, KINDS, PairAudio, decode
from tfgridnet.data.checks.report import CheckReport, Problem
from tfgridnet.data.checks.thresholds import THRESHOLDS
from tfgridnet.data.manifest import Pair, read_manifest
from tfgridnet.errors import UserInputError

__all__ = ["check_pair", "check_arrays", "check_data"]


def check_pair(pair: Pair, sample_rate: int | None = None) -> tuple[list[Problem], dict]:
    """Check one pair; returns its problems and its measurements (never raises on bad files)."""
    uttid = pair.uttid
    problems: list[Problem] = []
    facts: dict = {"uttid": uttid}
    if pair.noisy is None or pair.clean is None:
        problems.append(Problem(uttid, "missing_file", KINDS["missing_file"], "manifest row has "
                                f"no {'noisy' if pair.noisy is None else 'clean'} path"))
        return problems, facts
    noisy_read = decode(Path(pair.noisy), "noisy", uttid, problems)
    clean_read = decode(Path(pair.clean), "clean", uttid, problems)
    if noisy_read is None or clean_read is None:
        return problems, facts
    (noisy, noisy_sr), (clean, clean_sr) = noisy_read, clean_read
    return check_arrays(uttid, noisy, noisy_sr, clean, clean_sr, sample_rate)


def check_arrays(uttid: str, noisy: np.ndarray, noisy_sr: int, clean: np.ndarray, clean_sr: int,
                 sample_rate: int | None = None) -> tuple[list[Problem], dict]:
    """Every registered detector, in order, on decoded audio (``[N]`` or ``[C, N]``)."""
    pair = PairAudio(uttid, noisy, noisy_sr, clean, clean_sr, sample_rate,
                     facts={"uttid": uttid})
    for detector in DETECTORS:
        if detector.check is None:
            continue
        detector.check(pair)
        if pair.done:
            break
    return pair.problems, pair.facts


def _check_chunk(args: tuple[list[Pair], int | None]) -> list[tuple[list[Problem], dict]]:
    pairs, sample_rate = args
    return [check_pair(pair, sample_rate) for pair in pairs]


def _worker_init() -> None:
    import torch

    torch.set_num_threads(1)


def _iter_parallel(pairs: list[Pair], sample_rate: int | None,
                   workers: int) -> Iterator[tuple[list[Problem], dict]]:
    """Results in pair order, with at most 2 chunks per worker in flight (bounded memory)."""
    import torch

    # One torch thread per process: SI-SNR of a few seconds is ~20x slower with a contended
    # pool, and forked workers inherit the parent's setting.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        if workers <= 1 or len(pairs) < 16:
            for pair in pairs:
                yield check_pair(pair, sample_rate)
            return
        size = max(4, min(64, len(pairs) // (workers * 4) or 1))
        chunks = ((pairs[i:i + size], sample_rate) for i in range(0, len(pairs), size))
        # fork on Linux: no re-import of __main__, workers start in milliseconds (as DataLoader's).
        context = multiprocessing.get_context("fork" if sys.platform.startswith("linux")
                                              else "spawn")
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_worker_init) as pool:
            pending: deque = deque()
            for chunk in chunks:
                pending.append(pool.submit(_check_chunk, chunk))
                if len(pending) >= 2 * workers:
                    yield from pending.popleft().result()
            while pending:
                yield from pending.popleft().result()
    finally:
        torch.set_num_threads(threads)


def _percentiles(values: Iterable[float]) -> dict:
    arr = np.asarray([v for v in values if np.isfinite(v)], dtype=np.float64)
    if arr.size == 0:
        return {}
    return {"min": float(arr.min()), "p10": float(np.percentile(arr, 10)),
            "median": float(np.median(arr)), "mean": float(arr.mean()),
            "p90": float(np.percentile(arr, 90)), "max": float(arr.max())}


def check_data(manifest: str | os.PathLike | Path | list[Pair], sample_rate: int | None = None,
               workers: int | None = None, max_pairs: int | None = None,
               seed: int = 0, progress: Callable[[int, int], None] | None = None) -> CheckReport:
    """Check every pair of ``manifest`` (or a random sample of ``max_pairs``) in parallel.

    Memory stays bounded on large manifests: per pair only its problems and two floats (SI-SNR,
    duration) are kept. ``progress(done, total)`` is called as pairs finish.
    Raises ManifestError (a ValueError) when the manifest itself is unusable.
    """
    if sample_rate is not None and sample_rate <= 0:
        raise UserInputError(f"--sample-rate {sample_rate}: expected a positive rate in Hz")
    if workers is not None and workers < 1:
        raise UserInputError(f"--workers {workers}: expected 1 or more processes")
    pairs = list(manifest) if isinstance(manifest, list) \
        else read_manifest(manifest, require=("noisy", "clean"))
    n_pairs = len(pairs)
    sampled = None
    if max_pairs is not None and max_pairs < n_pairs:
        if max_pairs < 1:
            raise UserInputError(f"max_pairs must be >= 1, got {max_pairs}")
        chosen = np.sort(np.random.default_rng(seed).choice(n_pairs, size=max_pairs, replace=False))
        pairs = [pairs[i] for i in chosen]
        sampled = {"n": len(pairs), "of": n_pairs, "seed": seed}
    workers = workers or os.cpu_count() or 1
    start = time.perf_counter()
    problems: list[Problem] = []
    sisnrs, durations = array("d"), array("d")
    rates: Counter = Counter()
    for done, (found, f) in enumerate(_iter_parallel(pairs, sample_rate, workers), 1):
        problems.extend(found)
        if "sisnr_db" in f:
            sisnrs.append(f["sisnr_db"])
        if "duration_s" in f:
            durations.append(f["duration_s"])
        if "noisy_sr" in f:
            rates[f"{f['noisy_sr']}" if f["noisy_sr"] == f["clean_sr"]
                  else f"{f['noisy_sr']}/{f['clean_sr']}"] += 1
        if progress is not None:
            progress(done, len(pairs))
    elapsed = time.perf_counter() - start
    stats = {
        "n_checked": len(pairs),
        "n_with_errors": len({p.uttid for p in problems if p.severity == "error"}),
        "problems_by_kind": dict(Counter(p.kind for p in problems)),
        "sisnr_db": _percentiles(sisnrs),
        "duration_s": ({**_percentiles(durations), "total_hours": float(sum(durations) / 3600)}
                       if durations else {}),
        "sample_rates": dict(sorted(rates.items())),
        "seconds": elapsed,
        "pairs_per_second": len(pairs) / elapsed if elapsed > 0 else None,
        "workers": workers,
        "thresholds": dict(THRESHOLDS),
    }
    ok = not any(p.severity == "error" for p in problems)
    return CheckReport(ok=ok, n_pairs=n_pairs, problems=problems, stats=stats, sampled=sampled)
