"""Enhancement without PyTorch: an exported ``model.onnx`` run by onnxruntime, with the same
streamed, any-rate, multichannel enhancer as the PyTorch path.

Needs numpy, soxr, soundfile and onnxruntime only (``pip install 'tfgridnet[onnx]'``); nothing
imported from here loads torch, Lightning, scipy or matplotlib. The chunking, overlap-add, level
correction, resampling and file streaming are the ones ``tfgridnet.Enhancer`` runs with torch
(one implementation, :mod:`tfgridnet.inference.enhancer`); only the model pass differs::

    from tfgridnet.onnx import load
    enhancer = load("my_model")                       # the folder `tfgridnet export --format onnx` wrote
    clean = enhancer.enhance(noisy_array, 44100)      # [N], [C, N] or [N, C], any rate
    enhancer.enhance_file("long.flac", "long_enhanced.flac")   # streamed, bounded memory
"""

from __future__ import annotations

import os
from typing import Any

from tfgridnet.inference.batch import EnhanceResult, enhance_files
from tfgridnet.inference.enhancer import Enhancer
from tfgridnet.inference.onnx_backend import OnnxModel

__all__ = ["load", "Enhancer", "OnnxModel", "enhance_files", "EnhanceResult"]


def load(path: str | os.PathLike, **kwargs: Any) -> Enhancer:
    """An :class:`Enhancer` over ``path`` (an exported folder or its ``model.onnx``) in
    onnxruntime; ``kwargs`` as for ``Enhancer`` (``chunk_seconds``, ``level``, ``workers`` ...)."""
    return Enhancer.from_pretrained(path, backend="onnx", **kwargs)
