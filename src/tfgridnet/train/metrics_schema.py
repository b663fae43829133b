"""The ``metrics.csv`` file contract: one row per epoch, written by training, read by the report.

``METRICS_COLUMNS`` come first in this order (docs/design.md, file contract) and every run has them; the
``EXTRA_COLUMNS`` follow when known. Both the writer (``train.epoch_log.EpochMonitor``) and the
reader (``report.analysis``) import them from here.
"""

from __future__ import annotations

__all__ = ["METRICS_COLUMNS", "EXTRA_COLUMNS"]

METRICS_COLUMNS = (
    "epoch", "step", "train_loss", "train_sisnr", "valid_sisnr", "lr", "grad_norm_mean",
    "grad_norm_max", "clipped_steps", "nonfinite_steps", "sec_per_batch", "samples_per_sec",
    "peak_mem_mb", "time_s",
)
EXTRA_COLUMNS = (
    "valid_loss", "valid_noisy_sisnr", "valid_sisnri", "grad_clip", "epoch_time_s",
    "train_batches", "world_size",
)
