"""Progress of long work: a rich bar on a terminal, plain lines at a steady interval elsewhere.

When stdout is not a terminal (``tfgridnet evaluate ... > log.txt``, a batch job, CI) a bar would
be invisible or a mess of carriage returns, so long commands print a plain line instead, to
stdout, every :func:`progress_interval` seconds (``TFGRIDNET_PROGRESS_SECONDS``, default 10)::

    evaluate: 120/300 utterances (40 %), 2.3 utterances/s, ETA 1m18s

and one line when the work is done (for runs of at least ``min_total`` items, or once any line was
printed). ``train`` prints the same lines for its batches through
:class:`tfgridnet.train.console.PlainProgressBar`.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

from tfgridnet.errors import UserInputError

__all__ = ["DEFAULT_INTERVAL_S", "INTERVAL_ENV", "MIN_REPORTED", "ProgressLines",
           "format_duration", "progress_interval", "progress_reporter", "stdout_is_terminal"]

INTERVAL_ENV = "TFGRIDNET_PROGRESS_SECONDS"
DEFAULT_INTERVAL_S = 10.0
MIN_REPORTED = 50  # items; fewer finish in seconds, and get no closing line of their own


def progress_interval() -> float:
    """Seconds between two plain progress lines: ``$TFGRIDNET_PROGRESS_SECONDS`` or 10."""
    text = os.environ.get(INTERVAL_ENV, "").strip()
    if not text:
        return DEFAULT_INTERVAL_S
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not (math.isfinite(value) and value >= 0):
        raise UserInputError(f"{INTERVAL_ENV}={text!r}: expected seconds between progress lines "
                             "(a number >= 0)")
    return value


def stdout_is_terminal() -> bool:
    """Whether stdout is an interactive terminal (False for files, pipes and closed streams)."""
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def format_duration(seconds: float) -> str:
    """``"45s"``, ``"3m05s"``, ``"2h04m"``: short enough for a progress line."""
    if not math.isfinite(seconds):
        return "?"
    total = max(int(round(seconds)), 0)
    if total < 60:
        return f"{total}s"
    if total < 3600:
        return f"{total // 60}m{total % 60:02d}s"
    return f"{total // 3600}h{total % 3600 // 60:02d}m"


def _rate(count: float, seconds: float, unit: str) -> str:
    rate = count / seconds
    return f"{rate:.3g} {unit}/s" if rate >= 1 else f"{seconds / count:.3g} s each"


class ProgressLines:
    """Plain progress lines for one piece of work (call :meth:`restart` for the next one).

    ``update(done, total)`` prints a line when ``interval_s`` has passed since the last one, and a
    closing line when ``done`` reaches ``total``. ``clock`` is injectable for tests.
    """

    def __init__(self, label: str, unit: str = "items", stream: TextIO | None = None,
                 interval_s: float | None = None, min_total: float = MIN_REPORTED,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.label = label
        self.unit = unit
        self.stream = stream
        self.interval_s = progress_interval() if interval_s is None else interval_s
        self.min_total = min_total
        self.clock = clock
        self.restart()

    def restart(self, label: str | None = None) -> None:
        """Start timing a new piece of work (e.g. the next epoch)."""
        if label is not None:
            self.label = label
        self.start = self.last = self.clock()
        self.printed = False

    def line(self, done: int, total: int | None, note: str = "") -> str:
        """The text of a line for ``done`` of ``total`` items now (``note`` after a ``;``)."""
        elapsed = self.clock() - self.start
        head = (f"{self.label}: {done}/{total} {self.unit} ({100 * done // total} %)"
                if total else f"{self.label}: {done} {self.unit}")
        parts = [head]
        finished = bool(total) and done >= total
        if finished:
            parts[0] += f" in {format_duration(elapsed)}"
        if elapsed > 0 and done > 0:
            parts.append(_rate(done, elapsed, self.unit))
            if total and not finished:
                parts.append(f"ETA {format_duration((total - done) * elapsed / done)}")
        text = ", ".join(parts)
        return f"{text}; {note}" if note else text

    def update(self, done: int, total: int | None, note: str = "") -> None:
        now = self.clock()
        finished = bool(total) and done >= total
        if finished:
            if not (self.printed or (total or 0) >= self.min_total):
                return
        elif now - self.last < self.interval_s:
            return
        self.emit(self.line(done, total, note))
        self.last = now

    def emit(self, text: str) -> None:
        print(text, file=self.stream or sys.stdout, flush=True)
        self.printed = True


@contextmanager
def progress_reporter(label: str, unit: str = "pairs", min_total: int = MIN_REPORTED
                      ) -> Iterator[Callable[[int, int], None]]:
    """Yield ``progress(done, total)``: a transient rich bar when stdout is a terminal, else
    :class:`ProgressLines` on stdout (the output a log file or CI job keeps)."""
    if not stdout_is_terminal():
        lines = ProgressLines(label, unit, min_total=min_total)
        yield lambda done, total: lines.update(done, total)
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with Progress(f"[bold]{label}", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=Console(stderr=sys.stderr.isatty()), transient=True) as bar:
        task = bar.add_task(label, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)
