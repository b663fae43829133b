"""Audio I/O and the pair-safe signal operations (resample, band-pass, normalise).

Everything here works along the *last* axis so a ``[C, N]`` array is never resampled or filtered
across its channels (the silent ``librosa.resample`` on a ``(frames, 2)`` array bug). Pair helpers
apply ONE gain to both sides so SI-SNR(noisy, clean) is unchanged.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from scipy import signal

from tfgridnet.fileio import atomic_path

__all__ = [
    "AudioError", "MONO_POLICIES", "decoder_reason", "load_audio", "save_audio", "audio_info", "resample",
    "bandpass", "to_mono", "peak_normalise_pair", "loudness_normalise_pair", "rms_dbfs",
]

MONO_POLICIES = ("average", "first", "error", "keep")
_EPS = 1e-12


class AudioError(ValueError):
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
        raise ValueError(f"mono policy must be one of {MONO_POLICIES}, got {policy!r}")
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
        raise ValueError(f"mono policy must be one of {MONO_POLICIES}, got {mono!r}")
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


def resample(audio: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Resample along the last axis with soxr "HQ" (librosa's default engine)."""
    if orig_sr <= 0 or target_sr <= 0:
        raise ValueError(f"sample rates must be positive, got {orig_sr} -> {target_sr}")
    audio = np.asarray(audio)
    if orig_sr == target_sr:
        return audio
    dtype = audio.dtype if audio.dtype in (np.float32, np.float64) else np.float32
    if audio.ndim == 1:
        return soxr.resample(audio.astype(dtype, copy=False), orig_sr, target_sr, quality="HQ")
    flat = audio.reshape(-1, audio.shape[-1]).astype(dtype, copy=False)
    # soxr wants (frames, channels): transpose so channels stay channels.
    out = soxr.resample(np.ascontiguousarray(flat.T), orig_sr, target_sr, quality="HQ").T
    return np.ascontiguousarray(out).reshape(*audio.shape[:-1], out.shape[-1])


def bandpass(audio: np.ndarray, sample_rate: int, low_hz: float | None, high_hz: float | None,
             order: int = 8) -> np.ndarray:
    """Zero-phase Butterworth band-pass (or low/high-pass) as second-order sections.

    ``sosfiltfilt`` doubles the effective order and has no group delay, so a pair filtered on
    both sides stays aligned; the SOS form is stable where ``(b, a)`` is not (order 8 at 48 kHz).
    """
    nyquist = sample_rate / 2.0
    low = low_hz if low_hz is not None and low_hz > 0 else None
    high = high_hz if high_hz is not None and high_hz < nyquist else None
    if low is not None and high is not None and low >= high:
        raise ValueError(f"bandpass: low_hz {low_hz} must be below high_hz {high_hz}")
    if low is None and high is None:
        return np.asarray(audio)
    if low is not None and high is not None:
        sos = signal.butter(order, [low, high], btype="bandpass", fs=sample_rate, output="sos")
    elif low is not None:
        sos = signal.butter(order, low, btype="highpass", fs=sample_rate, output="sos")
    else:
        sos = signal.butter(order, high, btype="lowpass", fs=sample_rate, output="sos")
    audio = np.asarray(audio)
    out = signal.sosfiltfilt(sos, audio, axis=-1)
    dtype = audio.dtype if audio.dtype in (np.float32, np.float64) else np.float32
    return np.ascontiguousarray(out, dtype=dtype)  # filtfilt leaves negative strides


def rms_dbfs(audio: np.ndarray) -> float:
    """RMS level in dB relative to full scale (a full-scale sine is -3 dBFS)."""
    audio = np.asarray(audio, dtype=np.float64)
    return float(10.0 * np.log10(np.mean(audio * audio) + _EPS))


def peak_normalise_pair(noisy: np.ndarray, clean: np.ndarray,
                        peak: float = 0.9) -> tuple[np.ndarray, np.ndarray, float]:
    """Scale both sides by one gain so the louder peak of the pair becomes ``peak``."""
    current = max(float(np.max(np.abs(noisy), initial=0.0)), float(np.max(np.abs(clean), initial=0.0)))
    gain = peak / current if current > _EPS else 1.0
    return noisy * np.asarray(gain, noisy.dtype), clean * np.asarray(gain, clean.dtype), gain


def loudness_normalise_pair(noisy: np.ndarray, clean: np.ndarray,
                            target_dbfs: float = -25.0) -> tuple[np.ndarray, np.ndarray, float]:
    """Scale both sides by one gain so the noisy side's RMS sits at ``target_dbfs``."""
    level = rms_dbfs(noisy)
    gain = 10.0 ** ((target_dbfs - level) / 20.0) if level > 10 * np.log10(_EPS) + 1 else 1.0
    return noisy * np.asarray(gain, noisy.dtype), clean * np.asarray(gain, clean.dtype), gain
