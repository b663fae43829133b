"""The commands' progress display; it lives in :mod:`tfgridnet.progress` so that training and
evaluation (below the command line) print the same lines."""

from __future__ import annotations

from tfgridnet.progress import MIN_REPORTED, ProgressLines, progress_reporter

__all__ = ["progress_reporter", "ProgressLines", "MIN_REPORTED"]
