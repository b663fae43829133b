"""Which file an item uses: every file of a list, in per-seed shuffled passes, before any repeats.

Dynamic mixing draws ``epoch_size`` items per epoch from lists that may be far longer (DNS-2020:
~60,000 clean utterances, 20,000 items per epoch). Item ``index`` of ``epoch`` sits at position
``epoch * epoch_size + index`` of an endless stream made of passes; each pass is a fresh
permutation of the whole list, keyed by (seed, stream, pass). So consecutive epochs take
consecutive slices of one pass (the whole list is used before any file repeats) and the mapping
is a pure function of (seed, epoch, index): identical in every DataLoader worker, after a resume
and on every DDP rank (the sampler gives each rank a disjoint share of the indices).
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

__all__ = ["PassOrder", "stream_position", "CLEAN_STREAM", "NOISE_STREAM"]

CLEAN_STREAM = 1  # keys the permutations of the clean list ...
NOISE_STREAM = 2  # ... and of the noise list, so the two orders are independent
_STREAM_TAG = 0x5A3B1E  # separates these seeds from the per-item (seed, epoch, index) generators
_KEPT_PASSES = 4  # permutations kept per process (an epoch spans at most a few passes)


def stream_position(epoch: int, index: int, epoch_size: int) -> int:
    """Position of item ``index`` of ``epoch`` in the endless stream of items."""
    if not 0 <= index < epoch_size:
        raise IndexError(f"index {index} outside the epoch's {epoch_size} items")
    return int(epoch) * int(epoch_size) + int(index)


class PassOrder:
    """Position in the stream -> list index: pass ``p`` is a permutation of ``range(n)``.

    Permutations are computed on demand and a few are kept (``n`` int64 each: 0.5 MB at 60,000
    files), so a worker never holds more than that whatever the run length.
    """

    def __init__(self, n: int, seed: int, stream: int) -> None:
        if n < 1:
            raise ValueError(f"PassOrder needs at least one element, got {n}")
        self.n = int(n)
        self.seed = int(seed)
        self.stream = int(stream)
        self._passes: OrderedDict[int, np.ndarray] = OrderedDict()

    def permutation(self, pass_index: int) -> np.ndarray:
        """The order of pass ``pass_index`` (shape [n])."""
        order = self._passes.get(pass_index)
        if order is None:
            rng = np.random.default_rng(
                [self.seed & 0xFFFFFFFF, _STREAM_TAG, self.stream, int(pass_index)])
            order = rng.permutation(self.n)
            self._passes[pass_index] = order
            while len(self._passes) > _KEPT_PASSES:
                self._passes.popitem(last=False)
        else:
            self._passes.move_to_end(pass_index)
        return order

    def __call__(self, position: int) -> int:
        pass_index, offset = divmod(int(position), self.n)
        return int(self.permutation(pass_index)[offset])
