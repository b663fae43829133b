"""The numbers the report's rules compare against (the facts they look at: report/facts.py).

Kept apart from the registry (report/rules.py) so that the checks of each area
(report/eval_checks.py) can use them without importing the registry that lists them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tfgridnet.metrics import MIN_STEPS_TO_JUDGE, NOISY_SISNR_PLAUSIBLE_DB
from tfgridnet.report.facts import Facts

__all__ = ["THRESHOLDS", "Evidence", "Facts", "Thresholds"]

Evidence = dict[str, Any]


@dataclass(frozen=True)
class Thresholds:
    """The numbers every rule compares against (docs/report-rules.md explains each one)."""

    noisy_sisnr_low_db: float = NOISY_SISNR_PLAUSIBLE_DB[0]
    noisy_sisnr_high_db: float = NOISY_SISNR_PLAUSIBLE_DB[1]
    no_improvement_db: float = 1.0
    low_improvement_db: float = 5.0
    high_variance_std_db: float = 5.0
    degraded_share_warning: float = 0.10
    degraded_share_error: float = 0.25
    not_learning_gain_db: float = 1.0
    not_learning_min_epochs: int = 3
    lr_decay_ratio: float = 1000.0
    lr_decay_min_epochs_left_share: float = 0.10
    stale_default_patience: int = 20
    stale_min_share_after_best: float = 0.25
    overfit_gap_db: float = 3.0
    overfit_valid_drop_db: float = 1.0
    overfit_window_share: float = 0.10
    clipped_share: float = 0.50
    spike_factor: float = 20.0
    nonfinite_error_share: float = 0.05
    memory_headroom_share: float = 0.50
    memory_near_limit_share: float = 0.95
    output_level_off_db: float = 3.0
    finetune_min_gain_db: float = 0.1
    worst_utterances: int = 5
    top_epochs: int = 5
    # Run length (bench/RESULTS.md §51): learning is judged from this many optimiser steps on;
    # a run without step counts, from this many validations.
    min_steps_to_judge: int = MIN_STEPS_TO_JUDGE
    min_validations_without_steps: int = 3
    # Validation SI-SNR changes under this (dB, per epoch) are epoch-to-epoch noise: the demo's
    # plateau moves 12.22 -> 12.21, 11.83 -> 11.83 (bench/RESULTS.md §34). stopped_while_improving
    # needs a steeper slope over the last ``improving_window`` validations; a clipped gradient
    # spike counts as absorbed when validation afterwards comes within it of its earlier best.
    valid_flat_db: float = 0.1
    improving_window: int = 3
    # eval_high_variance judges the spread left after the recorded conditions when at least this
    # many degrees of freedom remain, else the plain spread.
    residual_min_dof: int = 10

    def noisy_outside(self, value: float) -> bool:
        """A noisy-input SI-SNR outside the plausible range: the pairs are broken."""
        return not self.noisy_sisnr_low_db <= value <= self.noisy_sisnr_high_db


THRESHOLDS = Thresholds()

