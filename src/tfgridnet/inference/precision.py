"""Which precision ``--precision auto`` runs: bf16 autocast where the CPU computes bf16 natively.

bf16 autocast only pays on CPUs with bf16 matrix instructions (AMX or AVX512-BF16); elsewhere it
emulates and is slower than fp32. Its output agrees with fp32 to ~34 dB SI-SNR on the seed model
(bench/RESULTS.md), above the 30 dB the project accepts for an automatic choice.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["PRECISIONS", "BF16_CPU_FLAGS", "cpu_has_fast_bf16", "resolve_precision"]

PRECISIONS = ("auto", "fp32", "bf16")
# /proc/cpuinfo flags of native bf16 matrix arithmetic (Intel AMX tiles, AVX512-BF16 dot products).
BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")
CPUINFO = Path("/proc/cpuinfo")


def cpu_has_fast_bf16(cpuinfo: Path = CPUINFO) -> bool:
    """True when the CPU advertises one of ``BF16_CPU_FLAGS`` (False when cpuinfo is unreadable)."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    flags = {word for line in text.splitlines() if line.startswith("flags")
             for word in line.split(":", 1)[-1].split()}
    return any(flag in flags for flag in BF16_CPU_FLAGS)


def resolve_precision(precision: str, device_type: str, backend: str = "torch") -> str:
    """Turn a requested precision into the one that runs: ``"fp32"`` or ``"bf16"``.

    ``auto`` is bf16 for the PyTorch backend on a CPU with fast bf16, fp32 otherwise (GPUs and
    onnxruntime included). An explicit bf16 with onnxruntime is refused: its graph is fp32.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision={precision!r}, expected one of {PRECISIONS}")
    if precision == "auto":
        fast = backend == "torch" and device_type == "cpu" and cpu_has_fast_bf16()
        return "bf16" if fast else "fp32"
    if precision == "bf16" and backend == "onnx":
        raise ValueError("precision='bf16' is not available with backend='onnx' (the ONNX graph is "
                         "fp32); use --precision fp32 or auto")
    return precision
