"""The model arguments are defined once (ModelConfig): the classes, the ESPnet import and every
shipped recipe agree with it."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
import torch
import yaml

from tfgridnet.model.config import (
    RUNTIME_ONLY,
    ModelConfig,
    architecture_keys,
    model_defaults,
)
from tfgridnet.model.espnet import load_espnet_checkpoint
from tfgridnet.model.tfgridnetv2 import TFGridNetV2
from tfgridnet.model.tfgridnetv3 import TFGridNetV3
from tfgridnet.train.config import TRAINING_MODEL_DEFAULTS, TrainModelConfig
from tfgridnet.train.config_files import load_config, recipe_names, recipe_text

CLASSES = {"v2": TFGridNetV2, "v3": TFGridNetV3}


@pytest.mark.parametrize("version", sorted(CLASSES))
def test_class_signature_is_model_config(version: str) -> None:
    """Same arguments, same defaults: a default changed in ModelConfig changes the class."""
    params = inspect.signature(CLASSES[version]).parameters
    arguments = {name: p.default for name, p in params.items() if name != "input_dim"}
    assert set(arguments) == set(architecture_keys(version)) | set(RUNTIME_ONLY)
    assert arguments == model_defaults(version)


def test_defaults_are_espnets() -> None:
    """ESPnet 202511: TFGridNetV2's separator computes its own STFT (n_fft=128, stride=64);
    TFGridNetV3 takes its spectra from STFTEncoder/STFTDecoder (n_fft=512, win_length=None,
    hop_length=128, window='hann', default_fs=16000)."""
    v2, v3 = ModelConfig(), ModelConfig(version="v3")
    assert (v2.n_fft, v2.stride, v2.window) == (128, 64, "hann")
    assert (v3.n_fft, v3.stride, v3.win_length, v3.window, v3.default_fs) == (
        512, 128, None, "hann", 16000)
    assert TFGridNetV3().config["n_fft"] == 512 and TFGridNetV3().config["stride"] == 128
    # Given values always win over the version's defaults.
    assert ModelConfig(version="v3", n_fft=256).stride == 128
    assert ModelConfig(version="v3", stride=32).n_fft == 512


def test_training_defaults_stay_the_recipes_small_model() -> None:
    """A training config's model section defaults to the recipes' small model, at either version
    (their STFT: 32 ms windows, 16 ms hops at 16 kHz, the URGENT baseline's timing for V3)."""
    for version in ("v2", "v3"):
        config = TrainModelConfig(version=version)
        for key, value in TRAINING_MODEL_DEFAULTS.items():
            assert getattr(config, key) == value, (version, key)


def test_espnet_v3_without_stft_sizes_loads_with_espnets_defaults(tmp_path: Path) -> None:
    """An ESPnet config whose encoder_conf/decoder_conf leave the STFT out ran with ESPnet's
    STFTEncoder defaults; V3's weights fit any STFT size, so only the defaults can get it right."""
    source = TFGridNetV3(n_srcs=1, n_layers=1, lstm_hidden_units=4, attn_n_head=2,
                         attn_qk_output_channel=2, emb_dim=4, emb_ks=2, emb_hs=2)
    torch.save({f"separator.{k}": v for k, v in source.state_dict().items()},
               tmp_path / "model.pth")
    separator_conf = {"n_srcs": 1, "n_layers": 1, "lstm_hidden_units": 4, "attn_n_head": 2,
                      "attn_qk_output_channel": 2, "emb_dim": 4, "emb_ks": 2, "emb_hs": 2}
    config = {"encoder": "stft", "encoder_conf": {}, "decoder": "stft", "decoder_conf": {},
              "separator": "tfgridnetv3", "separator_conf": separator_conf}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    model = load_espnet_checkpoint(tmp_path / "model.pth", tmp_path / "config.yaml")
    stft = {k: model.config[k] for k in ("n_fft", "stride", "win_length", "window", "default_fs")}
    assert stft == {"n_fft": 512, "stride": 128, "win_length": 512, "window": "hann",
                    "default_fs": 16000}


@pytest.mark.parametrize("name", recipe_names())
def test_recipe_sets_only_its_class_arguments_and_builds_them(name: str) -> None:
    """A recipe names only arguments of the class it selects (a V2 key in a V3 recipe would be
    dropped without a word), and the model built from it has exactly the recipe's architecture."""
    section = yaml.safe_load(recipe_text(name))["model"]
    version = section.get("version", "v2")
    allowed = {"version", *architecture_keys(version), *RUNTIME_ONLY}
    assert set(section) <= allowed, f"{name}: {sorted(set(section) - allowed)}"
    config = load_config(name).model
    assert {k: getattr(config, k) for k in section} == section
    with torch.device("meta"):
        model = CLASSES[version](**config.model_kwargs())
    expected = config.architecture()
    if "win_length" in expected:  # None: the window is n_fft long, which the class writes out
        expected["win_length"] = expected["win_length"] or expected["n_fft"]
    assert model.config == expected
