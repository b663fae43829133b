"""Inference: the Enhancer, its chunk scheduler and streaming file I/O."""

from tfgridnet.inference.chunking import ChunkScheduler, crossfade_weights
from tfgridnet.inference.enhancer import Enhancer, pick_device
from tfgridnet.inference.streaming import enhance_file, expand_inputs

__all__ = ["Enhancer", "ChunkScheduler", "crossfade_weights", "pick_device", "enhance_file",
           "expand_inputs"]
