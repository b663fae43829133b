"""Batches of one sample rate: native-rate (V3) training never pads an 8 kHz item to 48 kHz.

The model's STFT is sized by the batch's rate, so a batch must hold one rate. Keys are
``(index, epoch)`` as with :class:`~tfgridnet.data.datasets.EpochSampler`, and the order is a pure
function of (seed, epoch): a resumed run replays the batches an uninterrupted one would have seen.
An item's rate may change with the epoch (dynamic mixing takes each epoch's clean files from a
shuffled pass over the list), so the items are grouped by rate again for every epoch.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Protocol

import numpy as np
from torch.utils.data import Sampler

from tfgridnet.data.datasets import _rng

__all__ = ["RateBatchSampler"]


class _RatedDataset(Protocol):
    def __len__(self) -> int: ...

    def item_rate(self, index: int, epoch: int | None = None) -> int: ...


class RateBatchSampler(Sampler):
    """Lists of ``(index, epoch)`` keys whose items share a sample rate, split over DDP ranks.

    Per epoch: each rate's items are shuffled and cut into batches of ``batch_size`` (the last one
    of a rate may be smaller), then the batches of all rates are shuffled together. Every rank gets
    the same number of batches (wrap-around, as ``DistributedSampler`` pads), which DDP needs.
    """

    def __init__(self, dataset: _RatedDataset, batch_size: int, num_replicas: int = 1,
                 rank: int = 0, shuffle: bool = True, seed: int = 0) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank {rank} must be in [0, {num_replicas})")
        self.dataset = dataset
        self.batch_size = batch_size
        self.num_replicas = num_replicas
        self.rank = rank
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = 0
        self._grouped: tuple[int, dict[int, np.ndarray]] | None = None

    @property
    def by_rate(self) -> dict[int, np.ndarray]:
        """This epoch's item indices by sample rate, rates ascending."""
        if self._grouped is None or self._grouped[0] != self.epoch:
            groups: dict[int, list[int]] = {}
            for index in range(len(self.dataset)):
                groups.setdefault(int(self.dataset.item_rate(index, self.epoch)), []).append(index)
            self._grouped = (self.epoch, {rate: np.asarray(indices)
                                          for rate, indices in sorted(groups.items())})
        return self._grouped[1]

    @property
    def rates(self) -> list[int]:
        """The sample rates present this epoch, ascending."""
        return list(self.by_rate)

    @property
    def per_rank(self) -> int:
        """Batches each rank gets this epoch (the same on every rank)."""
        n_batches = sum(math.ceil(len(ix) / self.batch_size) for ix in self.by_rate.values())
        return math.ceil(n_batches / self.num_replicas)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.per_rank

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        rng = _rng(self.seed, self.epoch, -2 & 0xFFFFFFFF)
        batches: list[np.ndarray] = []
        for indices in self.by_rate.values():
            order = rng.permutation(indices) if self.shuffle else indices
            batches += [order[i:i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        if self.shuffle:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        total = self.per_rank * self.num_replicas
        if total > len(batches):
            batches = batches + batches[: total - len(batches)]
        return iter([[(int(i), self.epoch) for i in batch]
                     for batch in batches[self.rank:total:self.num_replicas]])
