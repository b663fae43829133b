"""`tfgridnet train --init MODEL` and `evaluate --baseline MODEL` refuse every unusable source in
one line, exit 2, before anything is written."""

from __future__ import annotations

import collections
import json
from pathlib import Path

import pytest
import torch
import yaml

from tfgridnet.model.io import CONFIG_NAME

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


class Payload:
    """A class: pickling an instance stores code that weights-only loading must refuse."""


def _recipe(tmp_path: Path, corpus: Path, model: dict | None = None, **data) -> Path:
    raw = {"data": {"sample_rate": 16000, "train_manifest": str(corpus / "m.csv"),
                    "valid_manifest": str(corpus / "m.csv"), "crop_seconds": 0.25,
                    "num_workers": 0, "check_pairs": 0, **data},
           "trainer": {"max_epochs": 1, "accelerator": "cpu", "progress_bar": "none"}}
    if model is not None:
        raw["model"] = model
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _espnet_pth(folder: Path, fixture: str, with_config: bool = True) -> Path:
    from safetensors import safe_open

    folder.mkdir(parents=True, exist_ok=True)
    with safe_open(FIXTURES / f"{fixture}.safetensors", framework="pt") as handle:
        conf = json.loads(handle.metadata()["separator_conf"])
        state = {k: handle.get_tensor(k) for k in handle.keys() if not k.startswith("__")}
    torch.save(state, folder / "valid.loss.best.pth")
    if with_config:
        (folder / "config.yaml").write_text(yaml.safe_dump(
            {"separator": "tfgridnetv2", "separator_conf": conf, "fs": 16000}))
    return folder / "valid.loss.best.pth"


def _source(kind: str, tmp_path: Path, model_dir: Path) -> tuple[Path, tuple[str, ...]]:
    """A bad ``--init`` source and the words its one line must hold."""
    if kind == "missing":
        return tmp_path / "nowhere", ("init.from", "nowhere", "not found")
    if kind == "garbage":
        path = tmp_path / "model.ckpt"
        path.write_bytes(b"\x00garbage" * 100)
        return path, ("model.ckpt", "corrupt or not a checkpoint")
    if kind == "text":
        path = tmp_path / "notes.yaml"
        path.write_text("hello: world\n")
        return path, ("notes.yaml", "corrupt or not a checkpoint")
    if kind == "not_a_model":
        path = tmp_path / "numbers.pt"
        torch.save({"step": torch.tensor(3), "lr": 0.1}, path)
        return path, ("numbers.pt", "not a model")
    if kind == "pickled_code":
        path = tmp_path / "evil.ckpt"
        torch.save({"state_dict": {}, "hyper_parameters": {"x": Payload()}}, path)
        return path, ("evil.ckpt", "refused to load", "Payload")
    if kind == "espnet_without_config":
        return _espnet_pth(tmp_path / "exp", "espnet_v2_linear", with_config=False), (
            "valid.loss.best.pth", "config.yaml")
    if kind == "two_sources":  # ESPnet's 2-speaker fixture: training enhances one
        path = _espnet_pth(tmp_path / "exp2", "espnet_v2_unfold")
        conf = yaml.safe_load(path.with_name("config.yaml").read_text())
        assert conf["separator_conf"]["n_srcs"] == 2
        return path, ("init.from", "n_srcs", "must be 1")
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["missing", "garbage", "text", "not_a_model", "pickled_code",
                                  "espnet_without_config", "two_sources"])
def test_unusable_init_source_is_one_line_and_nothing_is_written(
        cli, checksums, corpus, model_dir, tmp_path, kind):
    source, words = _source(kind, tmp_path, model_dir)
    recipe = _recipe(tmp_path, corpus)
    checksums(corpus, recipe, *([source] if source.exists() else []))
    result = cli("train", recipe, "--out", tmp_path / "run", "--init", source)
    assert result.code == 2, result.err
    line = result.one_line_error()
    assert all(word in line for word in words), line
    assert not (tmp_path / "run").exists()
    checksums.assert_unchanged()


def test_unreadable_source_file_is_refused(cli, corpus, model_dir, tmp_path, monkeypatch):
    source = tmp_path / "model.ckpt"
    source.write_bytes(b"x")

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(torch, "load", denied)  # root reads any file: the OS's refusal, simulated
    result = cli("train", _recipe(tmp_path, corpus), "--out", tmp_path / "run", "--init", source)
    assert result.code == 2
    assert "cannot read checkpoint (Permission denied)" in result.one_line_error()
    assert not (tmp_path / "run").exists()


def test_model_arguments_the_recipe_sets_against_the_source_are_named_with_both_values(
        cli, corpus, model_dir, tmp_path):
    exported = json.loads((model_dir / CONFIG_NAME).read_text())["model"]
    recipe = _recipe(tmp_path, corpus, model={"n_layers": 3, "emb_dim": 16,
                                              "n_fft": exported["n_fft"],
                                              "stride": exported["stride"]})
    result = cli("train", recipe, "--out", tmp_path / "run", "--init", model_dir)
    assert result.code == 2
    line = result.one_line_error()
    assert f"model.n_layers: config 3, source {exported['n_layers']}" in line
    assert f"model.emb_dim: config 16, source {exported['emb_dim']}" in line
    assert "n_fft" not in line  # set, but to the source's value: no conflict
    assert not (tmp_path / "run").exists()


def test_source_at_another_sample_rate_than_the_data_is_refused(cli, corpus, model_dir, tmp_path):
    recipe = _recipe(tmp_path, corpus, sample_rate=8000)
    result = cli("train", recipe, "--out", tmp_path / "run", "--init", model_dir)
    assert result.code == 2
    line = result.one_line_error()
    assert "runs at 16000 Hz" in line and "data.sample_rate is 8000 Hz" in line
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("override", "words"), [
    ("init.freeze=[encoder]", ("init.freeze", "'encoder' matches no parameter", "blocks.0")),
    ("init.reinit=[conv]", ("init.freeze and init.reinit both match", "conv.0.weight")),
    ("init.freeze=['*']", ("every parameter",)),
])
def test_patterns_that_cannot_work_are_refused(cli, corpus, model_dir, tmp_path, override, words):
    recipe = _recipe(tmp_path, corpus)
    extra = ["-o", "init.freeze=[conv]"] if override.startswith("init.reinit") else []
    result = cli("train", recipe, "--out", tmp_path / "run", "--init", model_dir,
                 "-o", override, *extra)
    assert result.code == 2
    line = result.one_line_error()
    assert all(word in line for word in words), line
    assert not (tmp_path / "run").exists()


def test_finetune_options_without_a_source_are_refused(cli, corpus, tmp_path):
    result = cli("train", _recipe(tmp_path, corpus), "--out", tmp_path / "run",
                 "-o", "optim.lr_pretrained=1e-4")
    assert result.code == 2 and "set init.from" in result.err
    assert not (tmp_path / "run").exists()


def test_evaluate_baseline_that_cannot_load_is_one_line(cli, corpus, model_dir, tmp_path):
    result = cli("evaluate", model_dir, "--manifest", corpus / "m.csv", "--out",
                 tmp_path / "eval", "--baseline", tmp_path / "nowhere")
    assert result.code == 2
    assert "nowhere: not found" in result.one_line_error()


def test_init_from_a_pickled_ordered_dict_of_tensors_is_an_espnet_source(tmp_path):
    """ESPnet saves its state_dicts as OrderedDicts: that container is plain data, accepted."""
    from tfgridnet.model.sources import load_source

    path = _espnet_pth(tmp_path / "exp", "espnet_v2_linear")
    torch.save(collections.OrderedDict(torch.load(path, weights_only=True)), path)
    assert load_source(path).kind == "espnet"
