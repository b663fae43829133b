"""Old import path of ``train_summary.json``'s schema, which lives in
``tfgridnet.contracts.train_summary``."""

from tfgridnet.contracts.train_summary import (
    BUDGET_STOPS,
    STOP_EARLY_STOPPING,
    STOP_MAX_EPOCHS,
    STOP_NONFINITE,
    STOP_SIGNAL,
    STOP_TIME_BUDGET,
    SUMMARY_NAME,
    TrainSummary,
)

__all__ = ["BUDGET_STOPS", "STOP_EARLY_STOPPING", "STOP_MAX_EPOCHS", "STOP_NONFINITE",
           "STOP_SIGNAL", "STOP_TIME_BUDGET", "SUMMARY_NAME", "TrainSummary"]
