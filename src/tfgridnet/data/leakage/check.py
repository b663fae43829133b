"""Running the leakage check over manifests: read the splits, fingerprint every file in worker
processes, index the smaller splits, stream the largest through the index, group what matched.

Memory: the indexed splits' landmarks (12 bytes each, ~1.5 KB per second of audio) plus a
bucket table; the largest split is never held, only its files' landmark counts and digests.
"""

from __future__ import annotations

import csv
import multiprocessing
import os
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tfgridnet.audio.io import AudioError, load_audio
from tfgridnet.data.leakage.fingerprint import FINGERPRINT, Fingerprint, fingerprint
from tfgridnet.data.leakage.index import STOP_COUNT, LandmarkIndex, aligned_scores
from tfgridnet.data.leakage.report import FileMatch, Leak, LeakageReport, SplitSummary, leak_kind
from tfgridnet.data.manifest import ManifestError, read_entries, read_manifest
from tfgridnet.errors import UserInputError

__all__ = ["MatchThresholds", "MATCH", "SplitFiles", "read_split", "is_paired_manifest",
           "check_leakage", "match_files", "SplitJoin"]


@dataclass(frozen=True)
class MatchThresholds:
    """When two fingerprints are "the same audio" (measured: docs/data-checks.md)."""

    min_landmarks: int = 10  # landmarks agreeing on one time offset
    min_share: float = 0.05  # of the smaller file's landmarks


MATCH = MatchThresholds()
_BLOCK_LANDMARKS = 1 << 20  # streamed landmarks joined at a time (~40 MB of temporaries)


@dataclass
class SplitFiles:
    """Every audio file one split's manifests name: row id, side (noisy/clean/noise), path."""

    name: str
    manifests: list[str]
    uttids: list[str]
    sides: list[str]
    paths: list[str]
    manifest_of: list[int]
    noisy_rows: set[tuple[int, str]]  # (manifest, uttid) of rows that have a noisy file
    n_rows: int

    def __len__(self) -> int:
        return len(self.paths)

    def summary(self) -> SplitSummary:
        return SplitSummary(self.name, self.manifests, self.n_rows, len(self.paths))


def _columns(path: Path) -> list[str]:
    """The manifest's header, lower-case ([] when it cannot be read: read_manifest says why)."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            for row in csv.reader(handle):
                if any(cell.strip() for cell in row):
                    return [cell.strip().lower() for cell in row]
    except (OSError, UnicodeDecodeError, csv.Error):
        pass
    return []


def is_paired_manifest(path: str | os.PathLike) -> bool:
    """Whether a manifest has noisy and clean columns (True when unreadable: its reader says
    why)."""
    columns = _columns(Path(path))
    return not columns or ("noisy" in columns and "clean" in columns)


def read_split(name: str, manifests: Sequence[str | os.PathLike]) -> SplitFiles:
    """The files of one split: paired (``uttid,noisy,clean``), clean (``uttid,clean``) or noise
    (``uttid,noise``) manifests. A manifest with neither a clean nor a noise column is refused."""
    split = SplitFiles(name, [], [], [], [], [], set(), 0)
    for number, manifest in enumerate(manifests):
        path = Path(manifest)
        split.manifests.append(str(path))
        columns = _columns(path)
        if columns and "clean" not in columns and "noise" not in columns:
            raise ManifestError(
                f"{path}: no clean column (header {','.join(columns)!r}); the leakage check "
                "compares the clean speech: expected 'uttid,noisy,clean', 'uttid,clean' or a "
                "noise manifest 'uttid,noise'")
        if "clean" not in columns and "noise" in columns:
            rows = [(entry.uttid, "noise", entry.path_text) for entry in read_entries(path, "noise")]
            split.n_rows += len(rows)
        else:
            pairs = read_manifest(path, require=("clean",))
            split.n_rows += len(pairs)
            rows = []
            for pair in pairs:
                if pair.noisy is not None:
                    rows.append((pair.uttid, "noisy", str(pair.noisy)))
                    split.noisy_rows.add((number, pair.uttid))
                rows.append((pair.uttid, "clean", pair.clean_text))
        for uttid, side, file_path in rows:
            split.uttids.append(uttid)
            split.sides.append(side)
            split.paths.append(file_path)
            split.manifest_of.append(number)
    return split


def _fingerprint_path(path: str) -> Fingerprint | str:
    try:
        audio, rate = load_audio(path, mono="keep")
    except AudioError as exc:
        return str(exc)
    return fingerprint(audio, rate)


def _fingerprint_chunk(paths: list[str]) -> list[Fingerprint | str]:
    return [_fingerprint_path(path) for path in paths]


def _fingerprints(paths: Sequence[str], workers: int) -> Iterator[Fingerprint | str]:
    """Fingerprints in order; at most two chunks per worker in flight (bounded memory)."""
    if workers <= 1 or len(paths) < 32:
        for path in paths:
            yield _fingerprint_path(path)
        return
    size = max(4, min(64, len(paths) // (workers * 4) or 1))
    context = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        pending: deque = deque()
        for start in range(0, len(paths), size):
            pending.append(pool.submit(_fingerprint_chunk, list(paths[start:start + size])))
            if len(pending) >= 2 * workers:
                yield from pending.popleft().result()
        while pending:
            yield from pending.popleft().result()


def match_files(a: np.ndarray, b: np.ndarray, score: np.ndarray, landmarks: np.ndarray,
                thresholds: MatchThresholds = MATCH) -> np.ndarray:
    """Which scored file pairs are the same audio: ``score`` landmarks at one offset, enough of
    the smaller file's (``landmarks``: each file's landmark count). Returns a boolean mask."""
    smaller = np.minimum(landmarks[a], landmarks[b])
    return (score >= thresholds.min_landmarks) & (score >= thresholds.min_share * smaller)


class SplitJoin:
    """The join, fed one fingerprint at a time: first every file of the indexed splits
    (:meth:`add_indexed`), then :meth:`build_index`, then the streamed split's files
    (:meth:`add_streamed`), then :meth:`finish`. ``file_split``: each file id's split.

    ``found`` maps a file pair ``(x, y)``, ``x < y``, to ``(how, landmarks, share, offset)``;
    identical samples win over a fingerprint match.
    """

    def __init__(self, file_split: np.ndarray, thresholds: MatchThresholds = MATCH) -> None:
        self.file_split = np.asarray(file_split)
        self.thresholds = thresholds
        self.landmarks = np.zeros(self.file_split.size, dtype=np.int64)
        self.found: dict[tuple[int, int], tuple[str, int, float, int]] = {}
        self.silent = 0
        self._digests: dict[int, list[int]] = {}  # indexed files' digests -> file ids
        self._parts: tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]] = ([], [], [])
        self._block: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._in_block = 0
        self._indexed_splits: set[int] = set()
        self.index: LandmarkIndex | None = None

    def _count(self, file_id: int, fp: Fingerprint) -> None:
        self.landmarks[file_id] = fp.hashes.size
        self.silent += fp.digest is None

    def add_indexed(self, file_id: int, fp: Fingerprint) -> None:
        self._count(file_id, fp)
        self._indexed_splits.add(int(self.file_split[file_id]))
        if fp.digest is not None:
            self._digests.setdefault(fp.digest, []).append(file_id)
        if fp.hashes.size:
            for part, values in zip(self._parts, (fp.hashes, np.full(fp.hashes.size, file_id,
                                                                     np.int32), fp.times)):
                part.append(values)

    def build_index(self) -> LandmarkIndex:
        """Sort the indexed landmarks; match the indexed splits among themselves."""
        self.index = LandmarkIndex.from_parts(*self._parts, file_split=self.file_split)
        for ids in self._digests.values():
            for i, x in enumerate(ids):
                for y in ids[i + 1:]:
                    if self.file_split[x] != self.file_split[y]:
                        self._add_identical(x, y)
        if len(self._indexed_splits) > 1:
            self._add_scored(*aligned_scores(self.index.self_candidates()))
        return self.index

    def add_streamed(self, file_id: int, fp: Fingerprint) -> None:
        self._count(file_id, fp)
        for other in self._digests.get(fp.digest, ()) if fp.digest is not None else ():
            self._add_identical(file_id, other)
        if fp.hashes.size:
            self._block.append((fp.hashes, np.full(fp.hashes.size, file_id, np.int64),
                                fp.times))
            self._in_block += fp.hashes.size
        if self._in_block >= _BLOCK_LANDMARKS:
            self._join_block()

    def finish(self) -> dict[tuple[int, int], tuple[str, int, float, int]]:
        if self._block:
            self._join_block()
        return self.found

    def _join_block(self) -> None:
        assert self.index is not None, "build_index() comes before add_streamed()"
        found = self.index.query(*(np.concatenate([c[k] for c in self._block])
                                   for k in range(3)))
        self._block, self._in_block = [], 0
        self._add_scored(*aligned_scores(found))

    def _add_identical(self, a: int, b: int) -> None:
        self.found[(min(a, b), max(a, b))] = ("identical", 0, 1.0, 0)

    def _add_scored(self, a: np.ndarray, b: np.ndarray, score: np.ndarray,
                    offset: np.ndarray) -> None:
        keep = match_files(a, b, score, self.landmarks, self.thresholds)
        smaller = np.minimum(self.landmarks[a], self.landmarks[b])
        for i in np.flatnonzero(keep):
            x, y, d = int(a[i]), int(b[i]), int(offset[i])
            key = (x, y) if x < y else (y, x)
            if self.found.get(key, ("",))[0] == "identical":
                continue
            self.found[key] = ("fingerprint", int(score[i]), float(score[i] / smaller[i]),
                               d if x < y else -d)


def check_leakage(splits: Mapping[str, Sequence[str | os.PathLike]],
                  workers: int | None = None,
                  progress: Callable[[int, int], None] | None = None,
                  thresholds: MatchThresholds = MATCH) -> LeakageReport:
    """Find audio shared between any two of ``splits`` ({name: [manifest, ...]}), by content.

    Raises ManifestError for an unusable manifest and AudioError (naming the file, its row and
    split) for a file that cannot be decoded. ``progress(done, total)`` counts files.
    """
    if len(splits) < 2:
        raise UserInputError("the leakage check needs two splits or more (e.g. train and valid)")
    if workers is not None and workers < 1:
        raise UserInputError(f"--workers {workers}: expected 1 or more processes")
    workers = workers or os.cpu_count() or 1
    start = time.perf_counter()
    parts = [read_split(name, manifests) for name, manifests in splits.items()]
    offsets = np.cumsum([0] + [len(s) for s in parts])
    total = int(offsets[-1])
    file_split = np.repeat(np.arange(len(parts)), [len(s) for s in parts])
    streamed = max(range(len(parts)), key=lambda i: len(parts[i]))
    join = SplitJoin(file_split, thresholds)
    done = 0

    def files_of(split: int) -> Iterator[tuple[int, Fingerprint]]:
        nonlocal done
        part = parts[split]
        for k, result in enumerate(_fingerprints(part.paths, workers)):
            if isinstance(result, str):
                raise AudioError(f"{result} [row {part.uttids[k]!r}, {part.sides[k]} side, "
                                 f"{part.manifests[part.manifest_of[k]]}, split {part.name}]")
            done += 1
            if progress is not None:
                progress(done, total)
            yield int(offsets[split]) + k, result

    for split in range(len(parts)):  # index every split but the largest ...
        if split != streamed:
            for file_id, fp in files_of(split):
                join.add_indexed(file_id, fp)
    index = join.build_index()
    for file_id, fp in files_of(streamed):  # ... which streams through the index
        join.add_streamed(file_id, fp)
    report = LeakageReport([p.summary() for p in parts])
    report.leaks = _group(parts, offsets, file_split, join.finish())
    elapsed = time.perf_counter() - start
    report.stats = {
        "n_files": total, "silent_files": join.silent, "seconds": round(elapsed, 3),
        "files_per_second": round(total / elapsed, 1) if elapsed > 0 else None,
        "workers": workers, "streamed_split": parts[streamed].name,
        "landmarks_indexed": len(index), "landmarks_stopped": index.n_stopped,
        "index_mb": round(index.nbytes / 2**20, 1),
        "thresholds": {"min_landmarks": thresholds.min_landmarks,
                       "min_share": thresholds.min_share, "stop_count": STOP_COUNT},
        "fingerprint_version": FINGERPRINT.version,
    }
    return report


def _group(parts: list[SplitFiles], offsets: np.ndarray, file_split: np.ndarray,
           found: dict[tuple[int, int], tuple[str, int, float, int]]) -> list[Leak]:
    """File matches -> one Leak per pair of rows, the earlier split (as given) first."""
    leaks: dict[tuple, Leak] = {}

    def locate(file_id: int) -> tuple[int, int]:
        split = int(file_split[file_id])
        return split, file_id - int(offsets[split])

    for (x, y), (how, score, share, offset) in sorted(found.items()):
        (sa, ka), (sb, kb) = locate(x), locate(y)  # x < y, so sa <= sb
        a, b = parts[sa], parts[sb]
        key = (sa, a.manifest_of[ka], a.uttids[ka], sb, b.manifest_of[kb], b.uttids[kb])
        leak = leaks.get(key)
        if leak is None:
            leak = leaks[key] = Leak("", a.name, a.manifests[a.manifest_of[ka]], a.uttids[ka],
                                     b.name, b.manifests[b.manifest_of[kb]], b.uttids[kb])
        leak.matches.append(FileMatch(a.sides[ka], a.paths[ka], b.sides[kb], b.paths[kb], how,
                                      score, round(share, 3),
                                      round(offset * FINGERPRINT.frame_seconds, 3)))
    for key, leak in leaks.items():
        sa, ma, ua, sb, mb, ub = key
        # A same-side match (clean = clean) implies the cross-side ones (that clean inside the
        # other noisy file): those are dropped; the clean side is listed first.
        same_side = [m for m in leak.matches if m.side_a == m.side_b]
        leak.matches = sorted(same_side or leak.matches,
                              key=lambda m: (m.side_a != "clean", m.side_a, m.side_b))
        leak.kind, leak.message = leak_kind(leak.matches, (ma, ua) in parts[sa].noisy_rows,
                                            (mb, ub) in parts[sb].noisy_rows)
    ordered = sorted(leaks.items(), key=lambda item: (item[0][0], item[0][3], item[0][5],
                                                      item[0][2]))
    return [leak for _, leak in ordered]
