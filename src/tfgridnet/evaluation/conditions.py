"""Old import path of the condition breakdown (``summary.json``'s ``conditions``), which lives in
``tfgridnet.contracts.conditions``."""

from tfgridnet.contracts.conditions import (
    DURATION_BINS_S,
    DURATION_FACTOR,
    MAX_GROUPS,
    SNR_BIN_DB,
    ConditionGroup,
    GroupMetric,
    ResidualSpread,
    breakdown,
    condition_group,
    factor_label,
    group_cell,
    read_breakdown,
    residual_spread,
)

__all__ = ["SNR_BIN_DB", "DURATION_BINS_S", "DURATION_FACTOR", "MAX_GROUPS", "GroupMetric",
           "ConditionGroup", "breakdown", "read_breakdown", "condition_group", "factor_label",
           "group_cell", "ResidualSpread", "residual_spread"]
