"""Run an exported ``model.onnx`` with onnxruntime and numpy alone: this module never imports torch.

The file contract (file name, input/output names, metadata keys) is :mod:`tfgridnet.onnx_contract`,
which the exporter (:mod:`tfgridnet.model.onnx_export`) writes to; its names are importable from
here too. A deployment needs only this file, onnxruntime and numpy; see docs/deployment.md.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from tfgridnet.errors import UserInputError
from tfgridnet.inference.precision import resolve_precision
from tfgridnet.onnx_contract import (
    INPUT_NAME,
    META_SAMPLE_RATE,
    META_STFT,
    ONNX_NAME,
    OUTPUT_NAME,
)

__all__ = ["ONNX_NAME", "INPUT_NAME", "OUTPUT_NAME", "META_SAMPLE_RATE", "META_STFT",
           "OnnxModel", "OnnxRunner", "HostDevice"]


class OnnxModel:
    """An onnxruntime CPU session over ``model.onnx``; ``model(batch [B, N]) -> [B, N]`` numpy.

    ``path`` is the ``.onnx`` file or the exported model dir holding it. ``threads`` sets
    onnxruntime's intra-op threads (None: one per core). All graph optimisations are enabled.
    """

    def __init__(self, path: str | os.PathLike, threads: int | None = None) -> None:
        path = Path(path)
        if path.is_dir():
            path = path / ONNX_NAME
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no ONNX model here (write one with `tfgridnet export "
                                    "MODEL --format onnx --out DIR`)")
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3  # errors only: constant-folding notes are not for users
        if threads:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(str(path), options,
                                                providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types per failure
            raise UserInputError(f"{path}: not a loadable ONNX model ({exc})") from exc
        meta = self.session.get_modelmeta().custom_metadata_map
        rate = meta.get(META_SAMPLE_RATE, "")
        if not rate.isdigit() or int(rate) <= 0:
            raise UserInputError(f"{path}: metadata '{META_SAMPLE_RATE}' missing or invalid ({rate!r}); "
                             "export the model with `tfgridnet export --format onnx`")
        self.path = path
        self.threads = threads
        self.sample_rate = int(rate)
        self.n_srcs = 1
        self.n_imics = 1

    def with_threads(self, threads: int) -> OnnxModel:
        """This model on ``threads`` intra-op threads: itself if it has them, else a new session
        (onnxruntime fixes a session's threads when it is made; making one takes ~0.2 s)."""
        return self if self.threads == threads else OnnxModel(self.path, threads=threads)

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        """Enhance equal-length mono signals ``[B, N]`` at ``self.sample_rate``."""
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        if batch.ndim != 2:
            raise UserInputError(f"expected [batch, samples] audio, got shape {batch.shape}")
        return self.session.run([OUTPUT_NAME], {INPUT_NAME: batch})[0]


@dataclass(frozen=True)
class HostDevice:
    """The CPU that onnxruntime runs on, with the ``.type`` and ``str()`` of a ``torch.device``."""

    type: str = "cpu"

    def __str__(self) -> str:
        return self.type


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


class OnnxRunner:
    """The Enhancer's onnxruntime backend: an :class:`OnnxModel` run on the CPU in fp32.

    The same interface as :class:`tfgridnet.inference.torch_backend.TorchRunner`, so the chunk
    scheduler, level correction and streaming of :mod:`tfgridnet.inference.enhancer` serve both.
    """

    set_worker_threads = None  # each session fixes its own threads (``use_threads``)

    def __init__(self, model: OnnxModel, device: object | None, precision: str) -> None:
        if not isinstance(model, OnnxModel):
            raise UserInputError(f"Enhancer: backend='onnx' needs an OnnxModel, got "
                             f"{type(model).__name__}")
        if device is not None and str(device) != "cpu":
            raise UserInputError(f"Enhancer: backend='onnx' runs on the CPU, got device {device}")
        self.device = HostDevice()
        self.precision = resolve_precision(precision, "cpu", "onnx")
        self.model = model
        self.rate_independent = False

    @staticmethod
    def threads() -> int:
        """Intra-op threads a pass may use: the CPUs available to this process."""
        return available_cpus()

    def use_threads(self, threads: int) -> None:
        """Run each pass on ``threads`` intra-op threads (a session of its own if needed)."""
        self.model = self.model.with_threads(threads)

    def __call__(self, batch: np.ndarray, sample_rate: int, chunk: int) -> np.ndarray:
        return self.model(batch)
