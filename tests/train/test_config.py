"""Config validation: every mistake names its key path and what is allowed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tfgridnet.cli import main
from tfgridnet.train.config import ConfigError
from tfgridnet.train.config_files import config_from_dict, load_config

REPO = Path(__file__).resolve().parents[2]
RECIPES = ("demo", "cpu", "seed", "dns2020", "voicebank_demand", "urgent")


@pytest.mark.parametrize("name", RECIPES)
def test_shipped_recipe_loads_by_name_and_its_shown_copy_loads_the_same(
        name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture) -> None:
    monkeypatch.chdir(tmp_path)
    by_name = load_config(name)
    assert by_name.model.n_srcs == 1
    assert main(["config", "show", name]) == 0
    copy = tmp_path / "my.yaml"
    copy.write_text(capsys.readouterr().out, encoding="utf-8")
    # Named: paths relative to the current folder; the copy there: relative to its folder (the same).
    assert load_config(copy).to_dict() == by_name.to_dict()
    assert by_name.data.valid_manifest.startswith(str(tmp_path))


def test_unknown_recipe_name_lists_the_shipped_ones() -> None:
    with pytest.raises(ConfigError, match="cpu, demo, dns2020, seed, urgent, voicebank_demand"):
        load_config("nonexistent")


def test_seed_recipe_keeps_the_users_setup_with_a_sane_schedule() -> None:
    config = load_config("seed")
    assert (config.model.n_fft, config.model.stride, config.model.n_layers) == (512, 256, 4)
    assert (config.model.lstm_hidden_units, config.model.attn_n_head) == (128, 4)
    assert (config.model.emb_dim, config.model.emb_ks, config.model.emb_hs) == (128, 1, 1)
    assert config.model.gradient_checkpointing
    assert (config.data.batch_size, config.trainer.accumulate_grad_batches) == (32, 4)
    assert config.trainer.gradient_clip_val == 0.5
    assert config.optim.lr == 5e-4
    assert config.optim.lr / config.scheduler.min_lr <= 100


def test_dns2020_recipe_mirrors_the_espnet_hyper_parameters() -> None:
    config = load_config("dns2020")
    m = config.model
    assert (m.n_fft, m.stride, m.n_layers, m.lstm_hidden_units, m.emb_dim, m.emb_ks, m.emb_hs) \
        == (512, 256, 4, 128, 32, 4, 4)
    assert (config.optim.name, config.optim.lr) == ("adam", 1e-3)
    assert (config.scheduler.name, config.scheduler.plateau_factor,
            config.scheduler.plateau_patience) == ("plateau", 0.7, 1)
    assert config.data.crop_seconds == 3.0


def _error(raw: dict) -> str:
    with pytest.raises(ConfigError) as info:
        config_from_dict(raw, source="my.yaml")
    return str(info.value)


def test_unknown_key_is_rejected_with_its_path_and_the_allowed_keys(make_config) -> None:
    raw = make_config(model={"emb_dimm": 16})
    message = _error(raw)
    assert "my.yaml" in message and "model.emb_dimm: unknown key" in message
    assert "emb_dim" in message.split("allowed keys here:")[1]


def test_emb_dim_not_divisible_by_heads_lists_the_allowed_head_counts(make_config) -> None:
    message = _error(make_config(model={"emb_dim": 10, "attn_n_head": 4}))
    assert "model" in message and "not divisible by attn_n_head 4" in message
    assert "[1, 2, 5, 10]" in message


@pytest.mark.parametrize("model, expected", [
    ({"n_fft": 63}, "model.n_fft: n_fft must be even"),
    ({"n_fft": 64, "stride": 96}, "stride (hop) 96 > n_fft 64"),
    ({"activation": "relu"}, "model.activation"),
    ({"n_srcs": 2}, "n_srcs must be 1"),
    ({"n_imics": 2}, "training reads mono pairs: n_imics must be 1"),
    ({"emb_ks": 2, "emb_hs": 3}, "emb_hs 3 > emb_ks 2"),
])
def test_impossible_model_values_are_rejected(make_config, model: dict, expected: str) -> None:
    assert expected in _error(make_config(model=model))


def test_wrong_types_and_ranges_are_rejected_with_the_value(make_config) -> None:
    message = _error(make_config(optim={"lr": "fast"}, trainer={"precision": "fp8"}))
    assert "optim.lr" in message and "'fast'" in message
    assert "trainer.precision" in message and "bf16-mixed" in message


def test_data_sources_must_be_paired_or_dynamic_not_both(make_config) -> None:
    message = _error(make_config(data={"train_clean_manifest": "c.csv"}))
    assert "not both" in message
    message = _error(make_config(data={"train_manifest": None,
                                                    "train_clean_manifest": "c.csv"}))
    assert "train_noise_manifest" in message


def test_crop_shorter_than_one_stft_window_is_rejected(make_config) -> None:
    message = _error(make_config(data={"crop_seconds": 0.001}))
    assert "data.crop_seconds" in message and "model.n_fft" in message


def test_relative_paths_resolve_against_the_config_folder_and_overrides_against_cwd(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_config) -> None:
    folder = tmp_path / "recipes"
    folder.mkdir()
    raw = make_config(data={"train_manifest": "lists/train.csv",
                                         "valid_manifest": "lists/valid.csv"})
    (folder / "c.yaml").write_text(yaml.safe_dump(raw))
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = load_config(folder / "c.yaml", ["data.valid_manifest=mine/valid.csv",
                                             "optim.lr=1e-4", "trainer.devices=2"])
    assert config.data.train_manifest == str(folder / "lists" / "train.csv")
    assert config.data.valid_manifest == str(elsewhere / "mine" / "valid.csv")
    assert config.optim.lr == 1e-4 and config.trainer.devices == 2


@pytest.mark.parametrize("override, expected", [
    ("optim.lr", "expected section.key=value"),
    ("optim.lr.x=1", "optim.lr is a value, not a section"),
    ("optim.nope=1", "optim.nope: unknown key"),
])
def test_bad_overrides_say_what_was_expected(tmp_path: Path, make_config, override: str,
                                             expected: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(make_config()))
    with pytest.raises(ConfigError) as info:
        load_config(path, [override])
    assert expected in str(info.value)


def test_resolved_config_is_plain_json_and_round_trips(tiny_config) -> None:
    plain = tiny_config.to_dict()
    assert json.loads(json.dumps(plain)) == plain
    assert config_from_dict(yaml.safe_load(tiny_config.to_yaml())) == tiny_config


def test_missing_or_non_mapping_config_files_are_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "absent.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_config(tmp_path / "list.yaml")


def test_urgent_recipe_mirrors_the_espnet_urgent24_baseline() -> None:
    from tfgridnet.model.architectures import build_model

    config = load_config("urgent")
    m = config.model
    assert m.version == "v3" and m.rate_independent and m.normalize_variance
    assert (m.n_fft, m.stride, m.default_fs) == (256, 128, 8000)
    assert (m.n_layers, m.lstm_hidden_units, m.attn_n_head, m.attn_qk_output_channel) == (
        6, 200, 4, 2)
    assert (m.emb_dim, m.emb_ks, m.emb_hs) == (48, 4, 1)
    d = config.data
    assert d.dynamic_mixing and tuple(d.snr_range) == (-5.0, 20.0) and d.crop_seconds == 4.0
    assert d.distortions.reverb_prob == 0.5 and tuple(d.distortions.clip_quantiles) == (0.1, 0.9)
    assert (config.optim.lr, config.optim.weight_decay) == (1e-3, 1e-5)
    assert config.trainer.gradient_clip_val == 1.0
    model = build_model(m.version, m.model_kwargs())
    assert type(model).__name__ == "TFGridNetV3"


def test_v3_crop_is_checked_against_the_window_at_default_fs() -> None:
    model = {"version": "v3", "n_fft": 256, "stride": 128, "default_fs": 8000}
    config_from_dict({"model": model, "data": {"sample_rate": 48000, "crop_seconds": 0.04}})
    with pytest.raises(ConfigError, match="at 8000 Hz"):
        config_from_dict({"model": model, "data": {"sample_rate": 48000, "crop_seconds": 0.02}})
