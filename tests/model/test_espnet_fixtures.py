"""Our model against outputs that ESPnet's own classes produced (tests/fixtures/make_espnet_fixtures.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from tfgridnet.model.espnet import EspnetImportError, from_espnet_state_dict
from tfgridnet.model.tfgridnetv2 import TFGridNetV2

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def load_fixture(name: str) -> tuple[dict, str, dict, torch.Tensor, torch.Tensor]:
    with safe_open(FIXTURES / f"{name}.safetensors", framework="pt") as handle:
        meta = handle.metadata()
        tensors = {k: handle.get_tensor(k) for k in handle.keys()}
    noisy = tensors.pop("__input__")
    expected = tensors.pop("__output__")
    return tensors, meta["separator"], json.loads(meta["separator_conf"]), noisy, expected


def as_sources(output: torch.Tensor) -> torch.Tensor:
    return output[:, None] if output.ndim == 2 else output


@pytest.mark.parametrize("name", ["espnet_v2_linear", "espnet_v2_unfold"])
def test_v2_state_dict_loads_strictly_and_matches_espnet_output(name: str) -> None:
    state, separator, conf, noisy, expected = load_fixture(name)
    assert separator == "tfgridnetv2"
    model = TFGridNetV2(**conf).eval()
    model.load_state_dict(state, strict=True)
    with torch.no_grad():
        out = as_sources(model(noisy))
    assert out.shape == expected.shape
    assert (out - expected).abs().max().item() < 1e-5


@pytest.mark.parametrize("prefix", ["", "separator."])
def test_v1_checkpoint_maps_onto_v2_with_identical_output(prefix: str) -> None:
    state, separator, conf, noisy, expected = load_fixture("espnet_v1_ks4")
    assert separator == "tfgridnet"
    model = from_espnet_state_dict({prefix + k: v for k, v in state.items()}, separator, conf)
    with torch.no_grad():
        out = as_sources(model(noisy))
    assert (out - expected).abs().max().item() < 1e-5


def test_v2_import_through_espnet_loader_with_prefix() -> None:
    state, separator, conf, noisy, expected = load_fixture("espnet_v2_unfold")
    model = from_espnet_state_dict({"separator." + k: v for k, v in state.items()}, separator,
                                   {**conf, "use_builtin_complex": False})
    with torch.no_grad():
        assert (as_sources(model(noisy)) - expected).abs().max().item() < 1e-5


def test_v1_with_overlapping_windows_is_refused_with_reason() -> None:
    state, _, conf, _, _ = load_fixture("espnet_v1_ks4")
    with pytest.raises(EspnetImportError, match="emb_ks=4 != emb_hs=1"):
        from_espnet_state_dict(state, "tfgridnet", {**conf, "emb_hs": 1})


def test_v1_with_non_prelu_activation_is_refused() -> None:
    state, _, conf, _, _ = load_fixture("espnet_v1_ks4")
    with pytest.raises(EspnetImportError, match="PReLU"):
        from_espnet_state_dict(state, "tfgridnet", {**conf, "activation": "relu"})


def test_wrong_shapes_name_the_configuration() -> None:
    state, separator, conf, _, _ = load_fixture("espnet_v2_linear")
    with pytest.raises(EspnetImportError, match="do not fit"):
        from_espnet_state_dict(state, separator, {**conf, "emb_dim": 32})


def test_v2_config_the_model_rejects_is_an_import_error() -> None:
    state, separator, conf, _, _ = load_fixture("espnet_v2_linear")
    with pytest.raises(EspnetImportError, match="activation"):
        from_espnet_state_dict(state, separator, {**conf, "activation": "relu"})


def test_unknown_separator_name_is_refused() -> None:
    with pytest.raises(EspnetImportError, match="tfgridnetv3"):
        from_espnet_state_dict({}, "tfgridnetv4", {})


def test_espnet_checkpoint_file_and_config_load(tmp_path: Path) -> None:
    import yaml

    from tfgridnet.model.espnet import load_espnet_checkpoint

    state, separator, conf, noisy, expected = load_fixture("espnet_v1_ks4")
    torch.save({"separator." + k: v for k, v in state.items()}, tmp_path / "valid.loss.best.pth")
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(
        {"encoder": "same", "decoder": "same", "separator": separator, "separator_conf": conf,
         "fs": "16k"}))
    model = load_espnet_checkpoint(tmp_path / "valid.loss.best.pth", tmp_path / "config.yaml")
    assert model.sample_rate == 16000
    with torch.no_grad():
        assert (as_sources(model(noisy)) - expected).abs().max().item() < 1e-5


def load_v3_fixture() -> tuple[dict, dict, dict, dict[int, tuple[torch.Tensor, torch.Tensor]]]:
    with safe_open(FIXTURES / "espnet_v3_sfi.safetensors", framework="pt") as handle:
        meta = handle.metadata()
        tensors = {k: handle.get_tensor(k) for k in handle.keys()}
    pairs = {fs: (tensors.pop(f"__input_{fs}__"), tensors.pop(f"__output_{fs}__"))
             for fs in json.loads(meta["sample_rates"])}
    assert meta["separator"] == "tfgridnetv3" and meta["normalize_variance"] == "true"
    return tensors, json.loads(meta["separator_conf"]), json.loads(meta["encoder_conf"]), pairs


def test_v3_fixture_covers_8_16_and_48_khz() -> None:
    assert sorted(load_v3_fixture()[3]) == [8000, 16000, 48000]


@pytest.mark.parametrize("prefix", ["", "separator."])
def test_v3_loads_strictly_and_matches_espnet_at_every_rate(prefix: str) -> None:
    from tfgridnet.model.espnet import stft_kwargs
    from tfgridnet.model.tfgridnetv3 import TFGridNetV3

    state, conf, stft_conf, pairs = load_v3_fixture()
    model = from_espnet_state_dict({prefix + k: v for k, v in state.items()}, "tfgridnetv3", conf,
                                   stft_kwargs(stft_conf, stft_conf), normalize_variance=True)
    assert isinstance(model, TFGridNetV3)
    for fs, (noisy, expected) in pairs.items():
        with torch.no_grad():
            out = as_sources(model(noisy, sample_rate=fs))
        assert out.shape == expected.shape
        assert (out - expected).abs().max().item() < 1e-5, fs


def _write_v3_checkpoint(tmp_path: Path, **changes: object) -> tuple[Path, Path]:
    import yaml

    state, conf, stft_conf, _ = load_v3_fixture()
    torch.save({"separator." + k: v for k, v in state.items()}, tmp_path / "model.pth")
    config = {"encoder": "stft", "encoder_conf": {**stft_conf, "use_builtin_complex": True},
              "decoder": "stft", "decoder_conf": dict(stft_conf), "separator": "tfgridnetv3",
              "separator_conf": conf, "model_conf": {"normalize_variance": True}}
    config.update(changes)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    return tmp_path / "model.pth", tmp_path / "config.yaml"


def test_v3_espnet_checkpoint_file_and_config_load(tmp_path: Path) -> None:
    from tfgridnet.model.espnet import load_espnet_checkpoint

    model = load_espnet_checkpoint(*_write_v3_checkpoint(tmp_path))
    assert model.normalize_variance and model.sample_rate == model.default_fs == 8000
    for fs, (noisy, expected) in load_v3_fixture()[3].items():
        with torch.no_grad():
            assert (as_sources(model(noisy, sample_rate=fs)) - expected).abs().max() < 1e-5


@pytest.mark.parametrize(("change", "message"), [
    ({"encoder": "same"}, "encoder='same'"),
    ({"decoder_conf": {"n_fft": 64, "hop_length": 32, "default_fs": 8000}}, "differ in"),
    ({"encoder_conf": {"n_fft": 64, "spec_transform_type": "exponent"}}, "spec_transform_type"),
    ({"encoder_conf": {"n_fft": 64, "frobnicate": 1}}, "frobnicate"),
    ({"model_conf": {"normalize_variance": True, "always_forward_in_48k": True}}, "48 kHz"),
])
def test_v3_configs_we_cannot_compute_are_refused(tmp_path: Path, change: dict,
                                                  message: str) -> None:
    from tfgridnet.model.espnet import load_espnet_checkpoint

    with pytest.raises(EspnetImportError, match=message):
        load_espnet_checkpoint(*_write_v3_checkpoint(tmp_path, **change))


def test_v3_without_variance_normalisation_differs_from_espnet(tmp_path: Path) -> None:
    from tfgridnet.model.espnet import load_espnet_checkpoint

    model = load_espnet_checkpoint(*_write_v3_checkpoint(tmp_path, model_conf={}))
    noisy, expected = load_v3_fixture()[3][8000]
    with torch.no_grad():
        assert (as_sources(model(noisy, sample_rate=8000)) - expected).abs().max() > 1e-3
