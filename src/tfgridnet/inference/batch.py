"""Enhance a list of files and folders into an output folder: what ``tfgridnet enhance`` runs.

Every output path is checked against the inputs before the model is even loaded; one file that
cannot be read or written does not stop the others, and the result lists it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
    limited_samples: int = 0  # output samples the level correction's peak limiter touched
    backend: str = "torch"  # or "onnx"
    precision: str = "fp32"
    workers: int = 1  # chunk passes run side by side

    @property
    def n_inputs(self) -> int:
        """Audio files found in the inputs."""
        return len(self.written) + len(self.failed)


def enhance_files(model: Enhancer | str | os.PathLike, inputs: Sequence[str],
                  out_dir: str | os.PathLike, overwrite: bool = False,
                  on_file: Callable[[int, int], None] | None = None,
                  **enhancer_kwargs: Any) -> EnhanceResult:
    """Enhance every audio file named or found under ``inputs`` into ``out_dir``, keeping each
    file's path relative to the folder it was found in; ``on_file(done, total)`` after each.

    ``model`` is an :class:`Enhancer` or any MODEL form (loaded with ``enhancer_kwargs`` only
    once the outputs are known not to overwrite an input). ``out_dir`` holding other files than
    an earlier enhance's needs ``overwrite``.
    """
    from tfgridnet.safety import claim_output_dir, refuse_input_folder, refuse_input_overwrite

    out_dir = Path(out_dir)
    jobs = expand_inputs(inputs, exclude=out_dir)
    sources = [source for source, _ in jobs]
    refuse_input_overwrite([out_dir / relative for _, relative in jobs], sources)
    refuse_input_folder(out_dir, sources)
    enhancer = model if isinstance(model, Enhancer) else Enhancer.from_pretrained(
        model, **enhancer_kwargs)
    written: list[Path] = []
    failed: list[tuple[Path, str]] = []
    with claim_output_dir(out_dir, "enhance", inputs=sources, overwrite=overwrite,
                          planned=[relative for _, relative in jobs]):
        for done, (source, relative) in enumerate(jobs, start=1):
            try:
                written.append(enhancer.enhance_file(source, out_dir / relative))
            except (ValueError, RuntimeError, OSError) as exc:
                failed.append((source, str(exc)))
            if on_file is not None:
                on_file(done, len(jobs))
    return EnhanceResult(out_dir, written, failed, enhancer.sample_rate, str(enhancer.device),
                         bool(enhancer.rate_independent), int(enhancer.level.limited_samples),
                         str(enhancer.backend), str(enhancer.precision), int(enhancer.workers))
