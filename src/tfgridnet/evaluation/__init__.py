"""Evaluation: score a model on a manifest against the identity baseline and write the evaluation dir."""

from tfgridnet.evaluation.evaluate import evaluate

__all__ = ["evaluate"]
