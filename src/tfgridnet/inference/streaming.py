"""Streaming file enhancement and input expansion: files, folders and globs in, one WAV out each.

A file is read block by block, resampled to the model's rate and back with streaming soxr
resamplers, enhanced by the ``ChunkScheduler`` and written into a temporary file that replaces the
output only once complete, so memory does not grow with the length of the recording. The level
gain of each channel is that of the whole recording (as ``evaluate`` gives one utterance), known
only after its last chunk: until then the raw model output waits in an anonymous temporary file
beside the output (float32 at the model's rate: 230 MB per channel-hour at 16 kHz).
"""

from __future__ import annotations

import glob
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

import numpy as np
import soundfile as sf
import soxr

from tfgridnet.audio.io import AudioError, audio_info, decoder_reason
from tfgridnet.errors import UserInputError
from tfgridnet.fileio import atomic_path
from tfgridnet.inference.chunking import ChunkedModel, ChunkScheduler

__all__ = ["enhance_file", "expand_inputs"]

# Subtypes kept as they are; anything else (MP3, OGG, 8-bit...) is written as 16-bit PCM WAV.
_KEPT_SUBTYPES = ("PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE")


class StreamedModel(ChunkedModel, Protocol):
    """A ``ChunkedModel`` with its rate and the passes it runs at once (an ``Enhancer``)."""

    sample_rate: int
    workers: int


def enhance_file(enhancer: StreamedModel, in_path: str | os.PathLike,
                 out_path: str | os.PathLike) -> Path:
    """Read any libsndfile format, write the enhanced audio with the same rate and channels.

    The file is streamed: read in blocks of one hop per pass in flight (``enhancer.workers``),
    resampled to the model's rate and back with streaming resamplers, enhanced chunk by chunk and
    written block by block into a temporary file that replaces ``out_path`` only once complete.
    Memory use is bounded by a few chunks, whatever the length of the file; the result equals
    ``enhance`` on the whole file. With level correction on, the raw output waits in a
    :class:`_RawSpool` until the whole file's gains are known, then is read back through them.
    """
    in_path, out_path = Path(in_path), Path(out_path)
    info = audio_info(in_path)
    subtype = info.subtype
    if out_path.suffix.lower() not in (".wav", ".flac") or subtype not in _KEPT_SUBTYPES:
        subtype = "PCM_16"
    if out_path.suffix.lower() == ".flac" and subtype in ("PCM_32", "FLOAT", "DOUBLE"):
        subtype = "PCM_24"
    file_rate, n_channels = int(info.samplerate), int(info.channels)
    # One hop per pass in flight: each block then completes ``workers`` chunks to run side by side.
    hop = (enhancer.chunk - enhancer.overlap) * enhancer.workers
    block = max(1, int(np.ceil(hop * file_rate / enhancer.sample_rate)))
    to_model = _Resampler(file_rate, enhancer.sample_rate, n_channels)
    from_model = _Resampler(enhancer.sample_rate, file_rate, n_channels)
    scheduler = ChunkScheduler(enhancer, n_channels)
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
        raise AudioError(f"{in_path}: unreadable audio file ({decoder_reason(exc)})") from exc
    level = scheduler.level
    with source, atomic_path(out_path) as tmp, sf.SoundFile(
            str(tmp), "w", samplerate=file_rate, channels=n_channels, subtype=subtype,
            format=fmt) as sink, _RawSpool(n_channels, out_path.parent,
                                           enhancer.level.enabled) as spool:
        while True:
            data = source.read(block, dtype="float32", always_2d=True)
            if data.shape[0] == 0:
                break
            if not np.all(np.isfinite(data)):
                raise UserInputError("input audio holds NaN or inf samples")
            frames_read += data.shape[0]
            for raw in spool.put(scheduler.push(to_model(np.ascontiguousarray(data.T)))):
                write(sink, level.correct(raw))
        if frames_read == 0:
            raise AudioError(f"{in_path}: audio file holds no samples")
        last = scheduler.finish(to_model(np.zeros((n_channels, 0), np.float32), True))
        for raw in [*spool.put(last), *spool.read_back(hop)]:  # the gains are known now
            write(sink, level.correct(raw))
        write(sink, level.flush(), last=True)
        if written < frames_read:
            sink.write(np.zeros((frames_read - written, n_channels), dtype=out_dtype))
    return out_path


class _RawSpool:
    """Where the raw output of a file waits while its level gains are unknown: an anonymous
    temporary file beside the output (float32 frames), removed when closed and, being already
    unlinked, when the process dies. With level correction off, blocks pass straight through."""

    def __init__(self, channels: int, folder: Path, needed: bool) -> None:
        self.channels = channels
        self.file = tempfile.TemporaryFile(dir=folder, prefix=".tfgridnet-spool-") \
            if needed else None

    def __enter__(self) -> _RawSpool:
        return self

    def __exit__(self, *exc_info) -> None:
        if self.file is not None:
            self.file.close()

    def put(self, raw: np.ndarray) -> list[np.ndarray]:
        """Keep ``[C, m]`` raw samples; returns what may be corrected now (all of it when
        nothing waits for the gains, else nothing)."""
        if self.file is None:
            return [raw]
        self.file.write(np.ascontiguousarray(raw.T, dtype=np.float32).tobytes())
        return []

    def read_back(self, frames: int) -> Iterable[np.ndarray]:
        """The kept samples in order, ``[C, <= frames]`` at a time."""
        if self.file is None:
            return
        self.file.flush()
        self.file.seek(0)
        while data := self.file.read(max(1, frames) * self.channels * 4):
            yield np.frombuffer(data, dtype=np.float32).reshape(-1, self.channels).T


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


def _is_audio(path: Path) -> bool:
    return path.suffix.lstrip(".").upper() in sf.available_formats() or path.suffix.lower() in (
        ".mp3", ".opus")


def expand_inputs(inputs: Iterable[str],
                  exclude: Path | None = None) -> list[tuple[Path, Path]]:
    """Files, folders (searched recursively) and globs -> ``(input, relative output path)``.

    Folder searches skip ``exclude`` (the output folder) when it lies strictly inside the
    searched folder, so a previous run's outputs there are not taken as inputs.
    """
    skipped = exclude.resolve() if exclude is not None else None

    def wanted(p: Path, root: Path | None = None) -> bool:
        inside = root is not None and skipped is not None and skipped != root.resolve() \
            and skipped in p.resolve().parents
        return p.is_file() and _is_audio(p) and not inside

    found: list[tuple[Path, Path]] = []
    for spec in inputs:
        path = Path(spec)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if wanted(p, path))
            if not files:
                raise UserInputError(f"{path}: folder holds no audio files")
            found += [(p, p.relative_to(path).with_suffix(".wav")) for p in files]
        elif path.is_file():
            found.append((path, Path(path.name).with_suffix(".wav")))
        elif glob.has_magic(spec):
            matches = sorted(Path(p) for p in glob.glob(spec, recursive=True) if wanted(Path(p)))
            if not matches:
                raise UserInputError(f"{spec}: pattern matches no audio files")
            found += [(p, Path(p.name).with_suffix(".wav")) for p in matches]
        else:
            raise UserInputError(f"{spec}: no such file, folder or pattern")
    seen: dict[Path, Path] = {}
    for source, relative in found:
        if relative in seen and seen[relative] != source:
            raise UserInputError(f"{source} and {seen[relative]} would both be written to {relative}; "
                             "enhance them in separate runs or pass their folder instead")
        seen[relative] = source
    return [(source, relative) for relative, source in seen.items()]
