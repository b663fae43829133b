"""Which training precision ``trainer.precision: auto`` means on this machine.

bf16 autocast pays on a CPU only where the hardware does bf16 arithmetic (AMX tiles or
AVX512-BF16): there the demo trains ~1.35x faster per step at equal quality (bench/RESULTS.md,
"bf16-mixed vs fp32 training"); elsewhere bf16 is emulated and slower, so fp32 stays.
"""

from __future__ import annotations

from pathlib import Path

import torch

__all__ = ["BF16_CPU_FLAGS", "auto_precision", "cpu_has_bf16"]

# /proc/cpuinfo flags of CPUs with native bf16 matrix/vector instructions.
BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")


def cpu_has_bf16(cpuinfo: str | Path = "/proc/cpuinfo") -> bool:
    """True when the CPU lists one of :data:`BF16_CPU_FLAGS` (False when unreadable: not Linux)."""
    try:
        text = Path(cpuinfo).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("flags") and ":" in line:
            return bool(set(line.split(":", 1)[1].split()) & set(BF16_CPU_FLAGS))
    return False


def auto_precision(accelerator: str, cpuinfo: str | Path = "/proc/cpuinfo") -> str:
    """``bf16-mixed`` on a CUDA GPU or a bf16-capable CPU, ``32-true`` otherwise."""
    if accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available():
        return "bf16-mixed"
    if accelerator in ("auto", "cpu") and cpu_has_bf16(cpuinfo):
        return "bf16-mixed"
    return "32-true"
