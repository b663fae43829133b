"""Checking a whole manifest (:func:`check_data`): every row, in worker processes, with bounded
memory, a result cache keyed by file identity, and the corpus-level rules at the end."""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from tfgridnet.contracts.names import UTTID
from tfgridnet.data.checks.cache import ResultCache, file_identity
from tfgridnet.data.checks.corpus import sisnr_outliers
from tfgridnet.data.checks.detectors import JUDGED_LATER, KINDS
from tfgridnet.data.checks.examine import (
    DEFAULT_SNR_ERROR_DB,
    check_arrays,
    check_pair,
    examine_file,
    examine_pair,
    judge,
)
from tfgridnet.data.checks.report import MEASURE_FIELDS, ROLES, CheckReport, Measures, Problem
from tfgridnet.data.checks.thresholds import THRESHOLDS
from tfgridnet.data.manifest import (
    ManifestError,
    Pair,
    manifest_columns,
    read_entries,
    read_manifest,
)
from tfgridnet.errors import UserInputError

__all__ = ["check_pair", "check_arrays", "check_data", "read_rows"]

# One row to examine: (uttid, noisy path, clean path) for pairs, (uttid, None, path) for files.
Row = tuple[str, str | None, str | None]
Result = tuple[list[Problem], dict[str, Any]]
_CACHE_BATCH = 256  # results written to the cache per transaction
_CACHE_READ = 2000  # keys looked up (and their values decoded) at a time
# The facts a cached examination keeps: the measurements and the rates (what judge, Measures and
# the statistics read), not the intermediate figures of the detectors.
_CACHED_FACTS = (*MEASURE_FIELDS, "noisy_sr", "clean_sr", "noise_sr")


def read_rows(manifest: str | os.PathLike | Path, role: str = "auto") -> tuple[str, list[Row]]:
    """The role of ``manifest`` and its rows. ``auto``: pairs when it has a noisy column, clean
    references when it has only a clean one; a noise list must be named (``role="noise"``)."""
    path = Path(manifest)
    if role == "noise":
        return role, [(e.uttid, None, str(e.path)) for e in read_entries(path, "noise")]
    columns = manifest_columns(path)
    if "clean" not in columns:
        raise ManifestError(f"{path}: no 'clean' column (header {','.join(columns)!r}); expected "
                            "uttid,noisy,clean pairs or uttid,clean references")
    if role == "auto":
        role = "pairs" if "noisy" in columns else "clean"
    if role == "pairs":
        pairs = read_manifest(path, require=("noisy", "clean"))
        return role, [(p.uttid, str(p.noisy), str(p.clean)) for p in pairs]
    if role != "clean":
        raise ValueError(f"role must be one of auto, {', '.join(ROLES)}; got {role!r}")
    return role, [(p.uttid, None, str(p.clean)) for p in read_manifest(path, require=("clean",))]


def _examine(row: Row, role: str, sample_rate: int | None, mos: bool) -> Result:
    uttid, noisy, clean = row
    if role == "pairs":
        return examine_pair(uttid, noisy, clean, sample_rate, mos)
    assert clean is not None
    return examine_file(uttid, clean, role, sample_rate, mos)


def _examine_chunk(args: tuple[list[Row], str, int | None, bool]) -> list[Result]:
    rows, role, sample_rate, mos = args
    return [_examine(row, role, sample_rate, mos) for row in rows]


def _worker_init() -> None:
    import torch

    torch.set_num_threads(1)


def _iter_parallel(rows: list[Row], role: str, sample_rate: int | None, mos: bool,
                   workers: int) -> Iterator[Result]:
    """Results in row order, with at most 2 chunks per worker in flight (bounded memory)."""
    import torch

    # One torch thread per process: SI-SNR of a few seconds is ~20x slower with a contended
    # pool, and forked workers inherit the parent's setting.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        if workers <= 1 or len(rows) < 16:
            for row in rows:
                yield _examine(row, role, sample_rate, mos)
            return
        if mos:  # load the MOS model once, before the fork: the workers share its pages
            from tfgridnet.metrics import _distillmos_model

            _distillmos_model()
        size = max(4, min(64, len(rows) // (workers * 4) or 1))
        chunks = ((rows[i:i + size], role, sample_rate, mos) for i in range(0, len(rows), size))
        # fork on Linux: no re-import of __main__, workers start in milliseconds (as DataLoader's).
        context = multiprocessing.get_context("fork" if sys.platform.startswith("linux")
                                              else "spawn")
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_worker_init) as pool:
            pending: deque = deque()
            for chunk in chunks:
                pending.append(pool.submit(_examine_chunk, chunk))
                if len(pending) >= 2 * workers:
                    yield from pending.popleft().result()
            while pending:
                yield from pending.popleft().result()
    finally:
        torch.set_num_threads(threads)


def _percentiles(values: Iterable[float | None]) -> dict:
    arr = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=np.float64)
    if arr.size == 0:
        return {}
    return {"min": float(arr.min()), "p10": float(np.percentile(arr, 10)),
            "median": float(np.median(arr)), "mean": float(arr.mean()),
            "p90": float(np.percentile(arr, 90)), "max": float(arr.max())}


def _to_cache(result: Result) -> dict:
    problems, facts = result
    return {"problems": [[p.kind, p.severity, p.message] for p in problems
                         if p.kind not in JUDGED_LATER],
            "facts": {k: facts[k] for k in _CACHED_FACTS if k in facts}}


def _from_cache(uttid: str, value: dict) -> Result:
    problems = [Problem(uttid, kind, severity, message) for kind, severity, message
                in value["problems"]]
    return problems, {**value["facts"], UTTID: uttid}


def _cache_keys(rows: list[Row], role: str, sample_rate: int | None, mos: bool
                ) -> list[str | None]:
    files = ((n, c) if role == "pairs" else (c,) for _, n, c in rows)
    return [ResultCache.key(role, sample_rate, mos, (file_identity(f) for f in group))
            for group in files]


def check_data(manifest: str | os.PathLike | Path | list[Pair], sample_rate: int | None = None,
               workers: int | None = None, max_pairs: int | None = None,
               seed: int = 0, progress: Callable[[int, int], None] | None = None,
               role: str = "auto", cache: ResultCache | bool = True, mos: bool = False,
               snr_error_db: float | None = DEFAULT_SNR_ERROR_DB) -> CheckReport:
    """Check every row of ``manifest`` (or a random sample of ``max_pairs``) in parallel.

    ``role``: ``auto`` (pairs, or clean references when there is no noisy column), ``pairs``,
    ``clean`` or ``noise`` (see :func:`read_rows`). ``cache``: True for the user cache folder
    (:mod:`~tfgridnet.data.checks.cache`), a :class:`ResultCache`, or False. ``mos``: also
    Distill-MOS (and DNSMOS where installed) of every clean reference. ``snr_error_db``: the
    reference audit's error threshold (None: noisy references are warnings only).
    Per row, its problems and a :class:`Measures` (a dozen floats) are kept; the audio is not.
    ``progress(done, total)`` is called as rows finish. Raises ManifestError (exit 2) when the
    manifest itself is unusable.
    """
    if sample_rate is not None and sample_rate <= 0:
        raise UserInputError(f"--sample-rate {sample_rate}: expected a positive rate in Hz")
    if workers is not None and workers < 1:
        raise UserInputError(f"--workers {workers}: expected 1 or more processes")
    if isinstance(manifest, list):
        rows: list[Row] = [(p.uttid, None if p.noisy is None else str(p.noisy),
                            None if p.clean is None else str(p.clean)) for p in manifest]
        role = "pairs" if role == "auto" else role
    else:
        role, rows = read_rows(manifest, role)
    n_rows = len(rows)
    sampled = None
    if max_pairs is not None and max_pairs < n_rows:
        if max_pairs < 1:
            raise UserInputError(f"max_pairs must be >= 1, got {max_pairs}")
        chosen = np.sort(np.random.default_rng(seed).choice(n_rows, size=max_pairs, replace=False))
        rows = [rows[i] for i in chosen]
        sampled = {"n": len(rows), "of": n_rows, "seed": seed}
    workers = workers or os.cpu_count() or 1
    start = time.perf_counter()
    store = (ResultCache() if cache is True else cache) or None
    keys = _cache_keys(rows, role, sample_rate, mos) if store else [None] * len(rows)
    # Each result is judged and reduced to its problems and Measures as soon as it arrives, so
    # memory holds a dozen floats a row, never the examinations themselves.
    measures: list[Measures | None] = [None] * len(rows)
    found_by_row: dict[int, list[Problem]] = {}
    rates: Counter = Counter()

    def absorb(i: int, result: Result) -> None:
        uttid = rows[i][0]
        judged = judge(uttid, result[0], result[1], snr_error_db)
        if judged:
            found_by_row[i] = judged
        measures[i] = Measures.of(uttid, result[1])
        sides = [result[1].get(f"{side}_sr") for side in ("noisy", "clean", "noise")]
        sides = [rate for rate in sides if rate is not None]
        if sides:
            rates["/".join(dict.fromkeys(str(rate) for rate in sides))] += 1

    done = 0
    todo: list[int] = []
    for first in range(0, len(rows), _CACHE_READ):
        chunk = range(first, min(len(rows), first + _CACHE_READ))
        hits = store.get_many([keys[i] for i in chunk if keys[i]]) if store else {}
        for i in chunk:
            if keys[i] in hits:
                absorb(i, _from_cache(rows[i][0], hits[keys[i]]))
                done += 1
            else:
                todo.append(i)
        if progress is not None and done:
            progress(done, len(rows))
    pending: list[tuple[str, Any]] = []
    for i, result in zip(todo, _iter_parallel([rows[i] for i in todo], role, sample_rate, mos,
                                              workers)):
        absorb(i, result)
        done += 1
        if store and keys[i]:
            pending.append((keys[i], _to_cache(result)))
            if len(pending) >= _CACHE_BATCH:
                store.put_many(pending)
                pending = []
        if progress is not None:
            progress(done, len(rows))
    if store:
        store.put_many(pending)
        store.close()
    problems = [p for i in sorted(found_by_row) for p in found_by_row[i]]
    measures = [m for m in measures if m is not None]
    # The yardstick comes from the pairs without errors (broken pairs would distort it); any
    # pair outside it is named.
    broken = {p.uttid for p in problems if p.severity == "error"}
    scored = [m for m in measures if m.sisnr_db is not None]
    for uttid, value, median in sisnr_outliers(
            [m.uttid for m in scored], [m.sisnr_db for m in scored],
            reference=[m.sisnr_db for m in scored if m.uttid not in broken]):
        problems.append(Problem(str(uttid), "sisnr_outlier", KINDS["sisnr_outlier"],
                                f"input SI-SNR {value:.1f} dB, far from the corpus median "
                                f"{median:.1f} dB: a clean side still carrying the noise, a "
                                "wrong mixing level or a wrong file"))
    elapsed = time.perf_counter() - start
    stats = {
        "n_checked": len(rows),
        "n_with_errors": len({p.uttid for p in problems if p.severity == "error"}),
        "problems_by_kind": dict(Counter(p.kind for p in problems)),
        "sisnr_db": _percentiles(m.sisnr_db for m in measures),
        "duration_s": ({**_percentiles(m.duration_s for m in measures),
                        "total_hours": float(sum(m.duration_s or 0.0 for m in measures) / 3600)}
                       if any(m.duration_s for m in measures) else {}),
        "ref_snr_db": _percentiles(m.ref_snr_db for m in measures),
        "ref_bandwidth_hz": _percentiles(m.ref_bandwidth_hz for m in measures),
        "ref_speech_share": _percentiles(m.ref_speech_share for m in measures),
        "sample_rates": dict(sorted(rates.items())),
        "seconds": elapsed,
        "pairs_per_second": len(rows) / elapsed if elapsed > 0 else None,
        "workers": workers,
        "reference_snr_error_db": snr_error_db,
        "thresholds": dict(THRESHOLDS),
    }
    cache_info = None
    if store:
        cache_info = {"path": str(store.path), "hits": len(rows) - len(todo),
                      "checked": len(todo), "note": store.note}
    ok = not any(p.severity == "error" for p in problems)
    return CheckReport(ok=ok, n_pairs=n_rows, problems=problems, stats=stats, sampled=sampled,
                       measures=measures, role=role, cache=cache_info)
