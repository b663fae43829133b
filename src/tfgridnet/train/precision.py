"""Which training precision ``trainer.precision: auto`` means on this machine.

bf16 autocast pays on a CPU only where the hardware does bf16 arithmetic
(:func:`tfgridnet.hardware.cpu_has_bf16`): there the demo trains ~1.35x faster per step at equal
quality (bench/RESULTS.md, "bf16-mixed vs fp32 training"); elsewhere bf16 is emulated and slower,
so fp32 stays.
"""

from __future__ import annotations

import os

import torch

from tfgridnet import hardware

__all__ = ["auto_precision", "emulated_bf16_note"]


def auto_precision(accelerator: str, cpuinfo: str | os.PathLike | None = None) -> str:
    """``bf16-mixed`` on a CUDA GPU or a bf16-capable CPU, ``32-true`` otherwise."""
    if accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available():
        return "bf16-mixed"
    if accelerator in ("auto", "cpu") and hardware.cpu_has_bf16(cpuinfo):
        return "bf16-mixed"
    return "32-true"


def emulated_bf16_note(precision: str, accelerator: str,
                       cpuinfo: str | os.PathLike | None = None) -> str | None:
    """Why an explicit bf16 run will be slow: it trains on a CPU without bf16 instructions."""
    on_cpu = accelerator == "cpu" or (accelerator == "auto" and not torch.cuda.is_available())
    if not precision.startswith("bf16") or not on_cpu:
        return None
    return hardware.bf16_emulation_note(cpuinfo)
