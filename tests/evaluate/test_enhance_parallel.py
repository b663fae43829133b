"""Chunk passes side by side (``Enhancer(workers=N)``): same output, really concurrent, each on its
share of the threads, and the worker count's rules."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import torch

from tfgridnet.inference.enhancer import Enhancer
from tfgridnet.inference.parallel import AUTO_CPU_WORKERS, resolve_workers

SR = 16000  # the rate of the area's tiny_model fixture (conftest.py)
CHUNK, OVERLAP = 0.25, 0.05


def _noisy(seconds: float, channels: int = 1) -> np.ndarray:
    return (0.1 * np.random.default_rng(0).standard_normal((channels, int(seconds * SR)))
            ).astype(np.float32)


def test_auto_workers_is_two_on_a_multithreaded_cpu_and_one_elsewhere():
    assert resolve_workers(None, "cpu", threads=2, compile=False) == AUTO_CPU_WORKERS == 2
    assert resolve_workers(None, "cpu", threads=16, compile=False) == 2
    assert resolve_workers(None, "cpu", threads=1, compile=False) == 1
    assert resolve_workers(None, "cuda", threads=8, compile=False) == 1
    assert resolve_workers(None, "cpu", threads=2, compile=True) == 1
    assert resolve_workers(3, "cpu", threads=2, compile=False) == 3


@pytest.mark.parametrize("workers,device,compile,message", [
    (0, "cpu", False, "workers=0"), (1.5, "cpu", False, "workers=1.5"),
    (True, "cpu", False, "workers=True"), (2, "cuda", False, "chunks_per_batch"),
    (2, "cpu", True, "compile=True"),
])
def test_bad_worker_counts_are_refused_with_the_argument_named(workers, device, compile, message):
    with pytest.raises(ValueError, match=message):
        resolve_workers(workers, device, threads=2, compile=compile)


@pytest.mark.parametrize("channels", [1, 2])
def test_two_workers_give_the_one_worker_output(tiny_model, channels):
    noisy = _noisy(1.3, channels)
    one = Enhancer(tiny_model, SR, chunk_seconds=CHUNK, overlap_seconds=OVERLAP, workers=1)
    two = Enhancer(tiny_model, SR, chunk_seconds=CHUNK, overlap_seconds=OVERLAP, workers=2)
    want, got = one.enhance(noisy, SR), two.enhance(noisy, SR)
    assert got.shape == want.shape == noisy.shape
    assert np.max(np.abs(got - want)) <= 1e-6 * np.max(np.abs(want))


def test_passes_run_side_by_side_each_on_its_share_of_threads(tiny_model, monkeypatch):
    previous = torch.get_num_threads()
    torch.set_num_threads(2)  # two threads to share out
    try:
        _check_side_by_side(tiny_model, monkeypatch)
    finally:
        torch.set_num_threads(previous)


def _check_side_by_side(tiny_model, monkeypatch):
    enhancer = Enhancer(tiny_model, SR, chunk_seconds=CHUNK, overlap_seconds=OVERLAP, workers=2)
    lock, active, peak, seen = threading.Lock(), [0], [0], []
    real_forward = enhancer.forward_batch

    def forward(batch):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
            seen.append((threading.current_thread().name, torch.get_num_threads()))
        time.sleep(0.2)  # long enough for a second pass, if one is in flight, to start
        out = real_forward(batch)
        with lock:
            active[0] -= 1
        return out

    monkeypatch.setattr(enhancer, "forward_batch", forward)
    enhancer.enhance(_noisy(0.25 + 4 * 0.2), SR)  # four regular chunks side by side, one last
    assert peak[0] == 2
    pooled = [threads for name, threads in seen if name.startswith("tfgridnet-pass")]
    assert len(seen) == 5 and len(pooled) == 4 and set(pooled) == {1}
    assert torch.get_num_threads() == 2  # the caller's own setting is left alone
