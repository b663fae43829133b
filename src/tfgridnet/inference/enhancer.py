"""Enhance any array or file: resample to the model's rate and back, each channel on its own,
long signals in overlapping chunks (``inference.chunking``), files streamed (``inference.streaming``).
A sample-rate-independent model (TF-GridNetV3) is run at the input's own rate instead: nothing is
resampled.

This module imports no torch: the model pass is a backend's (``inference.torch_backend`` for a
``torch.nn.Module``, ``inference.onnx_backend`` for an exported ``model.onnx``), and everything
around it is numpy, one implementation for both. ``tfgridnet.onnx`` is the torch-free entry point.
"""

from __future__ import annotations

import copy
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tfgridnet.audio.resample import resample
from tfgridnet.errors import UserInputError
from tfgridnet.inference.chunking import (
    DEFAULT_CHUNK_SECONDS,
    DEFAULT_OVERLAP_SECONDS,
    ChunkScheduler,
)
from tfgridnet.inference.level import LevelCorrection
from tfgridnet.inference.parallel import PassPool, resolve_workers
from tfgridnet.inference.precision import BACKENDS, PRECISIONS, resolve_backend

if TYPE_CHECKING:
    import torch

    from tfgridnet.inference.onnx_backend import OnnxModel

__all__ = ["Enhancer", "PRECISIONS", "BACKENDS", "as_float_audio",
           "channels_first"]


def __getattr__(name: str) -> Any:
    """``pick_device`` moved to ``inference.torch_backend`` (it needs torch); still importable here."""
    if name == "pick_device":
        from tfgridnet.inference.torch_backend import pick_device

        return pick_device
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _wants_gpu(device: Any) -> bool:
    """Whether ``device`` resolves to a CUDA GPU; False where torch is not installed (an install
    without torch runs onnxruntime on the CPU)."""
    try:
        from tfgridnet.inference.torch_backend import pick_device
    except ImportError:
        return False
    return pick_device(device).type == "cuda"


# A 2-D array with at most this many columns and more rows than columns is [samples, channels].
MAX_CHANNELS = 32
_PCM_SCALE = {np.dtype(np.int16): 2.0 ** 15, np.dtype(np.int32): 2.0 ** 31}


def as_float_audio(audio: np.ndarray) -> np.ndarray:
    """Float32 samples in [-1, 1]: int16/int32 PCM scaled by full scale, other types refused."""
    audio = np.asarray(audio)
    if audio.ndim not in (1, 2) or 0 in audio.shape:
        raise UserInputError(f"expected audio of shape [samples], [channels, samples] or "
                         f"[samples, channels] with samples > 0, got {audio.shape}")
    if audio.dtype in _PCM_SCALE:
        return (audio.astype(np.float64) / _PCM_SCALE[audio.dtype]).astype(np.float32)
    if not np.issubdtype(audio.dtype, np.floating):
        raise UserInputError(f"audio of dtype {audio.dtype} is not supported: pass float samples in "
                         "[-1, 1] or int16/int32 PCM")
    return audio.astype(np.float32, copy=False)


def channels_first(audio: np.ndarray) -> np.ndarray:
    """``[C, N]`` view of a 2-D array given as ``[C, N]`` or soundfile's ``[N, C]``."""
    if audio.ndim == 2 and audio.shape[0] > audio.shape[1] and audio.shape[1] <= MAX_CHANNELS:
        return audio.T
    return audio


class Enhancer:
    """A loaded model plus the chunking policy. ``enhance(array, sr)`` keeps shape and rate.

    ``backend="torch"`` runs a ``torch.nn.Module``; ``backend="onnx"`` runs an
    :class:`~tfgridnet.inference.onnx_backend.OnnxModel` (onnxruntime, CPU, fp32). Both sit behind
    ``forward_batch``, the one call the chunk scheduler makes.
    """

    def __init__(self, model: torch.nn.Module | OnnxModel, sample_rate: int | None = None,
                 device: str | torch.device | None = None, chunk_seconds: float = DEFAULT_CHUNK_SECONDS,
                 overlap_seconds: float = DEFAULT_OVERLAP_SECONDS, chunks_per_batch: int | None = None,
                 precision: str = "auto", level: bool = True, backend: str = "torch",
                 compile: bool = False, workers: int | None = None) -> None:
        if getattr(model, "n_srcs", 1) != 1:
            raise UserInputError(f"Enhancer: the model separates {model.n_srcs} sources; enhancement "
                             "needs a single-output model (n_srcs=1)")
        if getattr(model, "n_imics", 1) != 1:
            raise UserInputError("Enhancer: multi-microphone models are not supported here "
                             f"(n_imics={model.n_imics}); each channel is enhanced on its own")
        if not (math.isfinite(chunk_seconds) and math.isfinite(overlap_seconds)) or \
                chunk_seconds <= 0 or overlap_seconds < 0 or overlap_seconds >= chunk_seconds:
            raise UserInputError(f"Enhancer: need chunk_seconds > overlap_seconds >= 0, got "
                             f"chunk_seconds={chunk_seconds}, overlap_seconds={overlap_seconds}")
        if precision not in PRECISIONS:
            raise UserInputError(f"Enhancer: precision={precision!r}, expected one of {PRECISIONS}")
        if backend not in BACKENDS:
            raise UserInputError(f"Enhancer: backend={backend!r}, expected one of {BACKENDS}")
        if compile and backend != "torch":
            raise UserInputError("Enhancer: compile=True needs backend='torch' (onnxruntime optimises "
                             "its own graph)")
        if backend == "torch":
            from tfgridnet.inference.torch_backend import TorchRunner

            self.runner = TorchRunner(model, device, precision, compile)
        else:
            from tfgridnet.inference.onnx_backend import OnnxRunner

            self.runner = OnnxRunner(model, device, precision)
        self.backend = backend
        self.device, self.precision = self.runner.device, self.runner.precision
        # A V3 model runs at each input's rate; its default rate only sizes the first chunking.
        self.rate_independent = self.runner.rate_independent
        sample_rate = sample_rate if sample_rate is not None else getattr(model, "sample_rate", None)
        if sample_rate is None and self.rate_independent:
            sample_rate = model.default_fs
        if not isinstance(sample_rate, int) or sample_rate <= 0:
            raise UserInputError("Enhancer: the model's sample rate is unknown; pass sample_rate=")
        # workers: chunk passes in flight at once on the CPU, each on its share of the threads
        # (None: 2 where there are 2+ threads; tfgridnet.inference.parallel).
        threads = self.runner.threads()
        self.workers = resolve_workers(workers, self.device.type, threads, compile)
        self.passes = PassPool(self.workers, threads, self.runner.set_worker_threads)
        self.runner.use_threads(self.passes.threads_per_worker)
        self.model = self.runner.model
        self.chunk_seconds, self.overlap_seconds = chunk_seconds, overlap_seconds
        self._set_rate(sample_rate)
        self.chunks_per_batch = chunks_per_batch or (8 if self.device.type == "cuda" else 1)
        # level=True: each model output is rescaled onto its input (mixture-consistent gain),
        # since a -SI-SNR model's own gain is arbitrary; the peak limiter runs either way.
        self.level = LevelCorrection(sample_rate, enabled=level)

    def _set_rate(self, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self.chunk = int(round(self.chunk_seconds * sample_rate))
        self.overlap = int(round(self.overlap_seconds * sample_rate))

    def at_rate(self, sample_rate: int) -> Enhancer:
        """This enhancer working at ``sample_rate``: itself for a fixed-rate model or the same
        rate, else a shallow copy (same model; chunk lengths and level correction in samples of
        the new rate)."""
        if not self.rate_independent or sample_rate == self.sample_rate:
            return self
        other = copy.copy(self)
        other._set_rate(int(sample_rate))
        other.level = self.level.at_rate(sample_rate)
        return other

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike, device: str | torch.device | None = None,
                        backend: str = "torch", **kwargs) -> Enhancer:
        """Load an exported dir, run dir or checkpoint (never unpickling code); with
        ``backend="onnx"``, the ``model.onnx`` of an exported dir (or that file); with
        ``backend="auto"``, whichever runs faster on this CPU (``resolve_backend``)."""
        if backend == "auto":
            from tfgridnet.inference.onnx_backend import ONNX_NAME

            path = Path(path)
            has_onnx = path.suffix == ".onnx" or (path / ONNX_NAME).is_file()
            backend = "onnx" if path.suffix == ".onnx" else resolve_backend(
                backend, has_onnx=has_onnx, on_gpu=has_onnx and _wants_gpu(device),
                precision=kwargs.get("precision", "auto"), compile=kwargs.get("compile", False))
        if backend == "onnx":
            from tfgridnet.inference.onnx_backend import OnnxModel

            return cls(OnnxModel(path), device=device, backend=backend, **kwargs)
        from tfgridnet.model.io import load_model

        return cls(load_model(path), device=device, backend=backend, **kwargs)

    def forward_batch(self, batch: np.ndarray) -> np.ndarray:
        """One raw model pass over equal-length mono signals ``[B, N]`` at the model's rate
        (``self.level(out, batch)`` corrects whole utterances; the chunk scheduler does it).

        Signals shorter than one STFT frame (the centred STFT's reflect padding needs more than
        ``n_fft / 2`` samples) are zero-padded to a frame and cropped back.
        """
        n = batch.shape[-1]
        min_len = int(getattr(getattr(self.model, "stft", None), "n_fft", 0))
        if n < min_len:
            batch = np.pad(batch, ((0, 0), (0, min_len - n)))
        return self.runner(batch, self.sample_rate, self.chunk)[..., :n]

    def enhance_mono(self, audio: np.ndarray) -> np.ndarray:
        """Enhance ``[N]`` at the model's rate: one pass when it fits a chunk, else overlap-add."""
        return self._enhance_channels(np.asarray(audio, dtype=np.float32)[None])[0]

    def _enhance_channels(self, channels: np.ndarray) -> np.ndarray:
        """Enhance ``[C, N]`` at the model's rate in one go (same scheduler as the file stream):
        the raw output, then one level gain per channel (the whole channel's) and the limiter."""
        scheduler = ChunkScheduler(self, channels.shape[0])
        raw = np.concatenate([scheduler.push(channels), scheduler.finish()], axis=-1)
        return np.concatenate([scheduler.level.correct(raw), scheduler.level.flush()], axis=-1)

    def enhance(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """Enhance ``[N]``, ``[C, N]`` or soundfile's ``[N, C]`` at any rate; same shape and rate out.

        A 2-D array whose first axis is the longer one and whose second has at most
        ``MAX_CHANNELS`` entries is taken as ``[samples, channels]``. Integer PCM (int16, int32)
        is scaled to [-1, 1); the result is always float32.
        """
        audio = as_float_audio(audio)
        if not isinstance(sample_rate, (int, np.integer)) or sample_rate <= 0:
            raise UserInputError(f"sample_rate must be a positive integer, got {sample_rate!r}")
        frames_last = channels_first(audio)
        if not np.all(np.isfinite(frames_last)):
            raise UserInputError("input audio holds NaN or inf samples")
        if self.at_rate(sample_rate) is not self:
            return self.at_rate(sample_rate).enhance(audio, sample_rate)
        channels = frames_last.reshape(-1, frames_last.shape[-1])
        n = channels.shape[-1]
        at_model_rate = resample(channels, int(sample_rate), self.sample_rate)
        enhanced = self._enhance_channels(at_model_rate)
        back = resample(enhanced, self.sample_rate, int(sample_rate))
        if back.shape[-1] < n:
            back = np.pad(back, ((0, 0), (0, n - back.shape[-1])))
        back = back[:, :n].reshape(frames_last.shape).astype(np.float32)
        return back if frames_last is audio else np.ascontiguousarray(back.T)

    def enhance_file(self, in_path: str | os.PathLike, out_path: str | os.PathLike) -> Path:
        """Enhance one file of any libsndfile format into ``out_path``, streamed with bounded memory.

        The output keeps the input's rate and channel count; see ``inference.streaming.enhance_file``.
        A V3 model runs at the file's own rate.
        """
        from tfgridnet.audio.io import audio_info
        from tfgridnet.inference.streaming import enhance_file

        file_rate = int(audio_info(in_path).samplerate)
        return enhance_file(self.at_rate(file_rate), in_path, out_path)
