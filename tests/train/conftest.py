"""Fixtures for the training tests: a tiny synthetic corpus and a tiny, fast config."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from tests.tiny import tiny_section

from tfgridnet.train.config import Config
from tfgridnet.train.config_files import config_from_dict

# The tiny model the training tests train (2-frame patches, attention keys of 32).
TINY_TRAINED = tiny_section(attn_approx_qk_dim=32, emb_ks=2, emb_hs=2)

SAMPLE_RATE = 8000
SECONDS = 0.5


def _speech_like(rng: np.random.Generator, n: int, sample_rate: int) -> np.ndarray:
    """Harmonic tone with a syllable-rate envelope: enough structure for a model to learn."""
    t = np.arange(n) / sample_rate
    f0 = rng.uniform(110, 220)
    tone = sum(np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 2 * np.pi)) / k for k in range(1, 6))
    envelope = 0.5 * (1 + np.sin(2 * np.pi * rng.uniform(3, 6) * t))
    return (0.3 * tone * envelope / 2.3).astype(np.float32)


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Paired train/valid manifests (white noise at 0-5 dB) and clean/noise manifests."""
    return write_corpus(tmp_path_factory.mktemp("corpus"))


def write_corpus(root: Path) -> dict[str, Path]:
    """The tiny corpus in ``root`` (also used by bench/judging.py, which loads this file)."""
    (root / "clean").mkdir()
    (root / "noisy").mkdir()
    (root / "noise").mkdir()
    rng = np.random.default_rng(1234)
    n = int(SAMPLE_RATE * SECONDS)
    rows: dict[str, list[list[str]]] = {"train": [], "valid": []}
    for split, count in (("train", 8), ("valid", 4)):
        for i in range(count):
            uttid = f"{split}{i:02d}"
            clean = _speech_like(rng, n, SAMPLE_RATE)
            noise = rng.standard_normal(n).astype(np.float32)
            snr_db = rng.uniform(0, 5)
            noise *= np.sqrt(np.sum(clean**2) / np.sum(noise**2) / 10 ** (snr_db / 10))
            sf.write(root / "clean" / f"{uttid}.wav", clean, SAMPLE_RATE, subtype="FLOAT")
            sf.write(root / "noisy" / f"{uttid}.wav", clean + noise, SAMPLE_RATE, subtype="FLOAT")
            rows[split].append([uttid, f"noisy/{uttid}.wav", f"clean/{uttid}.wav"])
    for i in range(3):
        noise = (0.1 * rng.standard_normal(n)).astype(np.float32)
        sf.write(root / "noise" / f"n{i}.wav", noise, SAMPLE_RATE, subtype="FLOAT")
    out = {
        "root": root,
        "train": _write_csv(root / "train.csv", ["uttid", "noisy", "clean"], rows["train"]),
        "valid": _write_csv(root / "valid.csv", ["uttid", "noisy", "clean"], rows["valid"]),
        "clean": _write_csv(root / "clean.csv", ["uttid", "clean"],
                            [[r[0], r[2]] for r in rows["train"]]),
        "noise": _write_csv(root / "noise.csv", ["uttid", "noise"],
                            [[f"n{i}", f"noise/n{i}.wav"] for i in range(3)]),
    }
    return out


def tiny_config_dict(corpus: dict[str, Path], **sections: dict) -> dict:
    """A model of a few thousand parameters on 0.5 s at 8 kHz: an epoch takes well under a second."""
    raw = {
        "name": "tiny",
        "model": dict(TINY_TRAINED),
        "data": {"sample_rate": SAMPLE_RATE, "train_manifest": str(corpus["train"]),
                 "valid_manifest": str(corpus["valid"]), "crop_seconds": 0.25,
                 "batch_size": 4, "num_workers": 0, "check_pairs": 0},
        "optim": {"name": "adam", "lr": 3e-3},
        "scheduler": {"name": "exponential", "gamma": 0.9, "min_lr": 1e-5},
        "trainer": {"max_epochs": 2, "accelerator": "cpu", "devices": 1, "progress_bar": "none",
                    "seed": 7, "gradient_clip_val": 5.0, "num_threads": 1},
        "checkpoint": {"save_top_k": 2},
        "early_stopping": {"patience": None},
    }
    for section, values in sections.items():
        if isinstance(values, dict) and isinstance(raw.get(section), dict):
            raw[section] = {**raw[section], **values}
        else:
            raw[section] = values
    return raw


@pytest.fixture
def tiny_config(corpus: dict[str, Path]) -> Config:
    return config_from_dict(tiny_config_dict(corpus))


@pytest.fixture
def make_config(corpus: dict[str, Path]):
    """``make_config(model={...}, trainer={...})`` -> raw dict of the tiny config with changes."""
    return lambda **sections: tiny_config_dict(corpus, **sections)
