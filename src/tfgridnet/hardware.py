"""What this machine's CPU can do, read once for training and inference alike.

bf16 autocast pays on a CPU only where the hardware does bf16 arithmetic (Intel AMX tiles or
AVX512-BF16 dot products); elsewhere bf16 is emulated and slower than fp32. Both
``trainer.precision: auto`` (:mod:`tfgridnet.train.precision`) and ``--precision auto``
(:mod:`tfgridnet.inference.precision`) ask :func:`cpu_has_bf16`.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["BF16_CPU_FLAGS", "CPUINFO", "available_cores", "bf16_emulation_note", "cpu_flags",
           "cpu_has_bf16"]

# /proc/cpuinfo flags of CPUs with native bf16 matrix/vector instructions.
BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")
CPUINFO = Path("/proc/cpuinfo")


def cpu_flags(cpuinfo: str | os.PathLike = CPUINFO) -> set[str]:
    """The CPU's feature flags from ``/proc/cpuinfo`` (empty when unreadable: not Linux)."""
    try:
        text = Path(cpuinfo).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return set()
    return {word for line in text.splitlines() if line.startswith("flags")
            for word in line.split(":", 1)[-1].split()}


def cpu_has_bf16(cpuinfo: str | os.PathLike = CPUINFO) -> bool:
    """True when the CPU lists one of :data:`BF16_CPU_FLAGS` (False when unreadable: not Linux)."""
    return any(flag in cpu_flags(cpuinfo) for flag in BF16_CPU_FLAGS)


def bf16_emulation_note(cpuinfo: str | os.PathLike = CPUINFO) -> str | None:
    """What an explicit bf16 request on this CPU costs, or None where the CPU computes bf16."""
    if cpu_has_bf16(cpuinfo):
        return None
    return (f"this CPU has none of {', '.join(BF16_CPU_FLAGS)}: bf16 is emulated here and slower "
            "than fp32 (the 'auto' precision runs fp32)")


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask, e.g. a job's share), at least 1."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except (AttributeError, OSError):  # not Linux
        return max(os.cpu_count() or 1, 1)
