"""`tfgridnet train`: check the data, lay out the run dir, build the Trainer, fit, export the best.

Run dir (DESIGN.md §4): ``config.yaml`` (resolved), ``environment.json``, ``metrics.csv``,
``checkpoints/`` (``last.ckpt`` + top-k by ``valid_sisnr``), ``model/`` (best epoch, safetensors),
``logs/`` (TensorBoard + ``train.log``), ``plots/``, and ``train_summary.json`` at the end.
"""

from __future__ import annotations

import hashlib
import logging
import os
import platform
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import (
    Callback,
    EarlyStopping,
    ModelCheckpoint,
    RichProgressBar,
    TQDMProgressBar,
)
from lightning.pytorch.loggers import TensorBoardLogger

from tfgridnet import __version__
from tfgridnet.errors import ProblemsFound, TfgridnetError, UserInputError
from tfgridnet.fileio import write_json_atomic, write_text_atomic
from tfgridnet.train.callbacks import (
    AtomicCheckpointIO,
    EpochMonitor,
    ExportBest,
    GracefulStop,
    GracefulStopRequested,
    GradientGuard,
    TimeBudget,
)
from tfgridnet.train.config import Config, ConfigError
from tfgridnet.train.datamodule import EnhancementDataModule
from tfgridnet.train.module import EnhancementModule

__all__ = ["train", "DataCheckFailed", "TrainingDiverged", "ResumeError",
           "resolve_precision", "validate_resume_checkpoint"]

log = logging.getLogger("tfgridnet.train")


class DataCheckFailed(ProblemsFound, ValueError):
    """The start-up data check found broken pairs; the message lists them and what to run."""


class TrainingDiverged(TfgridnetError, RuntimeError):
    """Training stopped after too many consecutive non-finite steps (message: the diagnostic)."""

    exit_code = 3


class ResumeError(UserInputError):
    """The checkpoint given to --resume cannot be used; nothing was changed."""


def _rank() -> int:
    """This process's global rank, also before the Trainer exists: torchrun's RANK, SLURM's
    SLURM_PROCID, else Lightning's NODE_RANK + LOCAL_RANK. On node 1 of a plain Lightning launch
    only LOCAL_RANK=0 is set, so the node counts: 0 means global rank 0, nothing else does
    (exact when LOCAL_WORLD_SIZE is set)."""
    for key in ("RANK", "GLOBAL_RANK", "SLURM_PROCID"):
        if key in os.environ:
            return int(os.environ[key])
    node = int(os.environ.get("NODE_RANK", os.environ.get("GROUP_RANK", "0")))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    return node * int(os.environ.get("LOCAL_WORLD_SIZE", local + 1)) + local


def resolve_precision(config: Config) -> str:
    """``auto``: bf16 mixed precision on a CUDA GPU, full fp32 on the CPU."""
    precision = config.trainer.precision
    if precision != "auto":
        return precision
    wants_gpu = config.trainer.accelerator in ("auto", "gpu", "cuda")
    return "bf16-mixed" if wants_gpu and torch.cuda.is_available() else "32-true"


def validate_resume_checkpoint(path: Path, config: Config) -> dict[str, Any]:
    """Read a checkpoint safely and check it is a resumable run of this model; raise ResumeError."""
    from tfgridnet.model.io import ModelLoadError, read_checkpoint

    try:
        ckpt = read_checkpoint(path)
    except ModelLoadError as exc:
        raise ResumeError(f"cannot resume: {exc}") from None
    missing = [k for k in ("state_dict", "optimizer_states", "loops", "hyper_parameters", "epoch")
               if k not in ckpt]
    if missing:
        raise ResumeError(f"cannot resume from {path}: not a complete tfgridnet training "
                          f"checkpoint (missing {', '.join(missing)}); to start from weights only, "
                          "train a fresh run")
    saved = (ckpt["hyper_parameters"] or {}).get("config") or {}
    saved_model = {"version": "v2", **(saved.get("model") or {})}  # older runs were all V2
    wanted = {"version": config.model.version, **config.model.architecture()}
    diffs = [f"model.{k}: checkpoint {saved_model.get(k)!r}, config {v!r}"
             for k, v in wanted.items() if saved_model.get(k) != v]
    if diffs:
        raise ResumeError(f"cannot resume from {path}: the model differs from the config ("
                          + "; ".join(diffs) + ")")
    return ckpt


def _resumed_epoch(ckpt: dict[str, Any]) -> int:
    """The epoch Lightning will pass to ``set_epoch`` first when resuming from ``ckpt``."""
    try:
        return int(ckpt["loops"]["fit_loop"]["epoch_progress"]["current"]["processed"])
    except (KeyError, TypeError, ValueError):
        return int(ckpt.get("epoch", 0))


def _check_sample_rates(config: Config) -> None:
    """Refuse audio at another rate than data.sample_rate unless data.resample is set."""
    if config.data.resample or config.data.check_pairs == 0 or config.model.rate_independent:
        return  # (a V3 model trains at every file's own rate)
    from tfgridnet.audio.io import audio_info
    from tfgridnet.data.manifest import read_manifest, read_noise_manifest

    data = config.data
    files: list[tuple[str, Path]] = []
    for key in ("train_manifest", "valid_manifest", "train_clean_manifest"):
        manifest = getattr(data, key)
        if manifest is None:
            continue
        require = ("clean",) if key == "train_clean_manifest" else ("noisy", "clean")
        for pair in read_manifest(manifest, require=require)[:3]:
            files += [(key, p) for p in (pair.noisy, pair.clean) if p is not None]
    if data.train_noise_manifest is not None:
        files += [("train_noise_manifest", p)
                  for _, p in read_noise_manifest(data.train_noise_manifest)[:3]]
    for key, path in files:
        try:
            rate = int(audio_info(path).samplerate)
        except (OSError, ValueError, RuntimeError):
            continue  # unreadable files are reported by the data check
        if rate != data.sample_rate:
            raise ConfigError(
                f"data.sample_rate is {data.sample_rate} Hz but {path} (from data.{key}) is "
                f"{rate} Hz; set data.sample_rate: {rate}, or data.resample: true to resample "
                "every file on load")


def _startup_data_check(config: Config, ignore_errors: bool) -> list[str]:
    """check_data on a sample of each paired manifest; raise DataCheckFailed on errors."""
    data = config.data
    if data.check_pairs == 0:
        return []
    from tfgridnet.data.checks import check_data

    notes: list[str] = []
    failures: list[str] = []
    manifests = [("data.train_manifest", data.train_manifest),
                 ("data.valid_manifest", data.valid_manifest)]
    for key, manifest in manifests:
        if manifest is None:
            continue
        expected_rate = None if config.model.rate_independent else data.sample_rate
        report = check_data(Path(manifest), sample_rate=expected_rate,
                            max_pairs=data.check_pairs)
        errors = [p for p in report.problems if p.severity == "error"]
        if not errors:
            notes.append(f"{key}: {report.summary()}")
            continue
        uttids = sorted({p.uttid for p in errors})
        kinds = sorted({p.kind for p in errors})
        listed = "; ".join(f"{p.uttid}: {p.kind}: {p.message}" for p in errors[:8])
        failures.append(
            f"{key} ({manifest}): {len(errors)} error(s) in {len(uttids)} of the checked pairs "
            f"({', '.join(kinds)}): {listed}{' ...' if len(errors) > 8 else ''}\n"
            f"  run `tfgridnet check-data {manifest}` for the full report")
    if failures:
        message = ("start-up data check found broken pairs; training on them cannot work "
                   "(this is how a run ends at -36 dB):\n" + "\n".join(failures))
        if not ignore_errors:
            raise DataCheckFailed(message + "\n(--ignore-data-errors trains anyway)")
        log.warning("%s\n--ignore-data-errors given: training anyway", message)
        notes.append("data errors ignored: " + message)
    return notes


def _environment(config: Config, precision: str, world_size: int, accelerator: str
                 ) -> dict[str, Any]:
    cuda = accelerator in ("cuda", "gpu") and torch.cuda.is_available()
    if cuda:
        props = torch.cuda.get_device_properties(torch.cuda.current_device())
        device, device_mem_mb = props.name, props.total_memory / 2**20
    else:
        device = platform.processor() or platform.machine() or "cpu"
        device_mem_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20
    return {
        "device": device if cuda else f"cpu ({device})",
        "device_mem_mb": round(device_mem_mb, 1),
        "accelerator": accelerator,
        "torch": torch.__version__,
        "lightning": pl.__version__,
        "tfgridnet": __version__,
        "python": platform.python_version(),
        "precision": precision,
        "world_size": world_size,
        "num_nodes": config.trainer.num_nodes,
        "cuda": torch.version.cuda,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "hostname": platform.node(),
        "platform": platform.platform(),
        "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(sys.argv),
    }


class _RunFiles(Callback):
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
            env = _environment(self.config, self.precision, trainer.world_size, accel)
            env["n_parameters"] = sum(p.numel() for p in pl_module.model.parameters())
            env.update(self.extra)
            write_json_atomic(self.run_dir / "environment.json", env)

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


def _setup_text_log(run_dir: Path) -> logging.Handler:
    handler = logging.FileHandler(run_dir / "logs" / "train.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for name in ("tfgridnet", "lightning.pytorch"):
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        if logger.level == logging.NOTSET or logger.level > logging.INFO:
            logger.setLevel(logging.INFO)
    return handler


def _progress_bar(kind: str) -> list[Callback]:
    if kind == "rich":
        return [RichProgressBar(leave=True)]
    if kind == "tqdm":
        return [TQDMProgressBar()]
    return []


def train(config: Config, out_dir: Path, resume: str | None = None,
          ignore_data_errors: bool = False, max_minutes: float | None = None) -> Path:
    """Train a model from ``config`` into the run dir ``out_dir`` and return it.

    ``resume``: a checkpoint path, or ``"auto"`` for ``out_dir/checkpoints/last.ckpt``.
    ``max_minutes``: wall-clock budget (overrides ``trainer.max_minutes``); training stops after
    the epoch that would overrun it, and the best epoch is exported either way.
    """
    run_dir = Path(out_dir)
    ckpt_dir = run_dir / "checkpoints"
    if max_minutes is not None:
        config = config.model_copy(update={"trainer": config.trainer.model_copy(
            update={"max_minutes": float(max_minutes)})})
        config = Config.model_validate(config.model_dump())

    resume_path: Path | None = None
    start_epoch = 0
    if resume is not None:
        resume_path = ckpt_dir / "last.ckpt" if resume == "auto" else Path(resume)
        if resume == "auto" and not resume_path.is_file():
            raise ResumeError(f"--resume: {resume_path} does not exist (nothing to resume in "
                              f"{run_dir}); give a checkpoint path or train without --resume")
        ckpt = validate_resume_checkpoint(resume_path, config)
        start_epoch = _resumed_epoch(ckpt)
        del ckpt
    elif ckpt_dir.is_dir() and any(ckpt_dir.glob("*.ckpt")):
        raise ResumeError(f"{run_dir} already holds checkpoints from an earlier run; continue it "
                          "with --resume, or choose another --out")

    _check_sample_rates(config)
    data_notes = _startup_data_check(config, ignore_data_errors)

    if config.trainer.num_threads:
        torch.set_num_threads(config.trainer.num_threads)
    pl.seed_everything(config.trainer.seed, workers=True, verbose=False)
    precision = resolve_precision(config)
    is_rank_zero = _rank() == 0

    handler = None
    if is_rank_zero:
        for sub in ("checkpoints", "model", "logs", "plots"):
            (run_dir / sub).mkdir(parents=True, exist_ok=True)
        write_text_atomic(run_dir / "config.yaml", config.to_yaml())
        handler = _setup_text_log(run_dir)
        for note in data_notes:
            log.info("data check: %s", note)

    trainer_cfg = config.trainer
    guard = GradientGuard(trainer_cfg.gradient_clip_val, trainer_cfg.max_consecutive_nonfinite)
    monitor = EpochMonitor(run_dir, guard, config.monitor.identity_margin_db,
                           config.monitor.min_noisy_sisnr_db)
    files = _RunFiles(run_dir, config, precision,
                      {"resumed_from": str(resume_path) if resume_path else None})
    checkpoint = ModelCheckpoint(
        dirpath=ckpt_dir, filename="epoch{epoch:03d}-valid_sisnr={valid_sisnr:.3f}",
        auto_insert_metric_name=False, monitor="valid_sisnr", mode="max",
        save_top_k=config.checkpoint.save_top_k, save_last=True,
        every_n_epochs=config.checkpoint.every_n_epochs, save_on_train_epoch_end=True)
    callbacks: list[Callback] = [guard, monitor, ExportBest(run_dir / "model",
                                                            config.data.sample_rate),
                                 GracefulStop(ckpt_dir / "last.ckpt"), files, checkpoint]
    if config.early_stopping.patience is not None:
        callbacks.append(EarlyStopping(
            monitor="valid_sisnr", mode="max", patience=config.early_stopping.patience,
            min_delta=config.early_stopping.min_delta, check_on_train_epoch_end=True,
            check_finite=False))
    budget = None
    max_time = None
    if trainer_cfg.max_minutes is not None:
        budget = TimeBudget(trainer_cfg.max_minutes)
        callbacks.append(budget)
        # Hard backstop inside an epoch that is itself longer than the budget.
        max_time = timedelta(minutes=trainer_cfg.max_minutes * 1.25 + 0.5)
    callbacks += _progress_bar(trainer_cfg.progress_bar)

    trainer = pl.Trainer(
        default_root_dir=run_dir,
        accelerator=trainer_cfg.accelerator,
        devices=trainer_cfg.devices,
        num_nodes=trainer_cfg.num_nodes,
        strategy=trainer_cfg.strategy,
        precision=precision,
        max_epochs=trainer_cfg.max_epochs,
        max_time=max_time,
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
    module = EnhancementModule(config.to_dict())
    datamodule = EnhancementDataModule(config, start_epoch=start_epoch)
    stop_reason = "max_epochs"
    started = time.monotonic()
    try:
        trainer.fit(module, datamodule=datamodule,
                    ckpt_path=str(resume_path) if resume_path else None)
    except GracefulStopRequested as stop:
        stop_reason = f"signal ({stop.signal_name})"
        log.warning("%s; resume with: tfgridnet train CONFIG --out %s --resume", stop, run_dir)
    finally:
        if handler is not None:
            for name in ("tfgridnet", "lightning.pytorch"):
                logging.getLogger(name).removeHandler(handler)
            handler.close()

    if guard.diagnostic:
        stop_reason = "non-finite gradients"
    elif budget is not None and budget.stopped:
        stop_reason = "time budget"
    elif stop_reason == "max_epochs" and trainer.current_epoch < trainer_cfg.max_epochs:
        early = next((c for c in callbacks if isinstance(c, EarlyStopping)), None)
        if early is not None and early.stopped_epoch:
            stop_reason = "early stopping"
        elif trainer_cfg.max_minutes is not None:
            stop_reason = "time budget"
    if trainer.is_global_zero:
        best_path = checkpoint.best_model_path
        summary = {
            "stop_reason": stop_reason,
            "epochs_completed": trainer.current_epoch,
            "global_step": trainer.global_step,
            "best_epoch": monitor.best_epoch,
            "best_valid_sisnr": monitor.best_sisnr if monitor.best_epoch >= 0 else None,
            "best_checkpoint": Path(best_path).name if best_path else None,
            "last_checkpoint": "last.ckpt" if (ckpt_dir / "last.ckpt").is_file() else None,
            "model_dir": "model" if (run_dir / "model" / "model.safetensors").is_file() else None,
            "early_warning": monitor.warning,
            "nonfinite_diagnostic": guard.diagnostic,
            "weight_digests": files.digests,
            "wall_time_s": round(time.monotonic() - started, 2),
            "world_size": trainer.world_size,
        }
        write_json_atomic(run_dir / "train_summary.json", summary)
    if guard.diagnostic:
        raise TrainingDiverged(guard.diagnostic)
    return run_dir
