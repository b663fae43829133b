"""What training prints on the console: our per-epoch lines and the progress bar, nothing else.

Lightning's banners ("GPU available", tips, "`Trainer.fit` stopped") and the warnings its
dependencies raise (deprecations inside Lightning, its own hints) still reach ``logs/train.log``,
which carries the ``lightning.pytorch`` logger at INFO; they are only kept off the console.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator
from typing import Any

from lightning.pytorch.callbacks import RichProgressBar, TQDMProgressBar

__all__ = ["quiet_lightning", "progress_bar"]

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


def progress_bar(kind: str) -> list[Any]:
    """The configured progress bar callback (none for ``"none"``)."""
    if kind == "rich":
        return [_RichBar(leave=True)]
    if kind == "tqdm":
        return [_TQDMBar()]
    return []
