"""Chunking and overlap-add: long signals in overlapping chunks, cross-faded with raised-cosine ramps.

The model only ever sees one chunk (``chunk_seconds``) at a time, and at most ``workers`` passes
run at once; the scheduler holds about ``workers`` chunks of input and output, however long the
stream.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

__all__ = ["DEFAULT_CHUNK_SECONDS", "DEFAULT_OVERLAP_SECONDS", "ChunkedModel", "ChunkScheduler",
           "crossfade_weights"]


class ChunkedModel(Protocol):
    """What the scheduler takes from the model wrapper (``inference.enhancer.Enhancer`` is one): the
    chunk and overlap in samples at the model's rate, rows per pass, the level correction
    (``level.stream(channels)``), the pool the passes run in, and the pass itself. Named here so
    that this module does not import the enhancer that imports it."""

    chunk: int
    overlap: int
    chunks_per_batch: int
    level: Any  # inference.level.LevelCorrection
    passes: Any  # inference.parallel.PassPool: .map(forward_batch, inputs) in order

    def forward_batch(self, batch: np.ndarray) -> np.ndarray: ...

# Chosen by measurement (bench/RESULTS.md §10, §29): the full-band attention makes a pass cost grow
# faster than its length, so 4 s chunks (the seed recipe's training crop) beat 8, 16 and 30 s ones
# per second of audio on the CPU, fp32 and bf16 alike; with 0.25 s of cross-faded overlap the
# trained demo model scores 0.46 dB SI-SNR *above* one pass on 20-32 s recordings (0.5 s: 0.4 dB,
# bench/chunking.py) at 9 % less compute than 0.5 s.
DEFAULT_CHUNK_SECONDS = 4.0
DEFAULT_OVERLAP_SECONDS = 0.25


def crossfade_weights(length: int, fade_in: int, fade_out: int) -> np.ndarray:
    """Per-sample weight of one chunk: raised-cosine ramps at the overlapped edges, 1 elsewhere.

    Ramps are strictly positive, so the accumulated weight never vanishes; the overlap-add divides
    by it, which makes the cross-fade exact (sums to one) whatever the overlap.
    """
    weights = np.ones(length, dtype=np.float64)
    if fade_in:
        weights[:fade_in] = np.sin(0.5 * np.pi * (np.arange(fade_in) + 0.5) / fade_in) ** 2
    if fade_out:
        weights[length - fade_out:] *= np.cos(
            0.5 * np.pi * (np.arange(fade_out) + 0.5) / fade_out) ** 2
    return weights


class ChunkScheduler:
    """Chunking and overlap-add of ``[C, N]`` audio at the model's rate, fed block by block.

    Chunk starts are ``0, hop, 2*hop, ...`` while a chunk ends before the signal does, then one
    last chunk ending exactly at the end; each chunk is weighted by ``crossfade_weights`` and the
    sum divided by the summed weights. A signal no longer than one chunk is a single pass. Each
    ``push`` returns the raw (uncorrected) samples that no later chunk can touch, so only about
    one chunk of input and output is held, however long the stream. Their level gain is that of
    the whole signal (``level``, a ``LevelStream``, observes each released block): once
    ``finish`` has returned the last samples, the raw output goes through ``level.correct`` in
    order, then ``level.flush``. Pushing everything at once and calling ``finish`` is the
    in-memory path.
    """

    def __init__(self, enhancer: ChunkedModel, channels: int) -> None:
        self.enhancer = enhancer
        self.chunk, self.overlap = enhancer.chunk, enhancer.overlap
        self.hop = self.chunk - self.overlap
        self.inputs = np.zeros((channels, 0), dtype=np.float32)  # samples [base, total)
        self.acc = np.zeros((channels, 0), dtype=np.float64)
        self.weight_sum = np.zeros(0, dtype=np.float64)
        self.base = 0  # absolute index of the first buffered sample
        self.total = 0  # samples received so far
        self.next_start = 0  # next regular chunk start
        self.previous_end = 0  # end of the last chunk run
        self.level = enhancer.level.stream(channels)  # one gain per channel, the whole's

    def push(self, block: np.ndarray) -> np.ndarray:
        """Add ``[C, m]`` samples; return the enhanced samples now final (maybe none)."""
        block = np.asarray(block, dtype=np.float32)
        if block.shape[-1]:
            self.inputs = np.concatenate([self.inputs, block], axis=-1)
            self.acc = np.concatenate([self.acc, np.zeros(block.shape, np.float64)], axis=-1)
            self.weight_sum = np.concatenate([self.weight_sum, np.zeros(block.shape[-1])])
            self.total += block.shape[-1]
        starts = []
        while self.next_start + self.chunk < self.total:  # a later chunk will follow this one
            starts.append(self.next_start)
            self.next_start += self.hop
        self._run(starts, self.chunk, last=False)
        # Every later chunk starts at or after total - chunk, and all before it has been summed.
        return self._release(max(self.total - self.chunk, self.base))

    def finish(self, block: np.ndarray | None = None) -> np.ndarray:
        """End of stream (optionally with a last block): return all remaining enhanced samples."""
        out = [] if block is None else [self.push(block)]
        if self.total > self.chunk:
            self._run([self.total - self.chunk], self.chunk, last=True)
        elif self.total:
            self._run([0], self.total, last=True)  # fits one chunk: one pass, weights all 1
        out.append(self._release(self.total))
        return np.concatenate(out, axis=-1) if len(out) > 1 else out[0]

    def _run(self, starts: list[int], length: int, last: bool) -> None:
        """Run the model over ``starts`` (all channels), ``chunks_per_batch`` rows a pass."""
        if not starts:
            return
        rows = []  # (start, channel, weights): one model input row each
        for start in starts:
            fade_in = min(self.overlap, max(self.previous_end - start, 0)) if start else 0
            weights = crossfade_weights(length, fade_in, 0 if last else self.overlap)
            self.weight_sum[start - self.base:start - self.base + length] += weights
            self.previous_end = start + length
            rows += [(start, c, weights) for c in range(self.inputs.shape[0])]
        step = self.enhancer.chunks_per_batch
        groups = [rows[first:first + step] for first in range(0, len(rows), step)]
        inputs = [np.stack([self.inputs[c, s - self.base:s - self.base + length]
                            for s, c, _ in group]) for group in groups]
        # The passes may run side by side (enhancer.passes); the overlap-add takes their outputs.
        outputs = self.enhancer.passes.map(self.enhancer.forward_batch, inputs)
        for group, raw in zip(groups, outputs):
            for (start, c, weights), chunk_out in zip(group, raw):
                self.acc[c, start - self.base:start - self.base + length] += weights * chunk_out

    def _release(self, upto: int) -> np.ndarray:
        """Return the finished raw samples ``[base, upto)`` (the level stream observes them with
        their input) and drop them from the buffers."""
        k = upto - self.base
        out = (self.acc[:, :k] / self.weight_sum[:k]).astype(np.float32)
        self.level.observe(out, self.inputs[:, :k])
        self.inputs, self.acc = self.inputs[:, k:], self.acc[:, k:]
        self.weight_sum = self.weight_sum[k:]
        self.base = upto
        return out
