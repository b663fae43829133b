"""Torch datasets that keep pairs aligned: paired files and on-the-fly (dynamic) mixing.

Both sides of a pair go through the same load -> resample -> band-pass -> crop, with the same
offset. Randomness is a pure function of (seed, epoch, index), so an epoch is reproducible whatever
the number of DataLoader workers. The epoch lives in shared memory, so ``set_epoch`` reaches
persistent workers too; a sampler may also send ``(index, epoch)`` keys (see :class:`EpochSampler`).
Decoded audio is cached per process under a byte budget (``cache_mb``, see data/cache.py).
``sample_rate=None`` reads every item at its own file's rate (native-rate V3 training; batch such
items with :class:`~tfgridnet.data.rate_sampler.RateBatchSampler`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence, Sized
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from tfgridnet.audio.io import audio_info
from tfgridnet.contracts.names import UTTID
from tfgridnet.data.augment import Augmentation
from tfgridnet.data.cache import DEFAULT_CACHE_MB, AudioCache
from tfgridnet.data.distortions import Distortions
from tfgridnet.data.manifest import SNR_COLUMN, Entry, Pair, read_entries, read_manifest
from tfgridnet.data.sampling import CLEAN_STREAM, NOISE_STREAM, PassOrder, stream_position

__all__ = ["PairedDataset", "DynamicMixDataset", "EpochSampler", "collate_pairs"]

_MAX_INT16 = 0.99  # mixtures louder than this are scaled down (one gain for both sides)


def _rng(seed: int, epoch: int, index: int) -> np.random.Generator:
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, int(epoch), int(index)])


class _EpochMixin:
    """Epoch counter in shared memory: visible to DataLoader workers, persistent or not."""

    def _init_epoch(self) -> None:
        self._epoch = torch.zeros(1, dtype=torch.int64).share_memory_()

    def set_epoch(self, epoch: int) -> None:
        """Select the crops/augmentations/mixtures of ``epoch`` (call before iterating it)."""
        self._epoch[0] = int(epoch)

    @property
    def epoch(self) -> int:
        return int(self._epoch[0])

    def _split_key(self, key: int | tuple[int, int]) -> tuple[int, int]:
        if isinstance(key, tuple | list):
            return int(key[0]), int(key[1])
        return int(key), self.epoch


class _RateMixin:
    """Items at one fixed rate, or (``sample_rate=None``) each at its own file's rate."""

    def _init_rates(self, sample_rate: int | None) -> None:
        self.sample_rate = int(sample_rate) if sample_rate else None
        self._native_rates: dict[str, int] = {}

    def _rate_of(self, path: str | Path) -> int:
        if self.sample_rate is not None:
            return self.sample_rate
        key = str(path)
        if key not in self._native_rates:
            self._native_rates[key] = int(audio_info(path).samplerate)
        return self._native_rates[key]


def _cache_bytes(cache: bool, cache_mb: float) -> int:
    if cache_mb < 0:
        raise ValueError(f"cache_mb must be >= 0 (0: no cache), got {cache_mb}")
    return int(cache_mb * 2**20) if cache else 0


def _crop_or_pad(arrays: Sequence[np.ndarray], crop: int | None, offset: int) -> tuple[list, int]:
    """Cut the same window from every array; zero-pad when shorter. Returns (arrays, valid length)."""
    length = arrays[0].shape[-1]
    if crop is None:
        return list(arrays), length
    if length >= crop:
        return [a[offset:offset + crop] for a in arrays], crop
    return [np.pad(a, (0, crop - length)) for a in arrays], length


class PairedDataset(_EpochMixin, _RateMixin, Dataset):
    """(noisy, clean) pairs from a manifest; items are dicts (see :func:`collate_pairs`).

    ``sample_rate=None`` reads every pair at its noisy file's own rate (clean resampled to it).

    train=True: a random crop (same offset on both sides) of ``crop_seconds``; short pairs are
    zero-padded and ``length`` tells the valid samples. train=False: the whole utterance, or a
    deterministic centre crop when ``crop_seconds`` is given. ``conditions`` are the manifest's
    extra columns for the pair.
    """

    def __init__(self, manifest: str | Path | list[Pair], sample_rate: int | None,
                 crop_seconds: float | None = None,
                 bandpass: tuple[float | None, float | None] | None = None, train: bool = True,
                 seed: int = 0, augment: Augmentation | None = None, cache: bool = True,
                 cache_mb: float = DEFAULT_CACHE_MB) -> None:
        self.pairs = list(manifest) if isinstance(manifest, list) else read_manifest(manifest)
        missing_clean = [p.uttid for p in self.pairs if p.clean is None or p.noisy is None]
        if missing_clean:
            raise ValueError(f"PairedDataset needs noisy and clean for every row; missing for "
                             f"{', '.join(missing_clean[:5])}")
        if crop_seconds is not None and crop_seconds <= 0:
            raise ValueError(f"crop_seconds must be positive, got {crop_seconds}")
        self.crop_seconds = crop_seconds
        self.train = train
        self.seed = seed
        self.augment = augment
        self._init_rates(sample_rate)
        self._cache = AudioCache(self.sample_rate, bandpass, _cache_bytes(cache, cache_mb))
        self._init_epoch()

    def __len__(self) -> int:
        return len(self.pairs)

    def item_rate(self, index: int, epoch: int | None = None) -> int:
        """The rate item ``index`` comes at: the dataset's, or (native) its noisy file's."""
        return self._rate_of(self.pairs[index].noisy)

    def load_pair(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """The whole pair at the item's rate; a few samples of resampling slack are trimmed."""
        pair = self.pairs[index]
        rate = self.item_rate(index)
        noisy = self._cache.get(pair.noisy, rate)
        clean = self._cache.get(pair.clean, rate)
        n = min(noisy.shape[-1], clean.shape[-1])
        return noisy[:n], clean[:n]

    def __getitem__(self, key: int | tuple[int, int]) -> dict:
        index, epoch = self._split_key(key)
        rng = _rng(self.seed, epoch, index)
        rate = self.item_rate(index)
        crop = int(round(self.crop_seconds * rate)) if self.crop_seconds else None
        noisy, clean = self.load_pair(index)
        if self.augment is not None and self.train:
            noisy, clean = self.augment(noisy, clean, rate, rng)
        length = noisy.shape[-1]
        offset = 0
        if crop is not None and length > crop:
            offset = int(rng.integers(0, length - crop + 1)) if self.train \
                else (length - crop) // 2
        (noisy, clean), valid = _crop_or_pad([noisy, clean], crop, offset)
        return {
            "sample_rate": rate,
            UTTID: self.pairs[index].uttid,
            "noisy": torch.from_numpy(np.ascontiguousarray(noisy, dtype=np.float32)),
            "clean": torch.from_numpy(np.ascontiguousarray(clean, dtype=np.float32)),
            "length": int(valid),
            "conditions": dict(self.pairs[index].conditions),
        }


class DynamicMixDataset(_EpochMixin, _RateMixin, Dataset):
    """Clean speech + noise mixed on the fly at a random SNR: a fresh mixture per (seed, epoch, index).

    Each item crops ``crop_seconds`` of one clean utterance (padded when shorter), takes a noise
    file at a random offset (looped when short), scales the zero-mean noise to an SNR drawn from
    ``snr_range`` (exact: SI-SNR(noisy, clean) equals the item's ``snr_db``) and applies one
    random gain from ``gain_range_db`` to both sides. Clean and noise files are taken in
    shuffled passes over their whole lists (data/sampling.py): an epoch of ``epoch_size`` items
    takes the next slice of the current pass, so every file is used before any repeats. Each
    item's ``conditions`` say how it was made (clean/noise ids, noise kind when the noise
    manifest has a ``noise_kind`` column, SNR, gain, augmentations applied, manifest columns,
    and with ``distortions`` what the item received, e.g. ``"reverb=rir:kitchen01;clip=0.07-0.93"``).
    ``sample_rate=None`` mixes at each clean file's own rate (the noise is resampled to it).
    """

    def __init__(self, clean_manifest: str | Path | list[Pair],
                 noise_manifest: str | Path | list[tuple[str, Path]] | list[Entry],
                 sample_rate: int | None, crop_seconds: float,
                 snr_range: tuple[float, float] = (-5.0, 15.0),
                 gain_range_db: tuple[float, float] = (-6.0, 6.0), epoch_size: int | None = None,
                 seed: int = 0, augment: Augmentation | None = None, cache: bool = True,
                 cache_mb: float = DEFAULT_CACHE_MB, distortions: Distortions | None = None) -> None:
        clean = clean_manifest if isinstance(clean_manifest, list) \
            else read_manifest(clean_manifest, require=("clean",))
        self.clean = [(p.uttid, p.clean_text) for p in clean]  # (uttid, path as text)
        # Manifest columns of the clean rows, kept only when some row has any (memory at 100k rows).
        self._clean_conditions = [p.conditions for p in clean] \
            if any(p.conditions for p in clean) else None
        noise = noise_manifest if isinstance(noise_manifest, list) \
            else read_entries(noise_manifest, "noise")
        self.noise = [e if isinstance(e, Entry) else Entry(e[0], Path(e[1])) for e in noise]
        if not self.clean or not self.noise:
            raise ValueError("DynamicMixDataset needs at least one clean and one noise file")
        if crop_seconds <= 0:
            raise ValueError(f"crop_seconds must be positive, got {crop_seconds}")
        for name, (low, high) in (("snr_range", snr_range), ("gain_range_db", gain_range_db)):
            if low > high:
                raise ValueError(f"{name}: expected (low, high) with low <= high, got {(low, high)}")
        self.crop_seconds = crop_seconds
        self.snr_range = tuple(snr_range)
        self.gain_range_db = tuple(gain_range_db)
        self.epoch_size = int(epoch_size) if epoch_size else len(self.clean)
        self.seed = seed
        self.augment = augment
        self.distortions = distortions  # URGENT-style reverb/band-limit/clip/codec (optional)
        self._init_rates(sample_rate)
        self._clean_order = PassOrder(len(self.clean), seed, CLEAN_STREAM)
        self._noise_order = PassOrder(len(self.noise), seed, NOISE_STREAM)
        self._cache = AudioCache(self.sample_rate, None, _cache_bytes(cache, cache_mb))
        self._init_epoch()

    def __len__(self) -> int:
        return self.epoch_size

    def clean_index(self, index: int, epoch: int) -> int:
        """Row of the clean list that item ``index`` of ``epoch`` uses."""
        return self._clean_order(stream_position(epoch, index, self.epoch_size))

    def noise_index(self, index: int, epoch: int) -> int:
        """Row of the noise list that item ``index`` of ``epoch`` uses."""
        return self._noise_order(stream_position(epoch, index, self.epoch_size))

    def item_rate(self, index: int, epoch: int | None = None) -> int:
        """The rate item ``index`` of ``epoch`` (default: the current one) comes at: the
        dataset's, or (native) its clean file's, which depends on the epoch's pass order."""
        if self.sample_rate is not None:
            return self.sample_rate
        epoch = self.epoch if epoch is None else epoch
        return self._rate_of(self.clean[self.clean_index(index, epoch)][1])

    def _noise_segment(self, entry: Entry, rng: np.random.Generator, n: int,
                       rate: int) -> np.ndarray:
        noise = self._cache.get(entry.path_text, rate)  # at the speech's rate
        if noise.shape[-1] < n:
            noise = np.tile(noise, int(np.ceil(n / max(1, noise.shape[-1]))) + 1)
        start = int(rng.integers(0, noise.shape[-1] - n + 1))
        return noise[start:start + n].astype(np.float64)

    def __getitem__(self, key: int | tuple[int, int]) -> dict:
        index, epoch = self._split_key(key)
        rng = _rng(self.seed, epoch, index)
        clean_row = self.clean_index(index, epoch)
        uttid, clean_path = self.clean[clean_row]
        rate = self._rate_of(clean_path)
        crop = int(round(self.crop_seconds * rate))
        clean_full = self._cache.get(clean_path, rate)
        length = clean_full.shape[-1]
        offset = int(rng.integers(0, length - crop + 1)) if length > crop else 0
        clean = clean_full[offset:offset + crop].astype(np.float64)
        valid = clean.shape[-1]
        draw = None if self.distortions is None else self.distortions.draw(rng, rate)
        target = clean
        if draw is not None:  # the (reverberant) speech is mixed; the target keeps early reverb
            clean, target = draw.reverberate(clean)
        noise_entry = self.noise[self.noise_index(index, epoch)]
        noise = self._noise_segment(noise_entry, rng, valid, rate)
        snr_db = float(rng.uniform(*self.snr_range))
        noise = noise - noise.mean()
        centred = clean - clean.mean()
        clean_energy = float(np.sum(centred * centred))
        if clean_energy > 0:
            # Drop the (chance) part of the noise along the clean: the SNR label is then exactly
            # the input's SI-SNR. It removes ~1/N of the noise energy, nothing audible.
            # (np.sum, not BLAS `@`: a threaded BLAS dot spins in DataLoader workers.)
            noise -= float(np.sum(noise * centred)) / clean_energy * centred
        noise_energy = float(np.sum(noise * noise))
        if clean_energy > 0 and noise_energy > 0:
            noise *= np.sqrt(clean_energy / noise_energy / 10.0 ** (snr_db / 10.0))
        noisy = clean + noise
        if draw is not None:
            noisy, clean = draw.degrade(noisy), target
        gain = 10.0 ** (rng.uniform(*self.gain_range_db) / 20.0)
        peak = float(np.max(np.abs(noisy), initial=0.0)) * gain
        if peak > _MAX_INT16:
            gain *= _MAX_INT16 / peak
        noisy, clean = (noisy * gain).astype(np.float32), (clean * gain).astype(np.float32)
        applied: dict = {}
        if self.augment is not None:
            noisy, clean = self.augment(noisy, clean, rate, rng, record=applied)
            valid = min(noisy.shape[-1], crop)
            noisy, clean = noisy[:valid], clean[:valid]
        (noisy, clean), valid = _crop_or_pad([noisy, clean], crop, 0)
        conditions = {
            **(self._clean_conditions[clean_row] if self._clean_conditions else {}),
            **noise_entry.conditions,
            "clean_id": uttid, "noise_id": noise_entry.uttid, SNR_COLUMN: snr_db,
            "gain_db": float(20.0 * np.log10(gain)), "augmentations": applied,
            **({} if draw is None else {"distortions": draw.conditions}),
        }
        return {
            "sample_rate": rate,
            UTTID: f"{uttid}__{noise_entry.uttid}__e{epoch}i{index}",
            "noisy": torch.from_numpy(np.ascontiguousarray(noisy)),
            "clean": torch.from_numpy(np.ascontiguousarray(clean)),
            "length": int(valid),
            "snr_db": snr_db,
            "conditions": conditions,
        }


class EpochSampler(Sampler):
    """Per-epoch shuffled ``(index, epoch)`` keys, split evenly over ``num_replicas`` ranks.

    Like ``DistributedSampler`` (wrap-around padding so every rank gets the same number of items,
    which DDP needs), but the epoch travels with every key, so worker processes need no shared
    state and a resumed run replays exactly the keys an uninterrupted one would have seen.
    Lightning calls ``set_epoch`` before each epoch.
    """

    def __init__(self, dataset: Sized, num_replicas: int = 1, rank: int = 0,
                 shuffle: bool = True, seed: int = 0) -> None:
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank {rank} must be in [0, {num_replicas})")
        self.n = len(dataset)
        self.num_replicas = num_replicas
        self.rank = rank
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = 0
        self.per_rank = math.ceil(self.n / num_replicas)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.per_rank

    def __iter__(self) -> Iterator[tuple[int, int]]:
        order = _rng(self.seed, self.epoch, -1 & 0xFFFFFFFF).permutation(self.n) if self.shuffle \
            else np.arange(self.n)
        total = self.per_rank * self.num_replicas
        if total > self.n:
            order = np.concatenate([order, order[: total - self.n]])
        return iter([(int(i), self.epoch) for i in order[self.rank:total:self.num_replicas]])


def collate_pairs(items: list[dict]) -> dict:
    """Stack items into a batch, zero-padding to the longest; ``lengths`` gives the valid samples.

    ``conditions`` (when every item has them) stay a list of per-item dicts, not tensors.
    """
    if not items:
        raise ValueError("collate_pairs: empty batch")
    longest = max(item["noisy"].shape[-1] for item in items)
    batch = len(items)
    noisy = torch.zeros(batch, longest, dtype=torch.float32)
    clean = torch.zeros(batch, longest, dtype=torch.float32)
    for row, item in enumerate(items):
        n = item["noisy"].shape[-1]
        noisy[row, :n] = item["noisy"]
        clean[row, :item["clean"].shape[-1]] = item["clean"]
    out = {
        UTTID: [item[UTTID] for item in items],
        "noisy": noisy,
        "clean": clean,
        "lengths": torch.tensor([int(item["length"]) for item in items], dtype=torch.long),
    }
    rates = {item.get("sample_rate") for item in items}
    if len(rates) > 1:
        raise ValueError(f"collate_pairs: one batch mixes sample rates {sorted(rates)}; batch "
                         "native-rate items with RateBatchSampler")
    if None not in rates:
        out["sample_rate"] = rates.pop()
    if all("snr_db" in item for item in items):
        out["snr_db"] = torch.tensor([item["snr_db"] for item in items], dtype=torch.float32)
    if all("conditions" in item for item in items):
        out["conditions"] = [item["conditions"] for item in items]  # one dict per row, as given
    return out
