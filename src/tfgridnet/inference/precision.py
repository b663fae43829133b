"""Which precision ``--precision auto`` runs (bf16 autocast where the CPU computes bf16 natively),
and which backend ``--backend auto`` runs (the one measured faster on this CPU family).

bf16 autocast only pays on CPUs with bf16 matrix instructions
(:func:`tfgridnet.hardware.cpu_has_bf16`); elsewhere it emulates and is slower than fp32. Its
output agrees with fp32 to ~34 dB SI-SNR on the seed model (bench/RESULTS.md), above the
:data:`BF16_AGREEMENT_DB` the project accepts for an automatic choice (bench/inference.py checks
it on a trained model where the CPU has bf16). This module imports neither torch nor onnxruntime, so the
CLI's parser can take its choices from here.
"""

from __future__ import annotations

from tfgridnet import hardware
from tfgridnet.errors import UserInputError

__all__ = ["PRECISIONS", "BACKENDS", "BACKEND_CHOICES", "BF16_AGREEMENT_DB", "faster_cpu_backend",
           "resolve_backend", "resolve_precision"]

PRECISIONS = ("auto", "fp32", "bf16")
BACKENDS = ("torch", "onnx")  # PyTorch, or onnxruntime over an exported model.onnx
BACKEND_CHOICES = ("auto", *BACKENDS)  # what Enhancer.from_pretrained and --backend accept
# SI-SNR (dB) of bf16 output against fp32 that an automatic bf16 choice must keep.
BF16_AGREEMENT_DB = 30.0


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


def faster_cpu_backend() -> str:
    """The backend measured faster in fp32 on this CPU's family (docs/deployment.md).

    ``onnx`` on an x86 CPU with AVX2 and no AVX-512: onnxruntime's own LSTM beats oneDNN's fp32
    AVX2 kernel (AMD EPYC Zen 3: 0.79-0.92x torch's time, bench/RESULTS.md §44, §53). ``torch``
    on AVX-512 CPUs (Xeon with AMX: onnxruntime 0.88-1.23x torch fp32's time, 1.07-1.23x at the
    default two workers, and bf16 there halves torch's; AMD Zen 4 with AVX512-BF16, as reported:
    onnxruntime at 0.68-0.97x torch's speed) and on every CPU never measured (ARM: no figure, so
    no switch).
    """
    flags = hardware.cpu_flags()
    return "onnx" if "avx2" in flags and "avx512f" not in flags else "torch"


def resolve_backend(backend: str, *, has_onnx: bool, on_gpu: bool, precision: str = "auto",
                    compile: bool = False) -> str:
    """Turn a requested backend into the one that runs: ``"torch"`` or ``"onnx"``.

    ``auto`` is :func:`faster_cpu_backend` on the CPU when the model has an exported
    ``model.onnx`` (``has_onnx``) and nothing asks for torch (a GPU, ``compile``, an explicit
    bf16, which onnxruntime does not run); torch otherwise.
    """
    if backend not in BACKEND_CHOICES:
        raise UserInputError(f"backend={backend!r}, expected one of {BACKEND_CHOICES}")
    if backend != "auto":
        return backend
    if on_gpu or compile or precision == "bf16" or not has_onnx:
        return "torch"
    return faster_cpu_backend()
