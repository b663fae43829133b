"""The ``metrics.csv`` file contract: one :class:`EpochRow` per epoch, written by training
(:class:`MetricsLog`), read by the report (:func:`read_metrics`).

``METRICS_COLUMNS`` come first in this order (docs/design.md, file contract) and every run has them; the
``EXTRA_COLUMNS`` follow, then, with ``data.valid_extra``, the second validation set's
``VALID_EXTRA_COLUMNS``, then a native-rate (V3) run's per-rate validation SI-SNR
(``RATE_METRIC_FORMAT``). The column names are the names the LightningModule logs its means
under, so the module, the epoch writer and the report all import them from here.

A run that starts from a trained model (``init.from``) validates it before the first optimiser step
and writes that as the first row: ``epoch`` = ``INITIAL_EPOCH`` (-1), ``step`` 0, the validation
columns filled and the training columns empty (:meth:`EpochRow.initial`). Readers take it as the
starting point of the curves, never as a trained epoch (``is_initial_epoch``,
:func:`split_initial_row`).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tfgridnet.contracts.names import MONITOR
from tfgridnet.contracts.tables import parse_number, read_csv_table
from tfgridnet.errors import UserInputError
from tfgridnet.fileio import write_text_atomic

__all__ = ["EpochRow", "MetricsLog", "read_metrics", "split_initial_row", "METRICS_COLUMNS",
           "EXTRA_COLUMNS", "RATE_METRIC_FORMAT", "is_rate_metric", "INITIAL_EPOCH",
           "is_initial_epoch", "VALID_EXTRA_COLUMNS", "VALID_EXTRA_PREFIX", "valid_extra",
           "EPOCH", "STEP", "TRAIN_LOSS", "TRAIN_SISNR", "VALID_SISNR", "LR", "GRAD_NORM_MEAN",
           "GRAD_NORM_MAX", "CLIPPED_STEPS", "NONFINITE_STEPS", "SEC_PER_BATCH",
           "SAMPLES_PER_SEC", "PEAK_MEM_MB", "TIME_S", "VALID_LOSS", "VALID_NOISY_SISNR",
           "VALID_SISNRI", "GRAD_CLIP", "LOSS_OF_SISNR", "GRADIENT_COLUMNS", "EPOCH_TIME_S", "TRAIN_BATCHES", "WORLD_SIZE"]

# -- the columns (every run has these) -------------------------------------------------------------
EPOCH = "epoch"
STEP = "step"  # the global optimiser step at the end of the epoch
TRAIN_LOSS = "train_loss"
TRAIN_SISNR = "train_sisnr"
VALID_SISNR = MONITOR
LR = "lr"
GRAD_NORM_MEAN = "grad_norm_mean"
GRAD_NORM_MAX = "grad_norm_max"
CLIPPED_STEPS = "clipped_steps"
NONFINITE_STEPS = "nonfinite_steps"
SEC_PER_BATCH = "sec_per_batch"
SAMPLES_PER_SEC = "samples_per_sec"
PEAK_MEM_MB = "peak_mem_mb"
TIME_S = "time_s"  # seconds since the run started (resumed processes included)
METRICS_COLUMNS = (EPOCH, STEP, TRAIN_LOSS, TRAIN_SISNR, VALID_SISNR, LR, GRAD_NORM_MEAN,
                   GRAD_NORM_MAX, CLIPPED_STEPS, NONFINITE_STEPS, SEC_PER_BATCH, SAMPLES_PER_SEC,
                   PEAK_MEM_MB, TIME_S)
# -- ... then these, when known ----------------------------------------------------------------------
VALID_LOSS = "valid_loss"
VALID_NOISY_SISNR = "valid_noisy_sisnr"  # the noisy input scored as the output
VALID_SISNRI = "valid_sisnri"
GRAD_CLIP = "grad_clip"
# The loss column each SI-SNR column equals minus, when the loss is -SI-SNR alone (no spectral
# term): a run that logged only losses has its SI-SNR read from these.
LOSS_OF_SISNR = {TRAIN_SISNR: TRAIN_LOSS, VALID_SISNR: VALID_LOSS}
# The gradient columns the report's stability section reads.
GRADIENT_COLUMNS = (GRAD_NORM_MEAN, GRAD_NORM_MAX, CLIPPED_STEPS, NONFINITE_STEPS)
EPOCH_TIME_S = "epoch_time_s"
TRAIN_BATCHES = "train_batches"
WORLD_SIZE = "world_size"
EXTRA_COLUMNS = (VALID_LOSS, VALID_NOISY_SISNR, VALID_SISNRI, GRAD_CLIP, EPOCH_TIME_S,
                 TRAIN_BATCHES, WORLD_SIZE)

# The second validation set (data.valid_extra): the main set's valid_* columns under this prefix.
_VALID_PREFIX = "valid_"
VALID_EXTRA_PREFIX = "valid_extra_"


def valid_extra(column: str) -> str:
    """The second validation set's column of the main set's ``column``: valid_sisnr ->
    valid_extra_sisnr."""
    return VALID_EXTRA_PREFIX + column.removeprefix(_VALID_PREFIX)


VALID_EXTRA_COLUMNS = tuple(valid_extra(c) for c in (VALID_LOSS, VALID_SISNR, VALID_NOISY_SISNR,
                                                     VALID_SISNRI))
# Validation SI-SNR of one sample rate (native-rate V3 training), e.g. "valid_sisnr_16000hz".
RATE_METRIC_FORMAT = VALID_SISNR + "_{rate}hz"

# The row of the model before training (a fine-tune's source), written before epoch 0.
INITIAL_EPOCH = -1


def is_rate_metric(name: str) -> bool:
    """True for the per-rate validation metrics named by :data:`RATE_METRIC_FORMAT`."""
    head, tail = RATE_METRIC_FORMAT.split("{rate}")
    return name.startswith(head) and name.endswith(tail) and name[len(head):-len(tail)].isdigit()


def is_initial_epoch(epoch: float | int | str) -> bool:
    """True for the ``epoch`` value of the initial (step 0, untrained) row."""
    try:
        return int(float(epoch)) == INITIAL_EPOCH
    except (TypeError, ValueError):
        return False


@dataclass
class EpochRow:
    """One row of ``metrics.csv``. Its fields are the columns, in file order (checked below);
    None (or NaN) is written as an empty cell."""

    epoch: int
    step: int
    train_loss: float | None = None
    train_sisnr: float | None = None
    valid_sisnr: float | None = None
    lr: float | None = None
    grad_norm_mean: float | None = None
    grad_norm_max: float | None = None
    clipped_steps: int | None = None
    nonfinite_steps: int | None = None
    sec_per_batch: float | None = None
    samples_per_sec: float | None = None
    peak_mem_mb: float | None = None
    time_s: float | None = None
    valid_loss: float | None = None
    valid_noisy_sisnr: float | None = None
    valid_sisnri: float | None = None
    grad_clip: float | None = None
    epoch_time_s: float | None = None
    train_batches: int | None = None
    world_size: int | None = None
    # data.valid_extra: written only when that set was scored (valid_extra_sisnr not None)
    valid_extra_loss: float | None = None
    valid_extra_sisnr: float | None = None
    valid_extra_noisy_sisnr: float | None = None
    valid_extra_sisnri: float | None = None
    # the per-rate validation SI-SNR of a native-rate run: RATE_METRIC_FORMAT name -> dB
    rates: dict[str, float] = field(default_factory=dict)

    @classmethod
    def initial(cls, valid: dict[str, float], world_size: int) -> EpochRow:
        """The model before any optimiser step (a fine-tune's source): ``INITIAL_EPOCH``, step 0,
        the validation columns of ``valid`` (logged name -> mean), the training columns empty."""
        row = cls(epoch=INITIAL_EPOCH, step=0, time_s=0.0, world_size=world_size)
        row.set_validation(valid)
        return row

    def set_validation(self, valid: dict[str, float]) -> None:
        """The validation means (logged name -> value, NaN when not logged) and the SI-SNR
        improvement over the noisy input derived from them, for both validation sets."""
        self.valid_loss = valid.get(VALID_LOSS, math.nan)
        self.valid_sisnr = valid.get(VALID_SISNR, math.nan)
        self.valid_noisy_sisnr = valid.get(VALID_NOISY_SISNR, math.nan)
        self.valid_sisnri = self.valid_sisnr - self.valid_noisy_sisnr
        extra = valid.get(valid_extra(VALID_SISNR), math.nan)
        if math.isnan(extra):
            return
        self.valid_extra_loss = valid.get(valid_extra(VALID_LOSS), math.nan)
        self.valid_extra_sisnr = extra
        self.valid_extra_noisy_sisnr = valid.get(valid_extra(VALID_NOISY_SISNR), math.nan)
        self.valid_extra_sisnri = extra - self.valid_extra_noisy_sisnr

    def values(self) -> dict[str, Any]:
        """Column -> value of every column this row fills, in file order."""
        out = {f.name: getattr(self, f.name) for f in _COLUMN_FIELDS}
        if self.valid_extra_sisnr is None:
            out = {k: v for k, v in out.items() if k not in VALID_EXTRA_COLUMNS}
        out.update(sorted(self.rates.items()))
        return {k: v for k, v in out.items() if v is not None}

    def cells(self) -> dict[str, str]:
        """The row as CSV text: floats at 6 significant digits, NaN empty."""
        return {k: _cell(v) for k, v in self.values().items()}


_COLUMN_FIELDS = tuple(f for f in dataclasses.fields(EpochRow) if f.name != "rates")
if tuple(f.name for f in _COLUMN_FIELDS) != METRICS_COLUMNS + EXTRA_COLUMNS + VALID_EXTRA_COLUMNS:
    raise AssertionError("EpochRow's fields must be metrics.csv's columns, in file order")


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6g}"
    return str(value)


class MetricsLog:
    """``metrics.csv`` as training writes it, one :class:`EpochRow` at a time, atomically.

    A resumed run rewrites the epochs it replays; earlier rows (and the initial one) are kept as
    they were written.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._rows: list[dict[str, str]] | None = None
        self._last_epoch: int | None = None  # every row kept is of an earlier or this epoch

    def append(self, row: EpochRow) -> Path:
        """Write the file with ``row`` as its last row (rows of its epoch or later dropped)."""
        return self.extend([row])

    def extend(self, rows: Iterable[EpochRow]) -> Path:
        """:meth:`append` each of ``rows`` in order, writing the file once."""
        if self._rows is None:
            self._rows = []
            if self.path.is_file():
                with open(self.path, newline="", encoding="utf-8") as handle:
                    self._rows = list(csv.DictReader(handle))
        for row in rows:
            if self._last_epoch is None or row.epoch <= self._last_epoch:  # else all are earlier
                self._rows = [r for r in self._rows if r.get(EPOCH, "").lstrip("-").isdigit()
                              and int(r[EPOCH]) < row.epoch]
            self._rows.append(row.cells())
            self._last_epoch = row.epoch
        columns = list(dict.fromkeys([*METRICS_COLUMNS, *EXTRA_COLUMNS,
                                      *(k for r in self._rows for k in r)]))
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self._rows)
        return write_text_atomic(self.path, buffer.getvalue())


def read_metrics(path: Path) -> dict[str, np.ndarray]:
    """metrics.csv -> column name -> float array (NaN where empty), one row per epoch.

    Rows are sorted by epoch; when a resumed run logged an epoch twice, the later row wins.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: {path.name} not found (is this a run folder?)")
    columns, table = read_csv_table(path)
    if EPOCH not in columns:
        raise UserInputError(f"{path}: no '{EPOCH}' column (header: {','.join(columns)})")
    rows = [{c: parse_number(v, path, number, c) for c, v in zip(columns, fields)}
            for number, fields in table]
    if not rows:
        raise UserInputError(f"{path}: header only, no epoch rows")
    by_epoch: dict[float, dict[str, float]] = {}
    for row in rows:
        if math.isnan(row[EPOCH]):
            raise UserInputError(f"{path}: a row has an empty '{EPOCH}'")
        by_epoch[row[EPOCH]] = row
    ordered = [by_epoch[e] for e in sorted(by_epoch)]
    return {c: np.array([r.get(c, math.nan) for r in ordered], dtype=np.float64) for c in columns}


def split_initial_row(metrics: dict[str, np.ndarray], path: Path
                      ) -> tuple[dict[str, float] | None, dict[str, np.ndarray]]:
    """The initial row (the model before training: ``INITIAL_EPOCH``) apart from the trained
    epochs, so that no statistic or rule counts it as an epoch."""
    initial = np.array([is_initial_epoch(e) for e in metrics[EPOCH]])
    if not initial.any():
        return None, metrics
    if initial.all():
        raise ValueError(f"{path}: only the initial (step 0) row, no trained epoch yet")
    row = {c: float(v[initial][-1]) for c, v in metrics.items()}
    return row, {c: v[~initial] for c, v in metrics.items()}
