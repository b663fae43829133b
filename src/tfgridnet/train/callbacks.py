"""Training callbacks: the engineering around the loop that Lightning does not provide itself.

* :class:`GradientGuard`: pre-clip gradient norms, clipped and non-finite step counts; a step with
  NaN/Inf gradients is skipped, and a run of them stops training with a diagnostic.
* :class:`BestCheckpoint`: Lightning's ``ModelCheckpoint`` (top-k and ``last.ckpt`` by
  ``valid_sisnr``, the one tracker of the best epoch) that also exports each new best to ``model/``.
* :class:`GracefulStop`: SIGINT/SIGTERM finish the step, write ``last.ckpt`` and stop.
* :class:`AtomicCheckpointIO`: checkpoints are written to a temp file and renamed into place.

The per-epoch ``metrics.csv`` row and console line are :class:`tfgridnet.train.epoch_log.EpochMonitor`;
the time budget is :class:`tfgridnet.train.budget.TimeBudget`.
"""

from __future__ import annotations

import logging
import math
import signal
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from lightning.pytorch.plugins.io import TorchCheckpointIO

from tfgridnet.contracts.metrics_csv import VALID_NOISY_SISNR, VALID_SISNR
from tfgridnet.contracts.names import CHECKPOINT_FILENAME, MONITOR
from tfgridnet.fileio import atomic_path

__all__ = ["GradientGuard", "BestCheckpoint", "GracefulStop", "GracefulStopRequested",
           "AtomicCheckpointIO", "CHECKPOINT_FILENAME", "MONITOR"]

log = logging.getLogger("tfgridnet.train")



def console_print(trainer: pl.Trainer, text: str) -> None:
    """Print through the progress bar when there is one, so its line is not torn."""
    bar = trainer.progress_bar_callback
    if bar is not None and hasattr(bar, "print"):
        bar.print(text)
    else:
        print(text, flush=True)


def metric(trainer: pl.Trainer, name: str) -> float:
    """A logged scalar of this epoch, NaN when it was not logged (e.g. no validation)."""
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


class BestCheckpoint(ModelCheckpoint):
    """``ModelCheckpoint`` by ``valid_sisnr`` that also exports each new best epoch to ``model/``.

    A subclass rather than a second callback: Lightning runs checkpoint callbacks after every
    other ``on_train_epoch_end``, so only here is ModelCheckpoint's own ``best_model_path``
    already updated for the epoch that just ended. Nothing else keeps a best score.
    """

    def __init__(self, dirpath: Path, export_dir: Path, sample_rate: int, save_top_k: int,
                 every_n_epochs: int) -> None:
        super().__init__(dirpath=dirpath, filename=CHECKPOINT_FILENAME,
                         auto_insert_metric_name=False, monitor=MONITOR, mode="max",
                         save_top_k=save_top_k, save_last=True, every_n_epochs=every_n_epochs,
                         save_on_train_epoch_end=True)
        self.export_dir = Path(export_dir)
        self.sample_rate = sample_rate

    @property
    def state_key(self) -> str:
        # A plain ModelCheckpoint's key: checkpoints of either class resume into the other, and
        # model.io.resolve_checkpoint finds the best path under it.
        return "ModelCheckpoint" + super().state_key[len(type(self).__qualname__):]

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        before = self.best_model_path
        super().on_train_epoch_end(trainer, pl_module)
        due = (trainer.current_epoch + 1) % self._every_n_epochs == 0
        if (due and self.save_last and not self._should_skip_saving_checkpoint(trainer)
                and self._last_global_step_saved != trainer.global_step):
            # Lightning 2.6 rewrites last.ckpt only in epochs that also enter the top k; a resume
            # from it would silently repeat the others. Private hooks: lightning is pinned < 2.7.
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))
        if not self.best_model_path or self.best_model_path == before:
            return
        valid = metric(trainer, MONITOR)
        if math.isfinite(valid) and trainer.is_global_zero:
            from tfgridnet.model.io import save_exported

            extra = {"epoch": trainer.current_epoch, "step": trainer.global_step,
                     VALID_SISNR: valid, "checkpoint": Path(self.best_model_path).name,
                     VALID_NOISY_SISNR: metric(trainer, VALID_NOISY_SISNR)}
            save_exported(pl_module.model, self.sample_rate, self.export_dir, extra=extra)
            line = (f"new best {MONITOR} {valid:.2f} dB at epoch {trainer.current_epoch}: "
                    f"exported to {self.export_dir}")
            console_print(trainer, line)
            log.info(line)

    @property
    def best_epoch(self) -> int | None:
        """The epoch of the best checkpoint, read back from its file name (its one record)."""
        from tfgridnet.model.io import epoch_from_name

        return epoch_from_name(Path(self.best_model_path).name) if self.best_model_path else None


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
        log.warning("received %s: finishing the current step, then saving %s", name,
                    self.checkpoint_path.name)

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


class AtomicCheckpointIO(TorchCheckpointIO):
    """``torch.save`` to a temp file, fsync, rename: a kill -9 never leaves a half checkpoint."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any,
                        storage_options: Any | None = None) -> None:
        if storage_options is not None:
            raise TypeError("AtomicCheckpointIO takes no storage_options")
        with atomic_path(Path(path)) as tmp:
            torch.save(checkpoint, tmp)
