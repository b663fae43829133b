"""Chunk passes in flight at once on the CPU, each on its share of the threads.

The bulk of a TF-GridNet pass is its LSTM recurrences, which gain little from a second thread; two
chunk passes side by side on one thread each (where oneDNN's LSTM runs in row blocks,
``model.recurrence.lstm_row_block``) take 0.78x the time in fp32 and 0.75x in bf16 of one pass on
two threads (2-core Xeon, seed model, bench/RESULTS.md §37-38; onnxruntime: no change). Autocast
and inference mode are thread-local, so each pass sets them up inside its own worker
(``TorchRunner.__call__`` does). No torch here: the backend says how a worker sets its threads.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from tfgridnet.errors import UserInputError

__all__ = ["AUTO_CPU_WORKERS", "resolve_workers", "PassPool"]

# Chosen by measurement on 2 cores (bench/RESULTS.md §37-38); never more workers than threads.
AUTO_CPU_WORKERS = 2

In = TypeVar("In")
Out = TypeVar("Out")


def resolve_workers(workers: int | None, device_type: str, threads: int, compile: bool) -> int:
    """Passes in flight: ``None`` is 2 on a CPU with 2+ threads (1 with ``compile``), else 1."""
    if workers is None:
        return min(AUTO_CPU_WORKERS, threads) if device_type == "cpu" and not compile else 1
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise UserInputError(f"Enhancer: workers={workers!r}, expected a positive integer or None")
    if workers > 1 and device_type != "cpu":
        raise UserInputError(f"Enhancer: workers={workers} runs passes side by side on the CPU; on "
                         f"{device_type} use chunks_per_batch to batch them instead")
    if workers > 1 and compile:
        raise UserInputError("Enhancer: compile=True runs one pass at a time (torch.compile's "
                         "compilation is not thread-safe); use workers=1")
    return workers


class PassPool:
    """Maps a model pass over inputs, ``workers`` at a time, results in input order.

    With one worker it is a plain loop in the caller's thread, on the caller's threads. With more,
    each worker thread runs ``threads // workers`` intra-op threads: ``set_worker_threads`` is
    called with that number in each worker as it starts (torch's ``set_num_threads`` acts on the
    calling thread's OpenMP pool, so the caller's own setting is left alone; onnxruntime sessions
    fix their threads themselves and pass None). The threads are started on first use and live
    as long as the pool.
    """

    def __init__(self, workers: int, threads: int,
                 set_worker_threads: Callable[[int], None] | None = None) -> None:
        self.workers = workers
        self.threads_per_worker = max(1, threads // workers)
        self.set_worker_threads = set_worker_threads
        self._executor: ThreadPoolExecutor | None = None

    def map(self, fn: Callable[[In], Out], items: Sequence[In]) -> list[Out]:
        if self.workers == 1 or len(items) < 2:
            return [fn(item) for item in items]
        if self._executor is None:
            setup = self.set_worker_threads
            self._executor = ThreadPoolExecutor(
                self.workers, thread_name_prefix="tfgridnet-pass", initializer=setup,
                initargs=(self.threads_per_worker,) if setup is not None else ())
        return list(self._executor.map(fn, items))
