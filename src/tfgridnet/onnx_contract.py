"""The exported ``model.onnx`` file contract: its file name, input/output names and metadata keys.

Written by the exporter (``model.onnx_export``) and read by the runner
(``inference.onnx_backend``); defined here, below both, so that neither imports the other for it.
Imports nothing.
"""

from __future__ import annotations

__all__ = ["ONNX_NAME", "INPUT_NAME", "OUTPUT_NAME", "META_SAMPLE_RATE", "META_STFT"]

ONNX_NAME = "model.onnx"
INPUT_NAME = "noisy"  # float32 [batch, samples] at the model's rate
OUTPUT_NAME = "enhanced"  # float32 [batch, samples], the input's length
# Keys of the file's metadata_props.
META_SAMPLE_RATE = "sample_rate"
META_STFT = "stft"
