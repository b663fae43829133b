"""Synthetic audio for the data tests: speech-like harmonic bursts and noise, made in memory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tfgridnet.audio.filters import bandpass
from tfgridnet.audio.io import save_audio


def speech_like(seconds: float, sample_rate: int, seed: int = 0) -> np.ndarray:
    """Voiced syllables: a gliding harmonic tone under a syllable-rate envelope, with pauses."""
    rng = np.random.default_rng(seed)
    n = int(round(seconds * sample_rate))
    t = np.arange(n) / sample_rate
    f0 = 110 + 60 * rng.random() + 25 * np.sin(2 * np.pi * (0.5 + rng.random()) * t)
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    voiced = sum((0.6 ** k) * np.sin(k * phase + rng.random() * 6.28) for k in range(1, 12))
    envelope = np.clip(np.sin(2 * np.pi * (3.0 + rng.random()) * t + rng.random() * 6.28), 0, None)
    # Fricatives at syllable edges only: the pauses stay silent, as in clean speech (noise that
    # fills every pause would make the reference audit call this reference noisy).
    fricative = rng.standard_normal(n) * 0.05 * ((envelope > 0) & (envelope < 0.05))
    out = voiced * envelope ** 1.5 + fricative
    return (0.3 * out / np.max(np.abs(out))).astype(np.float64)


def mix_at_snr(clean: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """clean + noise scaled so that the (zero-mean) SNR is exactly ``snr_db``."""
    c = clean - clean.mean()
    z = noise - noise.mean()
    # Remove the component of the noise along the clean so SI-SNR equals the SNR exactly.
    z = z - (z @ c) / (c @ c) * c
    gain = np.sqrt((c @ c) / (z @ z) / 10 ** (snr_db / 10))
    return clean + gain * z


def steady_voice(seconds: float, sample_rate: int, seed: int = 0) -> np.ndarray:
    """A pause-free voiced tone with gliding pitch: steady energy, never periodic (shifts show)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(seconds * sample_rate))) / sample_rate
    f0 = 140 + 30 * np.sin(2 * np.pi * 0.7 * t) + 10 * np.sin(2 * np.pi * 2.3 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    out = sum((0.7 ** k) * np.sin(k * phase + rng.random() * 6.28) for k in range(1, 20))
    out = bandpass(out, sample_rate, 60.0, 7000.0)
    return 0.2 * (out - out.mean()) / np.max(np.abs(out))


def block_mix(clean: np.ndarray, noise: np.ndarray, snr_db: float, block: int) -> np.ndarray:
    """Mix so that EVERY block of ``block`` samples has exactly ``snr_db`` (noise orthogonal to clean).

    Any crop of a second or more then has SI-SNR(noisy, clean) within ~0.03 dB of ``snr_db``
    (measured over every 137-sample offset at 16, 22.05 and 48 kHz), so a crop taken from
    different offsets on the two sides, or a resampling slip, shows as a dB-sized error.
    """
    out = np.empty_like(noise)
    for start in range(0, clean.size, block):
        c, z = clean[start:start + block], noise[start:start + block]
        z = z - (z @ c) / (c @ c) * c
        out[start:start + block] = z * np.sqrt((c @ c) / (z @ z) / 10 ** (snr_db / 10))
    return clean + out


@pytest.fixture
def make_pair(tmp_path: Path):
    """Write a (noisy, clean) WAV pair at a known SNR and sample rate; returns the paths."""

    def _make(name: str = "utt", seconds: float = 2.0, sample_rate: int = 16000,
              snr_db: float = 5.0, seed: int = 0, subtype: str = "FLOAT",
              folder: Path | None = None) -> tuple[Path, Path, np.ndarray, np.ndarray]:
        folder = folder or tmp_path
        clean = speech_like(seconds, sample_rate, seed)
        noise = np.random.default_rng(seed + 1000).standard_normal(clean.size)
        noisy = mix_at_snr(clean, noise, snr_db)
        noisy_path = save_audio(folder / "noisy" / f"{name}.wav", noisy, sample_rate, subtype)
        clean_path = save_audio(folder / "clean" / f"{name}.wav", clean, sample_rate, subtype)
        return noisy_path, clean_path, noisy, clean

    return _make


@pytest.fixture
def make_steady_pair(tmp_path: Path):
    """A (noisy, clean) pair with the same SNR in every 10 ms block, written at ``sample_rate``."""

    def _make(name: str, seconds: float, sample_rate: int, snr_db: float,
              seed: int = 0) -> tuple[Path, Path]:
        clean = steady_voice(seconds, sample_rate, seed)
        noise = bandpass(np.random.default_rng(seed + 1).standard_normal(clean.size),
                         sample_rate, 60.0, 7000.0)
        noisy = block_mix(clean, noise, snr_db, sample_rate // 100)
        return (save_audio(tmp_path / f"{sample_rate}" / "noisy" / f"{name}.wav", noisy,
                           sample_rate, "FLOAT"),
                save_audio(tmp_path / f"{sample_rate}" / "clean" / f"{name}.wav", clean,
                           sample_rate, "FLOAT"))

    return _make
