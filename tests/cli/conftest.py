"""Fixtures for the command-line safety tests: a tiny exported model, a small corpus with
`noisy/` and `clean/` folders, the CLI run in-process, and input checksums."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from tests.tiny import tiny_args

TINY = tiny_args(attn_approx_qk_dim=16)
SR = 16000


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    def one_line_error(self) -> str:
        """The single stderr line of a refused command (asserted: one line, no traceback)."""
        lines = [line for line in self.err.splitlines() if line.strip()]
        assert len(lines) == 1, self.err
        assert "Traceback" not in self.err
        return lines[0]


@pytest.fixture
def cli(capsys) -> Callable[..., CliResult]:
    """Run ``tfgridnet ARGS`` in this process; an escaping exception fails the test."""
    from tfgridnet.cli import main

    def run(*args: str | Path) -> CliResult:
        capsys.readouterr()
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Checksums:
    """Hash every file under some folders; ``assert_unchanged`` proves none was written over."""

    def __init__(self) -> None:
        self.hashes: dict[Path, str] = {}

    def __call__(self, *roots: Path) -> Checksums:
        for root in roots:
            files = [root] if root.is_file() else [p for p in root.rglob("*") if p.is_file()]
            self.hashes.update({p: _digest(p) for p in files})
        assert self.hashes, "nothing to protect"
        return self

    def assert_unchanged(self) -> None:
        changed = [str(p) for p, h in self.hashes.items() if not p.is_file() or _digest(p) != h]
        assert not changed, f"inputs written over or removed: {changed}"


@pytest.fixture
def checksums() -> Checksums:
    return Checksums()


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory) -> Path:
    from tfgridnet.model import TFGridNetV2
    from tfgridnet.model.io import save_exported

    torch.manual_seed(0)
    return save_exported(TFGridNetV2(**TINY).eval(), SR,
                         tmp_path_factory.mktemp("model") / "export")


def tone(n: int, seed: int = 0, sr: int = SR) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / sr
    clean = 0.3 * np.sin(2 * np.pi * (150 + 50 * seed) * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
    return clean.astype(np.float32), (clean + 0.05 * rng.standard_normal(n)).astype(np.float32)


@pytest.fixture
def corpus(tmp_path) -> Path:
    """``corpus/{noisy,clean}/uNN.wav`` (float WAVs) and ``corpus/m.csv``; returns the root."""
    root = tmp_path / "corpus"
    (root / "noisy").mkdir(parents=True)
    (root / "clean").mkdir()
    rows = ["uttid,noisy,clean"]
    for i in range(3):
        clean, noisy = tone(int(0.5 * SR), seed=i)
        sf.write(root / "clean" / f"u{i}.wav", clean, SR, subtype="FLOAT")
        sf.write(root / "noisy" / f"u{i}.wav", noisy, SR, subtype="FLOAT")
        rows.append(f"u{i},noisy/u{i}.wav,clean/u{i}.wav")
    (root / "m.csv").write_text("\n".join(rows) + "\n")
    return root


@pytest.fixture(autouse=True)
def _single_torch_thread(one_torch_thread):
    """Every test here runs with one intra-op thread (tests/conftest.py)."""
