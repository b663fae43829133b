from __future__ import annotations

import pytest
import torch
from tests.tiny import tiny_args

from tfgridnet.model.tfgridnetv2 import TFGridNetV2

TINY = tiny_args(n_layers=2)


@pytest.fixture
def tiny_model() -> TFGridNetV2:
    torch.manual_seed(0)
    return TFGridNetV2(**TINY)
