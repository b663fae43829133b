"""The loud warnings during training wait until the model can be judged, and blame what is left
to blame once the start-up data check has passed the pairs."""

from __future__ import annotations

import json
from pathlib import Path

from tfgridnet.metrics import MIN_STEPS_TO_JUDGE
from tfgridnet.train.config_files import config_from_dict
from tfgridnet.train.run import train


def _early_warning(make_config, tmp_path: Path, **monitor) -> str | None:
    # 2 steps (8 pairs, batch 4, one epoch) on pairs the start-up check passes; a 1 dB margin so
    # that any model below its input at the first validation would be called out.
    raw = make_config(trainer={"max_epochs": 1}, data={"check_pairs": 8},
                      monitor={"identity_margin_db": 1.0, "below_input_epochs": 1, **monitor})
    run = train(config_from_dict(raw), tmp_path / "run").run_dir
    metrics = (run / "metrics.csv").read_text().splitlines()
    header, row = metrics[0].split(","), metrics[1].split(",")
    values = dict(zip(header, row))
    assert int(values["step"]) == 2
    assert float(values["valid_sisnr"]) < float(values["valid_noisy_sisnr"]) - 1.0  # random start
    return json.loads((run / "train_summary.json").read_text())["early_warning"]


def test_no_alarm_after_two_steps_on_pairs_the_data_check_passed(make_config, tmp_path, capsys):
    assert MIN_STEPS_TO_JUDGE > 2
    assert _early_warning(make_config, tmp_path) is None
    assert "WARNING" not in capsys.readouterr().out


def test_once_judged_the_alarm_points_at_training_when_the_pairs_passed(make_config, tmp_path):
    warning = _early_warning(make_config, tmp_path, min_steps=0)
    assert "below returning the noisy input unchanged" in warning
    assert "data check passed on 12 pairs" in warning
    assert "misaligned" not in warning
