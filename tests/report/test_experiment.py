"""The architecture section's parameter count is the count of the model the config builds."""

from __future__ import annotations

import pytest
from tests.tiny import tiny_args

from tfgridnet.model.architectures import build_model
from tfgridnet.model.config import ModelConfig
from tfgridnet.report.experiment import model_facts, parameter_count

SMALL = tiny_args(emb_ks=2, emb_hs=2)


@pytest.mark.parametrize("version", ["v2", "v3"])
def test_meta_device_count_equals_the_real_models(version):
    config = ModelConfig(version=version, **SMALL)
    real = build_model(version, config.model_kwargs())
    assert parameter_count(config) == sum(p.numel() for p in real.parameters())


def test_model_facts_of_a_run_config():
    facts = model_facts({"model": {"version": "v3", **SMALL}})
    assert facts["config"].version == "v3" and facts["params"] > 0
    assert model_facts({}) == {}
    assert "emb_dim" in model_facts({"model": {**SMALL, "emb_dim": 7}})["error"]
