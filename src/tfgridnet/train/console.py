"""What training prints on the console: our per-epoch lines and the progress bar, nothing else.

The bar is rich's (or tqdm's) on a terminal; when stdout is not one (a log file, a batch job, CI),
:class:`PlainProgressBar` prints a plain line at a steady interval instead
(:mod:`tfgridnet.progress`).

Lightning's banners ("GPU available", tips, "`Trainer.fit` stopped") and the warnings its
dependencies raise (deprecations inside Lightning, its own hints) still reach ``logs/train.log``,
which carries the ``lightning.pytorch`` logger at INFO; they are only kept off the console.
"""

from __future__ import annotations

import contextlib
import logging
import math
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import ProgressBar, RichProgressBar, TQDMProgressBar

from tfgridnet.progress import ProgressLines, format_duration, stdout_is_terminal

__all__ = ["quiet_lightning", "progress_bar", "PlainProgressBar"]

_LIGHTNING = "lightning.pytorch"


def _from_lightning(filename: str) -> bool:
    parts = filename.replace("\\", "/").split("/")
    return "lightning" in parts or "lightning_fabric" in parts or "torchmetrics" in parts


@contextlib.contextmanager
def quiet_lightning() -> Iterator[None]:
    """Route Lightning's console chatter to its logger (the run's text log) for the duration."""
    logger = logging.getLogger(_LIGHTNING)
    consoles = [h for h in logger.handlers if type(h) is logging.StreamHandler]
    levels = [h.level for h in consoles]
    for handler in consoles:
        handler.setLevel(logging.WARNING)
    with warnings.catch_warnings():
        shown = warnings.showwarning

        def to_log(message: Any, category: type[Warning], filename: str, lineno: int,
                   file: Any = None, line: str | None = None) -> None:
            if _from_lightning(filename):
                logger.info("%s (%s:%d): %s", category.__name__, filename, lineno, message)
            else:
                shown(message, category, filename, lineno, file, line)

        warnings.showwarning = to_log
        try:
            yield
        finally:
            for handler, level in zip(consoles, levels):
                handler.setLevel(level)


class _NoVersion:
    """Drop the logger's ``v_num`` from the bar: our run dir has one fixed log folder, whose
    name ("tensorboard") the bar would show cut to "oard"."""

    def get_metrics(self, trainer: Any, pl_module: Any) -> dict[str, Any]:
        metrics = super().get_metrics(trainer, pl_module)  # type: ignore[misc]
        metrics.pop("v_num", None)
        return metrics


class _RichBar(_NoVersion, RichProgressBar):
    pass


class _TQDMBar(_NoVersion, TQDMProgressBar):
    pass


class PlainProgressBar(ProgressBar):
    """Lightning's progress bar as plain lines, for output that is not a terminal::

        train epoch 3: 40/75 batches (53 %), 2.1 batches/s, ETA 17s; loss -8.21, time budget left 4m10s
        validate epoch 3: 20/50 batches (40 %), 9.5 batches/s, ETA 3s

    A line comes every ``interval_s`` (:func:`tfgridnet.progress.progress_interval`); the epoch's
    own console line says when it ended. ``budget_left`` (when given) returns the seconds left of
    the run's time budget.
    """

    def __init__(self, budget_left: Callable[[], float | None] | None = None,
                 interval_s: float | None = None) -> None:
        super().__init__()
        self.budget_left = budget_left
        self.train_lines = ProgressLines("train", "batches", interval_s=interval_s,
                                         min_total=math.inf)
        self.valid_lines = ProgressLines("validate", "batches",
                                         interval_s=self.train_lines.interval_s, min_total=math.inf)
        self.enabled = True

    def disable(self) -> None:
        self.enabled = False

    def enable(self) -> None:
        self.enabled = True

    def _note(self, trainer: pl.Trainer) -> str:
        parts = []
        loss = trainer.callback_metrics.get("loss")
        if loss is not None:
            parts.append(f"loss {float(loss):.3g}")
        left = self.budget_left() if self.budget_left is not None else None
        if left is not None:
            parts.append(f"time budget left {format_duration(left)}")
        return ", ".join(parts)

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.train_lines.restart(f"train epoch {trainer.current_epoch}")

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                           outputs: Any, batch: Any, batch_idx: int) -> None:
        if self.enabled:
            self.train_lines.update(batch_idx + 1, _finite(self.total_train_batches),
                                    self._note(trainer))

    def on_validation_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                                  batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None:
        if self.has_dataloader_changed(dataloader_idx):  # a pass, or its next validation set
            self.valid_lines.restart(f"validate epoch {trainer.current_epoch}"
                                     + (f", set {dataloader_idx}" if dataloader_idx else ""))

    def on_validation_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                                outputs: Any, batch: Any, batch_idx: int,
                                dataloader_idx: int = 0) -> None:
        if self.enabled and not trainer.sanity_checking:
            self.valid_lines.update(batch_idx + 1,
                                    _finite(self.total_val_batches_current_dataloader))

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.reset_dataloader_idx_tracker()


def _finite(total: int | float) -> int | None:
    return None if total == float("inf") else int(total)


def progress_bar(kind: str, budget_left: Any = None) -> list[Any]:
    """The configured progress bar callback (none for ``"none"``); plain lines instead of a bar
    when stdout is not a terminal. ``budget_left``: seconds left of the time budget, or None."""
    if kind == "none":
        return []
    if not stdout_is_terminal():
        return [PlainProgressBar(budget_left)]
    if kind == "rich":
        return [_RichBar(leave=True)]
    if kind == "tqdm":
        return [_TQDMBar()]
    return []
