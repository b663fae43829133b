"""``environment.json`` in the run dir: the machine, versions, precision and command of a run.

Written once by ``train`` (global rank 0, when the Trainer knows its devices), read by the report's
training table and memory check: one schema for both. Keys beyond these are kept as they are (a
newer writer's, or a foreign trainer's), and every key is optional on reading (docs/design.md's
contract asks at least ``device``, ``device_mem_mb``, ``torch``, ``precision``, ``world_size``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from tfgridnet.contracts.folders import RunDir
from tfgridnet.fileio import read_json_validated, write_json_atomic

__all__ = ["RunEnvironment"]


class RunEnvironment(BaseModel):
    """Where and with what a run trained."""

    model_config = ConfigDict(extra="allow")

    device: str | None = None  # "NVIDIA H100 80GB HBM3", or "cpu (x86_64)"
    device_mem_mb: float | None = None
    accelerator: str | None = None
    torch: str | None = None
    lightning: str | None = None
    tfgridnet: str | None = None
    python: str | None = None
    precision: str | None = None
    world_size: int | None = None
    num_nodes: int | None = None
    cuda: str | None = None
    cpu_count: int | None = None
    torch_threads: int | None = None
    hostname: str | None = None
    platform: str | None = None
    started_at: str | None = None  # ISO 8601, UTC
    command: str | None = None
    n_parameters: int | None = None
    resumed_from: str | None = None  # the checkpoint a --resume continued from

    def write(self, run_dir: Path) -> Path:
        return write_json_atomic(RunDir(run_dir).environment, self.model_dump(mode="json"))

    @classmethod
    def read(cls, path: Path) -> tuple[RunEnvironment, list[str]]:
        """The environment of ``path`` and the keys whose value could not be read (another
        trainer's ``"device_mem_mb": "32 GB"``): those read as missing, the rest is kept. One
        ValueError naming the file when it is not valid JSON or not a JSON object."""
        unreadable: list[str] = []

        def lenient(raw: Any) -> RunEnvironment:
            try:
                return cls.model_validate(raw)
            except ValidationError as exc:
                keys = {str(e["loc"][0]) for e in exc.errors() if e["loc"]}
                if not isinstance(raw, dict) or not keys:
                    raise
                unreadable.extend(sorted(keys))
                return cls.model_validate({k: v for k, v in raw.items() if k not in keys})

        return read_json_validated(path, lenient, "a run environment"), unreadable
