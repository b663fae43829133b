"""Enhance any file or array: resample to the model's rate and back, each channel on its own,
long signals in overlapping chunks cross-faded with raised-cosine ramps.

The model only ever sees one chunk (``chunk_seconds``) at a time, and ``Enhancer.enhance_file``
streams the file (read, resample, enhance, resample back, write, one block at a time), so memory use
does not grow with the length of the recording.
"""

from __future__ import annotations

import glob
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import soundfile as sf
import soxr
import torch

from tfgridnet.audio import AudioError, audio_info, resample
from tfgridnet.fileio import atomic_path
from tfgridnet.inference.precision import PRECISIONS, resolve_precision

if TYPE_CHECKING:
    from tfgridnet.inference.onnx_backend import OnnxModel

__all__ = [
    "Enhancer", "ChunkScheduler", "enhance_cli", "expand_inputs", "crossfade_weights", "pick_device",
]

# Subtypes kept as they are; anything else (MP3, OGG, 8-bit...) is written as 16-bit PCM WAV.
_KEPT_SUBTYPES = ("PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE")


def pick_device(device: str | torch.device | None) -> torch.device:
    """``None`` means CUDA when present, else CPU; a CUDA request without a GPU is an error."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device} requested but no CUDA GPU is available (use --device cpu)")
    return device


def crossfade_weights(length: int, fade_in: int, fade_out: int) -> np.ndarray:
    """Per-sample weight of one chunk: raised-cosine ramps at the overlapped edges, 1 elsewhere.

    Ramps are strictly positive, so the accumulated weight never vanishes; the overlap-add divides
    by it, which makes the cross-fade exact (sums to one) whatever the overlap.
    """
    weights = np.ones(length, dtype=np.float64)
    if fade_in:
        weights[:fade_in] = np.sin(0.5 * np.pi * (np.arange(fade_in) + 0.5) / fade_in) ** 2
    if fade_out:
        weights[length - fade_out:] *= np.cos(
            0.5 * np.pi * (np.arange(fade_out) + 0.5) / fade_out) ** 2
    return weights


BACKENDS = ("torch", "onnx")


class Enhancer:
    """A loaded model plus the chunking policy. ``enhance(array, sr)`` keeps shape and rate.

    ``backend="torch"`` runs a ``torch.nn.Module``; ``backend="onnx"`` runs an
    :class:`~tfgridnet.inference.onnx_backend.OnnxModel` (onnxruntime, CPU, fp32). Both sit behind
    ``forward_batch``, the one call the chunk scheduler makes.
    """

    def __init__(self, model: torch.nn.Module | OnnxModel, sample_rate: int | None = None,
                 device: str | torch.device | None = None, chunk_seconds: float = 8.0,
                 overlap_seconds: float = 1.0, chunks_per_batch: int | None = None,
                 precision: str = "auto", backend: str = "torch") -> None:
        sample_rate = sample_rate if sample_rate is not None else getattr(model, "sample_rate", None)
        if not isinstance(sample_rate, int) or sample_rate <= 0:
            raise ValueError("Enhancer: the model's sample rate is unknown; pass sample_rate=")
        if getattr(model, "n_srcs", 1) != 1:
            raise ValueError(f"Enhancer: the model separates {model.n_srcs} sources; enhancement "
                             "needs a single-output model (n_srcs=1)")
        if getattr(model, "n_imics", 1) != 1:
            raise ValueError("Enhancer: multi-microphone models are not supported here "
                             f"(n_imics={model.n_imics}); each channel is enhanced on its own")
        if chunk_seconds <= 0 or overlap_seconds < 0 or overlap_seconds >= chunk_seconds:
            raise ValueError(f"Enhancer: need chunk_seconds > overlap_seconds >= 0, got "
                             f"chunk_seconds={chunk_seconds}, overlap_seconds={overlap_seconds}")
        if precision not in PRECISIONS:
            raise ValueError(f"Enhancer: precision={precision!r}, expected one of {PRECISIONS}")
        if backend not in BACKENDS:
            raise ValueError(f"Enhancer: backend={backend!r}, expected one of {BACKENDS}")
        if (backend == "torch") != isinstance(model, torch.nn.Module):
            raise ValueError(f"Enhancer: backend={backend!r} needs "
                             f"{'a torch.nn.Module' if backend == 'torch' else 'an OnnxModel'}, "
                             f"got {type(model).__name__}")
        self.backend = backend
        self.device = pick_device(device if backend == "torch" else device or "cpu")
        if backend == "onnx" and self.device.type != "cpu":
            raise ValueError(f"Enhancer: backend='onnx' runs on the CPU, got device {self.device}")
        self.precision = resolve_precision(precision, self.device.type, backend)
        self.model = model.to(self.device).eval() if backend == "torch" else model
        self.sample_rate = sample_rate
        self.chunk = int(round(chunk_seconds * sample_rate))
        self.overlap = int(round(overlap_seconds * sample_rate))
        self.chunks_per_batch = chunks_per_batch or (8 if self.device.type == "cuda" else 1)

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike, device: str | torch.device | None = None,
                        backend: str = "torch", **kwargs) -> Enhancer:
        """Load an exported dir, run dir or checkpoint (never unpickling code); with
        ``backend="onnx"``, the ``model.onnx`` of an exported dir (or that file)."""
        if backend == "onnx":
            from tfgridnet.inference.onnx_backend import OnnxModel

            return cls(OnnxModel(path), device=device, backend=backend, **kwargs)
        from tfgridnet.model.io import load_model

        return cls(load_model(path), device=device, backend=backend, **kwargs)

    def forward_batch(self, batch: np.ndarray) -> np.ndarray:
        """One model pass over equal-length mono signals ``[B, N]`` at the model's rate."""
        if self.backend == "onnx":
            return self.model(batch)
        return self._forward_torch(batch)

    @torch.inference_mode()
    def _forward_torch(self, batch: np.ndarray) -> np.ndarray:
        x = torch.as_tensor(np.ascontiguousarray(batch, dtype=np.float32), device=self.device)
        # bf16 autocast: the STFT/iSTFT and norm statistics stay float32 inside the model. On a
        # 2-core CPU it takes the seed model from RTF 0.84 to 0.50 at 33.6 dB SI-SNR agreement with
        # the fp32 output (bench/RESULTS.md); ``precision="auto"`` picks it only on CPUs with
        # native bf16 (tfgridnet.inference.precision).
        with torch.autocast(self.device.type, dtype=torch.bfloat16,
                            enabled=self.precision == "bf16"):
            out = self.model(x)
        return out.float().cpu().numpy()

    def enhance_mono(self, audio: np.ndarray) -> np.ndarray:
        """Enhance ``[N]`` at the model's rate: one pass when it fits a chunk, else overlap-add."""
        return self._enhance_channels(np.asarray(audio, dtype=np.float32)[None])[0]

    def _enhance_channels(self, channels: np.ndarray) -> np.ndarray:
        """Enhance ``[C, N]`` at the model's rate in one go (same scheduler as the file stream)."""
        scheduler = ChunkScheduler(self, channels.shape[0])
        return np.concatenate([scheduler.push(channels), scheduler.finish()], axis=-1)

    def enhance(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """Enhance ``[N]`` or ``[C, N]`` at any rate; returns the same shape at the same rate."""
        audio = np.asarray(audio)
        if audio.ndim not in (1, 2) or audio.shape[-1] == 0:
            raise ValueError(f"expected audio of shape [N] or [C, N] with N > 0, got {audio.shape}")
        if not np.all(np.isfinite(audio)):
            raise ValueError("input audio holds NaN or inf samples")
        channels = audio.reshape(-1, audio.shape[-1]).astype(np.float32)
        n = channels.shape[-1]
        at_model_rate = resample(channels, sample_rate, self.sample_rate)
        enhanced = self._enhance_channels(at_model_rate)
        back = resample(enhanced, self.sample_rate, sample_rate)
        if back.shape[-1] < n:
            back = np.pad(back, ((0, 0), (0, n - back.shape[-1])))
        return back[:, :n].reshape(audio.shape).astype(np.float32)

    def enhance_file(self, in_path: str | os.PathLike, out_path: str | os.PathLike) -> Path:
        """Read any libsndfile format, write the enhanced audio with the same rate and channels.

        The file is streamed: read in blocks of one hop, resampled to the model's rate and back
        with streaming resamplers, enhanced chunk by chunk and written block by block into a
        temporary file that replaces ``out_path`` only once complete. Memory use is bounded by
        the chunk size, whatever the length of the file; the result equals ``enhance`` on the
        whole file.
        """
        in_path, out_path = Path(in_path), Path(out_path)
        info = audio_info(in_path)
        subtype = info.subtype
        if out_path.suffix.lower() not in (".wav", ".flac") or subtype not in _KEPT_SUBTYPES:
            subtype = "PCM_16"
        if out_path.suffix.lower() == ".flac" and subtype in ("PCM_32", "FLOAT", "DOUBLE"):
            subtype = "PCM_24"
        file_rate, n_channels = int(info.samplerate), int(info.channels)
        hop = self.chunk - self.overlap
        block = max(1, int(np.ceil(hop * file_rate / self.sample_rate)))
        to_model = _Resampler(file_rate, self.sample_rate, n_channels)
        from_model = _Resampler(self.sample_rate, file_rate, n_channels)
        scheduler = ChunkScheduler(self, n_channels)
        out_dtype = np.float32 if "FLOAT" in subtype else np.float64
        fmt = out_path.suffix.lstrip(".").upper() or "WAV"
        frames_read = written = 0

        def write(sink: sf.SoundFile, enhanced: np.ndarray, last: bool = False) -> None:
            nonlocal written
            back = from_model(enhanced, last)
            if not np.all(np.isfinite(back)):
                raise ValueError(f"{out_path}: refusing to write audio with NaN/inf samples")
            back = back[:, :frames_read - written]  # never past the input's length
            if subtype.startswith("PCM"):
                back = np.clip(back, -1.0, 1.0)
            sink.write(np.ascontiguousarray(back.T, dtype=out_dtype))
            written += back.shape[-1]

        try:
            source = sf.SoundFile(str(in_path))
        except (RuntimeError, sf.LibsndfileError, ValueError, EOFError) as exc:
            raise AudioError(f"{in_path}: unreadable audio file ({exc})") from exc
        with source, atomic_path(out_path) as tmp, sf.SoundFile(
                str(tmp), "w", samplerate=file_rate, channels=n_channels, subtype=subtype,
                format=fmt) as sink:
            while True:
                data = source.read(block, dtype="float32", always_2d=True)
                if data.shape[0] == 0:
                    break
                if not np.all(np.isfinite(data)):
                    raise ValueError("input audio holds NaN or inf samples")
                frames_read += data.shape[0]
                write(sink, scheduler.push(to_model(np.ascontiguousarray(data.T))))
            if frames_read == 0:
                raise AudioError(f"{in_path}: audio file holds no samples")
            write(sink, scheduler.finish(to_model(np.zeros((n_channels, 0), np.float32), True)),
                  last=True)
            if written < frames_read:
                sink.write(np.zeros((frames_read - written, n_channels), dtype=out_dtype))
        return out_path


class _Resampler:
    """Streaming soxr "HQ" resampler on ``[C, m]`` blocks; bit-identical to ``resample`` on the
    concatenation once flushed with ``last=True``. Equal rates pass blocks through."""

    def __init__(self, in_rate: int, out_rate: int, channels: int) -> None:
        self.stream = None if in_rate == out_rate else soxr.ResampleStream(
            in_rate, out_rate, channels, dtype="float32", quality="HQ")

    def __call__(self, block: np.ndarray, last: bool = False) -> np.ndarray:
        block = np.asarray(block, dtype=np.float32)
        if self.stream is None:
            return block
        out = self.stream.resample_chunk(np.ascontiguousarray(block.T), last=last)
        return np.ascontiguousarray(np.asarray(out, dtype=np.float32).reshape(-1, block.shape[0]).T)


class ChunkScheduler:
    """Chunking and overlap-add of ``[C, N]`` audio at the model's rate, fed block by block.

    Chunk starts are ``0, hop, 2*hop, ...`` while a chunk ends before the signal does, then one
    last chunk ending exactly at the end; each chunk is weighted by ``crossfade_weights`` and the
    sum divided by the summed weights. A signal no longer than one chunk is a single pass. Each
    ``push`` returns the samples that no later chunk can touch, so only about one chunk of input
    and output is held, however long the stream. Pushing everything at once and calling
    ``finish`` is the in-memory path.
    """

    def __init__(self, enhancer: Enhancer, channels: int) -> None:
        self.enhancer = enhancer
        self.chunk, self.overlap = enhancer.chunk, enhancer.overlap
        self.hop = self.chunk - self.overlap
        self.inputs = np.zeros((channels, 0), dtype=np.float32)  # samples [base, total)
        self.acc = np.zeros((channels, 0), dtype=np.float64)
        self.weight_sum = np.zeros(0, dtype=np.float64)
        self.base = 0  # absolute index of the first buffered sample
        self.total = 0  # samples received so far
        self.next_start = 0  # next regular chunk start
        self.previous_end = 0  # end of the last chunk run

    def push(self, block: np.ndarray) -> np.ndarray:
        """Add ``[C, m]`` samples; return the enhanced samples now final (maybe none)."""
        block = np.asarray(block, dtype=np.float32)
        if block.shape[-1]:
            self.inputs = np.concatenate([self.inputs, block], axis=-1)
            self.acc = np.concatenate([self.acc, np.zeros(block.shape, np.float64)], axis=-1)
            self.weight_sum = np.concatenate([self.weight_sum, np.zeros(block.shape[-1])])
            self.total += block.shape[-1]
        starts = []
        while self.next_start + self.chunk < self.total:  # a later chunk will follow this one
            starts.append(self.next_start)
            self.next_start += self.hop
        self._run(starts, self.chunk, last=False)
        # Every later chunk starts at or after total - chunk, and all before it has been summed.
        return self._release(max(self.total - self.chunk, self.base))

    def finish(self, block: np.ndarray | None = None) -> np.ndarray:
        """End of stream (optionally with a last block): return all remaining enhanced samples."""
        out = [] if block is None else [self.push(block)]
        if self.total > self.chunk:
            self._run([self.total - self.chunk], self.chunk, last=True)
        elif self.total:
            self._run([0], self.total, last=True)  # fits one chunk: one pass, weights all 1
        out.append(self._release(self.total))
        return np.concatenate(out, axis=-1) if len(out) > 1 else out[0]

    def _run(self, starts: list[int], length: int, last: bool) -> None:
        """Run the model over ``starts`` (all channels), ``chunks_per_batch`` rows a pass."""
        if not starts:
            return
        rows = []  # (start, channel, weights): one model input row each
        for start in starts:
            fade_in = min(self.overlap, max(self.previous_end - start, 0)) if start else 0
            weights = crossfade_weights(length, fade_in, 0 if last else self.overlap)
            self.weight_sum[start - self.base:start - self.base + length] += weights
            self.previous_end = start + length
            rows += [(start, c, weights) for c in range(self.inputs.shape[0])]
        step = self.enhancer.chunks_per_batch
        for first in range(0, len(rows), step):
            group = rows[first:first + step]
            enhanced = self.enhancer.forward_batch(np.stack(
                [self.inputs[c, s - self.base:s - self.base + length] for s, c, _ in group]))
            for (start, c, weights), chunk_out in zip(group, enhanced):
                self.acc[c, start - self.base:start - self.base + length] += weights * chunk_out

    def _release(self, upto: int) -> np.ndarray:
        """Return the finished samples ``[base, upto)`` and drop them from the buffers."""
        k = upto - self.base
        out = (self.acc[:, :k] / self.weight_sum[:k]).astype(np.float32)
        self.inputs, self.acc = self.inputs[:, k:], self.acc[:, k:]
        self.weight_sum = self.weight_sum[k:]
        self.base = upto
        return out


def _is_audio(path: Path) -> bool:
    return path.suffix.lstrip(".").upper() in sf.available_formats() or path.suffix.lower() in (
        ".mp3", ".opus")


def expand_inputs(inputs: Iterable[str]) -> list[tuple[Path, Path]]:
    """Files, folders (searched recursively) and globs -> ``(input, relative output path)``."""
    found: list[tuple[Path, Path]] = []
    for spec in inputs:
        path = Path(spec)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and _is_audio(p))
            if not files:
                raise ValueError(f"{path}: folder holds no audio files")
            found += [(p, p.relative_to(path).with_suffix(".wav")) for p in files]
        elif path.is_file():
            found.append((path, Path(path.name).with_suffix(".wav")))
        elif glob.has_magic(spec):
            matches = sorted(Path(p) for p in glob.glob(spec, recursive=True)
                             if Path(p).is_file() and _is_audio(Path(p)))
            if not matches:
                raise ValueError(f"{spec}: pattern matches no audio files")
            found += [(p, Path(p.name).with_suffix(".wav")) for p in matches]
        else:
            raise ValueError(f"{spec}: no such file, folder or pattern")
    seen: dict[Path, Path] = {}
    for source, relative in found:
        if relative in seen and seen[relative] != source:
            raise ValueError(f"{source} and {seen[relative]} would both be written to {relative}; "
                             "enhance them in separate runs or pass their folder instead")
        seen[relative] = source
    return [(source, relative) for relative, source in seen.items()]


def enhance_cli(model: str, inputs: Sequence[str], out_dir: Path, chunk_seconds: float = 8.0,
                overlap_seconds: float = 1.0, device: str | None = None,
                precision: str = "auto", backend: str = "torch") -> int:
    """`tfgridnet enhance`: 0 when every file was enhanced, 1 when some failed."""
    from rich.progress import Progress

    jobs = expand_inputs(inputs)
    enhancer = Enhancer.from_pretrained(model, device=device, chunk_seconds=chunk_seconds,
                                        overlap_seconds=overlap_seconds, precision=precision,
                                        backend=backend)
    failures: list[str] = []
    with Progress(transient=True) as progress:
        task = progress.add_task("enhancing", total=len(jobs))
        for source, relative in jobs:
            try:
                enhancer.enhance_file(source, Path(out_dir) / relative)
            except (ValueError, RuntimeError, OSError) as exc:
                failures.append(f"{source}: {exc}")
            progress.advance(task)
    print(f"enhanced {len(jobs) - len(failures)}/{len(jobs)} files into {out_dir} "
          f"(model rate {enhancer.sample_rate} Hz, {enhancer.backend} backend on "
          f"{enhancer.device}, precision {enhancer.precision})")
    for failure in failures:
        print(f"failed: {failure}", file=sys.stderr)
    return 1 if failures else 0
