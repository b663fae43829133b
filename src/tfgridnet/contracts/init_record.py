"""``init.json`` in the run dir: the model a fine-tune started from and what of it trains.

Written once by ``train`` when a run starts from ``init.from`` (never by a resume, which continues
the same fine-tune), read by the report's "fine-tuned from" line: one schema for both.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

from tfgridnet.contracts.folders import RunDir
from tfgridnet.contracts.names import INIT_FILE
from tfgridnet.fileio import read_json_validated, write_json_atomic

__all__ = ["INIT_FILE", "InitRecord"]


class InitRecord(BaseModel):
    """Where the initial weights came from and how the parameters were split."""

    model_config = ConfigDict(extra="ignore")

    source: str
    source_kind: str  # export | run | checkpoint | espnet (model.sources.SourceKind)
    espnet_config: str | None = None
    architecture: str
    source_sample_rate: int | None = None
    freeze: list[str] = []
    reinit: list[str] = []
    n_parameters: int
    n_frozen: int
    n_trainable: int
    n_reinitialised: int = 0
    frozen_tensors: list[str] = []
    lr: float
    lr_pretrained: float

    def write(self, run_dir: Path) -> Path:
        return write_json_atomic(RunDir(run_dir).init, self.model_dump(mode="json"))

    @classmethod
    def read(cls, path: Path) -> InitRecord:
        """One ValueError naming the file when it is not valid JSON or not this schema."""
        return read_json_validated(path, cls.model_validate, "an init record")
