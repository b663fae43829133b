"""The LightningModule: the science of training (forward, loss, metrics, optimiser, LR).

The network lives at ``self.model`` (state_dict keys ``model.*``) and the resolved config is saved
as the hyper-parameter ``config`` (plain JSON types), so a checkpoint can be read back with
``torch.load(weights_only=True)`` and the model rebuilt from ``config["model"]``.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.utilities import rank_zero_warn
from torch.optim.lr_scheduler import LambdaLR, ReduceLROnPlateau
from torchmetrics import MeanMetric

from tfgridnet.contracts import metrics_csv as mc
from tfgridnet.contracts.names import MONITOR
from tfgridnet.losses import CompressedSpectralLoss, NegSISNRLoss
from tfgridnet.metrics import sisnr_per_utterance
from tfgridnet.model.architectures import build_model, is_rate_independent
from tfgridnet.train.config import Config, SchedulerConfig
from tfgridnet.train.config_files import config_from_dict
from tfgridnet.train.finetune import freeze, parameter_groups

log = logging.getLogger("tfgridnet.train")

__all__ = ["EnhancementModule", "LRSchedule", "lr_decay_before_last_epoch"]


class LRSchedule:
    """LR multiplier per optimiser step: linear warm-up, then the named decay, never below the floor.

    Schedules are defined in epochs and evaluated per step, so short runs still decay smoothly.
    """

    def __init__(self, scheduler: SchedulerConfig, base_lr: float, steps_per_epoch: float,
                 total_steps: int) -> None:
        self.name = scheduler.name
        self.floor = min(1.0, scheduler.min_lr / base_lr)
        self.steps_per_epoch = max(float(steps_per_epoch), 1.0)
        self.warmup_steps = scheduler.warmup_epochs * self.steps_per_epoch
        self.total_steps = max(int(total_steps), 1)
        self.restart_epochs = scheduler.restart_epochs
        self.restart_mult = scheduler.restart_mult
        self.gamma = scheduler.gamma

    def __call__(self, step: int) -> float:
        if self.warmup_steps > 0 and step < self.warmup_steps:
            return max((step + 1) / self.warmup_steps, self.floor)
        after = step - self.warmup_steps
        if self.name == "warmup_cosine":
            span = max(self.total_steps - self.warmup_steps, 1.0)
            progress = min(after / span, 1.0)
            factor = self.floor + (1 - self.floor) * 0.5 * (1 + math.cos(math.pi * progress))
        elif self.name == "cosine_restarts":
            epochs = after / self.steps_per_epoch
            cycle = self.restart_epochs
            while epochs >= cycle:
                epochs -= cycle
                cycle *= self.restart_mult
            factor = self.floor + (1 - self.floor) * 0.5 * (1 + math.cos(math.pi * epochs / cycle))
        elif self.name == "exponential":
            factor = self.gamma ** (after / self.steps_per_epoch)
        else:  # "none"
            factor = 1.0
        return max(factor, self.floor)


class _ConfigDrivenLambdaLR(LambdaLR):
    """LambdaLR whose schedule always comes from the current config, never from a checkpoint.

    The step counter and LRs are restored on resume; the schedule parameters (epochs, floor) are
    rebuilt from the config, so extending ``max_epochs`` on resume stretches the schedule.
    """

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["lr_lambdas"] = [None] * len(self.lr_lambdas)
        return state


def lr_decay_before_last_epoch(config: Config, steps_per_epoch: float) -> float:
    """Largest factor by which the LR can fall below its start before the last epoch begins.

    For ReduceLROnPlateau this is the worst case: a reduction after every ``patience + 1`` epochs.
    """
    sched = config.scheduler
    lr = config.optim.lr
    epochs_before_last = max(config.trainer.max_epochs - 1, 0)
    floor = min(1.0, sched.min_lr / lr)
    if sched.name == "plateau":
        reductions = epochs_before_last // (sched.plateau_patience + 1)
        return 1.0 / max(sched.plateau_factor ** reductions, floor)
    total = int(math.ceil(steps_per_epoch * config.trainer.max_epochs))
    schedule = LRSchedule(sched, lr, steps_per_epoch, total)
    last = int(steps_per_epoch * epochs_before_last)
    probe = [*range(0, last + 1, max(1, last // 4000)), last]
    return 1.0 / min(schedule(step) for step in probe)


class EnhancementModule(pl.LightningModule):
    """TF-GridNet (V2, or V3 at every batch's rate) trained to map noisy to clean speech with the
    -SI-SNR loss, plus ``loss.spectral_weight`` x the compressed spectral term."""

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.cfg = config_from_dict(config, source="checkpoint config")
        self.model = build_model(self.cfg.model.version, self.cfg.model.model_kwargs())
        freeze(self.model, self.cfg.init.freeze)  # fine-tuning: these never train (nor resume)
        self.loss_fn = NegSISNRLoss(clamp_db=self.cfg.loss.clamp_db)
        self.spectral_loss = (CompressedSpectralLoss() if self.cfg.loss.spectral_weight > 0
                              else None)
        # torchmetrics means: utterance-weighted, NaN-ignoring, synchronised across DDP ranks.
        self.train_loss = MeanMetric(nan_strategy="ignore")
        self.train_sisnr = MeanMetric(nan_strategy="ignore")
        self.valid_loss = MeanMetric(nan_strategy="ignore")
        self.valid_sisnr = MeanMetric(nan_strategy="ignore")
        self.valid_noisy_sisnr = MeanMetric(nan_strategy="ignore")
        # The second validation set (data.valid_extra): the same means under valid_extra_*
        # (torchmetrics states are not persistent: no checkpoint holds these keys).
        self.extra_metrics = torch.nn.ModuleDict(
            {mc.valid_extra(name): MeanMetric(nan_strategy="ignore")
             for name in (mc.VALID_LOSS, mc.VALID_SISNR, mc.VALID_NOISY_SISNR)}
            if self.cfg.data.valid_extra else {})

    def forward(self, noisy: torch.Tensor, lengths: torch.Tensor | None = None,
                sample_rate: int | None = None) -> torch.Tensor:
        if is_rate_independent(self.model):
            return self.model(noisy, lengths, sample_rate=sample_rate)
        return self.model(noisy, lengths)

    def _scores(self, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        lengths = batch.get("lengths")
        est = self(batch["noisy"], lengths, batch.get("sample_rate"))
        sisnr = sisnr_per_utterance(est, batch["clean"], lengths)
        loss = self.loss_fn.from_sisnr(sisnr)
        if self.spectral_loss is not None:
            loss = loss + self.cfg.loss.spectral_weight * self.spectral_loss.per_utterance(
                est, batch["clean"], lengths)
        return loss, sisnr

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        loss_per_utt, sisnr = self._scores(batch)
        loss = loss_per_utt.mean()
        finite = torch.isfinite(loss_per_utt)
        nan = torch.full_like(loss_per_utt, float("nan"))
        self.train_loss.update(torch.where(finite, loss_per_utt, nan).detach())
        self.train_sisnr.update(torch.where(finite, sisnr, nan).detach())
        batch_size = batch["noisy"].shape[0]
        self.log("loss", loss.detach(), prog_bar=True, on_step=True, on_epoch=False,
                 batch_size=batch_size, logger=False)
        self.log(mc.TRAIN_LOSS, self.train_loss, on_step=False, on_epoch=True, batch_size=batch_size)
        self.log(mc.TRAIN_SISNR, self.train_sisnr, on_step=False, on_epoch=True, prog_bar=True,
                 batch_size=batch_size)
        self.log(mc.LR, self.optimizers().param_groups[0]["lr"], prog_bar=True, on_step=True,
                 on_epoch=False, batch_size=batch_size, logger=False)
        # A non-finite loss still goes through backward: the gradient guard then skips the step on
        # every rank alike (returning None would desynchronise DDP ranks).
        return loss

    def validation_step(self, batch: dict[str, Any], batch_idx: int,
                        dataloader_idx: int = 0) -> None:
        loss_per_utt, sisnr = self._scores(batch)
        noisy_sisnr = sisnr_per_utterance(batch["noisy"], batch["clean"], batch.get("lengths"))
        batch_size = batch["noisy"].shape[0]
        if dataloader_idx == 1:  # data.valid_extra
            for name, values in ((mc.VALID_LOSS, loss_per_utt), (mc.VALID_SISNR, sisnr),
                                 (mc.VALID_NOISY_SISNR, noisy_sisnr)):
                name = mc.valid_extra(name)
                self.extra_metrics[name].update(values)
                self.log(name, self.extra_metrics[name], on_epoch=True,
                         batch_size=batch_size, add_dataloader_idx=False)
            return
        self.valid_loss.update(loss_per_utt)
        self.valid_sisnr.update(sisnr)
        self.valid_noisy_sisnr.update(noisy_sisnr)
        self.log(mc.VALID_LOSS, self.valid_loss, on_epoch=True, batch_size=batch_size,
                 add_dataloader_idx=False)
        self.log(mc.VALID_SISNR, self.valid_sisnr, on_epoch=True, prog_bar=True,
                 batch_size=batch_size, add_dataloader_idx=False)
        self.log(mc.VALID_NOISY_SISNR, self.valid_noisy_sisnr, on_epoch=True, batch_size=batch_size,
                 add_dataloader_idx=False)
        if "sample_rate" in batch and is_rate_independent(self.model):
            # Native-rate batches hold one rate each (RateBatchSampler): a mean per rate too
            # (this rank's; not synchronised, as ranks need not see the same rates).
            finite = sisnr[torch.isfinite(sisnr)]
            if finite.numel():
                name = mc.RATE_METRIC_FORMAT.format(rate=int(batch["sample_rate"]))
                self.log(name, finite.mean(), on_epoch=True,
                         batch_size=finite.numel(), add_dataloader_idx=False)

    def _warn_fast_decay(self, steps_per_epoch: float) -> None:
        """The users' run decayed 8,200x and learned nothing after epoch 100: say so up front."""
        ratio = lr_decay_before_last_epoch(self.cfg, steps_per_epoch)
        if ratio > 1000:
            message = (
                f"scheduler '{self.cfg.scheduler.name}' can decay the LR by {ratio:,.0f}x (from "
                f"{self.cfg.optim.lr:g}) before the last of {self.cfg.trainer.max_epochs} epochs; "
                "the late epochs would barely train. Raise scheduler.min_lr (the floor), or use a "
                "gentler plateau_factor / gamma.")
            rank_zero_warn(message)
            if self.trainer.is_global_zero:
                log.warning(message)

    def configure_optimizers(self) -> dict[str, Any]:
        optim_cfg = self.cfg.optim
        optimizer_cls = torch.optim.AdamW if optim_cfg.name == "adamw" else torch.optim.Adam
        groups = parameter_groups(self.model, self.cfg)  # one, or a fine-tune's two LRs
        optimizer = optimizer_cls(groups, lr=optim_cfg.lr, betas=optim_cfg.betas,
                                  eps=optim_cfg.eps, weight_decay=optim_cfg.weight_decay)
        sched = self.cfg.scheduler
        total_steps = int(self.trainer.estimated_stepping_batches)
        steps_per_epoch = total_steps / max(self.trainer.max_epochs or 1, 1)
        self._warn_fast_decay(steps_per_epoch)
        if sched.name == "plateau":
            plateau = ReduceLROnPlateau(optimizer, mode="max", factor=sched.plateau_factor,
                                        patience=sched.plateau_patience, min_lr=sched.min_lr)
            return {"optimizer": optimizer, "lr_scheduler": {
                "scheduler": plateau, "monitor": MONITOR, "interval": "epoch",
                "strict": False}}
        schedules = [LRSchedule(sched, group["lr"], steps_per_epoch, total_steps)
                     for group in groups]  # each group's floor is min_lr at its own LR
        return {"optimizer": optimizer, "lr_scheduler": {
            "scheduler": _ConfigDrivenLambdaLR(optimizer, schedules), "interval": "step"}}
