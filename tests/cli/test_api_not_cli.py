"""What the command line used to do itself is the API's: the check-data JSON file (the pair
check and the leakage check in one file) and a training run's config and default folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tfgridnet.data.check_json import LEAKAGE_KEY, CheckJson, leakage_splits
from tfgridnet.data.checks import check_data
from tfgridnet.data.leakage import check_leakage
from tfgridnet.errors import UserInputError


def test_check_json_holds_the_pair_report_and_the_leakage_report(corpus, tmp_path) -> None:
    manifest = corpus / "m.csv"
    other = corpus / "valid.csv"  # the same rows: every one shared
    other.write_text(manifest.read_text())
    splits = leakage_splits(manifest, [other])
    output = CheckJson(tmp_path / "report.json", manifest, splits)
    output.add(check_data(manifest, workers=1, cache=False))
    output.add(check_leakage(splits, workers=1))
    written = json.loads((tmp_path / "report.json").read_text())
    assert written["n_pairs"] == 3 and written[LEAKAGE_KEY]["ok"] is False
    assert {"problems", "pairs", "stats"} <= set(written)


def test_check_json_refuses_to_replace_an_input_before_any_check(corpus) -> None:
    manifest = corpus / "m.csv"
    with pytest.raises(UserInputError, match="--json"):
        CheckJson(corpus / "noisy" / "u0.wav", manifest)
    with pytest.raises(UserInputError, match="given twice"):
        leakage_splits(manifest, [manifest])


def test_a_new_run_goes_to_runs_slash_its_config_name(tmp_path, monkeypatch) -> None:
    from tfgridnet.train.resume import plan_run

    monkeypatch.chdir(tmp_path)
    plan = plan_run("demo", overrides=["trainer.max_epochs=2"], init=None)
    assert plan.run_dir == Path("runs") / "demo" and plan.note is None
    assert plan.config.trainer.max_epochs == 2
    with pytest.raises(UserInputError, match="give CONFIG"):
        plan_run(None, resume="auto")
