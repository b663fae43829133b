"""`tfgridnet demo` end to end on a shrunken corpus: every stage runs and leaves the contract layout."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tfgridnet.demo import run_demo

REPO = Path(__file__).resolve().parents[1]
TINY_CORPUS = {"n_train": 6, "n_valid": 3, "n_test": 3}
TINY_RECIPE = ["trainer.max_epochs=1", "data.epoch_size=4", "data.batch_size=2",
               "data.crop_seconds=0.5", "trainer.progress_bar=none", "data.num_workers=0",
               "model.emb_dim=8", "model.lstm_hidden_units=8", "model.attn_n_head=2"]


@pytest.mark.slow
def test_demo_runs_every_stage_and_leaves_data_run_eval_and_report(tmp_path: Path) -> None:
    result = run_demo(tmp_path / "demo", corpus=TINY_CORPUS, overrides=TINY_RECIPE, n_plots=1)
    out = tmp_path / "demo"
    assert (out / "data" / "manifests" / "test.csv").is_file()
    for name in ("config.yaml", "environment.json", "metrics.csv", "model/model.safetensors",
                 "model/config.json", "checkpoints/last.ckpt", "EXPERIMENT_ANALYSIS.md",
                 "report.html", "findings.json"):
        assert (out / "run" / name).is_file(), name
    for name in ("evaluation_results.csv", "summary.json", "highlights.txt", "index.html"):
        assert (out / "eval" / name).is_file(), name
    with open(out / "eval" / "evaluation_results.csv", newline="") as handle:
        assert len(list(csv.DictReader(handle))) == 3
    summary = json.loads((out / "eval" / "summary.json").read_text())
    assert summary["n"] == 3 and summary == result.summary | summary
    findings = json.loads((out / "run" / "findings.json").read_text())
    assert all({"code", "severity", "message", "evidence"} <= set(f) for f in findings)
    # A second demo into the same folder reuses the corpus and replaces the run.
    again = run_demo(out, corpus=TINY_CORPUS, overrides=TINY_RECIPE, n_plots=0)
    assert again.run_dir == result.run_dir and (again.run_dir / "metrics.csv").is_file()
