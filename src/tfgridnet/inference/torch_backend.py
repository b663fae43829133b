"""The PyTorch backend of the Enhancer: device choice, precision, ``torch.compile`` and one pass.

Everything else the Enhancer does (chunking, overlap-add, level correction, resampling, streaming)
is numpy, shared with the onnxruntime backend (:mod:`tfgridnet.inference.onnx_backend`), and
lives in :mod:`tfgridnet.inference.enhancer`, which never imports torch.
"""

from __future__ import annotations

import numpy as np
import torch

from tfgridnet.errors import UserInputError
from tfgridnet.inference.precision import resolve_precision

__all__ = ["pick_device", "TorchRunner"]


def pick_device(device: str | torch.device | None) -> torch.device:
    """``None`` means CUDA when present, else CPU; a CUDA request without a GPU is an error."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise UserInputError(f"device {device!r} is not a device name; expected cpu, cuda or "
                         "cuda:N") from exc
    if device.type not in ("cpu", "cuda"):
        raise UserInputError(f"device {str(device)!r} is not supported; expected cpu, cuda or cuda:N")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserInputError(f"device {device} requested but no CUDA GPU is available (use --device cpu)")
    return device


class TorchRunner:
    """A ``torch.nn.Module`` on its device: ``runner(batch [B, N], sample_rate, chunk) -> [B, N]``.

    ``compile=True``: full-length chunks (``chunk`` samples) run through ``torch.compile`` (one
    graph per chunk shape, compiled on first use: tens of seconds on a CPU; bench/RESULTS.md §29);
    a signal of another length runs eagerly rather than compiling a graph for its one length.
    """

    def __init__(self, model: torch.nn.Module, device: str | torch.device | None,
                 precision: str, compile: bool) -> None:
        from tfgridnet.model.architectures import is_rate_independent

        if not isinstance(model, torch.nn.Module):
            raise UserInputError(f"Enhancer: backend='torch' needs a torch.nn.Module, got "
                             f"{type(model).__name__}")
        self.device = pick_device(device)
        self.precision = resolve_precision(precision, self.device.type, "torch")
        self.rate_independent = is_rate_independent(model)
        self.model = model.to(self.device).eval()
        self.compiled = torch.compile(self.model, dynamic=False) if compile else None

    @staticmethod
    def threads() -> int:
        """Intra-op threads a pass may use (torch's setting)."""
        return torch.get_num_threads()

    def use_threads(self, threads: int) -> None:
        """Nothing to do: each PassPool worker sets its threads (``set_worker_threads``)."""

    # Run in each worker thread of a PassPool: torch.set_num_threads acts on the calling thread's
    # OpenMP pool, so the caller's own setting is left alone.
    set_worker_threads = staticmethod(torch.set_num_threads)

    @torch.inference_mode()
    def __call__(self, batch: np.ndarray, sample_rate: int, chunk: int) -> np.ndarray:
        x = torch.as_tensor(np.ascontiguousarray(batch, dtype=np.float32), device=self.device)
        # bf16 autocast: the STFT/iSTFT and norm statistics stay float32 inside the model. On a
        # 2-core AMX Xeon it takes the seed model from RTF 0.50 to 0.25 (two workers) at ~33 dB
        # SI-SNR agreement with the fp32 output (bench/RESULTS.md §38); ``precision="auto"`` picks
        # it only on CPUs with native bf16 (tfgridnet.inference.precision). Autocast and
        # inference mode are thread-local: set here, in whichever worker runs the pass.
        model = (self.compiled if self.compiled is not None and x.shape[-1] == chunk
                 else self.model)
        with torch.autocast(self.device.type, dtype=torch.bfloat16,
                            enabled=self.precision == "bf16"):
            out = (model(x, sample_rate=sample_rate) if self.rate_independent else model(x))
        return out.float().cpu().numpy()
