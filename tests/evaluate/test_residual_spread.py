"""The spread left after the recorded conditions, against independent numpy computations."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from tfgridnet.contracts.conditions import residual_spread
from tfgridnet.contracts.utterance import UtteranceRow
from tfgridnet.data.manifest import NOISE_KIND_COLUMN, SNR_COLUMN
from tfgridnet.evaluation.scoring import METRIC_REGISTRY

DELTA = METRIC_REGISTRY["sisnr"].delta_column


def _rows(gains, **conditions) -> list[UtteranceRow]:
    """Rows as evaluation_results.csv lines (uttid, conditions, the improvement column)."""
    return [UtteranceRow.from_columns({"uttid": f"u{i}", DELTA: float(g),
                                       **{k: v[i] for k, v in conditions.items()}})
            for i, g in enumerate(gains)]


def test_one_condition_gives_the_pooled_within_group_std():
    rng = np.random.default_rng(0)
    kinds = np.repeat(["babble", "hum", "pink", "white"], [7, 11, 3, 9])
    offsets = {"babble": 0.4, "hum": 14.5, "pink": 5.6, "white": 7.3}
    gains = np.array([offsets[k] for k in kinds]) + 1.5 * rng.standard_normal(len(kinds))
    spread = residual_spread(_rows(gains, **{NOISE_KIND_COLUMN: list(kinds)}), "sisnr", [
        NOISE_KIND_COLUMN])
    # Independent: sum of squared deviations from each group's own mean, over n - groups.
    within = sum(((gains[kinds == k] - gains[kinds == k].mean()) ** 2).sum() for k in offsets)
    assert spread.factors == (NOISE_KIND_COLUMN,)
    assert spread.dof == len(gains) - 4
    assert spread.std == pytest.approx(math.sqrt(within / (len(gains) - 4)), rel=1e-12)
    assert spread.total_std == pytest.approx(gains.std(ddof=1), rel=1e-12)
    assert spread.explained_share == pytest.approx(
        1 - within / ((gains - gains.mean()) ** 2).sum(), rel=1e-12)


def test_two_crossed_conditions_give_the_two_way_anova_residual():
    # Balanced: 3 kinds x 4 SNR bins x 3 utterances. For a balanced additive model the residual
    # sum of squares is the total minus each factor's between-group sum (classical two-way ANOVA).
    rng = np.random.default_rng(1)
    kinds, snrs = ["brown", "hum", "white"], [-4.0, 2.0, 7.5, 12.0]  # one per 5 dB bin
    cells = [(k, s) for k, s in itertools.product(kinds, snrs) for _ in range(3)]
    kind = np.array([k for k, _ in cells])
    snr = np.array([s for _, s in cells])
    gains = (np.array([{"brown": 16.0, "hum": 14.0, "white": 7.0}[k] for k in kind])
             - 0.4 * snr + rng.standard_normal(len(cells)))
    rows = _rows(gains, **{NOISE_KIND_COLUMN: list(kind), SNR_COLUMN: [f"{s:g}" for s in snr]})
    spread = residual_spread(rows, "sisnr", [SNR_COLUMN, NOISE_KIND_COLUMN])

    grand = gains.mean()
    total = ((gains - grand) ** 2).sum()
    between_kind = sum((kind == k).sum() * (gains[kind == k].mean() - grand) ** 2 for k in kinds)
    between_snr = sum((snr == s).sum() * (gains[snr == s].mean() - grand) ** 2 for s in snrs)
    dof = len(gains) - (1 + (len(kinds) - 1) + (len(snrs) - 1))
    assert set(spread.factors) == {NOISE_KIND_COLUMN, SNR_COLUMN}
    assert spread.dof == dof
    assert spread.std == pytest.approx(math.sqrt((total - between_kind - between_snr) / dof),
                                       rel=1e-10)


def test_without_conditions_the_residual_is_the_plain_spread_and_failures_are_left_out():
    gains = np.array([3.0, 9.0, 12.0, 5.0, 7.5])
    rows = _rows(gains) + [UtteranceRow.from_columns({"uttid": "bad", "status": "failed",
                                                      DELTA: None})]
    spread = residual_spread(rows, "sisnr", [])
    assert spread.factors == () and spread.dof == 4
    assert spread.std == pytest.approx(gains.std(ddof=1)) == spread.total_std
    assert residual_spread(rows[:1], "sisnr", []) is None


def test_a_condition_with_one_utterance_per_group_leaves_no_degree_of_freedom():
    rows = _rows([1.0, 4.0, 9.0], speaker=["a", "b", "c"])
    spread = residual_spread(rows, "sisnr", ["speaker"])
    assert spread.dof == 0 and math.isnan(spread.std)
