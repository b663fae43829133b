"""The join: which files of two splits share landmarks at one constant time offset.

No file is compared with every other. The landmarks of the indexed files sit in three compact
arrays sorted by hash (12 bytes a landmark) with a bucket table over the hash's top bits, so a
lookup is two array reads; the other split streams through :meth:`LandmarkIndex.query` in blocks.
Matches then count per (file, file, time offset) — a copy agrees on one offset, chance collisions
scatter — with one frame of tolerance either side.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Candidates", "LandmarkIndex", "aligned_scores", "pair_score", "STOP_COUNT"]

# A hash held by more index entries than this says nothing about any one file (a tonal or
# synthetic pattern repeated across a corpus); it is dropped from the index.
STOP_COUNT = 64


@dataclass
class Candidates:
    """Landmarks two files share: file ids ``a`` and ``b`` and the frame offset ``t_b - t_a``."""

    a: np.ndarray
    b: np.ndarray
    offset: np.ndarray

    @classmethod
    def empty(cls) -> Candidates:
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64))

    @classmethod
    def concatenate(cls, parts: list[Candidates]) -> Candidates:
        if not parts:
            return cls.empty()
        return cls(*(np.concatenate([getattr(p, name) for p in parts])
                     for name in ("a", "b", "offset")))

    def __len__(self) -> int:
        return int(self.a.size)


def _expand(starts: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For ranges ``[starts[i], starts[i] + counts[i])``: (range number, position) of every
    element, without a Python loop."""
    total = int(counts.sum())
    owner = np.repeat(np.arange(counts.size), counts)
    first = np.cumsum(counts) - counts
    positions = np.arange(total) - np.repeat(first, counts) + np.repeat(starts, counts)
    return owner, positions


class LandmarkIndex:
    """Landmarks of the indexed files, sorted by hash, with a bucket table for O(1) lookups.

    ``file_split`` gives each indexed file's split, so :meth:`self_candidates` keeps only
    landmarks shared across splits.
    """

    def __init__(self, hashes: np.ndarray, files: np.ndarray, times: np.ndarray,
                 file_split: np.ndarray, stop_count: int = STOP_COUNT) -> None:
        self._build([hashes], [files], [times], stop_count)
        self.file_split = np.asarray(file_split)

    @classmethod
    def from_parts(cls, hashes: list[np.ndarray], files: list[np.ndarray],
                   times: list[np.ndarray], file_split: np.ndarray,
                   stop_count: int = STOP_COUNT) -> LandmarkIndex:
        """Build from per-file arrays; the lists are emptied as their columns are sorted, so the
        peak stays near 2.5x the index's own size."""
        index = cls.__new__(cls)
        index._build(hashes, files, times, stop_count)
        index.file_split = np.asarray(file_split)
        return index

    def _build(self, hashes: list[np.ndarray], files: list[np.ndarray], times: list[np.ndarray],
               stop_count: int) -> None:
        def column(parts: list[np.ndarray], dtype: type) -> np.ndarray:
            joined = np.concatenate(parts).astype(dtype, copy=False) if parts \
                else np.zeros(0, dtype)
            parts.clear()
            return joined

        sorted_hashes = column(hashes, np.uint32)
        order = np.argsort(sorted_hashes, kind="stable")
        sorted_hashes = sorted_hashes[order]
        sorted_files = column(files, np.int32)[order]
        sorted_times = column(times, np.int32)[order]
        del order
        # Runs longer than stop_count: h[i] == h[i + stop_count] somewhere (rare; one bool each).
        self.n_stopped = 0
        if sorted_hashes.size > stop_count:
            long = np.flatnonzero(sorted_hashes[stop_count:] == sorted_hashes[:-stop_count])
            if long.size:
                keep = ~np.isin(sorted_hashes, np.unique(sorted_hashes[long]))
                self.n_stopped = int(keep.size - np.count_nonzero(keep))
                sorted_hashes, sorted_files, sorted_times = (
                    sorted_hashes[keep], sorted_files[keep], sorted_times[keep])
        self.hashes, self.files, self.times = sorted_hashes, sorted_files, sorted_times
        # Bucket table over the top bits: ~4 entries a bucket, at most 2^24 buckets (64 MB).
        n = sorted_hashes.size
        self.bits = int(min(24, max(8, np.ceil(np.log2(max(n, 1))) - 2)))
        self.shift = np.uint32(32 - self.bits)
        starts = np.zeros(2 ** self.bits + 1, dtype=np.int64)
        np.cumsum(np.bincount(sorted_hashes >> self.shift, minlength=2 ** self.bits),
                  out=starts[1:])
        self.starts = starts.astype(np.int32 if n < 2 ** 31 else np.int64)

    @property
    def nbytes(self) -> int:
        return int(self.hashes.nbytes + self.files.nbytes + self.times.nbytes
                   + self.starts.nbytes)

    def __len__(self) -> int:
        return int(self.hashes.size)

    def query(self, hashes: np.ndarray, files: np.ndarray, times: np.ndarray) -> Candidates:
        """Landmarks of other files (``files``: their ids, not the index's) found in the index."""
        hashes = np.asarray(hashes, dtype=np.uint32)
        top = (hashes >> self.shift).astype(np.int64)
        lo = self.starts[top].astype(np.int64)
        counts = self.starts[top + 1].astype(np.int64) - lo
        owner, positions = _expand(lo, counts)
        equal = self.hashes[positions] == hashes[owner]
        owner, positions = owner[equal], positions[equal]
        return Candidates(np.asarray(files, dtype=np.int64)[owner],
                          self.files[positions].astype(np.int64),
                          self.times[positions].astype(np.int64) - times[owner])

    def self_candidates(self) -> Candidates:
        """Landmarks shared by two indexed files of different splits (each pair once, a < b)."""
        h = self.hashes
        if h.size < 2:
            return Candidates.empty()
        same_as_next = np.flatnonzero(h[1:] == h[:-1])  # runs of equal hashes (<= stop_count)
        parts = []
        step = 1
        while same_as_next.size:
            first, second = same_as_next, same_as_next + step
            split_a = self.file_split[self.files[first]]
            split_b = self.file_split[self.files[second]]
            cross = split_a != split_b
            first, second = first[cross], second[cross]
            a, b = self.files[first].astype(np.int64), self.files[second].astype(np.int64)
            offset = self.times[second].astype(np.int64) - self.times[first]
            swap = a > b
            a[swap], b[swap] = b[swap], a[swap]
            offset[swap] = -offset[swap]
            parts.append(Candidates(a, b, offset))
            step += 1
            nxt = same_as_next + step
            same_as_next = same_as_next[(nxt < h.size)]
            same_as_next = same_as_next[h[same_as_next + step] == h[same_as_next]]
        return Candidates.concatenate(parts)


def aligned_scores(found: Candidates) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per file pair: ``(a, b, score, offset)``, the most landmarks agreeing on one time offset
    (counting the offsets one frame either side with it) and that offset in frames."""
    if not len(found):
        empty = np.zeros(0, np.int64)
        return empty, empty, empty, empty
    order = np.lexsort((found.offset, found.b, found.a))
    a, b, offset = found.a[order], found.b[order], found.offset[order]
    new = np.concatenate([[True], (a[1:] != a[:-1]) | (b[1:] != b[:-1])
                          | (offset[1:] != offset[:-1])])
    starts = np.flatnonzero(new)
    a, b, offset = a[starts], b[starts], offset[starts]
    count = np.diff(np.append(starts, order.size))
    same_pair_prev = np.concatenate([[False], (a[1:] == a[:-1]) & (b[1:] == b[:-1])])
    with_tolerance = count.copy()
    prev_adjacent = same_pair_prev & (np.concatenate([[0], offset[:-1]]) == offset - 1)
    with_tolerance[prev_adjacent] += count[np.flatnonzero(prev_adjacent) - 1]
    next_adjacent = np.append(prev_adjacent[1:], False)
    with_tolerance[next_adjacent] += count[np.flatnonzero(next_adjacent) + 1]
    # Best offset per pair (pairs are contiguous): the group maximum and its first row.
    group_start = np.flatnonzero(~same_pair_prev)
    group = np.cumsum(~same_pair_prev) - 1
    best = np.maximum.reduceat(with_tolerance, group_start)
    best_rows = np.flatnonzero(with_tolerance == best[group])
    first = np.concatenate([[True], group[best_rows[1:]] != group[best_rows[:-1]]])
    return a[group_start], b[group_start], best, offset[best_rows[first]]


def pair_score(hashes_a: np.ndarray, times_a: np.ndarray, hashes_b: np.ndarray,
               times_b: np.ndarray) -> tuple[int, float]:
    """Landmarks of two files agreeing on one offset, and their share of the smaller file's
    (the figures the thresholds are set on; one pair, through the same index and scoring)."""
    index = LandmarkIndex(hashes_b, np.zeros(hashes_b.size, np.int32), times_b,
                          file_split=np.zeros(2, dtype=np.int64))
    _, _, score, _ = aligned_scores(index.query(hashes_a, np.ones(hashes_a.size, np.int64),
                                                np.asarray(times_a, dtype=np.int64)))
    best = int(score.max()) if score.size else 0
    return best, best / max(1, min(hashes_a.size, hashes_b.size))
