"""`tfgridnet train` prints our epoch lines and the bar; Lightning's chatter goes to train.log."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def test_train_console_has_no_lightning_tips_deprecations_or_v_num(make_config, tmp_path):
    raw = make_config(trainer={"max_epochs": 1, "progress_bar": "rich"})
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(raw))
    run = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200"}
    proc = subprocess.run([sys.executable, "-m", "tfgridnet", "train", str(config), "--out",
                           str(run)], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    console = proc.stdout + proc.stderr
    assert proc.returncode == 0, console
    assert "epoch 0/0" in console and "valid_sisnr" in console
    for noise in ("Tip", "GPU available", "TPU available", "deprecated", "v_num", "Trainer.fit",
                  "site-packages"):
        assert noise not in console, f"{noise!r} on the console:\n{console}"
    log = (run / "logs" / "train.log").read_text()
    assert "GPU available" in log  # kept, in the run's text log
