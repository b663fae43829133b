"""The TF-GridNet networks (V2, and the sample-rate-independent V3), their STFT front end and ESPnet
checkpoint import."""

from tfgridnet.model.tfgridnetv2 import TFGridNetV2
from tfgridnet.model.tfgridnetv3 import TFGridNetV3

__all__ = ["TFGridNetV2", "TFGridNetV3"]
