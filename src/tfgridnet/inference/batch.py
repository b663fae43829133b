"""Enhance a list of files and folders into an output folder: what ``tfgridnet enhance`` runs.

One file that cannot be read or written does not stop the others; the result lists it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tfgridnet.inference.enhancer import Enhancer
from tfgridnet.inference.streaming import expand_inputs

__all__ = ["EnhanceResult", "enhance_files"]


@dataclass(frozen=True)
class EnhanceResult:
    """What :func:`enhance_files` returns: the files written, and each failure with its reason."""

    out_dir: Path
    written: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    sample_rate: int = 0
    device: str = ""
    rate_independent: bool = False  # the model ran at each file's own rate (V3)

    @property
    def n_inputs(self) -> int:
        """Audio files found in the inputs."""
        return len(self.written) + len(self.failed)


def enhance_files(enhancer: Enhancer, inputs: Sequence[str], out_dir: str | os.PathLike,
                  on_file: Callable[[int, int], None] | None = None) -> EnhanceResult:
    """Enhance every audio file named or found under ``inputs`` into ``out_dir``, keeping each
    file's path relative to the folder it was found in; ``on_file(done, total)`` after each."""
    jobs = expand_inputs(inputs)
    written: list[Path] = []
    failed: list[tuple[Path, str]] = []
    for done, (source, relative) in enumerate(jobs, start=1):
        try:
            written.append(enhancer.enhance_file(source, Path(out_dir) / relative))
        except (ValueError, RuntimeError, OSError) as exc:
            failed.append((source, str(exc)))
        if on_file is not None:
            on_file(done, len(jobs))
    return EnhanceResult(Path(out_dir), written, failed, enhancer.sample_rate,
                         str(enhancer.device), bool(enhancer.rate_independent))
