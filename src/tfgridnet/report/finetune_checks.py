"""A fine-tune's figures and its rule: where it started (metrics.csv's step-0 row, ``init.json``)
and whether its best epoch beat that start.

The step-0 row is the model before any optimiser step (``contracts.metrics_csv.INITIAL_EPOCH``);
``report.loading`` keeps it apart from the trained epochs, and only this module reads it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tfgridnet.contracts.folders import RunDir
from tfgridnet.contracts.init_record import InitRecord
from tfgridnet.contracts.metrics_csv import VALID_NOISY_SISNR, VALID_SISNR, valid_extra
from tfgridnet.report.facts import TrainingStats
from tfgridnet.report.loading import RunFiles, config_value
from tfgridnet.report.thresholds import Evidence, Facts, Thresholds

__all__ = ["finetune_harmed", "finetune_stats"]

_EXTRA = valid_extra(VALID_SISNR)


def _value(row: dict[str, float] | None, name: str) -> float | None:
    value = (row or {}).get(name)
    return value if value is not None and math.isfinite(value) else None


def finetune_stats(files: RunFiles, training: TrainingStats) -> dict[str, Any]:
    """``initial_*`` (the step-0 row), ``init_*`` (init.json / config.yaml's init section) and the
    second validation set's ``valid_extra_*`` figures, as :class:`TrainingStats` fields; {} for a
    run with none of them."""
    stats: dict[str, Any] = {}
    initial = files.initial
    if initial is not None:
        for name in (VALID_SISNR, VALID_NOISY_SISNR, _EXTRA):
            stats[f"initial_{name}"] = _value(initial, name)
    source = config_value(files.config, "init.from")
    if source is not None:
        stats["init_source"] = str(source)
        stats["lr_pretrained"] = config_value(files.config, "optim.lr_pretrained",
                                              "optim.lr")
    path = RunDir(files.run_dir).init
    if path.is_file():
        record = InitRecord.read(path)
        stats["init_record"] = record
        stats["init_source"] = record.source
        stats["lr_pretrained"] = record.lr_pretrained
    extra = files.metrics.get(_EXTRA)
    if extra is not None and np.isfinite(extra).any():
        finite = extra[np.isfinite(extra)]
        stats["valid_extra_best"] = float(finite.max())
        stats["valid_extra_last"] = float(finite[-1])
        best = training.best_index
        stats["valid_extra_at_best"] = (float(extra[best]) if best is not None
                                        and math.isfinite(extra[best]) else None)
    return stats


def finetune_harmed(f: Facts, th: Thresholds) -> Evidence | None:
    """The best trained epoch is not better than the model the run started from."""
    t = f.training
    initial, best = t.initial_valid_sisnr, t.valid.best
    if initial is None or best is None:
        return None
    gain = best - initial
    if gain > th.finetune_min_gain_db:
        return None
    record = t.init_record
    return {"source": t.init_source or "the initial model", "initial": initial,
            "best": best, "best_epoch": t.best_epoch, "gain_db": gain,
            "threshold_db": th.finetune_min_gain_db, "n_epochs": t.n_epochs,
            "lr_pretrained": t.lr_pretrained,
            "n_frozen": record.n_frozen if record is not None else None}
