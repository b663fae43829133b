"""URGENT-style distortions for dynamic mixing: reverberation, band-limiting, clipping, codecs.

The URGENT challenge baselines are trained on speech that is not only noisy: it may be reverberant,
band-limited (recorded or stored at a lower rate), clipped, or passed through a lossy codec. Each
distortion here is an option with its own probability; what an item received is recorded in its
``conditions`` under ``distortions``, a string (``"reverb=rir:kitchen01;bandlimit=8000;clip=0.07-0.93;codec=mp3"``, or
``"none"``), so results can be broken down by condition later.

* **reverberation** convolves the speech with a measured RIR (a manifest ``uttid,rir``) or one
  simulated with pyroomacoustics (a random shoebox room at a random RT60; a pool per rate is made
  once and reused). As in URGENT, the training target is the speech convolved with the *early* part
  of the RIR (up to ``early_ms`` after the direct path), so the model learns to dereverberate;
* **band-limiting** resamples the noisy mixture down to a random lower rate and back (soxr), which
  removes everything above the lower rate's Nyquist frequency while keeping the item's rate;
* **clipping** clips the noisy mixture at a low and a high quantile of its own samples;
* **codecs** encode and decode the noisy mixture in memory with libsndfile (MP3, Ogg Vorbis, Opus;
  gapless, so the output stays sample-aligned with the target). Opus only at its own rates.

Band-limiting, clipping and codecs touch only the noisy side: the target stays full-band and clean.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import soundfile as sf
from pydantic import BaseModel, ConfigDict, Field, model_validator
from scipy.signal import fftconvolve

from tfgridnet.audio.io import load_audio
from tfgridnet.audio.resample import resample
from tfgridnet.errors import UserInputError

__all__ = ["DistortionConfig", "Distortions", "DistortionDraw", "CODECS", "NO_RIRS", "band_limit",
           "clip", "codec_round_trip", "early_part", "reverberate", "simulate_rir"]

# name -> (libsndfile format, subtype, rates it supports or None for any)
CODECS: dict[str, tuple[str, str, tuple[int, ...] | None]] = {
    "mp3": ("MP3", "MPEG_LAYER_III", (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100,
                                      48000)),
    "vorbis": ("OGG", "VORBIS", None),
    "opus": ("OGG", "OPUS", (8000, 12000, 16000, 24000, 48000)),
}
# Why reverberation cannot be drawn (config validation and Distortions say the same).
NO_RIRS = ("distortions.reverb_prob > 0 needs RIRs: data.train_rir_manifest (measured) or "
           "distortions.simulated_rirs > 0 (simulated rooms, pyroomacoustics)")
# The rates URGENT's simulation band-limits to (each below the item's own rate is a candidate).
URGENT_BANDLIMIT_RATES = (8000, 16000, 22050, 24000, 32000, 44100)


class DistortionConfig(BaseModel):
    """Probabilities and ranges of the dynamic-mixing distortions (all off by default)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    reverb_prob: float = Field(0.0, ge=0, le=1, description="share of items reverberated")
    simulated_rirs: int = Field(
        0, ge=0, description="without data.train_rir_manifest: pyroomacoustics RIRs per rate")
    rt60_range: tuple[float, float] = Field((0.2, 1.0), description="simulated RIRs: RT60 (s)")
    early_ms: float = Field(50.0, ge=0, description="target keeps the RIR up to this after the "
                                                    "direct path")
    bandlimit_prob: float = Field(0.0, ge=0, le=1)
    bandlimit_rates: list[int] = Field(list(URGENT_BANDLIMIT_RATES),
                                       description="lower rates to pass through")
    clip_prob: float = Field(0.0, ge=0, le=1)
    clip_quantiles: tuple[float, float] = Field(
        (0.1, 0.9), description="low quantile drawn in [0, a], high in [b, 1]")
    codec_prob: float = Field(0.0, ge=0, le=1)
    codecs: list[Literal["mp3", "vorbis", "opus"]] = Field(["mp3", "vorbis"])

    @model_validator(mode="after")
    def _consistent(self) -> DistortionConfig:
        low, high = self.rt60_range
        if not 0 < low <= high:
            raise ValueError(f"rt60_range [{low}, {high}]: need 0 < low <= high (seconds)")
        q_low, q_high = self.clip_quantiles
        if not 0 <= q_low < q_high <= 1:
            raise ValueError(f"clip_quantiles [{q_low}, {q_high}]: need 0 <= low < high <= 1")
        if self.codec_prob > 0 and not self.codecs:
            raise ValueError("codec_prob > 0 needs at least one codec in codecs")
        if self.bandlimit_prob > 0 and not self.bandlimit_rates:
            raise ValueError("bandlimit_prob > 0 needs at least one rate in bandlimit_rates")
        return self

    @property
    def active(self) -> bool:
        return any(p > 0 for p in (self.reverb_prob, self.bandlimit_prob, self.clip_prob,
                                   self.codec_prob))


def early_part(rir: np.ndarray, sample_rate: int, early_ms: float) -> np.ndarray:
    """The RIR up to ``early_ms`` after its direct path (its largest peak), zero after."""
    end = int(np.argmax(np.abs(rir))) + int(round(early_ms * sample_rate / 1000)) + 1
    early = np.zeros_like(rir)
    early[:end] = rir[:end]
    return early


def reverberate(speech: np.ndarray, rir: np.ndarray, sample_rate: int,
                early_ms: float) -> tuple[np.ndarray, np.ndarray]:
    """(reverberant speech, early-reverberation target), both as long as ``speech``."""
    n = speech.shape[-1]
    return (fftconvolve(speech, rir)[:n],
            fftconvolve(speech, early_part(rir, sample_rate, early_ms))[:n])


def band_limit(audio: np.ndarray, sample_rate: int, low_rate: int) -> np.ndarray:
    """Down to ``low_rate`` and back (soxr): nothing above low_rate / 2 survives."""
    out = resample(resample(audio.astype(np.float32), sample_rate, low_rate), low_rate,
                   sample_rate).astype(np.float64)
    n = audio.shape[-1]
    return out[:n] if out.shape[-1] >= n else np.pad(out, (0, n - out.shape[-1]))


def clip(audio: np.ndarray, q_low: float, q_high: float) -> np.ndarray:
    """Clip at the ``q_low`` and ``q_high`` quantiles of the signal's own samples."""
    low, high = np.quantile(audio, [q_low, q_high])
    return np.clip(audio, low, high)


def codec_round_trip(audio: np.ndarray, sample_rate: int, codec: str) -> np.ndarray:
    """Encode and decode in memory with libsndfile; same length, sample-aligned."""
    fmt, subtype, rates = CODECS[codec]
    if rates is not None and sample_rate not in rates:
        raise UserInputError(f"codec {codec!r} does not support {sample_rate} Hz (supported: {rates})")
    buffer = io.BytesIO()
    peak = float(np.max(np.abs(audio), initial=0.0))
    scale = 1.0 / peak if peak > 1.0 else 1.0  # lossy formats are float in [-1, 1]
    sf.write(buffer, (audio * scale).astype(np.float32), sample_rate, format=fmt, subtype=subtype)
    buffer.seek(0)
    decoded, _ = sf.read(buffer, dtype="float64")
    n = audio.shape[-1]
    decoded = decoded[:n] if decoded.shape[-1] >= n else np.pad(decoded, (0, n - decoded.shape[-1]))
    return decoded / scale


def simulate_rir(rng: np.random.Generator, sample_rate: int, rt60: float) -> np.ndarray:
    """A shoebox-room RIR from pyroomacoustics' image source model at the given RT60."""
    try:
        import pyroomacoustics as pra
    except ImportError as exc:  # an optional dependency: say how to get it
        raise ImportError("simulated RIRs need pyroomacoustics (pip install 'tfgridnet[urgent]'), "
                          "or give data.train_rir_manifest with measured RIRs") from exc
    size = np.array([rng.uniform(3, 10), rng.uniform(3, 10), rng.uniform(2.5, 4.0)])
    absorption, max_order = pra.inverse_sabine(rt60, size)
    room = pra.ShoeBox(size, fs=sample_rate, materials=pra.Material(absorption),
                       max_order=max_order, use_rand_ism=False)
    room.add_source(rng.uniform(0.5, size - 0.5))
    room.add_microphone(rng.uniform(0.5, size - 0.5))
    room.compute_rir()
    return np.asarray(room.rir[0][0], dtype=np.float64)


@dataclass
class DistortionDraw:
    """What one item receives; ``conditions`` names it."""

    sample_rate: int
    early_ms: float
    rir: np.ndarray | None = None
    rir_name: str = ""
    low_rate: int | None = None
    clip_quantiles: tuple[float, float] | None = None
    codec: str | None = None
    parts: list[str] = field(default_factory=list)

    @property
    def conditions(self) -> str:
        return ";".join(self.parts) or "none"

    def reverberate(self, speech: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(speech to mix with noise, training target); unchanged without reverberation."""
        if self.rir is None:
            return speech, speech
        return reverberate(speech, self.rir, self.sample_rate, self.early_ms)

    def degrade(self, noisy: np.ndarray) -> np.ndarray:
        """Band-limit, clip and codec the noisy mixture (in that order)."""
        if self.low_rate is not None:
            noisy = band_limit(noisy, self.sample_rate, self.low_rate)
        if self.clip_quantiles is not None:
            noisy = clip(noisy, *self.clip_quantiles)
        if self.codec is not None:
            noisy = codec_round_trip(noisy, self.sample_rate, self.codec)
        return noisy


class Distortions:
    """Draws per-item distortions from a :class:`DistortionConfig` and an optional RIR list."""

    def __init__(self, config: DistortionConfig, rirs: list[tuple[str, Path]] | None = None,
                 seed: int = 0) -> None:
        self.config = config
        self.rirs = list(rirs or [])
        self.seed = seed
        if config.reverb_prob > 0 and not self.rirs and config.simulated_rirs == 0:
            raise UserInputError(NO_RIRS)
        self._rir_cache: dict[tuple[str, int], np.ndarray] = {}
        self._simulated: dict[int, list[tuple[str, np.ndarray]]] = {}

    def _measured(self, index: int, sample_rate: int) -> tuple[str, np.ndarray]:
        name, path = self.rirs[index]
        key = (str(path), sample_rate)
        if key not in self._rir_cache:
            rir, _ = load_audio(path, target_sr=sample_rate, mono="first")
            peak = float(np.max(np.abs(rir), initial=0.0))
            if peak == 0:
                raise UserInputError(f"{path}: RIR {name!r} is silent")
            self._rir_cache[key] = rir.astype(np.float64) / peak  # direct path at unit gain
        return name, self._rir_cache[key]

    def _simulated_pool(self, sample_rate: int) -> list[tuple[str, np.ndarray]]:
        if sample_rate not in self._simulated:
            rng = np.random.default_rng([self.seed & 0xFFFFFFFF, sample_rate])
            pool = []
            for _ in range(self.config.simulated_rirs):
                rt60 = float(rng.uniform(*self.config.rt60_range))
                rir = simulate_rir(rng, sample_rate, rt60)
                pool.append((f"sim:rt60={rt60:.2f}", rir / np.max(np.abs(rir))))
            self._simulated[sample_rate] = pool
        return self._simulated[sample_rate]

    def draw(self, rng: np.random.Generator, sample_rate: int) -> DistortionDraw:
        """One item's distortions; consumes a fixed number of draws from ``rng``."""
        cfg = self.config
        u = rng.uniform(size=4)  # one decision per distortion, always drawn (stable streams)
        pick = rng.uniform(size=4)
        quantiles = rng.uniform(size=2)
        out = DistortionDraw(sample_rate=sample_rate, early_ms=cfg.early_ms)
        if u[0] < cfg.reverb_prob:
            if self.rirs:
                name, rir = self._measured(int(pick[0] * len(self.rirs)), sample_rate)
                name = f"rir:{name}"
            else:
                pool = self._simulated_pool(sample_rate)
                name, rir = pool[int(pick[0] * len(pool))]
            out.rir, out.rir_name = rir, name
            out.parts.append(f"reverb={name}")
        lower = [r for r in cfg.bandlimit_rates if r < sample_rate]
        if u[1] < cfg.bandlimit_prob and lower:
            out.low_rate = int(lower[int(pick[1] * len(lower))])
            out.parts.append(f"bandlimit={out.low_rate}")
        if u[2] < cfg.clip_prob:
            a, b = cfg.clip_quantiles
            out.clip_quantiles = (float(quantiles[0] * a), float(b + quantiles[1] * (1 - b)))
            out.parts.append(f"clip={out.clip_quantiles[0]:.2f}-{out.clip_quantiles[1]:.2f}")
        usable = [c for c in cfg.codecs if CODECS[c][2] is None or sample_rate in CODECS[c][2]]
        if u[3] < cfg.codec_prob and usable:
            out.codec = usable[int(pick[3] * len(usable))]
            out.parts.append(f"codec={out.codec}")
        return out
