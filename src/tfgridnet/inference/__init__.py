"""Inference: the Enhancer, its chunk scheduler and backends (PyTorch, onnxruntime)."""
