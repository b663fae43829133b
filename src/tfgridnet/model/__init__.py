"""The TF-GridNetV2 network, its STFT front end and ESPnet checkpoint import."""

from tfgridnet.model.tfgridnetv2 import TFGridNetV2

__all__ = ["TFGridNetV2"]
