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
    """Decoded, resampled (and filtered) audio by (path, rate), at most ``max_bytes`` of it (0: off).

    ``sample_rate`` is the rate files are read at; ``None`` (native-rate V3 training) means each
    ``get`` names its rate, so one budget covers every rate a file is read at.
    """

    def __init__(self, sample_rate: int | None,
                 bandpass: tuple[float | None, float | None] | None,
                 max_bytes: int = int(DEFAULT_CACHE_MB * 2**20)) -> None:
        if max_bytes < 0:
            raise ValueError(f"cache budget must be >= 0 bytes, got {max_bytes}")
        self.sample_rate = sample_rate
        self.bandpass = bandpass
        self.max_bytes = int(max_bytes)
        self.nbytes = 0
        self._store: OrderedDict[tuple[str, int], np.ndarray] = OrderedDict()

    def __len__(self) -> int:
        return len(self._store)

    def get(self, path: str | Path, sample_rate: int | None = None) -> np.ndarray:
        """The file's audio ([N] float32 at ``sample_rate``, default the cache's), from memory
        when it is there."""
        rate = sample_rate or self.sample_rate
        if rate is None:
            raise ValueError("AudioCache.get: this cache has no fixed rate; pass sample_rate=")
        key = (str(path), int(rate))
        audio = self._store.get(key)
        if audio is not None:
            self._store.move_to_end(key)
            return audio
        audio, _ = load_audio(path, target_sr=rate, mono="average")
        if self.bandpass is not None:
            audio = bandpass_filter(audio, rate, *self.bandpass)
        audio = np.ascontiguousarray(audio, dtype=np.float32)
        if 0 < audio.nbytes <= self.max_bytes:
            self._store[key] = audio
            self.nbytes += audio.nbytes
            while self.nbytes > self.max_bytes:
                _, evicted = self._store.popitem(last=False)
                self.nbytes -= evicted.nbytes
        return audio
