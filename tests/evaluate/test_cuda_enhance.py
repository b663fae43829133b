"""Enhancer and batched evaluation on a CUDA GPU equal their CPU results (skipped without a GPU)."""

from __future__ import annotations

import copy
import csv

import numpy as np
import pytest

from tfgridnet.evaluation.evaluate import evaluate
from tfgridnet.evaluation.scoring import METRIC_REGISTRY
from tfgridnet.inference.enhancer import Enhancer

from .conftest import SR, speechlike, write_pairs

pytestmark = pytest.mark.cuda  # skipped without a GPU: tests/conftest.py


def _snr_db(estimate: np.ndarray, reference: np.ndarray) -> float:
    error = np.sum((estimate.astype(np.float64) - reference) ** 2)
    return float(10 * np.log10(np.sum(reference.astype(np.float64) ** 2) / max(error, 1e-30)))


def test_chunked_enhancement_on_cuda_matches_the_cpu(tiny_model) -> None:
    # 3.5 s in 1 s chunks: several chunks, batched 8 at a time on the GPU, one by one on the CPU.
    audio = speechlike(int(3.5 * SR), SR, seed=3) + 0.01 * np.random.default_rng(0).standard_normal(
        int(3.5 * SR)).astype(np.float32)
    kwargs = dict(sample_rate=SR, chunk_seconds=1.0, overlap_seconds=0.25)
    on_cpu = Enhancer(copy.deepcopy(tiny_model), device="cpu", **kwargs).enhance(audio, SR)
    gpu = Enhancer(copy.deepcopy(tiny_model), device="cuda", **kwargs)
    assert gpu.chunks_per_batch > 1
    on_gpu = gpu.enhance(audio, SR)
    assert on_gpu.shape == on_cpu.shape
    # Default CUDA settings (cuDNN may use TF32): agreement far above any audible difference.
    assert _snr_db(on_gpu, on_cpu) > 50


def test_batched_evaluation_on_cuda_matches_the_cpu(tiny_model, tmp_path) -> None:
    manifest = write_pairs(tmp_path / "data", n=6, seconds=1.0)
    common = dict(save_audio=False, n_plots=0, progress=False, workers=1)
    evaluate(Enhancer(copy.deepcopy(tiny_model), sample_rate=SR, device="cpu"), manifest,
             tmp_path / "cpu", batch_size=1, **common)
    evaluate(Enhancer(copy.deepcopy(tiny_model), sample_rate=SR, device="cuda"), manifest,
             tmp_path / "gpu", batch_size=4, **common)

    def rows(folder):
        with open(tmp_path / folder / "evaluation_results.csv", newline="") as handle:
            return {row["uttid"]: row for row in csv.DictReader(handle)}

    cpu_rows, gpu_rows = rows("cpu"), rows("gpu")
    assert sorted(gpu_rows) == sorted(cpu_rows) and len(cpu_rows) == 6
    for uttid, cpu_row in cpu_rows.items():
        assert gpu_rows[uttid]["status"] == cpu_row["status"] == "ok", uttid
        for metric in ("sisnr", "sisdr", "snr"):
            column = METRIC_REGISTRY[metric].enhanced_column
            assert float(gpu_rows[uttid][column]) == pytest.approx(
                float(cpu_row[column]), abs=0.05), (uttid, column)
