"""The ``metrics.csv`` file contract: one row per epoch, written by training, read by the report.

``METRICS_COLUMNS`` come first in this order (docs/design.md, file contract) and every run has them; the
``EXTRA_COLUMNS`` follow when known, then a native-rate (V3) run's per-rate validation SI-SNR
(``RATE_METRIC_FORMAT``). Both the writer (``train.epoch_log.EpochMonitor``) and the
reader (``report.analysis``) import them from here.
"""

from __future__ import annotations

__all__ = ["METRICS_COLUMNS", "EXTRA_COLUMNS", "RATE_METRIC_FORMAT", "is_rate_metric"]

METRICS_COLUMNS = (
    "epoch", "step", "train_loss", "train_sisnr", "valid_sisnr", "lr", "grad_norm_mean",
    "grad_norm_max", "clipped_steps", "nonfinite_steps", "sec_per_batch", "samples_per_sec",
    "peak_mem_mb", "time_s",
)
EXTRA_COLUMNS = (
    "valid_loss", "valid_noisy_sisnr", "valid_sisnri", "grad_clip", "epoch_time_s",
    "train_batches", "world_size",
)
# Validation SI-SNR of one sample rate (native-rate V3 training), e.g. "valid_sisnr_16000hz".
RATE_METRIC_FORMAT = "valid_sisnr_{rate}hz"


def is_rate_metric(name: str) -> bool:
    """True for the per-rate validation metrics named by :data:`RATE_METRIC_FORMAT`."""
    head, tail = RATE_METRIC_FORMAT.split("{rate}")
    return name.startswith(head) and name.endswith(tail) and name[len(head):-len(tail)].isdigit()
