"""The run folder's own files: ``config.yaml``, ``environment.json``, ``logs/train.log`` and
``train_summary.json`` (schema: :class:`TrainSummary`). Only global rank 0 writes them; their
paths are ``tfgridnet.contracts.RunDir``'s."""

from __future__ import annotations

import hashlib
import logging
import logging.handlers
import os
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback

from tfgridnet import __version__
from tfgridnet.contracts.environment import RunEnvironment
from tfgridnet.contracts.folders import RUN_SUBDIRS, RunDir
from tfgridnet.contracts.names import RUN_CONFIG_NAME
from tfgridnet.contracts.train_summary import SUMMARY_NAME, TrainSummary
from tfgridnet.fileio import write_text_atomic
from tfgridnet.train.config import Config

__all__ = ["RUN_SUBDIRS", "SUMMARY_NAME", "RUN_CONFIG_NAME", "TrainSummary", "RunFiles", "environment",
           "lay_out_run_dir", "setup_text_log", "close_text_log", "buffer_log", "release_log"]

log = logging.getLogger("tfgridnet.train")

_LOGGERS = ("tfgridnet", "lightning.pytorch")


def lay_out_run_dir(run_dir: Path, config: Config) -> logging.Handler:
    """Create the run folder's sub-folders, write the resolved ``config.yaml`` and start
    ``logs/train.log``; return the log handler for :func:`close_text_log`."""
    run = RunDir(run_dir)
    run.lay_out()
    write_text_atomic(run.config, config.to_yaml())
    return setup_text_log(run_dir)


def environment(config: Config, precision: str, world_size: int, accelerator: str
                ) -> RunEnvironment:
    """``environment.json``: versions, device, precision and command line of the run."""
    cuda = accelerator in ("cuda", "gpu") and torch.cuda.is_available()
    if cuda:
        props = torch.cuda.get_device_properties(torch.cuda.current_device())
        device, device_mem_mb = props.name, props.total_memory / 2**20
    else:
        device = platform.processor() or platform.machine() or "cpu"
        device_mem_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20
    return RunEnvironment(
        device=device if cuda else f"cpu ({device})", device_mem_mb=round(device_mem_mb, 1),
        accelerator=accelerator, torch=torch.__version__, lightning=pl.__version__,
        tfgridnet=__version__, python=platform.python_version(), precision=precision,
        world_size=world_size, num_nodes=config.trainer.num_nodes, cuda=torch.version.cuda,
        cpu_count=os.cpu_count(), torch_threads=torch.get_num_threads(),
        hostname=platform.node(), platform=platform.platform(),
        started_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        command=" ".join(sys.argv))


class RunFiles(Callback):
    """Writes environment.json once the Trainer knows its devices, and weight digests at the end."""

    def __init__(self, run_dir: Path, config: Config, precision: str, extra: dict[str, Any]
                 ) -> None:
        self.run_dir = run_dir
        self.config = config
        self.precision = precision
        self.extra = extra
        self.digests: list[str] = []

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.is_global_zero:
            accel = "cuda" if pl_module.device.type == "cuda" else pl_module.device.type
            env = environment(self.config, self.precision, trainer.world_size, accel)
            env = env.model_copy(update={
                "n_parameters": sum(p.numel() for p in pl_module.model.parameters()),
                **self.extra})
            env.write(self.run_dir)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        digest = hashlib.sha256()
        for name, tensor in sorted(pl_module.model.state_dict().items()):
            digest.update(name.encode())
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        mine = digest.hexdigest()
        if trainer.world_size > 1 and torch.distributed.is_initialized():
            gathered: list[Any] = [None] * trainer.world_size
            torch.distributed.all_gather_object(gathered, mine)
            self.digests = [str(d) for d in gathered]
            if len(set(self.digests)) > 1:
                log.error("DDP ranks ended with different weights: %s", self.digests)
        else:
            self.digests = [mine]


def _attach(handler: logging.Handler) -> None:
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        if logger.level == logging.NOTSET or logger.level > logging.INFO:
            logger.setLevel(logging.INFO)


def setup_text_log(run_dir: Path) -> logging.Handler:
    """Copy tfgridnet's and Lightning's INFO log lines into ``logs/train.log``."""
    handler = logging.FileHandler(RunDir(run_dir).train_log, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    _attach(handler)
    return handler


def buffer_log() -> logging.handlers.MemoryHandler:
    """Hold the log lines written before the run folder may be created: the Trainer's device
    lines come while it resolves this process's rank, which decides who writes ``train.log``."""
    buffer = logging.handlers.MemoryHandler(capacity=100_000, flushLevel=logging.CRITICAL + 1)
    _attach(buffer)
    return buffer


def release_log(buffer: logging.handlers.MemoryHandler, target: logging.Handler | None) -> None:
    """Detach :func:`buffer_log`'s handler, passing what it held to ``target`` (None: drop)."""
    for name in _LOGGERS:
        logging.getLogger(name).removeHandler(buffer)
    if target is not None:
        buffer.setTarget(target)
        buffer.flush()
    buffer.buffer.clear()
    buffer.close()


def close_text_log(handler: logging.Handler) -> None:
    """Detach and close the handler of :func:`setup_text_log`."""
    for name in _LOGGERS:
        logging.getLogger(name).removeHandler(handler)
    handler.close()
