"""Audio file I/O: read any libsndfile format as float32 ``[N]``/``[C, N]``, write atomically.

Arrays are channel-first (``[C, N]``) everywhere in tfgridnet; soundfile's ``(frames, channels)``
layout is transposed here and nowhere else.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import soundfile as sf

from tfgridnet.audio.resample import resample
from tfgridnet.errors import UserInputError
from tfgridnet.fileio import atomic_path

__all__ = ["AUDIO_SUFFIXES", "AudioError", "MONO_POLICIES", "load_audio", "save_audio",
           "audio_info", "to_mono", "decoder_reason"]

# File name endings taken as audio where a folder is searched or a path is checked.
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".aiff", ".aif", ".mp3", ".opus", ".w64", ".caf", ".au")
MONO_POLICIES = ("average", "first", "error", "keep")


class AudioError(UserInputError, ValueError):
    """An audio file is missing, unreadable or not what the caller asked for (path in the message)."""


def decoder_reason(exc: BaseException) -> str:
    """libsndfile's reason without its own copy of the path ("Error opening 'x.wav': ..."),
    so messages that already start with the path say it once."""
    return re.sub(r"^Error opening .*?: ", "", str(exc)).strip() or type(exc).__name__


def audio_info(path: str | os.PathLike) -> sf._SoundFileInfo:
    """Header of an audio file (rate, channels, frames) without decoding it."""
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"{path}: audio file not found")
    try:
        return sf.info(str(path))
    except (RuntimeError, sf.LibsndfileError) as exc:
        raise AudioError(f"{path}: unreadable audio file ({decoder_reason(exc)})") from exc


def to_mono(audio: np.ndarray, policy: str = "average", source: str = "audio") -> np.ndarray:
    """Reduce ``[C, N]`` to ``[N]`` by an explicit policy; ``[N]`` passes through."""
    if policy not in MONO_POLICIES:
        raise UserInputError(f"mono policy must be one of {MONO_POLICIES}, got {policy!r}")
    if audio.ndim == 1 or policy == "keep":
        return audio
    if audio.shape[0] == 1:
        return audio[0]
    if policy == "error":
        raise AudioError(f"{source}: expected mono audio, got {audio.shape[0]} channels "
                         "(choose mono='average' or 'first' to downmix)")
    if policy == "first":
        return audio[0]
    return audio.mean(axis=0)


def load_audio(path: str | os.PathLike, target_sr: int | None = None,
               mono: str = "average") -> tuple[np.ndarray, int]:
    """Read any libsndfile format as float32; ``[N]`` for mono policies, ``[C, N]`` for ``"keep"``.

    With ``target_sr`` the audio is resampled with soxr (HQ) and ``target_sr`` is returned.
    """
    if mono not in MONO_POLICIES:
        raise UserInputError(f"mono policy must be one of {MONO_POLICIES}, got {mono!r}")
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"{path}: audio file not found")
    try:
        data, sample_rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, sf.LibsndfileError, ValueError, EOFError) as exc:
        raise AudioError(f"{path}: unreadable audio file ({decoder_reason(exc)})") from exc
    if data.shape[0] == 0:
        raise AudioError(f"{path}: audio file holds no samples")
    audio = np.ascontiguousarray(data.T)  # soundfile gives (frames, channels); we use [C, N]
    audio = to_mono(audio, mono, source=str(path))
    if target_sr is not None and target_sr != sample_rate:
        audio = resample(audio, sample_rate, target_sr)
        sample_rate = target_sr
    return audio.astype(np.float32, copy=False), int(sample_rate)


def save_audio(path: str | os.PathLike, audio: np.ndarray, sample_rate: int,
               subtype: str = "PCM_16") -> Path:
    """Write ``[N]`` or ``[C, N]`` atomically; PCM output is clipped to [-1, 1] (no wrap-around)."""
    audio = np.asarray(audio)
    if audio.ndim not in (1, 2):
        raise ValueError(f"{path}: expected audio of shape [N] or [C, N], got {audio.shape}")
    if not np.all(np.isfinite(audio)):
        raise ValueError(f"{path}: refusing to write audio with NaN/inf samples")
    data = audio.T if audio.ndim == 2 else audio
    if subtype.upper().startswith("PCM"):
        data = np.clip(data, -1.0, 1.0)
    data = np.ascontiguousarray(data, dtype=np.float32 if "FLOAT" in subtype.upper() else np.float64)
    target = Path(path)
    with atomic_path(target) as tmp:
        fmt = target.suffix.lstrip(".").upper() or "WAV"
        sf.write(str(tmp), data, int(sample_rate), subtype=subtype, format=fmt)
    return target
