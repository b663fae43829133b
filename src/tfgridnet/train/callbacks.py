"""Training callbacks: the engineering around the loop that Lightning does not provide itself.

* :class:`GradientGuard`: pre-clip gradient norms, clipped and non-finite step counts; a step with
  NaN/Inf gradients is skipped, and a run of them stops training with a diagnostic.
* :class:`EpochMonitor`: one ``metrics.csv`` row per epoch (contract columns first), TensorBoard
  scalars, a console summary line, and the loud broken-pairs warning after the first validation.
* :class:`ExportBest`: the best epoch so far is always exported to ``model/`` (safetensors).
* :class:`GracefulStop`: SIGINT/SIGTERM finish the step, write ``last.ckpt`` and stop.
* :class:`TimeBudget`: stop after the epoch that would overrun a wall-clock budget.
* :class:`AtomicCheckpointIO`: checkpoints are written to a temp file and renamed into place.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import resource
import signal
import time
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.plugins.io import TorchCheckpointIO

from tfgridnet.fileio import atomic_path, write_text_atomic
from tfgridnet.metrics import NOISY_SISNR_PLAUSIBLE_DB
from tfgridnet.train.metrics_schema import EXTRA_COLUMNS, METRICS_COLUMNS, is_rate_metric

__all__ = [
    "GradientGuard", "EpochMonitor", "ExportBest",
    "GracefulStop", "GracefulStopRequested", "TimeBudget", "AtomicCheckpointIO",
    "peak_memory_mb",
]

log = logging.getLogger("tfgridnet.train")


def peak_memory_mb(device: torch.device) -> float:
    """Peak CUDA memory allocated on ``device``, else the process's peak resident set size."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def _console_print(trainer: pl.Trainer, text: str) -> None:
    bar = trainer.progress_bar_callback
    if bar is not None and hasattr(bar, "print"):
        bar.print(text)
    else:
        print(text, flush=True)


def _metric(trainer: pl.Trainer, name: str) -> float:
    value = trainer.callback_metrics.get(name)
    return float(value) if value is not None else float("nan")


class GradientGuard(Callback):
    """Measures every step's pre-clip gradient norm and skips steps whose gradients are not finite.

    A skipped step sets every ``.grad`` to None, so the optimiser leaves weights *and* its moments
    untouched. Gradients are already all-reduced here, so every DDP rank takes the same decision.
    """

    def __init__(self, clip_value: float | None, max_consecutive_nonfinite: int = 10) -> None:
        self.clip_value = clip_value
        self.max_consecutive = max_consecutive_nonfinite
        self.consecutive = 0
        self.diagnostic: str | None = None
        self._reset_epoch()

    def _reset_epoch(self) -> None:
        self.norms: list[float] = []
        self.clipped_steps = 0
        self.nonfinite_steps = 0

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._reset_epoch()

    def on_before_optimizer_step(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                                 optimizer: torch.optim.Optimizer) -> None:
        grads = [p.grad for p in pl_module.parameters() if p.grad is not None]
        if not grads:
            return
        norm = float(torch.nn.utils.get_total_norm(grads, norm_type=2.0))
        if math.isfinite(norm):
            self.consecutive = 0
            self.norms.append(norm)
            if self.clip_value is not None and norm > self.clip_value:
                self.clipped_steps += 1
            return
        self.nonfinite_steps += 1
        self.consecutive += 1
        for param in pl_module.parameters():
            param.grad = None
        lr = optimizer.param_groups[0]["lr"]
        log.warning("step %d: non-finite gradient norm (%s); step skipped (%d in a row)",
                    trainer.global_step, norm, self.consecutive)
        if self.consecutive >= self.max_consecutive and self.diagnostic is None:
            recent = ", ".join(f"{n:.3g}" for n in self.norms[-5:]) or "none this epoch"
            ckpt = trainer.checkpoint_callback
            last_good = getattr(ckpt, "last_model_path", "") or "none written yet"
            self.diagnostic = (
                f"training stopped: {self.consecutive} consecutive steps with NaN/Inf gradients at "
                f"epoch {trainer.current_epoch}, step {trainer.global_step}. LR {lr:.3g}; recent "
                f"finite pre-clip gradient norms: {recent}; clip value {self.clip_value}. Last "
                f"good checkpoint: {last_good}. Check the data (`tfgridnet check-data MANIFEST`), "
                "lower optim.lr, or enable trainer.gradient_clip_val."
            )
            log.error(self.diagnostic)
            trainer.should_stop = True

    def state_dict(self) -> dict[str, Any]:
        return {"consecutive": self.consecutive}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.consecutive = int(state_dict.get("consecutive", 0))


class EpochMonitor(Callback):
    """Writes ``metrics.csv`` (rank 0), TensorBoard scalars and one console line per epoch."""

    def __init__(self, run_dir: Path, guard: GradientGuard, identity_margin_db: float = 10.0,
                 min_noisy_sisnr_db: float = NOISY_SISNR_PLAUSIBLE_DB[0]) -> None:
        self.metrics_path = Path(run_dir) / "metrics.csv"
        self.guard = guard
        self.identity_margin_db = identity_margin_db
        self.min_noisy_sisnr_db = min_noisy_sisnr_db
        self.elapsed_before = 0.0  # seconds trained in earlier (resumed-from) processes
        self.warned = False
        self.warning: str | None = None
        self.best_sisnr = -math.inf
        self.best_epoch = -1
        self._rows: list[dict[str, str]] | None = None
        self._fit_start = time.monotonic()
        self._epoch_start = self._fit_start
        self._train_end = self._fit_start
        self._batches = 0
        self._samples = 0

    # -- timing ---------------------------------------------------------------------------------
    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._fit_start = time.monotonic()

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._epoch_start = time.monotonic()
        self._train_end = self._epoch_start
        self._batches = 0
        self._samples = 0
        if pl_module.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(pl_module.device)

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                           outputs: Any, batch: Any, batch_idx: int) -> None:
        self._batches += 1
        self._samples += int(batch["noisy"].shape[0])
        self._train_end = time.monotonic()

    # -- epoch row --------------------------------------------------------------------------------
    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        now = time.monotonic()
        train_time = max(self._train_end - self._epoch_start, 1e-9)
        norms = self.guard.norms
        sec_per_batch = train_time / self._batches if self._batches else float("nan")
        valid = _metric(trainer, "valid_sisnr")
        noisy = _metric(trainer, "valid_noisy_sisnr")
        row: dict[str, Any] = {
            "epoch": trainer.current_epoch,
            "step": trainer.global_step,
            "train_loss": _metric(trainer, "train_loss"),
            "train_sisnr": _metric(trainer, "train_sisnr"),
            "valid_sisnr": valid,
            "lr": trainer.optimizers[0].param_groups[0]["lr"] if trainer.optimizers else math.nan,
            "grad_norm_mean": sum(norms) / len(norms) if norms else float("nan"),
            "grad_norm_max": max(norms) if norms else float("nan"),
            "clipped_steps": self.guard.clipped_steps,
            "nonfinite_steps": self.guard.nonfinite_steps,
            "sec_per_batch": sec_per_batch,
            "samples_per_sec": self._samples * trainer.world_size / train_time,
            "peak_mem_mb": peak_memory_mb(pl_module.device),
            "time_s": self.elapsed_before + now - self._fit_start,
            "valid_loss": _metric(trainer, "valid_loss"),
            "valid_noisy_sisnr": noisy,
            "valid_sisnri": valid - noisy,
            "grad_clip": trainer.gradient_clip_val if trainer.gradient_clip_val else "",
            "epoch_time_s": now - self._epoch_start,
            "train_batches": self._batches,
            "world_size": trainer.world_size,
        }
        row.update({name: float(value) for name, value in sorted(trainer.callback_metrics.items())
                    if is_rate_metric(name)})
        if math.isfinite(valid) and valid > self.best_sisnr:
            self.best_sisnr, self.best_epoch = valid, trainer.current_epoch
        if trainer.is_global_zero:
            self._write_row(row)
            if trainer.logger is not None:
                numeric = {f"epoch/{k}": float(v) for k, v in row.items()
                           if isinstance(v, int | float) and k not in ("epoch", "step")}
                trainer.logger.log_metrics(numeric, step=trainer.global_step)
            line = (f"epoch {row['epoch']}/{trainer.max_epochs - 1}  step {row['step']}  "
                    f"loss {row['train_loss']:.3f}  train_sisnr {row['train_sisnr']:.2f} dB  "
                    f"valid_sisnr {valid:.2f} dB (noisy {noisy:.2f}, SI-SNRi "
                    f"{valid - noisy:+.2f})  lr {row['lr']:.3g}  grad max "
                    f"{row['grad_norm_max']:.3g}  {sec_per_batch:.3f} s/batch  best "
                    f"{self.best_sisnr:.2f} @ {self.best_epoch}")
            _console_print(trainer, line)
            log.info(line)
        if not self.warned and math.isfinite(noisy):
            self.warned = True
            self._early_warning(trainer, valid, noisy)

    def _early_warning(self, trainer: pl.Trainer, valid: float, noisy: float) -> None:
        reasons = []
        if noisy < self.min_noisy_sisnr_db:
            reasons.append(f"the noisy validation input itself scores {noisy:.1f} dB SI-SNR against "
                           f"its clean reference (below {self.min_noisy_sisnr_db:g} dB: real noisy "
                           "speech is rarely this far from its clean version, broken pairs are)")
        if valid < noisy - self.identity_margin_db:
            reasons.append(f"the model scores {valid:.1f} dB, {noisy - valid:.1f} dB below "
                           f"returning the noisy input unchanged ({noisy:.1f} dB)")
        if not reasons:
            return
        self.warning = ("WARNING: after the first validation " + "; and ".join(reasons) +
                        ". This is what misaligned, mis-paired or wrongly resampled noisy/clean "
                        "pairs look like. Run `tfgridnet check-data MANIFEST` on the train and "
                        "valid manifests before training further.")
        log.warning(self.warning)
        if trainer.is_global_zero:
            bar = "!" * 100
            _console_print(trainer, f"{bar}\n{self.warning}\n{bar}")

    def _write_row(self, row: dict[str, Any]) -> None:
        if self._rows is None:
            self._rows = []
            if self.metrics_path.is_file():
                with open(self.metrics_path, newline="", encoding="utf-8") as handle:
                    self._rows = list(csv.DictReader(handle))
        epoch = int(row["epoch"])
        # A resumed run rewrites the epochs it replays; earlier rows are kept.
        self._rows = [r for r in self._rows if r.get("epoch", "").isdigit()
                      and int(r["epoch"]) < epoch]
        self._rows.append({k: _fmt(v) for k, v in row.items()})
        columns = list(METRICS_COLUMNS) + list(EXTRA_COLUMNS)
        for r in self._rows:
            columns += [k for k in r if k not in columns]
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self._rows)
        write_text_atomic(self.metrics_path, buffer.getvalue())

    def state_dict(self) -> dict[str, Any]:
        return {"elapsed_s": self.elapsed_before + time.monotonic() - self._fit_start,
                "warned": self.warned, "best_sisnr": self.best_sisnr,
                "best_epoch": self.best_epoch}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.elapsed_before = float(state_dict.get("elapsed_s", 0.0))
        self.warned = bool(state_dict.get("warned", False))
        self.best_sisnr = float(state_dict.get("best_sisnr", -math.inf))
        self.best_epoch = int(state_dict.get("best_epoch", -1))


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6g}"
    return str(value)


class ExportBest(Callback):
    """Exports the network to ``model/`` whenever ``valid_sisnr`` improves (rank 0 only)."""

    def __init__(self, out_dir: Path, sample_rate: int) -> None:
        self.out_dir = Path(out_dir)
        self.sample_rate = sample_rate
        self.best_sisnr = -math.inf
        self.best_epoch = -1

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        valid = _metric(trainer, "valid_sisnr")
        if not math.isfinite(valid) or valid <= self.best_sisnr:
            return
        self.best_sisnr, self.best_epoch = valid, trainer.current_epoch
        if trainer.is_global_zero:
            from tfgridnet.model.io import save_exported

            extra = {"epoch": trainer.current_epoch, "step": trainer.global_step,
                     "valid_sisnr": valid,
                     "valid_noisy_sisnr": _metric(trainer, "valid_noisy_sisnr")}
            save_exported(pl_module.model, self.sample_rate, self.out_dir, extra=extra)

    def state_dict(self) -> dict[str, Any]:
        return {"best_sisnr": self.best_sisnr, "best_epoch": self.best_epoch}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.best_sisnr = float(state_dict.get("best_sisnr", -math.inf))
        self.best_epoch = int(state_dict.get("best_epoch", -1))


class GracefulStopRequested(Exception):
    """Raised after a signal once ``last.ckpt`` is safely on disk; the run ends cleanly."""

    def __init__(self, signal_name: str, checkpoint: Path) -> None:
        super().__init__(f"stopped by {signal_name} after saving {checkpoint}")
        self.signal_name = signal_name
        self.checkpoint = checkpoint


class GracefulStop(Callback):
    """SIGINT/SIGTERM: finish the current step, write ``last.ckpt``, stop. A second SIGINT aborts."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, checkpoint_path: Path) -> None:
        self.checkpoint_path = Path(checkpoint_path)
        self.received: str | None = None
        self._previous: dict[int, Any] = {}

    def _handler(self, signum: int, frame: Any) -> None:
        name = signal.Signals(signum).name
        if self.received is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.received = name
        log.warning("received %s: finishing the current step, then saving last.ckpt", name)

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # Installed after Lightning's own SIGTERM handler, which would exit without a checkpoint.
        import threading

        if threading.current_thread() is not threading.main_thread():
            return
        for sig in self.SIGNALS:
            self._previous[sig] = signal.signal(sig, self._handler)

    def _restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._restore()

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                     exception: BaseException) -> None:
        self._restore()

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                           outputs: Any, batch: Any, batch_idx: int) -> None:
        stop = self.received is not None
        if trainer.world_size > 1:
            stop = trainer.strategy.reduce_boolean_decision(stop, all=False)
        if not stop:
            return
        trainer.save_checkpoint(self.checkpoint_path)
        log.warning("saved %s at epoch %d step %d; stopping", self.checkpoint_path,
                    trainer.current_epoch, trainer.global_step)
        raise GracefulStopRequested(self.received or "a signal on another rank",
                                    self.checkpoint_path)


class TimeBudget(Callback):
    """Stops after the epoch in progress when another epoch would overrun ``max_minutes``."""

    def __init__(self, max_minutes: float) -> None:
        self.budget_s = max_minutes * 60.0
        self.stopped = False
        self._start = time.monotonic()
        self._epoch_start = self._start
        self._epoch_times: list[float] = []

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._start = time.monotonic()

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._epoch_start = time.monotonic()

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        now = time.monotonic()
        self._epoch_times.append(now - self._epoch_start)
        typical = sorted(self._epoch_times)[len(self._epoch_times) // 2]
        stop = now - self._start + typical > self.budget_s
        stop = trainer.strategy.reduce_boolean_decision(stop, all=False)
        if stop and not trainer.should_stop:
            self.stopped = True
            trainer.should_stop = True
            log.info("time budget of %.1f min reached after epoch %d; stopping",
                     self.budget_s / 60, trainer.current_epoch)


class AtomicCheckpointIO(TorchCheckpointIO):
    """``torch.save`` to a temp file, fsync, rename: a kill -9 never leaves a half checkpoint."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any,
                        storage_options: Any | None = None) -> None:
        if storage_options is not None:
            raise TypeError("AtomicCheckpointIO takes no storage_options")
        with atomic_path(Path(path)) as tmp:
            torch.save(checkpoint, tmp)
