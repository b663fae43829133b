"""Inference: the Enhancer, its chunk scheduler, streaming file I/O and the onnxruntime backend.

Names are imported on first use, so ``tfgridnet.inference.onnx_backend`` runs without torch.
"""

from tfgridnet.lazy import lazy_exports

_LAZY = {
    "ChunkScheduler": ".chunking",
    "crossfade_weights": ".chunking",
    "Enhancer": ".enhancer",
    "pick_device": ".enhancer",
    "enhance_file": ".streaming",
    "expand_inputs": ".streaming",
}
__all__ = list(_LAZY)
__getattr__ = lazy_exports(__name__, _LAZY)
