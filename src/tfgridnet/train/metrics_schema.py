"""The ``metrics.csv`` file contract: one row per epoch, written by training, read by the report.

``METRICS_COLUMNS`` come first in this order (docs/design.md, file contract) and every run has them; the
``EXTRA_COLUMNS`` follow when known, then a native-rate (V3) run's per-rate validation SI-SNR
(``RATE_METRIC_FORMAT``). Both the writer (``train.epoch_log.EpochMonitor``) and the
reader (``report.loading``) import them from here.

A run that starts from a trained model (``init.from``) validates it before the first optimiser step
and writes that as the first row: ``epoch`` = ``INITIAL_EPOCH`` (-1), ``step`` 0, the validation
columns filled and the training columns empty. Readers take it as the starting point of the
curves, never as a trained epoch (``is_initial_epoch``). With ``data.valid_extra`` a second
validation set is scored every epoch into ``VALID_EXTRA_COLUMNS``.
"""

from __future__ import annotations

__all__ = ["METRICS_COLUMNS", "EXTRA_COLUMNS", "RATE_METRIC_FORMAT", "is_rate_metric",
           "INITIAL_EPOCH", "is_initial_epoch", "VALID_EXTRA_COLUMNS", "VALID_EXTRA_PREFIX"]

METRICS_COLUMNS = (
    "epoch", "step", "train_loss", "train_sisnr", "valid_sisnr", "lr", "grad_norm_mean",
    "grad_norm_max", "clipped_steps", "nonfinite_steps", "sec_per_batch", "samples_per_sec",
    "peak_mem_mb", "time_s",
)
EXTRA_COLUMNS = (
    "valid_loss", "valid_noisy_sisnr", "valid_sisnri", "grad_clip", "epoch_time_s",
    "train_batches", "world_size",
)
# The row of the model before training (a fine-tune's source), written before epoch 0.
INITIAL_EPOCH = -1
# The second validation set (data.valid_extra): the main set's valid_* columns under this prefix.
VALID_EXTRA_PREFIX = "valid_extra_"
VALID_EXTRA_COLUMNS = tuple(VALID_EXTRA_PREFIX + name for name in
                            ("loss", "sisnr", "noisy_sisnr", "sisnri"))
# Validation SI-SNR of one sample rate (native-rate V3 training), e.g. "valid_sisnr_16000hz".
RATE_METRIC_FORMAT = "valid_sisnr_{rate}hz"


def is_rate_metric(name: str) -> bool:
    """True for the per-rate validation metrics named by :data:`RATE_METRIC_FORMAT`."""
    head, tail = RATE_METRIC_FORMAT.split("{rate}")
    return name.startswith(head) and name.endswith(tail) and name[len(head):-len(tail)].isdigit()


def is_initial_epoch(epoch: float | int | str) -> bool:
    """True for the ``epoch`` value of the initial (step 0, untrained) row."""
    try:
        return int(float(epoch)) == INITIAL_EPOCH
    except (TypeError, ValueError):
        return False
