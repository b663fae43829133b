"""The per-epoch record of a run: one ``metrics.csv`` row (``contracts.metrics_csv.EpochRow``),
TensorBoard scalars, a console line, and the loud warnings: broken pairs
after the first validation, a model far below or staying below its own noisy input.

The model alarms wait for ``monitor.min_steps`` optimiser steps: before them a healthy model is
still near its random start, below its input whatever the data (bench/RESULTS.md §51). The noisy
input's own score involves no model and is judged at the first validation. What the alarms blame
follows the start-up data check: pairs it passed are not the first suspect."""

from __future__ import annotations

import logging
import math
import resource
import time
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback

from tfgridnet.contracts import metrics_csv as mc
from tfgridnet.contracts.data_check import DataCheckFile
from tfgridnet.contracts.folders import RunDir
from tfgridnet.contracts.metrics_csv import EpochRow, MetricsLog, is_rate_metric
from tfgridnet.train.callbacks import GradientGuard, console_print, metric
from tfgridnet.train.config import MonitorConfig

__all__ = ["EpochMonitor", "below_input_warning", "peak_memory_mb"]

log = logging.getLogger("tfgridnet.train")


def peak_memory_mb(device: torch.device) -> float:
    """Peak CUDA memory allocated on ``device``, else the process's peak resident set size."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def pairs_passed(data_check: DataCheckFile | None) -> int | None:
    """Pairs the start-up data check passed (every manifest without errors), None when it was
    skipped, unknown or found errors."""
    if data_check is None or not data_check.checks or data_check.errors_ignored:
        return None
    if not all(c.ok and c.n_errors == 0 for c in data_check.checks):
        return None
    return sum(c.n_checked for c in data_check.checks)


def _pairs_note(checked: int | None) -> str:
    if checked is None:
        return "`tfgridnet check-data` rules out broken pairs."
    return (f"The start-up data check passed on {checked} pairs, so look at the training "
            "(optim.lr, the loss, the model output) before the data.")


def below_input_warning(epochs: int, valid: float, noisy: float,
                        pairs_checked: int | None = None) -> str:
    """The warning for a model that has scored under its own noisy input ``epochs`` times running
    (``pairs_checked``: pairs the start-up data check passed, None when it did not run)."""
    return (f"WARNING: the model has scored below its own noisy input for {epochs} validations in a "
            f"row (now {valid:.1f} dB SI-SNR against {noisy:.1f} dB for returning the input "
            "unchanged): training is not working. A weak start that the learning rate does not climb "
            "out of looks like this (try another trainer.seed or a larger optim.lr). "
            + _pairs_note(pairs_checked))


class EpochMonitor(Callback):
    """Writes ``metrics.csv`` (rank 0), TensorBoard scalars and one console line per epoch."""

    def __init__(self, run_dir: Path, guard: GradientGuard,
                 thresholds: MonitorConfig | None = None,
                 data_check: DataCheckFile | None = None) -> None:
        self.log_file = MetricsLog(RunDir(run_dir).metrics)
        self.guard = guard
        self.thresholds = thresholds or MonitorConfig()
        self.pairs_checked = pairs_passed(data_check)
        self.elapsed_before = 0.0  # seconds trained in earlier (resumed-from) processes
        self.input_checked = False  # the noisy input's own score, judged at the first validation
        self.warned = False  # the model's first judgement, at the first validation after min_steps
        self.warning: str | None = None
        self._below_input = 0  # validations in a row under the noisy input's SI-SNR
        self._warned_below_input = False
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
        row = EpochRow(
            epoch=trainer.current_epoch, step=trainer.global_step,
            train_loss=metric(trainer, mc.TRAIN_LOSS), train_sisnr=metric(trainer, mc.TRAIN_SISNR),
            lr=trainer.optimizers[0].param_groups[0]["lr"] if trainer.optimizers else math.nan,
            grad_norm_mean=sum(norms) / len(norms) if norms else float("nan"),
            grad_norm_max=max(norms) if norms else float("nan"),
            clipped_steps=self.guard.clipped_steps, nonfinite_steps=self.guard.nonfinite_steps,
            sec_per_batch=sec_per_batch,
            samples_per_sec=self._samples * trainer.world_size / train_time,
            peak_mem_mb=peak_memory_mb(pl_module.device),
            time_s=self.elapsed_before + now - self._fit_start,
            grad_clip=trainer.gradient_clip_val or None, epoch_time_s=now - self._epoch_start,
            train_batches=self._batches, world_size=trainer.world_size,
            rates={name: float(value) for name, value in trainer.callback_metrics.items()
                   if is_rate_metric(name)})
        row.set_validation(_validation(trainer))
        valid, noisy = row.valid_sisnr, row.valid_noisy_sisnr
        if trainer.is_global_zero:
            self.log_file.append(row)
            if trainer.logger is not None:
                numeric = {f"epoch/{k}": float(v) for k, v in row.values().items()
                           if isinstance(v, int | float) and k not in (mc.EPOCH, mc.STEP)}
                trainer.logger.log_metrics(numeric, step=trainer.global_step)
            line = (f"epoch {row.epoch}/{trainer.max_epochs - 1}  step {row.step}  "
                    f"loss {row.train_loss:.3f}  {mc.TRAIN_SISNR} {row.train_sisnr:.2f} dB  "
                    f"{mc.VALID_SISNR} {valid:.2f} dB (noisy {noisy:.2f}, SI-SNRi "
                    f"{valid - noisy:+.2f})  lr {row.lr:.3g}  grad max "
                    f"{row.grad_norm_max:.3g}  {sec_per_batch:.3f} s/batch")
            console_print(trainer, line)
            log.info(line)
        if not math.isfinite(noisy):
            return
        judged = trainer.global_step >= self.thresholds.min_steps
        check_input, check_model = not self.input_checked, judged and not self.warned
        self.input_checked, self.warned = True, self.warned or judged
        if check_input or check_model:
            self._early_warning(trainer, valid, noisy, check_input, check_model)
        self._below_input = self._below_input + 1 if judged and valid < noisy else 0
        if self._below_input >= self.thresholds.below_input_epochs and \
                not self._warned_below_input:
            self._warned_below_input = True
            self._raise(trainer, below_input_warning(self._below_input, valid, noisy,
                                                     self.pairs_checked))

    def write_initial_row(self, trainer: pl.Trainer, values: dict[str, float]) -> None:
        """The model before any optimiser step (a fine-tune's source), validated by
        ``trainer.validate``: the row at ``INITIAL_EPOCH``, step 0, training columns empty."""
        row = EpochRow.initial(values, trainer.world_size)
        if not trainer.is_global_zero:
            return
        self.log_file.append(row)
        valid, noisy = row.valid_sisnr, row.valid_noisy_sisnr
        line = (f"start (step 0, before training): {mc.VALID_SISNR} {valid:.2f} dB (noisy "
                f"{noisy:.2f}, SI-SNRi {valid - noisy:+.2f})")
        if row.valid_extra_sisnr is not None:
            line += f"  valid_extra {row.valid_extra_sisnr:.2f} dB"
        console_print(trainer, line)
        log.info(line)

    def _early_warning(self, trainer: pl.Trainer, valid: float, noisy: float,
                       check_input: bool, check_model: bool) -> None:
        floor = self.thresholds.min_noisy_sisnr_db
        bad_input = check_input and noisy < floor
        reasons = []
        if bad_input:
            reasons.append(f"the noisy validation input itself scores {noisy:.1f} dB SI-SNR against "
                           f"its clean reference (below {floor:g} dB: real noisy "
                           "speech is rarely this far from its clean version, broken pairs are)")
        if check_model and valid < noisy - self.thresholds.identity_margin_db:
            reasons.append(f"the model scores {valid:.1f} dB, {noisy - valid:.1f} dB below "
                           f"returning the noisy input unchanged ({noisy:.1f} dB)")
        if not reasons:
            return
        when = ("the first validation" if check_input else
                f"{trainer.global_step} optimiser steps")
        if bad_input or self.pairs_checked is None:
            cause = ("This is what misaligned, mis-paired or wrongly resampled noisy/clean "
                     "pairs look like. Run `tfgridnet check-data MANIFEST` on the train and "
                     "valid manifests before training further.")
        else:
            cause = ("A learning rate far off, a wrong loss or a model that cannot reach the "
                     "target looks like this. " + _pairs_note(self.pairs_checked))
        self._raise(trainer, f"WARNING: after {when} " + "; and ".join(reasons) + ". " + cause)

    def _raise(self, trainer: pl.Trainer, warning: str) -> None:
        """Log and print ``warning`` between bars; train_summary.json keeps every one raised."""
        self.warning = warning if self.warning is None else f"{self.warning}\n{warning}"
        log.warning(warning)
        if trainer.is_global_zero:
            bar = "!" * 100
            console_print(trainer, f"{bar}\n{warning}\n{bar}")

    def state_dict(self) -> dict[str, Any]:
        return {"elapsed_s": self.elapsed_before + time.monotonic() - self._fit_start,
                "warned": self.warned, "input_checked": self.input_checked}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.elapsed_before = float(state_dict.get("elapsed_s", 0.0))
        self.warned = bool(state_dict.get("warned", False))
        self.input_checked = bool(state_dict.get("input_checked", self.warned))


def _validation(trainer: pl.Trainer) -> dict[str, float]:
    """The validation means this epoch logged (both sets), NaN for those it did not."""
    names = (mc.VALID_LOSS, mc.VALID_SISNR, mc.VALID_NOISY_SISNR)
    return {name: metric(trainer, name) for name in (*names, *map(mc.valid_extra, names))}
