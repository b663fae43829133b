"""What ``train --resume`` continues: the run folder's own config, its checkpoint, and a line that
says where it stands.

A run folder keeps the resolved ``config.yaml`` it trained with, ``-o`` overrides included, so
``tfgridnet train --out RUN --resume`` needs nothing else: new ``-o`` values apply on top (and are
kept in ``config.yaml`` for the next resume). A recipe name or config file given with ``--resume``
is only read when the folder has no ``config.yaml`` (a checkpoint resumed into a new folder).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tfgridnet.errors import UserInputError
from tfgridnet.train.config import Config
from tfgridnet.train.config_files import load_config
from tfgridnet.train.preflight import ResumeError
from tfgridnet.train.rundir import RUN_CONFIG_NAME, SUMMARY_NAME, TrainSummary

__all__ = ["resume_config", "check_epochs_left", "resume_line", "RunPlan", "plan_run",
           "default_run_dir", "DEFAULT_RUNS_DIR"]

DEFAULT_RUNS_DIR = Path("runs")  # where a run goes without --out: runs/<config name>


def default_run_dir(config_path: str | Path) -> Path:
    """``runs/<config name>``: the run folder of a config (file or recipe name) without --out."""
    return DEFAULT_RUNS_DIR / Path(config_path).stem


@dataclass(frozen=True)
class RunPlan:
    """What one ``train`` call trains: the resolved config, its run folder, and a line to say
    first (None when there is nothing to say)."""

    config: Config
    run_dir: Path
    note: str | None = None


def plan_run(config_path: str | Path | None, out_dir: str | Path | None = None,
             resume: str | None = None, overrides: list[str] | tuple[str, ...] = (),
             init: str | None = None) -> RunPlan:
    """The config and run folder of ``tfgridnet train [CONFIG] [--out DIR] [--resume [CKPT]]
    [-o KEY=VALUE ...] [--init MODEL]``.

    A new run reads CONFIG (a YAML file or a recipe name) with ``overrides`` on top, into --out
    or :func:`default_run_dir`; ``--resume`` continues with the run folder's own ``config.yaml``
    (:func:`resume_config`), CONFIG then only read for a folder without one. ``init``: ``--init
    MODEL`` (the same as ``-o init.from=MODEL``).
    """
    from tfgridnet.safety import refuse_existing_file

    if config_path is None and (resume is None or out_dir is None):
        raise UserInputError("give CONFIG (a YAML file or a recipe name, see `tfgridnet config "
                             "list`), or --out RUN_DIR --resume to continue a run")
    run_dir = Path(out_dir) if out_dir is not None else default_run_dir(config_path)
    refuse_existing_file(run_dir)
    if init is not None:  # a JSON string is a YAML string: any path survives the override parser
        overrides = [*overrides, f"init.from={json.dumps(init)}"]
    if resume is None:
        return RunPlan(load_config(config_path, overrides), run_dir)
    config, source = resume_config(run_dir, overrides, config_path)
    note = None
    if config_path is not None and source != Path(config_path):
        note = (f"--resume: continuing with {source} (the run's own config, earlier -o "
                f"included), not {config_path}; change values with -o KEY=VALUE")
    return RunPlan(config, run_dir, note)


def resume_config(run_dir: Path, overrides: list[str] | tuple[str, ...] = (),
                  config_path: str | Path | None = None) -> tuple[Config, Path]:
    """The config a resumed run continues with, and the file it was read from.

    ``run_dir/config.yaml`` with ``overrides`` on top; ``config_path`` only when the run folder
    has no ``config.yaml``.
    """
    saved = Path(run_dir) / RUN_CONFIG_NAME
    if saved.is_file():
        return load_config(saved, overrides), saved
    if config_path is None:
        raise ResumeError(f"--resume: {saved} does not exist, so {run_dir} is not a run folder; "
                          "give --out the folder of the run to continue (or CONFIG with "
                          "--resume CKPT to continue a checkpoint in a new folder)")
    return load_config(config_path, overrides), Path(config_path)


def check_epochs_left(config: Config, start_epoch: int, run_dir: Path) -> None:
    """Refuse a resume that would train nothing because ``trainer.max_epochs`` is reached."""
    max_epochs = config.trainer.max_epochs
    if start_epoch >= max_epochs:
        raise ResumeError(
            f"--resume: {run_dir} has already trained {start_epoch} epochs, trainer.max_epochs is "
            f"{max_epochs}; to train further raise it, e.g. -o trainer.max_epochs="
            f"{max_epochs + max(max_epochs // 2, 1)}")


def resume_line(run_dir: Path, checkpoint: Path, ckpt: dict[str, Any], start_epoch: int) -> str:
    """``resuming RUN from CKPT at epoch E (step S); the earlier run stopped: REASON``."""
    text = (f"resuming {run_dir} from {checkpoint} at epoch {start_epoch} "
            f"(step {int(ckpt.get('global_step', 0))})")
    if (Path(run_dir) / SUMMARY_NAME).is_file():
        try:
            text += f"; the earlier run stopped: {TrainSummary.read(run_dir).stop_reason}"
        except (OSError, ValueError, TypeError):
            pass  # an unreadable summary only loses this remark
    return text
