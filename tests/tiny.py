"""The tiny TF-GridNet every test folder builds its models from: a few thousand parameters, a
forward pass in milliseconds on a CPU. One definition, so that a change of the model's arguments
is made once for every test; a test that needs another size says only what differs
(``tiny_args(n_layers=2)``).

Import it relatively from a test folder: ``from tests.tiny import tiny_args``.
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["TINY_V2", "TINY_V3", "tiny_args", "tiny_model", "tiny_section"]

# ModelConfig arguments (a training config's model section without "version")
TINY_V2: dict[str, Any] = dict(n_fft=64, stride=32, n_layers=1, lstm_hidden_units=8,
                               attn_n_head=2, emb_dim=8, emb_ks=1, emb_hs=1)
TINY_V3: dict[str, Any] = dict(n_fft=64, stride=32, default_fs=8000, n_layers=1,
                               lstm_hidden_units=8, attn_n_head=2, attn_qk_output_channel=2,
                               emb_dim=8, emb_ks=4, emb_hs=1)
_TINY = {"v2": TINY_V2, "v3": TINY_V3}


def tiny_args(version: str = "v2", **overrides: Any) -> dict[str, Any]:
    """The constructor arguments of the tiny TFGridNetV2 (or V3), one source, ``overrides`` on top."""
    return {"n_srcs": 1, **_TINY[version], **overrides}


def tiny_model(version: str = "v2", seed: int = 0, **overrides: Any) -> torch.nn.Module:
    """The tiny model itself, its weights drawn from ``seed``."""
    from tfgridnet.model.architectures import build_model

    torch.manual_seed(seed)
    return build_model(version, tiny_args(version, **overrides))


def tiny_section(version: str = "v2", **overrides: Any) -> dict[str, Any]:
    """The ``model`` section of a training config that builds the tiny model."""
    return {**({"version": version} if version != "v2" else {}), **_TINY[version], **overrides}
