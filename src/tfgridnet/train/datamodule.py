"""LightningDataModule: builds the datasets from the config and shards them across ranks.

Data order is a pure function of (seed, epoch, rank): the sampler yields ``(index, epoch)`` keys,
so resuming at epoch k replays exactly the batches an uninterrupted run would have seen, with any
number of workers. Lightning calls ``set_epoch`` on the sampler before each epoch.
"""

from __future__ import annotations

import lightning.pytorch as pl
from torch.utils.data import DataLoader, Dataset

from tfgridnet.data.datasets import DynamicMixDataset, EpochSampler, PairedDataset, collate_pairs
from tfgridnet.data.distortions import Distortions
from tfgridnet.data.manifest import read_noise_manifest
from tfgridnet.data.rate_sampler import RateBatchSampler
from tfgridnet.train.config import Config, ConfigError
from tfgridnet.train.resources import loader_workers

__all__ = ["EnhancementDataModule"]


class EnhancementDataModule(pl.LightningDataModule):
    """Train set (paired or dynamic mixing) and paired validation set, from ``config.data``.

    With a sample-rate-independent model (``model.version: v3``) audio is read at its own rate
    and every batch holds one rate (:class:`RateBatchSampler`).
    """

    def __init__(self, config: Config, start_epoch: int = 0) -> None:
        super().__init__()
        self.cfg = config
        self.start_epoch = start_epoch
        self.train_set: Dataset | None = None
        self.valid_set: Dataset | None = None
        self.extra_set: Dataset | None = None  # data.valid_extra: validated as dataloader 1

    def setup(self, stage: str | None = None) -> None:
        data = self.cfg.data
        seed = self.cfg.trainer.seed
        bandpass = tuple(data.bandpass) if data.bandpass is not None else None
        rate = None if self.cfg.model.rate_independent else data.sample_rate  # None: native
        if data.valid_manifest is None:
            raise ConfigError("data.valid_manifest: a paired validation manifest is required")
        if self.train_set is None:
            if data.dynamic_mixing:
                self.train_set = DynamicMixDataset(
                    data.train_clean_manifest, data.train_noise_manifest, rate,
                    crop_seconds=data.crop_seconds, snr_range=tuple(data.snr_range),
                    gain_range_db=tuple(data.gain_range_db), epoch_size=data.epoch_size,
                    seed=seed, cache_mb=data.cache_mb, distortions=self._distortions())
            elif data.train_manifest is not None:
                self.train_set = PairedDataset(
                    data.train_manifest, rate, crop_seconds=data.crop_seconds,
                    bandpass=bandpass, train=True, seed=seed, cache_mb=data.cache_mb)
            else:
                raise ConfigError("data: give train_manifest, or train_clean_manifest + "
                                 "train_noise_manifest for dynamic mixing")
        if self.valid_set is None:
            self.valid_set = PairedDataset(
                data.valid_manifest, rate, crop_seconds=data.valid_crop_seconds,
                bandpass=bandpass, train=False, seed=seed, cache_mb=data.cache_mb)
        if self.extra_set is None and data.valid_extra is not None:
            self.extra_set = PairedDataset(
                data.valid_extra, rate, crop_seconds=data.valid_crop_seconds,
                bandpass=bandpass, train=False, seed=seed, cache_mb=data.cache_mb)

    def _distortions(self) -> Distortions | None:
        data = self.cfg.data
        if not data.distortions.active:
            return None
        rirs = (read_noise_manifest(data.train_rir_manifest, column="rir")
                if data.train_rir_manifest else None)
        return Distortions(data.distortions, rirs, seed=self.cfg.trainer.seed)

    def _rank_info(self) -> tuple[int, int]:
        trainer = self.trainer
        if trainer is None:
            return 1, 0
        return trainer.world_size, trainer.global_rank

    def _loader(self, dataset: Dataset, batch_size: int, shuffle: bool) -> DataLoader:
        world_size, rank = self._rank_info()
        workers = loader_workers(self.cfg.data.num_workers)  # capped at the cores available
        if self.cfg.model.rate_independent:
            batches = RateBatchSampler(dataset, batch_size, num_replicas=world_size, rank=rank,
                                       shuffle=shuffle, seed=self.cfg.trainer.seed)
            batches.set_epoch(self.start_epoch)
            return DataLoader(dataset, batch_sampler=batches, collate_fn=collate_pairs,
                              num_workers=workers, persistent_workers=workers > 0)
        sampler = EpochSampler(dataset, num_replicas=world_size, rank=rank,
                                      shuffle=shuffle, seed=self.cfg.trainer.seed)
        # Lightning creates (and worker processes prefetch from) the train iterator before it
        # restores the loops and calls set_epoch, so a resumed run starts the sampler at the
        # resumed epoch itself; otherwise its first epoch would replay epoch 0's keys.
        sampler.set_epoch(self.start_epoch)
        return DataLoader(dataset, batch_size=batch_size, sampler=sampler,
                          collate_fn=collate_pairs, num_workers=workers,
                          persistent_workers=workers > 0, drop_last=False)

    def train_dataloader(self) -> DataLoader:
        assert self.train_set is not None
        return self._loader(self.train_set, self.cfg.data.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader | list[DataLoader]:
        assert self.valid_set is not None
        batch = self.cfg.data.valid_batch_size or self.cfg.data.batch_size
        main = self._loader(self.valid_set, batch, shuffle=False)
        if self.extra_set is None:
            return main
        return [main, self._loader(self.extra_set, batch, shuffle=False)]
