"""tfgridnet: train, evaluate, diagnose and use TF-GridNetV2 speech-enhancement models."""

from __future__ import annotations

from importlib import import_module
from typing import Any

from tfgridnet.metrics import si_snr

__version__ = "0.1.0"
__all__ = ["TFGridNetV2", "Enhancer", "load_model", "export_model", "si_snr", "__version__"]

# Heavy modules are imported on first use so `tfgridnet --help` and `import tfgridnet` stay fast.
_LAZY = {
    "TFGridNetV2": "tfgridnet.model.tfgridnetv2",
    "Enhancer": "tfgridnet.enhance",
    "load_model": "tfgridnet.model.io",
    "export_model": "tfgridnet.model.io",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'tfgridnet' has no attribute {name!r}")
