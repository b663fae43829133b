"""Which precision ``--precision auto`` runs: bf16 autocast where the CPU computes bf16 natively.

bf16 autocast only pays on CPUs with bf16 matrix instructions
(:func:`tfgridnet.hardware.cpu_has_bf16`); elsewhere it emulates and is slower than fp32. Its
output agrees with fp32 to ~34 dB SI-SNR on the seed model (bench/RESULTS.md), above the 30 dB the
project accepts for an automatic choice. This module imports neither torch nor onnxruntime, so the
CLI's parser can take its choices from here.
"""

from __future__ import annotations

from tfgridnet import hardware
from tfgridnet.errors import UserInputError

__all__ = ["PRECISIONS", "BACKENDS", "resolve_precision"]

PRECISIONS = ("auto", "fp32", "bf16")
BACKENDS = ("torch", "onnx")  # PyTorch, or onnxruntime over an exported model.onnx


def resolve_precision(precision: str, device_type: str, backend: str = "torch") -> str:
    """Turn a requested precision into the one that runs: ``"fp32"`` or ``"bf16"``.

    ``auto`` is bf16 for the PyTorch backend on a CPU with fast bf16, fp32 otherwise (GPUs and
    onnxruntime included). An explicit bf16 with onnxruntime is refused: its graph is fp32.
    """
    if precision not in PRECISIONS:
        raise UserInputError(f"precision={precision!r}, expected one of {PRECISIONS}")
    if precision == "auto":
        fast = backend == "torch" and device_type == "cpu" and hardware.cpu_has_bf16()
        return "bf16" if fast else "fp32"
    if precision == "bf16" and backend == "onnx":
        raise UserInputError("precision='bf16' is not available with backend='onnx' (the ONNX graph is "
                         "fp32); use --precision fp32 or auto")
    return precision
