"""`tfgridnet train`: check the data, lay out the run dir, build the Trainer, fit, export the best.

Run dir (docs/design.md, files): ``config.yaml`` (resolved), ``environment.json``, ``metrics.csv``,
``checkpoints/`` (``last.ckpt`` + top-k by ``valid_sisnr``), ``model/`` (best epoch, safetensors),
``logs/`` (TensorBoard + ``train.log``), ``plots/``, and ``train_summary.json`` at the end.

Lightning does the bookkeeping it already knows how to do: ``ModelCheckpoint`` (via
:class:`~tfgridnet.train.callbacks.BestCheckpoint`) is the one record of the best epoch, and the
Trainer's own ``is_global_zero`` decides who writes the run folder. The time budget is
:class:`~tfgridnet.train.budget.TimeBudget`, which fits the closing validation in it too.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback, EarlyStopping
from lightning.pytorch.loggers import TensorBoardLogger

from tfgridnet.contracts.folders import RunDir
from tfgridnet.contracts.train_summary import (
    STOP_EARLY_STOPPING,
    STOP_MAX_EPOCHS,
    STOP_NONFINITE,
    STOP_SIGNAL,
    STOP_TIME_BUDGET,
)
from tfgridnet.errors import ProblemsFound
from tfgridnet.train.budget import TimeBudget
from tfgridnet.train.callbacks import (
    MONITOR,
    AtomicCheckpointIO,
    BestCheckpoint,
    GracefulStop,
    GracefulStopRequested,
    GradientGuard,
)
from tfgridnet.train.config import Config
from tfgridnet.train.console import progress_bar
from tfgridnet.train.datamodule import EnhancementDataModule
from tfgridnet.train.epoch_log import EpochMonitor
from tfgridnet.train.finetune import prepare_finetune, start_from_source, validate_initial_model
from tfgridnet.train.module import EnhancementModule
from tfgridnet.train.precision import emulated_bf16_note
from tfgridnet.train.preflight import (
    DataCheckFailed,
    ProgressFactory,
    ResumeError,
    check_sample_rates,
    resumed_epoch,
    startup_data_check,
    startup_leakage_check,
    validate_resume_checkpoint,
)
from tfgridnet.train.resources import check_accelerator, check_optional_packages, workers_note
from tfgridnet.train.resume import check_epochs_left, resume_line
from tfgridnet.train.rundir import (
    RunFiles,
    TrainSummary,
    buffer_log,
    close_text_log,
    lay_out_run_dir,
    release_log,
)

__all__ = ["train", "TrainResult", "TrainSummary", "DataCheckFailed", "TrainingDiverged",
           "ResumeError", "resolve_precision", "validate_resume_checkpoint"]

log = logging.getLogger("tfgridnet.train")


class TrainingDiverged(ProblemsFound, RuntimeError):
    """Training stopped after too many consecutive non-finite steps (message: the diagnostic)."""


@dataclass(frozen=True)
class TrainResult:
    """What :func:`train` returns: the run folder and, on global rank 0, how the run ended
    (the content of ``train_summary.json``; None on the other ranks, which write nothing)."""

    run_dir: Path
    summary: TrainSummary | None
    is_global_zero: bool = True


def resolve_precision(config: Config) -> str:
    """``auto``: bf16 mixed precision on a CUDA GPU or a bf16-capable CPU, else full fp32."""
    from tfgridnet.train.precision import auto_precision

    precision = config.trainer.precision
    return auto_precision(config.trainer.accelerator) if precision == "auto" else precision


def _stop_reason(trainer: pl.Trainer, guard: GradientGuard, signal_name: str | None,
                 budget: TimeBudget) -> str:
    """Why fit ended, from the callbacks that decided it."""
    if guard.diagnostic:
        return STOP_NONFINITE
    if signal_name is not None:
        return f"{STOP_SIGNAL} ({signal_name})"
    if budget.stopped:
        return STOP_TIME_BUDGET
    early = next((c for c in trainer.callbacks if isinstance(c, EarlyStopping)), None)
    if early is not None and early.stopped_epoch:
        return STOP_EARLY_STOPPING
    return STOP_MAX_EPOCHS


def _trainer(config: Config, precision: str, callbacks: list[Callback], run_dir: Path
             ) -> pl.Trainer:
    """The Lightning Trainer of a run: devices, precision, limits and logger from the config."""
    trainer_cfg = config.trainer
    return pl.Trainer(
        default_root_dir=run_dir,
        accelerator=trainer_cfg.accelerator,
        devices=trainer_cfg.devices,
        num_nodes=trainer_cfg.num_nodes,
        strategy=trainer_cfg.strategy,
        precision=precision,
        max_epochs=trainer_cfg.max_epochs,
        accumulate_grad_batches=trainer_cfg.accumulate_grad_batches,
        gradient_clip_val=trainer_cfg.gradient_clip_val,
        gradient_clip_algorithm="norm",
        deterministic=trainer_cfg.deterministic,
        limit_train_batches=trainer_cfg.limit_train_batches,
        limit_val_batches=trainer_cfg.limit_val_batches,
        log_every_n_steps=trainer_cfg.log_every_n_steps,
        num_sanity_val_steps=1,
        callbacks=callbacks,
        logger=TensorBoardLogger(save_dir=str(run_dir / "logs"), name="", version="tensorboard",
                                 default_hp_metric=False),
        plugins=[AtomicCheckpointIO()],
        enable_progress_bar=trainer_cfg.progress_bar != "none",
        enable_model_summary=False,
        use_distributed_sampler=False,
    )


def train(config: Config, out_dir: Path, resume: str | None = None,
          ignore_data_errors: bool = False, max_minutes: float | None = None,
          data_check_progress: ProgressFactory | None = None) -> TrainResult:
    """Train a model from ``config`` into the run dir ``out_dir``; return where and how it ended.

    ``resume``: a checkpoint path, or ``"auto"`` for ``out_dir/checkpoints/last.ckpt``
    (:func:`tfgridnet.train.resume.resume_config` gives the config the run folder trained with).
    ``max_minutes``: wall-clock budget of this call (overrides ``trainer.max_minutes``; a resumed
    run gets it afresh), validation included: training stops early enough to validate and
    checkpoint the epoch in progress within it (:class:`~tfgridnet.train.budget.TimeBudget`);
    the best epoch is exported either way.
    ``data_check_progress(label, unit=...)``: the progress display of the start-up data checks
    (pairs and leakage; a context manager yielding ``update(done, total)``; the command line
    passes its own).
    """
    run_dir = Path(out_dir)
    run = RunDir(run_dir)
    ckpt_dir = run.checkpoints
    source = None
    if config.init.source is not None and resume is None:  # a resume continues the fine-tune
        config, source = prepare_finetune(config)
    if max_minutes is not None:
        config = config.model_copy(update={"trainer": config.trainer.model_copy(
            update={"max_minutes": float(max_minutes)})})
        config = Config.model_validate(config.model_dump())

    resume_path: Path | None = None
    start_epoch = 0
    resuming: str | None = None
    if resume is not None:
        resume_path = run.last_checkpoint if resume == "auto" else Path(resume)
        if resume == "auto" and not resume_path.is_file():
            raise ResumeError(f"--resume: {resume_path} does not exist (nothing to resume in "
                              f"{run_dir}); give a checkpoint path or train without --resume")
        ckpt = validate_resume_checkpoint(resume_path, config)
        start_epoch = resumed_epoch(ckpt)
        check_epochs_left(config, start_epoch, run_dir)
        resuming = resume_line(run_dir, resume_path, ckpt, start_epoch)
        del ckpt
    elif run.checkpoint_files():
        raise ResumeError(f"{run_dir} already holds checkpoints from an earlier run; continue it "
                          "with --resume, or choose another --out")

    check_accelerator(config)
    check_optional_packages(config)
    check_sample_rates(config)
    data_notes, data_check = startup_data_check(config, ignore_data_errors, data_check_progress)
    data_notes += startup_leakage_check(config, ignore_data_errors, data_check,
                                        data_check_progress)

    if config.trainer.num_threads:
        torch.set_num_threads(config.trainer.num_threads)
    pl.seed_everything(config.trainer.seed, workers=True, verbose=False)
    precision = resolve_precision(config)

    trainer_cfg = config.trainer
    guard = GradientGuard(trainer_cfg.gradient_clip_val, trainer_cfg.max_consecutive_nonfinite)
    monitor = EpochMonitor(run_dir, guard, config.monitor, data_check)
    files = RunFiles(run_dir, config, precision,
                     {"resumed_from": str(resume_path) if resume_path else None})
    checkpoint = BestCheckpoint(ckpt_dir, run.model, config.data.sample_rate,
                                save_top_k=config.checkpoint.save_top_k,
                                every_n_epochs=config.checkpoint.every_n_epochs)
    callbacks: list[Callback] = [guard, monitor, GracefulStop(run.last_checkpoint), files,
                                 checkpoint]
    if config.early_stopping.patience is not None:
        callbacks.append(EarlyStopping(
            monitor=MONITOR, mode="max", patience=config.early_stopping.patience,
            min_delta=config.early_stopping.min_delta, check_on_train_epoch_end=True,
            check_finite=False))
    budget = TimeBudget(trainer_cfg.max_minutes)
    callbacks.append(budget)
    callbacks += progress_bar(trainer_cfg.progress_bar, budget.seconds_left)

    held = buffer_log()
    try:
        trainer = _trainer(config, precision, callbacks, run_dir)
    except BaseException:
        release_log(held, None)
        raise
    # The Trainer has resolved this process's global rank from its cluster environment (torchrun's
    # RANK, SLURM_PROCID, or NODE_RANK and LOCAL_RANK of a plain Lightning launch): only rank 0
    # creates and writes the run folder, so node 1's first process (LOCAL_RANK 0) does not.
    handler = lay_out_run_dir(run_dir, config) if trainer.is_global_zero else None
    if handler is not None:
        data_check.write(run_dir)
    release_log(held, handler)
    for note in data_notes if handler is not None else ():
        log.info("data check: %s", note)
    if handler is not None:
        for line in filter(None, (resuming, budget.describe(trainer_cfg.max_epochs),
                                  workers_note(config))):
            print(line, flush=True)
            log.info(line)
    slow_precision = emulated_bf16_note(precision, config.trainer.accelerator)
    if slow_precision and handler is not None:
        log.warning("trainer.precision %s: %s", precision, slow_precision)

    module = EnhancementModule(config.to_dict())
    datamodule = EnhancementDataModule(config, start_epoch=start_epoch)
    if source is not None:
        start_from_source(config, source, module, run_dir if handler is not None else None)
    signal_name = None
    started = time.monotonic()
    try:
        if source is not None:  # metrics.csv's step-0 row: the source before any step
            validate_initial_model(trainer, module, datamodule, monitor)
        trainer.fit(module, datamodule=datamodule,
                    ckpt_path=str(resume_path) if resume_path else None)
    except GracefulStopRequested as stop:
        signal_name = stop.signal_name
        log.warning("%s; resume with: tfgridnet train --out %s --resume", stop, run_dir)
    finally:
        if handler is not None:
            close_text_log(handler)

    summary = None
    if trainer.is_global_zero:
        best_path = checkpoint.best_model_path
        best_score = checkpoint.best_model_score
        summary = TrainSummary(
            stop_reason=_stop_reason(trainer, guard, signal_name, budget),
            epochs_completed=trainer.current_epoch,
            global_step=trainer.global_step,
            best_epoch=checkpoint.best_epoch,
            best_valid_sisnr=(float(best_score) if best_path and best_score is not None
                              and math.isfinite(float(best_score)) else None),
            best_checkpoint=Path(best_path).name if best_path else None,
            last_checkpoint=(run.last_checkpoint.name if run.last_checkpoint.is_file()
                             else None),
            model_dir=run.model.name if run.model_weights.is_file() else None,
            early_warning=monitor.warning,
            nonfinite_diagnostic=guard.diagnostic,
            weight_digests=files.digests,
            wall_time_s=round(time.monotonic() - started, 2),
            world_size=trainer.world_size,
            shortened_validations=budget.shortened,
        )
        summary.write(run_dir)
    if guard.diagnostic:
        raise TrainingDiverged(guard.diagnostic)
    return TrainResult(run_dir, summary, trainer.is_global_zero)
