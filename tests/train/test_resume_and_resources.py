"""`train --resume` continues the run folder's own config with a fresh time budget; GPU recipes are
refused without a GPU (simulated); loader workers are capped at the cores; training prints plain
progress lines into a log."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

from tfgridnet.cli import main
from tfgridnet.progress import INTERVAL_ENV
from tfgridnet.train import resources
from tfgridnet.train.config import ConfigError
from tfgridnet.train.config_files import config_from_dict, load_config


def _summary(run: Path) -> dict:
    return json.loads((run / "train_summary.json").read_text())


def test_resume_reads_the_runs_config_keeps_its_overrides_and_gets_a_fresh_budget(
        make_config, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    raw = make_config(trainer={"max_epochs": 50})
    raw["data"]["train_manifest"] = "absent.csv"  # only the first -o makes this config work
    Path("c.yaml").write_text(yaml.safe_dump(raw))
    train_csv = make_config()["data"]["train_manifest"]
    assert main(["train", "c.yaml", "--out", "run", "-o", f"data.train_manifest={train_csv}",
                 "-o", "trainer.max_minutes=0.0005"]) == 0
    first = _summary(Path("run"))
    assert first["stop_reason"] == "time budget" and first["global_step"] >= 1
    capsys.readouterr()

    # No CONFIG: the run's config.yaml (with both -o) is read; a new -o applies on top.
    assert main(["train", "--out", "run", "--resume", "-o", "optim.lr=0.002"]) == 0
    out = capsys.readouterr().out
    assert "resuming run from run/checkpoints/last.ckpt at epoch 1 (step " in out
    assert "the earlier run stopped: time budget" in out
    assert "time budget: 0s for this run, validation included (trainer.max_minutes 0.0005)" in out
    second = _summary(Path("run"))
    assert second["global_step"] > first["global_step"]  # it trained again
    saved = yaml.safe_load(Path("run/config.yaml").read_text())
    assert saved["data"]["train_manifest"] == train_csv and saved["optim"]["lr"] == 0.002
    assert saved["trainer"]["max_minutes"] == 0.0005

    # A CONFIG given with --resume is not read; the output says so.
    assert main(["train", "c.yaml", "--out", "run", "--resume"]) == 0
    assert "continuing with run/config.yaml (the run's own config" in capsys.readouterr().out


def test_resume_past_max_epochs_and_resume_without_a_run_are_refused_in_one_line(
        make_config, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    Path("c.yaml").write_text(yaml.safe_dump(make_config(trainer={"max_epochs": 1})))
    assert main(["train", "c.yaml", "--out", "run"]) == 0
    capsys.readouterr()
    assert main(["train", "--out", "run", "--resume"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "trainer.max_epochs is 1" in err
    assert "-o trainer.max_epochs=" in err
    assert main(["train", "--out", "run", "--resume", "-o", "trainer.max_epochs=2"]) == 0
    assert _summary(Path("run"))["epochs_completed"] == 2
    capsys.readouterr()
    assert main(["train", "--out", "elsewhere", "--resume"]) == 2
    assert "elsewhere is not a run folder" in capsys.readouterr().err
    assert main(["train"]) == 2
    assert "give CONFIG" in capsys.readouterr().err


@pytest.mark.parametrize("recipe", ["seed", "dns2020", "voicebank_demand", "urgent"])
def test_gpu_recipes_are_refused_without_a_gpu_in_one_line(recipe: str, tmp_path: Path,
                                                            monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert main(["train", recipe, "--out", "run"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "torch sees no GPU here" in err
    assert "`tfgridnet train cpu ...`" in err and "-o trainer.accelerator=cpu" in err
    assert not Path("run").exists()  # refused before anything was written


def test_a_gpu_config_passes_the_check_where_a_gpu_is_seen(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    resources.check_accelerator(load_config("seed"))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)  # Apple silicon
    resources.check_accelerator(load_config("seed"))
    with pytest.raises(ConfigError, match="trainer.accelerator is cuda"):
        resources.check_accelerator(load_config("seed", ["trainer.accelerator=cuda"]))
    resources.check_accelerator(load_config("seed", ["trainer.accelerator=cpu"]))
    resources.check_accelerator(load_config("cpu"))


def test_loader_workers_are_capped_at_the_cores_with_a_note(make_config, monkeypatch) -> None:
    from tfgridnet.train.datamodule import EnhancementDataModule

    monkeypatch.setattr(resources, "available_cores", lambda: 2)
    config = config_from_dict(make_config(data={"num_workers": 8}))
    assert resources.loader_workers(8) == 2 and resources.loader_workers(1) == 1
    assert resources.workers_note(config) == ("data.num_workers 8 capped at 2: this process may "
                                              "use 2 CPU cores")
    assert resources.workers_note(config_from_dict(make_config(data={"num_workers": 2}))) is None
    module = EnhancementDataModule(config)
    module.setup("fit")
    assert module.train_dataloader().num_workers == 2


def test_training_into_a_log_prints_plain_progress_lines(make_config, tmp_path: Path,
                                                         monkeypatch, capsys) -> None:
    from tfgridnet.train.run import train

    monkeypatch.setenv(INTERVAL_ENV, "0")
    config = config_from_dict(make_config(trainer={"max_epochs": 1, "progress_bar": "rich"},
                                          data={"valid_batch_size": 1}))
    train(config, tmp_path / "run")
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("train epoch 0: 1/2 batches (50 %)") and "loss " in line
               for line in lines)
    assert any(line.startswith("validate epoch 0: 1/4 batches (25 %)") for line in lines)
    assert not any("\r" in line or "━" in line for line in lines)  # no bar in a file


def test_the_urgent_recipe_simulates_rooms_out_of_the_box(capsys) -> None:
    import numpy as np

    from tfgridnet.data.distortions import Distortions

    config = load_config("urgent", ["data.distortions.simulated_rirs=1",
                                    "data.distortions.rt60_range=[0.2, 0.2]"])
    assert config.data.train_rir_manifest is None and config.data.distortions.reverb_prob == 0.5
    distortions = Distortions(config.data.distortions, None)
    draws = [distortions.draw(np.random.default_rng(seed), 8000) for seed in range(4)]
    assert [d.rir is not None for d in draws] == [False, False, True, True]  # half reverberated
    assert draws[2].rir_name.startswith("sim:rt60=0.20")
    assert load_config("urgent").data.distortions.simulated_rirs > 0
    assert main(["config", "show", "urgent"]) == 0
    shown = capsys.readouterr().out
    assert "simulated" in shown and "-o data.train_rir_manifest=" in shown
    with pytest.raises(ConfigError, match="reverb_prob > 0 needs RIRs"):
        load_config("urgent", ["data.distortions.simulated_rirs=0"])
