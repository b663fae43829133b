"""Reading a run's contract files for the report: one clear error per unreadable file.

Only the contract files are read (docs/design.md, file contract), so old or foreign runs can be
analysed: a file or column that is absent is listed in ``RunFiles.missing``, never invented.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from tfgridnet.errors import UserInputError
from tfgridnet.evaluation.schema import number_columns
from tfgridnet.report.tables import read_csv_table
from tfgridnet.train.data_check_file import DATA_CHECK_FILE, DataCheckFile
from tfgridnet.train.metrics_schema import METRICS_COLUMNS, is_initial_epoch
from tfgridnet.train.summary_file import SUMMARY_NAME, TrainSummary

__all__ = ["RunFiles", "config_value", "find_eval_dir", "load_run", "read_eval_table",
           "read_json", "read_metrics", "read_yaml", "split_initial_row"]


def _parse_number(text: str | None, path: Path, row: int, column: str) -> float:
    if text is None or text.strip() == "":
        return math.nan
    try:
        return float(text)
    except ValueError:
        raise UserInputError(
            f"{path}: row {row}, column '{column}': expected a number, got {text!r}"
        ) from None


def read_metrics(path: Path) -> dict[str, np.ndarray]:
    """metrics.csv -> column name -> float array (NaN where empty), one row per epoch.

    Rows are sorted by epoch; when a resumed run logged an epoch twice, the later row wins.
    """
    if not path.is_file():
        raise FileNotFoundError(f"{path}: metrics.csv not found (is this a run folder?)")
    columns, table = read_csv_table(path)
    if "epoch" not in columns:
        raise UserInputError(f"{path}: no 'epoch' column (header: {','.join(columns)})")
    rows = [{c: _parse_number(v, path, number, c) for c, v in zip(columns, fields)}
            for number, fields in table]
    if not rows:
        raise UserInputError(f"{path}: header only, no epoch rows")
    by_epoch: dict[float, dict[str, float]] = {}
    for row in rows:
        if math.isnan(row["epoch"]):
            raise UserInputError(f"{path}: a row has an empty 'epoch'")
        by_epoch[row["epoch"]] = row
    ordered = [by_epoch[e] for e in sorted(by_epoch)]
    return {c: np.array([r.get(c, math.nan) for r in ordered], dtype=np.float64) for c in columns}


def split_initial_row(metrics: dict[str, np.ndarray], path: Path
                      ) -> tuple[dict[str, float] | None, dict[str, np.ndarray]]:
    """The initial row (the model before training: ``metrics_schema.INITIAL_EPOCH``) apart from
    the trained epochs, so that no statistic or rule counts it as an epoch."""
    initial = np.array([is_initial_epoch(e) for e in metrics["epoch"]])
    if not initial.any():
        return None, metrics
    if initial.all():
        raise ValueError(f"{path}: only the initial (step 0) row, no trained epoch yet")
    row = {c: float(v[initial][-1]) for c, v in metrics.items()}
    return row, {c: v[~initial] for c, v in metrics.items()}


def read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise UserInputError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise UserInputError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise UserInputError(f"{path}: not valid YAML ({exc})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UserInputError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return data


def read_eval_table(path: Path) -> dict[str, list[Any]]:
    """evaluation_results.csv -> column -> list: the number columns (``number_columns``) as
    floats, a non-number there refused naming the line; uttid, conditions and notes as text."""
    columns, rows = read_csv_table(path)
    if "uttid" not in columns:
        raise UserInputError(f"{path}: expected a CSV header starting with 'uttid'")
    numeric = number_columns()
    table: dict[str, list[Any]] = {c: [] for c in columns}
    for number, fields in rows:
        for column, value in zip(columns, fields):
            if column in numeric:
                table[column].append(_parse_number(value, path, number, column))
            else:
                table[column].append(value)
    return table


def find_eval_dir(run_dir: Path) -> Path | None:
    """An evaluation folder next to the run: RUN_DIR/eval, then a sibling eval/ (demo layout)."""
    for candidate in (run_dir / "eval", run_dir.parent / "eval"):
        if (candidate / "evaluation_results.csv").is_file() or (candidate / "summary.json").is_file():
            return candidate
    return None


def config_value(config: dict[str, Any], *paths: str) -> Any:
    """First value found among dotted ``paths`` in the resolved config (None if none is set)."""
    for dotted in paths:
        node: Any = config
        for key in dotted.split("."):
            if not isinstance(node, dict) or key not in node:
                node = None
                break
            node = node[key]
        if node is not None:
            return node
    return None


@dataclass
class RunFiles:
    """The run folder's files as read; ``missing`` names every contract item that was absent.

    ``summary`` (train_summary.json: why the run stopped) and ``data_check`` (the start-up data
    check) are None for a run that predates them or was not trained by ``tfgridnet train``.
    """

    run_dir: Path
    metrics: dict[str, np.ndarray]
    environment: dict[str, Any]
    config: dict[str, Any]
    checkpoints: list[str]
    missing: list[str] = field(default_factory=list)
    initial: dict[str, float] | None = None  # metrics.csv's step-0 row, when the run has one
    summary: TrainSummary | None = None
    data_check: DataCheckFile | None = None


def _finite_column(metrics: dict[str, np.ndarray], name: str) -> bool:
    values = metrics.get(name)
    return values is not None and bool(np.isfinite(values).any())


def load_run(run_dir: Path) -> RunFiles:
    """metrics.csv (required), environment.json, config.yaml, the checkpoint list,
    train_summary.json and data_check.json of a run."""
    if not run_dir.is_dir():
        raise FileNotFoundError(f"{run_dir}: run folder not found")
    initial, metrics = split_initial_row(read_metrics(run_dir / "metrics.csv"),
                                         run_dir / "metrics.csv")
    missing = [f"metrics.csv:{c}" for c in METRICS_COLUMNS if not _finite_column(metrics, c)]
    environment: dict[str, Any] = {}
    if (run_dir / "environment.json").is_file():
        environment = read_json(run_dir / "environment.json")
    else:
        missing.append("environment.json")
    config: dict[str, Any] = {}
    if (run_dir / "config.yaml").is_file():
        config = read_yaml(run_dir / "config.yaml")
    else:
        missing.append("config.yaml")
    checkpoint_dir = run_dir / "checkpoints"
    checkpoints: list[str] = []
    if checkpoint_dir.is_dir():
        checkpoints = sorted(p.name for p in checkpoint_dir.iterdir() if p.is_file())
    else:
        missing.append("checkpoints/")
    summary = TrainSummary.read(run_dir) if (run_dir / SUMMARY_NAME).is_file() else None
    data_check = (DataCheckFile.read(run_dir / DATA_CHECK_FILE)
                  if (run_dir / DATA_CHECK_FILE).is_file() else None)
    return RunFiles(run_dir, metrics, environment, config, checkpoints, missing, initial,
                    summary, data_check)
