"""A run whose model stays below its own noisy input is flagged loudly while it trains."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tfgridnet.train.config_files import config_from_dict
from tfgridnet.train.run import train


@pytest.mark.parametrize("below_input_epochs, fires", [(2, True), (3, False)])
def test_model_below_its_noisy_input_for_n_epochs_raises_the_warning(
        make_config, tmp_path: Path, below_input_epochs: int, fires: bool, capsys) -> None:
    # A learning rate of 1e-12 leaves the randomly initialised model as it is: far below the noisy
    # input. The first-validation (broken pairs) margin is set out of reach, so only the running
    # check can speak; min_steps 0 lets it speak from the first step (these runs have 4).
    raw = make_config(optim={"name": "adam", "lr": 1e-12},
                      trainer={"max_epochs": 2},
                      monitor={"identity_margin_db": 1000.0, "min_steps": 0,
                               "below_input_epochs": below_input_epochs})
    run = train(config_from_dict(raw), tmp_path / "run").run_dir

    rows = (run / "metrics.csv").read_text().strip().splitlines()[1:]
    assert len(rows) == 2
    summary = json.loads((run / "train_summary.json").read_text())
    if fires:
        assert "below its own noisy input for 2 validations in a row" in summary["early_warning"]
        assert "trainer.seed" in summary["early_warning"]
        assert "below its own noisy input" in capsys.readouterr().out
    else:
        assert summary["early_warning"] is None
