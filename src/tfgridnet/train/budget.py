"""The time budget of a run (``trainer.max_minutes``): training *and* validation fit in it.

Lightning's ``max_time`` stops training when the budget is spent and only then validates the epoch
in progress: with a large validation set on a CPU a 2-minute budget took almost 6. Here:

* the budget is this invocation's, counted from the start of fitting (the start-up data check
  before it is not counted): a ``--resume`` gets the whole budget again, so a run that stopped on
  its budget continues;
* training stops early enough for the closing validation to fit: it keeps back the time a full
  validation pass takes (measured on every pass; before the first, on the sanity check's batch),
  but never more than ``VALID_SHARE`` of the budget;
* a validation pass that would not fit in the time left is shortened to the batches that do: the
  first ones of the validation manifest, the same every time. Its ``valid_sisnr`` is over those
  utterances only; the console and ``logs/train.log`` say so, and ``train_summary.json`` lists it
  (``shortened_validations``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Callback

from tfgridnet.contracts.names import MONITOR
from tfgridnet.progress import format_duration
from tfgridnet.train.callbacks import console_print

__all__ = ["TimeBudget", "VALID_SHARE", "MARGIN_S"]

log = logging.getLogger("tfgridnet.train")

VALID_SHARE = 0.25  # at most this share of the budget is kept back for the closing validation
MARGIN_S = 1.0  # seconds kept for the epoch's end (checkpoint, export) after the last validation


class TimeBudget(Callback):
    """Stops training so that the run, closing validation included, ends within ``minutes``.

    ``minutes=None`` measures nothing and never stops. ``clock`` is injectable for tests.
    """

    def __init__(self, minutes: float | None, valid_share: float = VALID_SHARE,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.budget_s = None if minutes is None else float(minutes) * 60.0
        self.valid_share = valid_share
        self.clock = clock
        self.started: float | None = None
        self.stopped = False  # training ended because the budget was (about to be) spent
        self.shortened: list[dict[str, int]] = []  # {"epoch", "batches", "of"} per short pass
        self._train_batch_s: float | None = None
        self._valid_batch_s: float | None = None
        self._last_train_end: float | None = None
        self._valid_mark: float | None = None
        self._valid_time = 0.0
        self._valid_batches = 0
        self._full: list[int] | None = None  # a full pass's batches per validation dataloader
        self._limited = False

    def describe(self, max_epochs: int) -> str:
        """The line printed at the start of a run."""
        if self.budget_s is None:
            return (f"time budget: none (trainer.max_minutes unset): up to {max_epochs} epochs "
                    "or early stopping")
        return (f"time budget: {format_duration(self.budget_s)} for this run, validation "
                f"included (trainer.max_minutes {self.budget_s / 60:g}), up to {max_epochs} "
                "epochs")

    # -- time ------------------------------------------------------------------------------------
    def elapsed(self) -> float:
        return 0.0 if self.started is None else self.clock() - self.started

    def seconds_left(self) -> float | None:
        """Seconds of the budget left now (None without a budget)."""
        return None if self.budget_s is None else max(self.budget_s - self.elapsed(), 0.0)

    def validation_estimate(self) -> float:
        """Seconds a full validation pass is expected to take (0 before anything was measured)."""
        if self._valid_batch_s is None or self._full is None:
            return 0.0
        return self._valid_batch_s * sum(self._full)

    def reserve(self) -> float:
        """Seconds kept back for the closing validation and the end of the epoch."""
        assert self.budget_s is not None
        return min(self.validation_estimate(), self.valid_share * self.budget_s) + MARGIN_S

    def _out_of_time(self) -> bool:
        assert self.budget_s is not None
        next_batch = self._train_batch_s or 0.0
        return self.elapsed() + next_batch + self.reserve() >= self.budget_s

    def _stop_if_out_of_time(self, trainer: pl.Trainer) -> None:
        if self.budget_s is None or trainer.should_stop:
            return
        stop = trainer.strategy.broadcast(self._out_of_time(), src=0)
        if stop:
            trainer.should_stop = True
            self.stopped = True
            log.info("time budget: stopping at epoch %d step %d after %s of %s, keeping %s for "
                     "the closing validation", trainer.current_epoch, trainer.global_step,
                     format_duration(self.elapsed()), format_duration(self.budget_s),
                     format_duration(self.reserve()))

    # -- hooks -----------------------------------------------------------------------------------
    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.started = self.clock()

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._last_train_end = self.clock()

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                             batch: Any, batch_idx: int) -> None:
        if self._last_train_end is None:
            self._last_train_end = self.clock()

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                           outputs: Any, batch: Any, batch_idx: int) -> None:
        now = self.clock()
        if self._last_train_end is not None:
            took = now - self._last_train_end  # the step and the wait for its batch
            self._train_batch_s = took if self._train_batch_s is None else (
                0.8 * self._train_batch_s + 0.2 * took)
        self._last_train_end = now
        self._stop_if_out_of_time(trainer)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # Validation has run: start another epoch only if a batch and its closing validation fit.
        if trainer.max_epochs is None or trainer.current_epoch + 1 < trainer.max_epochs:
            self._stop_if_out_of_time(trainer)

    def on_validation_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule
                                  ) -> None:
        self._valid_mark = None
        self._valid_time, self._valid_batches = 0.0, 0
        limits = _validation_limits(trainer)  # a full pass's batches, even in the sanity check
        if not limits or any(limit == float("inf") for limit in limits):
            return
        if self._full is None:
            self._full = [int(limit) for limit in limits]
        if trainer.sanity_checking or self.budget_s is None or self._valid_batch_s is None:
            return
        total = sum(self._full)
        left = self.budget_s - self.elapsed() - MARGIN_S
        fits = max(int(left / self._valid_batch_s), 1) if self._valid_batch_s > 0 else total
        fits = int(trainer.strategy.broadcast(fits, src=0))
        if fits >= total:
            return
        limits[:] = _shares(self._full, fits)
        self._limited = True
        self.shortened.append({"epoch": trainer.current_epoch, "batches": int(sum(limits)),
                               "of": total})
        line = (f"validation of epoch {trainer.current_epoch} shortened to its first "
                f"{int(sum(limits))} of {total} batches to fit the time budget "
                f"({format_duration(left)} left, ~{self._valid_batch_s:.2g} s per batch): its "
                f"{MONITOR} is over those utterances only")
        log.warning(line)
        if trainer.is_global_zero:
            console_print(trainer, line)

    def on_validation_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                                  batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None:
        if self._valid_mark is None:  # the first batch: not the loader's start-up before it
            self._valid_mark = self.clock()

    def on_validation_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                                outputs: Any, batch: Any, batch_idx: int,
                                dataloader_idx: int = 0) -> None:
        now = self.clock()
        if self._valid_mark is not None:
            self._valid_time += now - self._valid_mark
            self._valid_batches += 1
        self._valid_mark = now  # later batches: their loading wait counts too

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule
                                ) -> None:
        if self._valid_batches:
            self._valid_batch_s = self._valid_time / self._valid_batches
        if self._limited:
            limits = _validation_limits(trainer)
            if limits is not None and self._full is not None:
                limits[:] = self._full  # the next pass is full again unless it must not be
            self._limited = False
        # The train epoch's batches resume after a mid-epoch validation: do not count it as one.
        self._last_train_end = self.clock()


def _shares(full: list[int], fits: int) -> list[int]:
    """``fits`` batches split over the validation sets in proportion to their sizes (largest
    remainders first), at least one each."""
    total = sum(full)
    exact = [n * fits / total for n in full]
    shares = [int(x) for x in exact]
    by_remainder = sorted(range(len(full)), key=lambda i: exact[i] - shares[i], reverse=True)
    for i in by_remainder[:fits - sum(shares)]:
        shares[i] += 1
    return [max(share, 1) for share in shares]


def _validation_limits(trainer: pl.Trainer) -> list[int | float] | None:
    """The validation loop's per-dataloader batch limits, the list its running iterator reads.

    Lightning (pinned < 2.7) hands this very list to the iterator of the pass in progress, so
    lowering it at the pass's start shortens that pass. None when the loop keeps it elsewhere.
    """
    loop = getattr(getattr(trainer.fit_loop, "epoch_loop", None), "val_loop", None)
    limits = getattr(loop, "_max_batches", None)
    return limits if isinstance(limits, list) else None
