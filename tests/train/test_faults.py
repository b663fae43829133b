"""Faults: signals, kill -9 during a checkpoint write, DDP on two CPU processes, broken data."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
import yaml

from tfgridnet.report.analysis import analyse
from tfgridnet.train.config_files import config_from_dict
from tfgridnet.train.run import DataCheckFailed, train

REPO = Path(__file__).resolve().parents[2]


def _cli(args: list[str], **kwargs) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "tfgridnet", *args], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs)


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"process ended before {path} appeared:\n{proc.stdout.read()}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"{path} did not appear within {timeout} s")
        time.sleep(0.05)


def _write_config(raw: dict, path: Path) -> Path:
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_finishes_the_step_writes_last_ckpt_and_exits_130(
        make_config, tmp_path: Path, signum: int) -> None:
    raw = make_config(trainer={"max_epochs": 500})
    config_path = _write_config(raw, tmp_path / "c.yaml")
    run = tmp_path / "run"
    proc = _cli(["train", str(config_path), "--out", str(run)])
    _wait_for(run / "metrics.csv", proc)  # first epoch done: we are mid-training
    proc.send_signal(signum)
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, output  # interrupted: `train && evaluate` must not carry on
    summary = json.loads((run / "train_summary.json").read_text())
    assert summary["stop_reason"] == f"signal ({signal.Signals(signum).name})"
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    assert ckpt["global_step"] >= 2 and summary["epochs_completed"] < 500
    assert (run / "model" / "model.safetensors").is_file()
    # and the run resumes from it
    raw["trainer"]["max_epochs"] = ckpt["epoch"] + 2
    resumed = train(config_from_dict(raw), run, resume="auto").run_dir
    again = torch.load(resumed / "checkpoints" / "last.ckpt", weights_only=True)
    assert again["global_step"] > ckpt["global_step"]


_SLOW_SAVE = textwrap.dedent("""
    import sys, time, torch
    from pathlib import Path
    from tfgridnet.train.callbacks import AtomicCheckpointIO

    target, marker = Path(sys.argv[1]), Path(sys.argv[2])
    real_save = torch.save

    def slow_save(obj, f, *args, **kwargs):
        real_save(obj, f, *args, **kwargs)
        with open(f, "r+b") as handle:     # leave the temp file half written, then hang
            handle.truncate(handle.seek(0, 2) // 2)
        marker.touch()
        time.sleep(60)

    torch.save = slow_save
    AtomicCheckpointIO().save_checkpoint({"state_dict": {"w": torch.ones(50_000)}}, target)
""")


def test_kill_9_during_a_checkpoint_write_leaves_the_previous_one_loadable(tmp_path: Path) -> None:
    target = tmp_path / "checkpoints" / "last.ckpt"
    from tfgridnet.train.callbacks import AtomicCheckpointIO

    AtomicCheckpointIO().save_checkpoint({"state_dict": {"w": torch.zeros(3)}, "epoch": 4}, target)
    before = target.read_bytes()
    script = tmp_path / "slow_save.py"
    script.write_text(_SLOW_SAVE)
    marker = tmp_path / "mid-save"
    proc = subprocess.Popen([sys.executable, str(script), str(target), str(marker)])
    try:
        _wait_for(marker, proc, timeout=60)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert target.read_bytes() == before
    ckpt = torch.load(target, weights_only=True)
    assert ckpt["epoch"] == 4 and torch.equal(ckpt["state_dict"]["w"], torch.zeros(3))
    assert sorted(p.name for p in target.parent.glob("*.ckpt")) == ["last.ckpt"]


@pytest.mark.slow
def test_kill_9_of_a_training_process_leaves_a_resumable_checkpoint(
        make_config, tmp_path: Path) -> None:
    raw = make_config(trainer={"max_epochs": 500})
    run = tmp_path / "run"
    proc = _cli(["train", str(_write_config(raw, tmp_path / "c.yaml")), "--out", str(run)])
    _wait_for(run / "checkpoints" / "last.ckpt", proc)
    time.sleep(1.0)  # several more epochs and checkpoint writes are under way
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    raw["trainer"]["max_epochs"] = ckpt["epoch"] + 2
    train(config_from_dict(raw), run, resume="auto")
    assert torch.load(run / "checkpoints" / "last.ckpt",
                      weights_only=True)["global_step"] > ckpt["global_step"]


@pytest.mark.slow
def test_ddp_on_two_cpu_processes_ends_with_identical_weights_and_one_set_of_files(
        make_config, tmp_path: Path) -> None:
    raw = make_config(trainer={"max_epochs": 2, "accelerator": "cpu", "devices": 2,
                               "strategy": "ddp"})
    run = tmp_path / "run"
    proc = _cli(["train", str(_write_config(raw, tmp_path / "c.yaml")), "--out", str(run)])
    output, _ = proc.communicate(timeout=240)
    assert proc.returncode == 0, output
    summary = json.loads((run / "train_summary.json").read_text())
    assert summary["world_size"] == 2
    assert len(summary["weight_digests"]) == 2 and len(set(summary["weight_digests"])) == 1
    env = json.loads((run / "environment.json").read_text())
    assert env["world_size"] == 2
    rows = (run / "metrics.csv").read_text().strip().splitlines()
    assert len(rows) == 3  # header + one row per epoch, written once
    # 8 pairs / 2 ranks / batch 4: one step per epoch on each rank
    assert [line.split(",")[1] for line in rows[1:]] == ["1", "2"]
    assert sorted(p.name for p in run.iterdir()) == sorted(
        ["checkpoints", "config.yaml", "data_check.json", "environment.json", "logs", "metrics.csv",
         "model", "plots", "train_summary.json"])
    assert len(list((run / "logs" / "tensorboard").glob("events.*"))) == 1
    assert output.count("epoch 1/1") == 1  # the epoch summary is printed by rank 0 only


def test_broken_pairs_stop_training_before_it_starts(make_config, corpus, tmp_path: Path) -> None:
    rows = corpus["valid"].read_text().strip().splitlines()
    header, body = rows[0], [r.split(",") for r in rows[1:]]
    # swap the clean files of the first two pairs: the users' -36 dB situation
    body[0][2], body[1][2] = body[1][2], body[0][2]
    broken = corpus["root"] / "valid_swapped.csv"
    broken.write_text("\n".join([header] + [",".join(r) for r in body]) + "\n")
    raw = make_config(data={"valid_manifest": str(broken), "check_pairs": 64})
    with pytest.raises(DataCheckFailed) as info:
        train(config_from_dict(raw), tmp_path / "run")
    message = str(info.value)
    assert "valid00" in message and "valid01" in message
    assert f"tfgridnet check-data {broken}" in message
    assert not (tmp_path / "run").exists()

    # --ignore-data-errors trains, and the first validation raises the loud warning
    raw["data"]["valid_manifest"] = str(_all_swapped(corpus, tmp_path))
    raw["trainer"]["max_epochs"] = 1
    run = train(config_from_dict(raw), tmp_path / "run", ignore_data_errors=True).run_dir
    summary = json.loads((run / "train_summary.json").read_text())
    assert "check-data" in summary["early_warning"]
    assert "noisy validation input itself scores" in summary["early_warning"]
    # 2 steps on pairs the start-up check refused: broken, however short the run.
    analysis = analyse(run)
    assert analysis.verdict == "broken"
    assert {"data_check_failed", "noisy_baseline_abnormal", "too_short_to_judge"} <= set(
        analysis.codes)
    assert analysis.findings[0].rule.about_data


def _all_swapped(corpus: dict[str, Path], tmp_path: Path) -> Path:
    rows = corpus["valid"].read_text().strip().splitlines()
    body = [r.split(",") for r in rows[1:]]
    cleans = [r[2] for r in body]
    for i, row in enumerate(body):
        row[2] = cleans[(i + 1) % len(cleans)]
    out = corpus["root"] / "valid_all_swapped.csv"
    out.write_text("\n".join([rows[0]] + [",".join(r) for r in body]) + "\n")
    return out
