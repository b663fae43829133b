from __future__ import annotations

import pytest
import torch

from tfgridnet.model.tfgridnetv2 import TFGridNetV2

TINY = dict(n_srcs=1, n_fft=64, stride=32, n_layers=2, lstm_hidden_units=8, attn_n_head=2,
            emb_dim=8, emb_ks=1, emb_hs=1)


@pytest.fixture
def tiny_model() -> TFGridNetV2:
    torch.manual_seed(0)
    return TFGridNetV2(**TINY)
