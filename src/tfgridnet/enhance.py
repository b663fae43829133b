"""Enhance any file or array: resample to the model's rate and back, each channel on its own,
long signals in overlapping chunks cross-faded with raised-cosine ramps.

The model only ever sees one chunk (``chunk_seconds``) at a time, so its memory use does not grow
with the length of the recording.
"""

from __future__ import annotations

import glob
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from tfgridnet.audio import load_audio, resample, save_audio

__all__ = ["Enhancer", "enhance_cli", "expand_inputs", "crossfade_weights", "pick_device"]

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


class Enhancer:
    """A loaded model plus the chunking policy. ``enhance(array, sr)`` keeps shape and rate."""

    def __init__(self, model: torch.nn.Module, sample_rate: int | None = None,
                 device: str | torch.device | None = None, chunk_seconds: float = 8.0,
                 overlap_seconds: float = 1.0, chunks_per_batch: int | None = None) -> None:
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
        self.device = pick_device(device)
        self.model = model.to(self.device).eval()
        self.sample_rate = sample_rate
        self.chunk = int(round(chunk_seconds * sample_rate))
        self.overlap = int(round(overlap_seconds * sample_rate))
        self.chunks_per_batch = chunks_per_batch or (8 if self.device.type == "cuda" else 1)

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike, device: str | torch.device | None = None,
                        **kwargs) -> Enhancer:
        """Load an exported dir, run dir or checkpoint (never unpickling code)."""
        from tfgridnet.model.io import load_model

        return cls(load_model(path), device=device, **kwargs)

    @torch.inference_mode()
    def forward_batch(self, batch: np.ndarray) -> np.ndarray:
        """One model pass over equal-length mono signals ``[B, N]`` at the model's rate."""
        x = torch.as_tensor(np.ascontiguousarray(batch, dtype=np.float32), device=self.device)
        out = self.model(x)
        return out.float().cpu().numpy()

    def enhance_mono(self, audio: np.ndarray) -> np.ndarray:
        """Enhance ``[N]`` at the model's rate: one pass when it fits a chunk, else overlap-add."""
        audio = np.asarray(audio, dtype=np.float32)
        n = audio.shape[-1]
        if n <= self.chunk:
            return self.forward_batch(audio[None])[0]
        hop = self.chunk - self.overlap
        starts = list(range(0, n - self.chunk, hop)) + [n - self.chunk]  # last chunk ends at n
        out = np.zeros(n, dtype=np.float64)
        weight_sum = np.zeros(n, dtype=np.float64)
        for first in range(0, len(starts), self.chunks_per_batch):
            group = starts[first:first + self.chunks_per_batch]
            enhanced = self.forward_batch(np.stack([audio[s:s + self.chunk] for s in group]))
            for start, chunk_out in zip(group, enhanced):
                previous_end = starts[starts.index(start) - 1] + self.chunk if start else 0
                fade_in = min(self.overlap, max(previous_end - start, 0)) if start else 0
                fade_out = self.overlap if start + self.chunk < n else 0
                weights = crossfade_weights(self.chunk, fade_in, fade_out)
                out[start:start + self.chunk] += weights * chunk_out
                weight_sum[start:start + self.chunk] += weights
        return (out / weight_sum).astype(np.float32)

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
        enhanced = np.stack([self.enhance_mono(channel) for channel in at_model_rate])
        back = resample(enhanced, self.sample_rate, sample_rate)
        if back.shape[-1] < n:
            back = np.pad(back, ((0, 0), (0, n - back.shape[-1])))
        return back[:, :n].reshape(audio.shape).astype(np.float32)

    def enhance_file(self, in_path: str | os.PathLike, out_path: str | os.PathLike) -> Path:
        """Read any libsndfile format, write the enhanced audio with the same rate and channels."""
        in_path, out_path = Path(in_path), Path(out_path)
        audio, sample_rate = load_audio(in_path, mono="keep")
        subtype = sf.info(str(in_path)).subtype
        enhanced = self.enhance(audio, sample_rate)
        if out_path.suffix.lower() not in (".wav", ".flac") or subtype not in _KEPT_SUBTYPES:
            subtype = "PCM_16"
        if out_path.suffix.lower() == ".flac" and subtype in ("PCM_32", "FLOAT", "DOUBLE"):
            subtype = "PCM_24"
        return save_audio(out_path, enhanced, sample_rate, subtype=subtype)


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
                overlap_seconds: float = 1.0, device: str | None = None) -> int:
    """`tfgridnet enhance`: 0 when every file was enhanced, 1 when some failed."""
    from rich.progress import Progress

    jobs = expand_inputs(inputs)
    enhancer = Enhancer.from_pretrained(model, device=device, chunk_seconds=chunk_seconds,
                                        overlap_seconds=overlap_seconds)
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
          f"(model rate {enhancer.sample_rate} Hz, device {enhancer.device})")
    for failure in failures:
        print(f"failed: {failure}", file=sys.stderr)
    return 1 if failures else 0
