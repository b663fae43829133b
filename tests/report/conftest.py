"""Synthetic runs for the report tests: a healthy run, the users' failed run, and writers."""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import yaml

from tfgridnet.contracts import metrics_csv as mc
from tfgridnet.contracts.environment import RunEnvironment
from tfgridnet.contracts.metric_registry import METRIC_REGISTRY
from tfgridnet.contracts.metrics_csv import EpochRow, MetricsLog
from tfgridnet.contracts.names import METRICS_FILE

HEALTHY_EPOCHS = 60
_EPOCH_ROW_COLUMNS = {f.name for f in dataclasses.fields(EpochRow)} - {"rates"}


def write_metrics(run_dir: Path, columns: dict[str, np.ndarray]) -> Path:
    """metrics.csv of these columns (one value per epoch; NaN: empty), written by the trainer's
    own writer (``MetricsLog`` of ``EpochRow``s); a column no ``EpochRow`` has (a run another
    trainer wrote) makes it a plain CSV of exactly these columns."""
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / METRICS_FILE
    names = list(columns)
    n_rows = len(columns[mc.EPOCH])
    if set(names) <= _EPOCH_ROW_COLUMNS:
        ints = {mc.EPOCH, mc.STEP}
        rows = [EpochRow(**{c: (int(columns[c][i]) if c in ints else float(columns[c][i]))
                            for c in names if c in ints or np.isfinite(columns[c][i])})
                for i in range(n_rows)]
        return MetricsLog(path).extend(rows)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(names)
        for i in range(n_rows):
            writer.writerow(["" if np.isnan(columns[c][i]) else repr(float(columns[c][i]))
                             for c in names])
    return path


def write_run(run_dir: Path, columns: dict[str, np.ndarray], environment: dict | None = None,
              config: dict | None = None, checkpoints: tuple[str, ...] = ("last.ckpt",)) -> Path:
    write_metrics(run_dir, columns)
    if environment is not None:
        RunEnvironment(**environment).write(run_dir)
    if config is not None:
        (run_dir / "config.yaml").write_text(yaml.safe_dump(config))
    (run_dir / "checkpoints").mkdir(exist_ok=True)
    for name in checkpoints:
        (run_dir / "checkpoints" / name).write_bytes(b"")
    return run_dir


def write_eval(eval_dir: Path, uttids: list[str], noisy: np.ndarray, enhanced: np.ndarray,
               extra: dict[str, np.ndarray] | None = None, index_html: bool = True) -> Path:
    """Scores as if `evaluate` had produced them, written by the evaluator's own writers."""
    from tfgridnet.contracts.utterance import UtteranceRow
    from tfgridnet.evaluation.schema import summarize, write_results_csv
    from tfgridnet.evaluation.scoring import METRIC_REGISTRY

    eval_dir.mkdir(parents=True, exist_ok=True)
    columns = {"noisy_sisnr": noisy, "enhanced_sisnr": enhanced}
    columns.update(extra or {})
    rows = []
    for i, uttid in enumerate(uttids):
        row = {"uttid": uttid, "status": "ok", "error": "", "notes": ""}
        row.update({c: float(v[i]) for c, v in columns.items() if np.isfinite(v[i])})
        if "noisy_sisnr" not in row or "enhanced_sisnr" not in row:  # NaN marks a failed utterance
            row.update(status="failed", error="enhancement failed")
        for metric in METRIC_REGISTRY.values():
            if metric.noisy_column in row and metric.enhanced_column in row:
                row[metric.delta_column] = metric.improvement(row[metric.noisy_column],
                                                              row[metric.enhanced_column])
        rows.append(UtteranceRow.from_columns(row))
    write_results_csv(eval_dir / "evaluation_results.csv", rows)
    (eval_dir / "summary.json").write_text(json.dumps(summarize(rows).to_json()))
    if index_html:
        (eval_dir / "index.html").write_text("<html></html>")
    return eval_dir


def healthy_metrics(n_epochs: int = HEALTHY_EPOCHS, seed: int = 0) -> dict[str, np.ndarray]:
    """A run that learns: valid 3 -> ~14 dB, gentle cosine LR, rare clipping, memory 62 %."""
    rng = np.random.default_rng(seed)
    epoch = np.arange(n_epochs, dtype=float)
    valid = 3.0 + 11.0 * (1.0 - np.exp(-epoch / 12.0)) + 0.05 * rng.standard_normal(n_epochs)
    train = valid + 1.0
    steps = np.full(n_epochs, 100.0)
    grad_mean = 1.0 - 0.5 * epoch / n_epochs
    return {
        "epoch": epoch,
        "step": np.cumsum(steps),
        "train_loss": -train,
        "train_sisnr": train,
        "valid_sisnr": valid,
        "valid_noisy_sisnr": np.full(n_epochs, 5.0),
        "lr": 1e-5 + 0.5 * (1e-3 - 1e-5) * (1.0 + np.cos(np.pi * epoch / (n_epochs - 1))),
        "grad_norm_mean": grad_mean,
        "grad_norm_max": 3.0 * grad_mean,
        "grad_clip": np.full(n_epochs, 5.0),
        "clipped_steps": np.full(n_epochs, 2.0),
        "nonfinite_steps": np.zeros(n_epochs),
        "sec_per_batch": np.full(n_epochs, 0.5),
        "samples_per_sec": np.full(n_epochs, 64.0),
        "peak_mem_mb": np.full(n_epochs, 20_000.0),
        "time_s": 60.0 * (epoch + 1.0),
    }


HEALTHY_ENV = {"device": "NVIDIA Test GPU", "device_mem_mb": 32_000, "torch": "2.13.0",
               "precision": "bf16-mixed", "world_size": 1}
HEALTHY_CONFIG = {"trainer": {"max_epochs": HEALTHY_EPOCHS}, "optim": {"lr": 1e-3},
                  "data": {"batch_size": 8}}


def healthy_eval(eval_dir: Path, n: int = 50, seed: int = 1) -> Path:
    rng = np.random.default_rng(seed)
    noisy = 5.0 + 3.0 * rng.standard_normal(n)
    improvement = np.clip(10.0 + 2.0 * rng.standard_normal(n), 4.0, None)
    pesq = METRIC_REGISTRY["pesq_wb"]
    extra = {pesq.noisy_column: np.full(n, 1.5), pesq.enhanced_column: np.full(n, 2.6)}
    return write_eval(eval_dir, [f"utt{i:03d}" for i in range(n)], noisy, noisy + improvement,
                      extra)


@pytest.fixture
def healthy_run(tmp_path: Path) -> Path:
    run_dir = write_run(tmp_path / "run", healthy_metrics(), HEALTHY_ENV, HEALTHY_CONFIG,
                        ("last.ckpt", "epoch=57.ckpt"))
    healthy_eval(tmp_path / "eval")
    return run_dir


# --- the users' failed run (their hand-written report), rebuilt from its figures ----------------

USERS_EPOCHS = 1496
USERS_HOURS = 10.0


def users_metrics(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = USERS_EPOCHS
    epoch = np.arange(n, dtype=float)
    train = np.clip(-34.27 + 0.3 * rng.standard_normal(n), -35.5, -33.0)
    train += -34.27 - train.mean()
    valid = np.clip(-34.85 + 0.5 * rng.standard_normal(n), -38.0, -32.55)
    valid[100] = -32.34
    valid[700] = -38.69
    steps = np.full(n, 27.0)  # 3,456 utterances / batch 32 / accumulation 4
    fraction = epoch / (n - 1)
    grad_max = 106_673.0 * (168.0 / 106_673.0) ** fraction
    return {
        "epoch": epoch,
        "step": np.cumsum(steps),
        "train_loss": -train,
        "train_sisnr": train,
        "valid_sisnr": valid,
        "lr": 5e-4 * (6.1e-8 / 5e-4) ** fraction,
        "grad_norm_mean": grad_max / 20.0 + 10.0,
        "grad_norm_max": grad_max,
        "clipped_steps": steps.copy(),
        "nonfinite_steps": np.zeros(n),
        "sec_per_batch": np.full(n, 0.22),
        "samples_per_sec": np.full(n, 32 / 0.22),
        "peak_mem_mb": np.full(n, 5.79 * 1024),
        "time_s": (epoch + 1.0) * USERS_HOURS * 3600.0 / n,
    }


USERS_ENV = {"device": "NVIDIA GeForce RTX 5090", "device_mem_mb": 32 * 1024,
             "torch": "2.9.0+cu128", "precision": "bf16-mixed", "world_size": 1}
USERS_CONFIG = {"trainer": {"max_epochs": 5000}, "optim": {"lr": 5e-4, "grad_clip": 0.5},
                "data": {"batch_size": 32}}


def _exact(values: np.ndarray, mean: float, std: float) -> np.ndarray:
    return mean + std * (values - values.mean()) / values.std(ddof=1)


def users_eval(eval_dir: Path, seed: int = 0) -> Path:
    """192 utterances: noisy -36.4 dB, improvement +1.1 +- 12.93 dB, min -37.95, max +43.34."""
    rng = np.random.default_rng(seed)
    n = 192
    draws = rng.standard_normal(4 * n)
    z = draws[np.abs(draws) < 2.3][: n - 2]  # keep the two published extremes the extremes
    extremes = np.array([-37.95, 43.34])
    # Scale the other 190 values so that all 192 have exactly the published mean and std.
    rest_mean = (n * 1.1 - extremes.sum()) / (n - 2)
    total_ss = (n - 1) * 12.93**2 + n * 1.1**2
    rest_var = (total_ss - (extremes**2).sum()) / (n - 2) - rest_mean**2
    rest = rest_mean + np.sqrt(rest_var) * (z - z.mean()) / z.std()
    improvement = np.empty(n)
    uttids = [f"{i:05d}" for i in range(n)]
    others = [i for i in range(n) if i not in (130, 57)]
    improvement[others] = rest
    improvement[130], improvement[57] = extremes
    noisy = _exact(rng.standard_normal(n), -36.4, 8.0)
    return write_eval(eval_dir, uttids, noisy, noisy + improvement, index_html=True)


@pytest.fixture
def users_run(tmp_path: Path) -> Path:
    run_dir = write_run(tmp_path / "rtx5090-soundfile-5000ep", users_metrics(), USERS_ENV,
                        USERS_CONFIG, tuple(f"epoch_{e}.ckpt" for e in range(0, 1496, 5)))
    users_eval(tmp_path / "inference_epoch_100")
    return run_dir


@pytest.fixture(scope="session")
def synth() -> SimpleNamespace:
    """The builders above, for test modules (conftest is not importable under importlib mode)."""
    names = ("write_metrics", "write_run", "write_eval", "healthy_metrics", "healthy_eval",
             "users_metrics", "users_eval", "HEALTHY_ENV", "HEALTHY_CONFIG", "HEALTHY_EPOCHS",
             "USERS_ENV", "USERS_CONFIG", "USERS_EPOCHS", "USERS_HOURS")
    return SimpleNamespace(**{name: globals()[name] for name in names})
