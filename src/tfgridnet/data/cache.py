"""Decoded audio kept per loader process under a byte budget, least recently used out first.

Cheap repeated epochs on a small corpus (the demo's fits whole), bounded memory on a large one:
each DataLoader worker holds its own cache, so the budget is per process.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np

from tfgridnet.audio.filters import bandpass as bandpass_filter
from tfgridnet.audio.io import load_audio

__all__ = ["AudioCache", "DEFAULT_CACHE_MB"]

# Per loader process: ~70 min of 16 kHz float32 audio. 4 workers x 8 ranks on a node: 8 GB.
DEFAULT_CACHE_MB = 256.0


class AudioCache:
    """Decoded, resampled (and filtered) audio by path, at most ``max_bytes`` of it (0: off)."""

    def __init__(self, sample_rate: int, bandpass: tuple[float | None, float | None] | None,
                 max_bytes: int = int(DEFAULT_CACHE_MB * 2**20)) -> None:
        if max_bytes < 0:
            raise ValueError(f"cache budget must be >= 0 bytes, got {max_bytes}")
        self.sample_rate = sample_rate
        self.bandpass = bandpass
        self.max_bytes = int(max_bytes)
        self.nbytes = 0
        self._store: OrderedDict[str, np.ndarray] = OrderedDict()

    def __len__(self) -> int:
        return len(self._store)

    def get(self, path: str | Path) -> np.ndarray:
        """The file's audio ([N] float32 at ``sample_rate``), from memory when it is there."""
        key = str(path)
        audio = self._store.get(key)
        if audio is not None:
            self._store.move_to_end(key)
            return audio
        audio, _ = load_audio(path, target_sr=self.sample_rate, mono="average")
        if self.bandpass is not None:
            audio = bandpass_filter(audio, self.sample_rate, *self.bandpass)
        audio = np.ascontiguousarray(audio, dtype=np.float32)
        if 0 < audio.nbytes <= self.max_bytes:
            self._store[key] = audio
            self.nbytes += audio.nbytes
            while self.nbytes > self.max_bytes:
                _, evicted = self._store.popitem(last=False)
                self.nbytes -= evicted.nbytes
        return audio
