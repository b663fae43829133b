"""What this machine's CPU can do, read once for training and inference alike.

bf16 autocast pays on a CPU only where the hardware does bf16 arithmetic (Intel AMX tiles or
AVX512-BF16 dot products); elsewhere bf16 is emulated and slower than fp32. Both
``trainer.precision: auto`` (:mod:`tfgridnet.train.precision`) and ``--precision auto``
(:mod:`tfgridnet.inference.precision`) ask :func:`cpu_has_bf16`. Every reader takes
:data:`CPUINFO` at call time, so a test simulates another CPU by pointing it at another file.

``python -m tfgridnet.hardware`` prints the one line CI shows before the tests: the CPU model,
the flags that pick a code path (:data:`REPORTED_CPU_FLAGS`), whether oneDNN has a bf16 LSTM
and whether torch sees a CUDA GPU.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

__all__ = ["BF16_CPU_FLAGS", "CPUINFO", "REPORTED_CPU_FLAGS", "available_cores",
           "bf16_emulation_note", "cpu_flags", "cpu_has_bf16", "cpu_model", "machine_line",
           "onednn_has_bf16"]

# /proc/cpuinfo flags of CPUs with native bf16 matrix/vector instructions.
BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")
# The flags that choose a code path somewhere (precision auto, oneDNN's kernels, --backend auto).
REPORTED_CPU_FLAGS = ("avx2", "avx512f", *BF16_CPU_FLAGS[::-1])
CPUINFO = Path("/proc/cpuinfo")


def _cpuinfo_text(cpuinfo: str | os.PathLike | None) -> str | None:
    try:
        return Path(CPUINFO if cpuinfo is None else cpuinfo).read_text(encoding="utf-8",
                                                                      errors="replace")
    except OSError:
        return None


def cpu_flags(cpuinfo: str | os.PathLike | None = None) -> set[str]:
    """The CPU's feature flags from ``/proc/cpuinfo`` (empty when unreadable: not Linux)."""
    text = _cpuinfo_text(cpuinfo) or ""
    return {word for line in text.splitlines() if line.startswith("flags")
            for word in line.split(":", 1)[-1].split()}


def cpu_model(cpuinfo: str | os.PathLike | None = None) -> str:
    """The CPU's model name (``/proc/cpuinfo``; the platform's processor string elsewhere)."""
    for line in (_cpuinfo_text(cpuinfo) or "").splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown CPU"


def cpu_has_bf16(cpuinfo: str | os.PathLike | None = None) -> bool:
    """True when the CPU lists one of :data:`BF16_CPU_FLAGS` (False when unreadable: not Linux)."""
    return any(flag in cpu_flags(cpuinfo) for flag in BF16_CPU_FLAGS)


def bf16_emulation_note(cpuinfo: str | os.PathLike | None = None) -> str | None:
    """What an explicit bf16 request on this CPU costs, or None where the CPU computes bf16."""
    if cpu_has_bf16(cpuinfo):
        return None
    return (f"this CPU has none of {', '.join(BF16_CPU_FLAGS)}: bf16 is emulated here and slower "
            "than fp32 (the 'auto' precision runs fp32)")


def onednn_has_bf16() -> bool:
    """Whether oneDNN computes bf16 on this CPU (natively or on AVX512 core); an AVX2-only CPU
    cannot even create a bf16 LSTM primitive. PyTorch's own check (imports torch)."""
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a build without the query: the old behaviour
        return True


def machine_line(cpuinfo: str | os.PathLike | None = None) -> str:
    """One line naming the CPU, its code-path flags, oneDNN's bf16 LSTM and CUDA (imports torch)."""
    import torch

    flags = cpu_flags(cpuinfo)
    listed = " ".join(f"{flag}={'yes' if flag in flags else 'no'}" for flag in REPORTED_CPU_FLAGS)
    cuda = (f"yes ({torch.cuda.get_device_name(0)})" if torch.cuda.is_available() else "no")
    return (f"CPU: {cpu_model(cpuinfo)}, {os.cpu_count()} cores; {listed}; "
            f"oneDNN bf16 LSTM={'yes' if onednn_has_bf16() else 'no'}; torch {torch.__version__}, "
            f"CUDA={cuda}")


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask, e.g. a job's share), at least 1."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except (AttributeError, OSError):  # not Linux
        return max(os.cpu_count() or 1, 1)


if __name__ == "__main__":
    print(machine_line())
