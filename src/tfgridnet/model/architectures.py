"""The model classes by their configuration name (``model.version`` / export ``architecture``).

One table, read by the training module, the export/load code and the ESPnet importer, so that the
name that selects a class is written in one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import nn

from tfgridnet.errors import UserInputError
from tfgridnet.model.tfgridnetv2 import TFGridNetV2
from tfgridnet.model.tfgridnetv3 import TFGridNetV3

__all__ = ["ARCHITECTURES", "DEFAULT_ARCHITECTURE", "build_model", "architecture_of",
           "is_rate_independent"]

ARCHITECTURES: dict[str, type[nn.Module]] = {"v2": TFGridNetV2, "v3": TFGridNetV3}
# Exports and checkpoints written before V3 existed name no architecture: they are V2.
DEFAULT_ARCHITECTURE = "v2"


def build_model(architecture: str, kwargs: Mapping[str, Any]) -> nn.Module:
    """``ARCHITECTURES[architecture](**kwargs)``; an unknown name says which ones exist."""
    if architecture not in ARCHITECTURES:
        raise UserInputError(f"model architecture {architecture!r}: expected one of "
                         f"{sorted(ARCHITECTURES)}")
    return ARCHITECTURES[architecture](**kwargs)


def architecture_of(model: nn.Module) -> str:
    """The configuration name of ``model``'s class."""
    for name, cls in ARCHITECTURES.items():
        if type(model) is cls:
            return name
    raise ValueError(f"{type(model).__name__} is not one of the tfgridnet architectures "
                     f"{sorted(ARCHITECTURES)}")


def is_rate_independent(model: nn.Module) -> bool:
    """True for models that run at their input's sample rate (V3) rather than one fixed rate."""
    return isinstance(model, TFGridNetV3)
