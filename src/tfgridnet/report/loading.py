"""Reading a run's contract files for the report: one clear error per unreadable file.

Only the contract files are read (docs/design.md, file contract), so old or foreign runs can be
analysed: a file or column that is absent is listed in ``RunFiles.missing``, never invented.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from tfgridnet.contracts.data_check import DataCheckFile
from tfgridnet.contracts.environment import RunEnvironment
from tfgridnet.contracts.evaluation import read_results_csv
from tfgridnet.contracts.folders import RunDir
from tfgridnet.contracts.folders import find_eval_dir as find_evaluation
from tfgridnet.contracts.metrics_csv import METRICS_COLUMNS, read_metrics, split_initial_row
from tfgridnet.contracts.train_summary import TrainSummary
from tfgridnet.errors import UserInputError
from tfgridnet.report.facts import missing_item

__all__ = ["RunFiles", "config_value", "find_eval_dir", "load_run", "read_eval_table",
           "read_json", "read_metrics", "read_yaml", "split_initial_row"]


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


read_eval_table = read_results_csv  # the name this module has always exported


def find_eval_dir(run_dir: Path) -> Path | None:
    """An evaluation folder next to the run: RUN_DIR/eval, then a sibling eval/ (demo layout)."""
    found = find_evaluation(run_dir)
    return found.path if found is not None else None


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
    environment: RunEnvironment
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
    if not Path(run_dir).is_dir():
        raise FileNotFoundError(f"{run_dir}: run folder not found")
    run = RunDir(run_dir)
    initial, metrics = split_initial_row(read_metrics(run.metrics), run.metrics)
    missing = [missing_item(run.metrics.name, c) for c in METRICS_COLUMNS
               if not _finite_column(metrics, c)]
    environment = RunEnvironment()
    if run.environment.is_file():
        environment, unreadable = RunEnvironment.read(run.environment)
        missing += [missing_item(run.environment.name, key) for key in unreadable]
    else:
        missing.append(run.environment.name)
    config: dict[str, Any] = {}
    if run.config.is_file():
        config = read_yaml(run.config)
    else:
        missing.append(run.config.name)
    checkpoints: list[str] = []
    if run.checkpoints.is_dir():
        checkpoints = sorted(p.name for p in run.checkpoints.iterdir() if p.is_file())
    else:
        missing.append(f"{run.checkpoints.name}/")
    summary = TrainSummary.read(run.path) if run.train_summary.is_file() else None
    data_check = DataCheckFile.read(run.data_check) if run.data_check.is_file() else None
    return RunFiles(run.path, metrics, environment, config, checkpoints, missing, initial,
                    summary, data_check)
