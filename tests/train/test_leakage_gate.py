"""`train` runs the leakage check between its train and valid manifests before the first step:
a leak refuses the run (default), is logged and recorded (warning), or is not looked for (off)."""

from __future__ import annotations

import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest

from tfgridnet.contracts.data_check import DataCheckFile
from tfgridnet.data.manifest import Pair, read_manifest, write_manifest
from tfgridnet.train.config_files import config_from_dict
from tfgridnet.train.preflight import startup_leakage_check
from tfgridnet.train.run import DataCheckFailed, train


@pytest.fixture
def leaky_valid(corpus: dict[str, Path], tmp_path: Path) -> Path:
    """The valid manifest plus a renamed copy of the first training pair."""
    first = read_manifest(corpus["train"])[0]
    copy = Pair("copied", shutil.copy(first.noisy, tmp_path / "copied_noisy.wav"),
                shutil.copy(first.clean, tmp_path / "copied_clean.wav"))
    return write_manifest(tmp_path / "valid.csv", [*read_manifest(corpus["valid"]), copy])


def test_a_training_pair_copied_into_valid_refuses_the_run(make_config, leaky_valid: Path,
                                                          tmp_path: Path) -> None:
    raw = make_config(data={"valid_manifest": str(leaky_valid)})
    with pytest.raises(DataCheckFailed) as info:
        train(config_from_dict(raw), tmp_path / "run")
    message = str(info.value)
    assert "train00 (train) and copied (valid): same_pair" in message
    assert str(tmp_path / "copied_clean.wav") in message and "identical samples" in message
    assert "data.leakage_check: warning" in message
    assert not (tmp_path / "run").exists()  # refused before the run folder is made


def test_warning_mode_trains_and_records_the_leak_in_data_check_json(
        make_config, leaky_valid: Path, tmp_path: Path) -> None:
    raw = make_config(data={"valid_manifest": str(leaky_valid), "leakage_check": "warning"},
                      trainer={"max_epochs": 1})
    run = train(config_from_dict(raw), tmp_path / "run").run_dir
    record = DataCheckFile.read(run / "data_check.json").leakage
    assert record is not None and record.mode == "warning" and record.checked
    assert record.ok is False and record.leaks_by_kind == {"same_pair": 1}
    assert record.splits == {"train": [raw["data"]["train_manifest"]],
                             "valid": [str(leaky_valid)]}
    assert "copied" in record.leaks[0] and record.n_files == 8 * 2 + 5 * 2
    assert "leakage found" in (run / "logs" / "train.log").read_text(encoding="utf-8")


def test_dynamic_mixing_checks_clean_and_noise_manifests_with_progress(
        make_config, corpus: dict[str, Path], leaky_valid: Path) -> None:
    raw = make_config(data={"train_manifest": None, "train_clean_manifest": str(corpus["clean"]),
                            "train_noise_manifest": str(corpus["noise"]),
                            "valid_manifest": str(leaky_valid)})
    calls: list[tuple] = []

    @contextmanager
    def progress(label: str, unit: str):
        calls.append((label, unit))
        yield lambda done, total: calls.append((done, total))

    record = DataCheckFile(pipeline={"sample_rate": 8000, "loader": "", "resampler": "",
                                     "resample_on_load": False}, check_pairs=0)
    with pytest.raises(DataCheckFailed, match="train00 .train. and copied .valid.: same_clean"):
        startup_leakage_check(config_from_dict(raw), False, record, progress)
    assert calls[0] == ("leakage check", "files") and calls[-1] == (8 + 3 + 10, 8 + 3 + 10)
    assert record.leakage.splits["train"] == [str(corpus["clean"]), str(corpus["noise"])]
    # --ignore-data-errors trains anyway, noting the leak
    notes = startup_leakage_check(config_from_dict(raw), True, record)
    assert notes[0].startswith("leakage found") and record.leakage.ok is False


def test_off_does_not_look(make_config, leaky_valid: Path, monkeypatch) -> None:
    import tfgridnet.data.leakage as leakage

    monkeypatch.setattr(leakage, "check_leakage", lambda *a, **k: pytest.fail("checked"))
    raw = make_config(data={"valid_manifest": str(leaky_valid), "leakage_check": "off"})
    record = DataCheckFile(pipeline={"sample_rate": 8000, "loader": "", "resampler": "",
                                     "resample_on_load": False}, check_pairs=0)
    assert startup_leakage_check(config_from_dict(raw), False, record) == []
    assert record.leakage.mode == "off" and not record.leakage.checked
