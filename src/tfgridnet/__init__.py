"""tfgridnet: train, evaluate, diagnose and use TF-GridNet (V2/V3) speech-enhancement models."""

from __future__ import annotations

import os

# OpenMP threads that spin while waiting collapse throughput when anything else shares the cores:
# on a 2-core machine with one other busy process, a demo training step took 7.8 s with the default
# policy and 0.34 s with PASSIVE (0.29 s single-threaded). Only effective when torch is not loaded
# yet; an explicit OMP_WAIT_POLICY in the environment wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from importlib import import_module  # noqa: E402
from typing import Any

__version__ = "0.1.0"
__all__ = ["TFGridNetV2", "TFGridNetV3", "Enhancer", "load_model", "export_model", "si_snr", "__version__"]

# Heavy modules are imported on first use so `tfgridnet --help` and `import tfgridnet` stay fast,
# and the onnxruntime backend (tfgridnet.inference.onnx_backend) runs without torch installed.
_LAZY = {
    "si_snr": "tfgridnet.metrics",
    "TFGridNetV2": "tfgridnet.model.tfgridnetv2",
    "TFGridNetV3": "tfgridnet.model.tfgridnetv3",
    "Enhancer": "tfgridnet.inference.enhancer",
    "load_model": "tfgridnet.model.io",
    "export_model": "tfgridnet.model.io",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'tfgridnet' has no attribute {name!r}")
