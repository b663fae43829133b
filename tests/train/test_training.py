"""End-to-end training on a tiny model: run-dir contract, exact resume, guards, retention, export."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from tfgridnet.contracts.metrics_csv import METRICS_COLUMNS
from tfgridnet.model.io import load_model
from tfgridnet.report.analysis import analyse
from tfgridnet.train.config import ConfigError
from tfgridnet.train.config_files import config_from_dict
from tfgridnet.train.precision import auto_precision
from tfgridnet.train.run import ResumeError, TrainingDiverged, train

CONTRACT_COLUMNS = ("epoch,step,train_loss,train_sisnr,valid_sisnr,lr,grad_norm_mean,grad_norm_max,"
                    "clipped_steps,nonfinite_steps,sec_per_batch,samples_per_sec,peak_mem_mb,"
                    "time_s").split(",")


def _rows(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / "metrics.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, map_location="cpu", weights_only=True)["state_dict"]


def test_run_dir_follows_the_file_contract(make_config, tmp_path: Path) -> None:
    config = config_from_dict(make_config(trainer={"max_epochs": 3}, checkpoint={"save_top_k": 1}))
    run = train(config, tmp_path / "run").run_dir

    assert tuple(CONTRACT_COLUMNS) == METRICS_COLUMNS
    with open(run / "metrics.csv", encoding="utf-8") as handle:
        header = handle.readline().strip().split(",")
    assert header[:len(CONTRACT_COLUMNS)] == CONTRACT_COLUMNS
    assert {"valid_noisy_sisnr", "valid_loss", "grad_clip", "epoch_time_s"} <= set(header)
    rows = _rows(run)
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    assert [int(r["step"]) for r in rows] == [2, 4, 6]  # 8 pairs / batch 4
    for row in rows:
        assert float(row["train_sisnr"]) == pytest.approx(-float(row["train_loss"]), abs=1e-3)
        assert float(row["grad_norm_max"]) >= float(row["grad_norm_mean"]) > 0
        assert int(row["nonfinite_steps"]) == 0 and 0 <= int(row["clipped_steps"]) <= 2
        assert float(row["sec_per_batch"]) > 0 and float(row["peak_mem_mb"]) > 0
    assert float(rows[-1]["time_s"]) > float(rows[0]["time_s"])
    assert float(rows[0]["valid_noisy_sisnr"]) == pytest.approx(
        float(rows[-1]["valid_noisy_sisnr"]), abs=1e-4)  # identity baseline: same every epoch

    env = json.loads((run / "environment.json").read_text())
    assert {"device", "device_mem_mb", "torch", "precision", "world_size"} <= set(env)
    assert env["precision"] == auto_precision(config.trainer.accelerator)  # "auto" resolved
    assert env["world_size"] == 1
    resolved = (run / "config.yaml").read_text()
    assert config_from_dict(__import__("yaml").safe_load(resolved)) == config
    assert (run / "logs" / "train.log").read_text().count("valid_sisnr") >= 3
    assert any((run / "logs" / "tensorboard").glob("events.out.tfevents.*"))
    assert (run / "plots").is_dir()

    # Checkpoints: last + top-1 by valid_sisnr, readable without unpickling code.
    ckpts = sorted(p.name for p in (run / "checkpoints").glob("*.ckpt"))
    assert len(ckpts) == 2 and "last.ckpt" in ckpts
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    assert ckpt["hyper_parameters"]["config"] == config.to_dict()
    assert all(k.startswith("model.") for k in ckpt["state_dict"])

    # The export is the best epoch, and loads as a model.
    summary = json.loads((run / "train_summary.json").read_text())
    best_row = max(rows, key=lambda r: float(r["valid_sisnr"]))
    assert summary["best_epoch"] == int(best_row["epoch"])
    exported = json.loads((run / "model" / "config.json").read_text())
    assert exported["epoch"] == summary["best_epoch"] and exported["sample_rate"] == 8000
    assert exported["checkpoint"] == summary["best_checkpoint"]
    model = load_model(run / "model")
    best = torch.load(run / "checkpoints" / summary["best_checkpoint"], weights_only=True)
    # ModelCheckpoint's state under its usual key: older and newer runs resume into each other
    assert any(key.startswith("ModelCheckpoint{") for key in best["callbacks"])
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, best["state_dict"][f"model.{name}"])


def test_two_epochs_plus_resume_equal_four_straight_and_retention_is_bounded(
        make_config, tmp_path: Path) -> None:
    raw = make_config(trainer={"max_epochs": 4}, checkpoint={"save_top_k": 2},
                      data={"num_workers": 1})
    straight = train(config_from_dict(raw), tmp_path / "straight").run_dir
    raw["trainer"]["max_epochs"] = 2
    split = train(config_from_dict(raw), tmp_path / "split").run_dir
    raw["trainer"]["max_epochs"] = 4
    train(config_from_dict(raw), split, resume="auto")

    a = _weights(straight / "checkpoints" / "last.ckpt")
    b = _weights(split / "checkpoints" / "last.ckpt")
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name
    opt_a = torch.load(straight / "checkpoints" / "last.ckpt", weights_only=True)
    opt_b = torch.load(split / "checkpoints" / "last.ckpt", weights_only=True)
    assert opt_a["global_step"] == opt_b["global_step"] == 8
    assert opt_a["lr_schedulers"][0]["last_epoch"] == opt_b["lr_schedulers"][0]["last_epoch"]
    assert [r["train_loss"] for r in _rows(straight)] == [r["train_loss"] for r in _rows(split)]
    # top-2 + last, however many epochs ran; the best epoch survives the resume
    for run in (straight, split):
        assert len(list((run / "checkpoints").glob("*.ckpt"))) == 3
    best = [json.loads((run / "train_summary.json").read_text())["best_checkpoint"]
            for run in (straight, split)]
    assert best[0] == best[1]
    assert [json.loads((run / "model" / "config.json").read_text())["checkpoint"]
            for run in (straight, split)] == best


def test_corrupt_checkpoint_is_refused_and_nothing_is_touched(make_config, tmp_path: Path) -> None:
    config = config_from_dict(make_config(trainer={"max_epochs": 1}))
    run = train(config, tmp_path / "run").run_dir
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    corrupt = run / "checkpoints" / "last.ckpt"
    data = corrupt.read_bytes()
    corrupt.write_bytes(data[: len(data) // 2])
    before[corrupt] = corrupt.read_bytes()
    with pytest.raises(ResumeError, match="last.ckpt"):
        train(config, run, resume="auto")
    with pytest.raises(ResumeError, match="does not exist"):
        train(config, tmp_path / "empty", resume="auto")
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before
    assert not (tmp_path / "empty").exists()
    with pytest.raises(ResumeError, match="already holds checkpoints"):
        train(config, run)
    other = config_from_dict(make_config(model={"emb_dim": 4}))
    shutil.copy(tmp_path / "run" / "checkpoints" / next(
        p.name for p in (run / "checkpoints").glob("epoch*.ckpt")), tmp_path / "good.ckpt")
    with pytest.raises(ResumeError, match="model.emb_dim: checkpoint 8, config 4"):
        train(other, tmp_path / "run2", resume=str(tmp_path / "good.ckpt"))


def _corpus_copy_with_nan(corpus: dict[str, Path], tmp_path: Path, all_bad: bool) -> Path:
    """A train manifest where one (or every) noisy file holds NaN samples."""
    rows = list(csv.reader(open(corpus["train"], encoding="utf-8")))
    out_rows = [rows[0]]
    for i, (uttid, noisy, clean) in enumerate(rows[1:]):
        noisy_path = corpus["root"] / noisy
        if all_bad or i == 0:
            audio, rate = sf.read(noisy_path, dtype="float32")
            audio[10:20] = np.nan
            noisy_path = tmp_path / f"{uttid}_nan.wav"
            sf.write(noisy_path, audio, rate, subtype="FLOAT")
        out_rows.append([uttid, str(noisy_path), str(corpus["root"] / clean)])
    manifest = tmp_path / "train_nan.csv"
    with open(manifest, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(out_rows)
    return manifest


def test_nonfinite_steps_are_skipped_and_counted_without_touching_the_weights(
        make_config, corpus, tmp_path: Path) -> None:
    manifest = _corpus_copy_with_nan(corpus, tmp_path, all_bad=False)
    # crop 0.5 s = whole files, so the NaN samples are always in the crop
    config = config_from_dict(make_config(data={"train_manifest": str(manifest),
                                                "crop_seconds": 0.5},
                                          trainer={"max_epochs": 2}))
    run = train(config, tmp_path / "run").run_dir
    rows = _rows(run)
    assert [int(r["nonfinite_steps"]) for r in rows] == [1, 1]  # one bad batch per epoch
    assert all(np.isfinite(float(r["train_loss"])) for r in rows)
    weights = _weights(run / "checkpoints" / "last.ckpt")
    assert all(torch.isfinite(t).all() for t in weights.values())


def test_consecutive_nonfinite_steps_stop_the_run_with_a_diagnostic(
        make_config, corpus, tmp_path: Path) -> None:
    manifest = _corpus_copy_with_nan(corpus, tmp_path, all_bad=True)
    config = config_from_dict(make_config(
        data={"train_manifest": str(manifest), "crop_seconds": 0.5, "batch_size": 2},
        trainer={"max_epochs": 5, "max_consecutive_nonfinite": 3}))
    with pytest.raises(TrainingDiverged) as info:
        train(config, tmp_path / "run")
    message = str(info.value)
    assert "3 consecutive steps with NaN/Inf gradients" in message
    assert "LR" in message and "check-data" in message
    summary = json.loads((tmp_path / "run" / "train_summary.json").read_text())
    assert summary["stop_reason"] == "non-finite gradients"
    rows = _rows(tmp_path / "run")
    assert len(rows) == 1 and rows[0]["nonfinite_steps"] == "3"
    assert rows[0]["train_batches"] == "3"  # of 4: stopped right after the third bad step
    # 3 steps, all non-finite: broken, however short the run.
    analysis = analyse(tmp_path / "run")
    assert analysis.verdict == "broken" and analysis.finding("too_short_to_judge") is not None
    finding = analysis.finding("nonfinite_steps")
    assert finding.severity == "error" and finding.evidence["diverged"]


def test_early_stopping_time_budget_and_fast_decay_warning(make_config, tmp_path: Path) -> None:
    # No learning at all (lr at the floor): valid_sisnr cannot improve, patience 1 stops it.
    config = config_from_dict(make_config(
        optim={"lr": 1e-9}, scheduler={"name": "exponential", "gamma": 0.1, "min_lr": 1e-13},
        trainer={"max_epochs": 20}, early_stopping={"patience": 1, "min_delta": 0.5}))
    run = train(config, tmp_path / "early").run_dir
    summary = json.loads((run / "train_summary.json").read_text())
    assert summary["stop_reason"] == "early stopping" and summary["epochs_completed"] == 2
    assert "decay the LR by" in (run / "logs" / "train.log").read_text()

    budget = config_from_dict(make_config(trainer={"max_epochs": 50}))
    run = train(budget, tmp_path / "budget", max_minutes=0.0005).run_dir
    summary = json.loads((run / "train_summary.json").read_text())
    assert summary["stop_reason"] == "time budget" and summary["epochs_completed"] == 1
    assert (run / "model" / "model.safetensors").is_file()


def test_sample_rate_different_from_the_data_is_refused_before_training(
        make_config, tmp_path: Path) -> None:
    config = config_from_dict(make_config(data={"sample_rate": 16000, "check_pairs": 4}))
    with pytest.raises(ConfigError, match="data.sample_rate is 16000 Hz but .* is 8000 Hz"):
        train(config, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_bf16_on_cpu_with_gradient_accumulation(make_config, tmp_path: Path) -> None:
    config = config_from_dict(make_config(trainer={"max_epochs": 1, "precision": "bf16-mixed",
                                                   "accumulate_grad_batches": 2}))
    run = train(config, tmp_path / "run").run_dir
    env = json.loads((run / "environment.json").read_text())
    assert env["precision"] == "bf16-mixed"
    row = _rows(run)[0]
    assert row["step"] == "1" and row["train_batches"] == "2"  # two batches, one optimiser step
    assert np.isfinite(float(row["valid_sisnr"]))


def test_bf16_mixed_trains_on_any_cpu_and_is_flagged_where_emulated(make_config, tmp_path: Path,
                                                                    monkeypatch) -> None:
    """An explicit bf16-mixed run trains on a CPU without bf16 instructions, and its log says
    that bf16 is emulated there (slower than fp32)."""
    from tfgridnet import hardware

    monkeypatch.setattr(hardware, "cpu_has_bf16", lambda *_: False)
    config = config_from_dict(make_config(trainer={"max_epochs": 1, "precision": "bf16-mixed",
                                                   "accelerator": "cpu"}))
    run = train(config, tmp_path / "run").run_dir
    assert json.loads((run / "environment.json").read_text())["precision"] == "bf16-mixed"
    assert all(np.isfinite(float(r["train_loss"])) for r in _rows(run))
    log = (run / "logs" / "train.log").read_text()
    assert "trainer.precision bf16-mixed" in log and "emulated" in log
