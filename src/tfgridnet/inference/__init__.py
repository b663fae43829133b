"""Inference: running a trained model on audio (enhancement, level correction)."""
