"""Fixtures for the evaluation area: a tiny random TF-GridNetV2, its export, synthetic pairs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from tests.tiny import tiny_args

TINY = tiny_args(attn_approx_qk_dim=16)
SR = 16000


@pytest.fixture
def tiny_model():
    from tfgridnet.model import TFGridNetV2

    torch.manual_seed(0)
    return TFGridNetV2(**TINY).eval()


@pytest.fixture
def exported_dir(tiny_model, tmp_path) -> Path:
    from tfgridnet.model.io import save_exported

    return save_exported(tiny_model, SR, tmp_path / "export")


def speechlike(n: int, sr: int, seed: int) -> np.ndarray:
    """Harmonic tone bursts with a syllable envelope: enough structure for PESQ/STOI."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / sr
    f0 = 120 + 60 * rng.random()
    voice = sum(np.sin(2 * np.pi * f0 * k * t + rng.random() * 6) / k for k in range(1, 8))
    envelope = np.clip(np.sin(2 * np.pi * (2.5 + rng.random()) * t), 0, None) ** 2
    return (0.3 * voice * envelope / np.max(np.abs(voice))).astype(np.float32)


def write_pairs(root: Path, n: int = 4, seconds: float = 1.0, snr_db: float = 5.0,
                sr: int = SR) -> Path:
    """Write n noisy/clean WAV pairs and a manifest; return the manifest path."""
    (root / "noisy").mkdir(parents=True, exist_ok=True)
    (root / "clean").mkdir(parents=True, exist_ok=True)
    rows = ["uttid,noisy,clean"]
    for i in range(n):
        clean = speechlike(int(seconds * sr), sr, seed=i)
        noise = np.random.default_rng(100 + i).standard_normal(clean.size).astype(np.float32)
        gain = np.sqrt(np.mean(clean**2) / np.mean(noise**2) / 10 ** ((snr_db + 2 * i) / 10))
        noisy = clean + gain * noise
        uttid = f"utt{i:02d}"
        sf.write(root / "noisy" / f"{uttid}.wav", noisy, sr, subtype="PCM_16")
        sf.write(root / "clean" / f"{uttid}.wav", clean, sr, subtype="PCM_16")
        rows.append(f"{uttid},noisy/{uttid}.wav,clean/{uttid}.wav")
    manifest = root / "manifest.csv"
    manifest.write_text("\n".join(rows) + "\n")
    return manifest


@pytest.fixture
def pairs_manifest(tmp_path) -> Path:
    return write_pairs(tmp_path / "data")


@pytest.fixture
def make_pairs():
    """The pair writer itself, for tests that need other lengths, counts or SNRs."""
    return write_pairs


@pytest.fixture
def make_speech():
    return speechlike


@pytest.fixture
def sr() -> int:
    return SR


@pytest.fixture
def tiny_config() -> dict:
    return dict(TINY)


@pytest.fixture(autouse=True)
def _single_torch_thread(one_torch_thread):
    """Every test here runs with one intra-op thread (tests/conftest.py)."""
