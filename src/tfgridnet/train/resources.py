"""What the machine must offer a run, checked before anything is written: a GPU for a config that
asks for one, the optional package simulated rooms need, and CPU cores for the loader workers.

The GPU recipes (``seed``, ``dns2020``, ``voicebank_demand``, ``urgent``) say
``trainer.accelerator: gpu``; on a machine without a GPU they are refused in one line that points
at the ``cpu`` recipe; ``-o trainer.accelerator=cpu`` runs one on the CPU anyway.
"""

from __future__ import annotations

import importlib.util

import torch

from tfgridnet.hardware import available_cores
from tfgridnet.train.config import Config, ConfigError

__all__ = ["gpu_available", "check_accelerator", "check_optional_packages", "loader_workers",
           "workers_note", "CPU_RECIPE"]

CPU_RECIPE = "cpu"  # the shipped recipe sized for a laptop CPU


def gpu_available(kind: str = "gpu") -> bool:
    """Whether torch sees a device for ``trainer.accelerator`` ``kind`` (cuda, or gpu: CUDA/MPS)."""
    if torch.cuda.is_available():
        return True
    mps = getattr(torch.backends, "mps", None)
    return kind == "gpu" and mps is not None and bool(mps.is_available())


def check_accelerator(config: Config) -> None:
    """Refuse a config that asks for a GPU (``trainer.accelerator`` gpu/cuda) where none is."""
    kind = config.trainer.accelerator
    if kind not in ("gpu", "cuda") or gpu_available(kind):
        return
    data = config.data
    effective = data.batch_size * config.trainer.accumulate_grad_batches
    raise ConfigError(
        f"trainer.accelerator is {kind} (config {config.name!r}: batch {data.batch_size} x "
        f"accumulation {config.trainer.accumulate_grad_batches} = {effective}, "
        f"{data.crop_seconds:g} s crops, a GPU setup) but torch sees no GPU here; on a CPU train "
        f"the `{CPU_RECIPE}` recipe (`tfgridnet train {CPU_RECIPE} ...`), or add "
        "-o trainer.accelerator=cpu to run this config on the CPU anyway")


def check_optional_packages(config: Config) -> None:
    """Refuse a config whose simulated rooms need pyroomacoustics when it is not installed."""
    distortions = config.data.distortions
    simulated = (distortions.reverb_prob > 0 and not config.data.train_rir_manifest
                 and distortions.simulated_rirs > 0)
    if simulated and importlib.util.find_spec("pyroomacoustics") is None:
        raise ConfigError("data.distortions.simulated_rirs: simulated rooms need pyroomacoustics "
                          "(pip install 'tfgridnet[urgent]'), or give data.train_rir_manifest "
                          "with measured RIRs")


def loader_workers(requested: int) -> int:
    """``data.num_workers`` capped at the CPU cores available: more processes than cores only
    compete with the training step for them."""
    return min(requested, available_cores())


def workers_note(config: Config) -> str | None:
    """The note printed when ``data.num_workers`` is capped, else None."""
    requested = config.data.num_workers
    used = loader_workers(requested)
    if used == requested:
        return None
    return (f"data.num_workers {requested} capped at {used}: this process may use "
            f"{available_cores()} CPU cores")
