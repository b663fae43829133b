"""tfgridnet: train, evaluate, diagnose and use TF-GridNet (V2/V3) speech-enhancement models."""

from __future__ import annotations

import os

# OpenMP threads that spin while waiting collapse throughput when anything else shares the cores:
# on a 2-core machine with one other busy process, a demo training step took 7.8 s with the default
# policy and 0.34 s with PASSIVE (0.29 s single-threaded). Only effective when torch is not loaded
# yet; an explicit OMP_WAIT_POLICY in the environment wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from tfgridnet.lazy import lazy_exports  # noqa: E402

__version__ = "0.1.0"

# Heavy modules are imported on first use so `tfgridnet --help` and `import tfgridnet` stay fast,
# and the onnxruntime backend (tfgridnet.inference.onnx_backend) runs without torch installed.
_LAZY = {
    "si_snr": ".metrics",
    "TFGridNetV2": ".model.tfgridnetv2",
    "TFGridNetV3": ".model.tfgridnetv3",
    "Enhancer": ".inference.enhancer",
    "load_model": ".model.io",
    "export_model": ".model.io",
}
__all__ = [*_LAZY, "__version__"]
__getattr__ = lazy_exports(__name__, _LAZY)
