"""Model files written by tfgridnet 0.1.0 still load, as the same function.

The files (tests/fixtures/release_0.1.0/, made by tests/fixtures/make_release_fixtures.py with that
release) were trained with the STFT sizes left to that release's defaults, so a later change of a
default cannot change what they compute without failing here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from tfgridnet.model.io import load_model

RELEASE = Path(__file__).resolve().parents[1] / "fixtures" / "release_0.1.0"


def _expected(arch: str) -> dict[str, torch.Tensor]:
    with safe_open(RELEASE / arch / "expected.safetensors", framework="pt") as handle:
        return {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118


@pytest.mark.parametrize("arch", ["v2", "v3"])
@pytest.mark.parametrize("source", ["model", "last.ckpt"])
def test_release_export_and_checkpoint_compute_what_they_computed(arch: str, source: str) -> None:
    model = load_model(RELEASE / arch / source)
    stored = json.loads((RELEASE / arch / "model" / "config.json").read_text())
    assert model.config == stored["model"]
    assert model.sample_rate == stored["sample_rate"] == 16000
    expected = _expected(arch)
    with torch.no_grad():
        torch.testing.assert_close(model(expected["__input__"]), expected["__output__"],
                                   rtol=1e-4, atol=1e-5)
        if arch == "v3":
            torch.testing.assert_close(model(expected["__input_8000__"], sample_rate=8000),
                                       expected["__output_8000__"], rtol=1e-4, atol=1e-5)
