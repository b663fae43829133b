"""Old import path of the ``metrics.csv`` contract, which lives in
``tfgridnet.contracts.metrics_csv``."""

from tfgridnet.contracts.metrics_csv import (
    EXTRA_COLUMNS,
    INITIAL_EPOCH,
    METRICS_COLUMNS,
    RATE_METRIC_FORMAT,
    VALID_EXTRA_COLUMNS,
    VALID_EXTRA_PREFIX,
    is_initial_epoch,
    is_rate_metric,
)

__all__ = ["METRICS_COLUMNS", "EXTRA_COLUMNS", "RATE_METRIC_FORMAT", "is_rate_metric",
           "INITIAL_EPOCH", "is_initial_epoch", "VALID_EXTRA_COLUMNS", "VALID_EXTRA_PREFIX"]
