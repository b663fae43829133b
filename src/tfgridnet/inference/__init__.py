"""Inference: the Enhancer, its chunk scheduler, streaming file I/O and the onnxruntime backend.

Names are imported on first use, so ``tfgridnet.inference.onnx_backend`` runs without torch.
"""

from importlib import import_module
from typing import Any

__all__ = ["Enhancer", "ChunkScheduler", "crossfade_weights", "pick_device", "enhance_file",
           "expand_inputs"]

_LAZY = {
    "ChunkScheduler": "tfgridnet.inference.chunking",
    "crossfade_weights": "tfgridnet.inference.chunking",
    "Enhancer": "tfgridnet.inference.enhancer",
    "pick_device": "tfgridnet.inference.enhancer",
    "enhance_file": "tfgridnet.inference.streaming",
    "expand_inputs": "tfgridnet.inference.streaming",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'tfgridnet.inference' has no attribute {name!r}")
