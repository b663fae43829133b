"""Progress of a long `check-data` run on stderr: a rich bar on a terminal, else periodic lines.

Lines (for logs and batch jobs) come at every tenth of the work; runs shorter than
``MIN_REPORTED`` pairs stay quiet.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["progress_reporter", "MIN_REPORTED"]

MIN_REPORTED = 50  # pairs; fewer finish in seconds


@contextmanager
def progress_reporter(label: str, unit: str = "pairs") -> Iterator[Callable[[int, int], None]]:
    """Yield ``progress(done, total)``; output goes to stderr so stdout stays the summary."""
    stream = sys.stderr
    if stream.isatty():
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

        with Progress(f"[bold]{label}", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                      console=Console(file=stream), transient=True) as bar:
            task = bar.add_task(label, total=None)

            def update(done: int, total: int) -> None:
                if total >= MIN_REPORTED:
                    bar.update(task, completed=done, total=total)

            yield update
        return

    start = time.monotonic()
    state = {"next_tenth": 1}

    def line(done: int, total: int) -> None:
        if total < MIN_REPORTED or done * 10 < state["next_tenth"] * total:
            return
        state["next_tenth"] = done * 10 // total + 1
        elapsed = time.monotonic() - start
        rate = done / elapsed if elapsed > 0 else float("inf")
        print(f"{label}: {done}/{total} {unit} ({100 * done // total} %, {rate:.1f} {unit}/s)",
              file=stream, flush=True)

    yield line
