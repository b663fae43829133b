"""Lazy package exports: a package lists where each public name lives; the module loads on first use.

Keeps `tfgridnet --help` fast, `check-data` free of torch datasets, and the onnxruntime backend free
of torch, while `from tfgridnet import Enhancer` still works.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any


def lazy_exports(package: str, where: dict[str, str]) -> Callable[[str], Any]:
    """A module-level ``__getattr__`` importing ``where[name]`` (relative to ``package``) on first use."""

    def __getattr__(name: str) -> Any:
        if name in where:
            return getattr(import_module(where[name], package), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
