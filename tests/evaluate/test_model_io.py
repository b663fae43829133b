from __future__ import annotations

import json
import os

import pytest
import torch

from tfgridnet.model.io import ModelLoadError, export_model, load_model, resolve_checkpoint


def _lightning_ckpt(model, path, extra_kwargs=None, **extra):
    kwargs = dict(model.config, **(extra_kwargs or {}))
    ckpt = {
        "state_dict": {f"model.{k}": v for k, v in model.state_dict().items()},
        "hyper_parameters": {"config": {"model": kwargs, "data": {"sample_rate": 16000}}},
        **extra,
    }
    torch.save(ckpt, path)
    return path


def _same_output(a, b):
    x = torch.randn(1, 800, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        return torch.equal(a(x), b(x))


def test_export_round_trip_gives_the_same_model(tiny_model, exported_dir):
    config = json.loads((exported_dir / "config.json").read_text())
    assert config["format"] == "tfgridnet-export" and config["version"] == 1
    assert config["sample_rate"] == 16000 and config["model"]["emb_dim"] == 8
    loaded = load_model(exported_dir)
    assert not loaded.training and loaded.sample_rate == 16000
    assert _same_output(tiny_model, loaded)


def test_lightning_checkpoint_loads_and_drops_training_switches(tiny_model, tmp_path):
    ckpt = _lightning_ckpt(tiny_model, tmp_path / "epoch=3.ckpt",
                           extra_kwargs={"gradient_checkpointing": True})
    loaded = load_model(ckpt)
    assert loaded.sample_rate == 16000 and not loaded.gradient_checkpointing
    assert _same_output(tiny_model, loaded)


def test_run_dir_prefers_its_export_then_the_recorded_best_checkpoint(tiny_model, tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    best = _lightning_ckpt(tiny_model, run / "checkpoints" / "epoch=1-valid_sisnr=3.00.ckpt")
    _lightning_ckpt(tiny_model, run / "checkpoints" / "epoch=2-valid_sisnr=9.00.ckpt")
    _lightning_ckpt(tiny_model, run / "checkpoints" / "last.ckpt", callbacks={
        "ModelCheckpoint{'monitor': 'valid_sisnr'}": {"best_model_path": str(best)}})
    assert resolve_checkpoint(run) == best
    (run / "checkpoints" / "last.ckpt").unlink()
    assert resolve_checkpoint(run).name == "epoch=2-valid_sisnr=9.00.ckpt"
    assert load_model(run).sample_rate == 16000
    out = export_model(run, run / "model")
    assert (out / "model.safetensors").is_file()
    assert load_model(run).sample_rate == 16000  # now served from run/model/


class _Payload:
    def __reduce__(self):
        return (os.makedirs, ("/tmp/tfgridnet-pwned-should-not-exist",))


def test_malicious_pickle_checkpoint_is_refused_without_running_it(tmp_path):
    marker = "/tmp/tfgridnet-pwned-should-not-exist"
    if os.path.exists(marker):
        os.rmdir(marker)
    bad = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": {"payload": _Payload()}}, bad)
    with pytest.raises(ModelLoadError, match=r"evil\.ckpt: refused to load"):
        load_model(bad)
    assert not os.path.exists(marker)


def test_bad_sources_get_errors_naming_the_file(tmp_path, exported_dir):
    with pytest.raises(ModelLoadError, match="not found"):
        load_model(tmp_path / "nope")
    empty = tmp_path / "emptyrun"
    empty.mkdir()
    with pytest.raises(ModelLoadError, match="no checkpoints"):
        load_model(empty)
    (exported_dir / "config.json").write_text('{"format": "something-else"}')
    with pytest.raises(ModelLoadError, match="config.json"):
        load_model(exported_dir)
    garbage = tmp_path / "garbage.ckpt"
    garbage.write_bytes(b"not a checkpoint at all")
    with pytest.raises(ModelLoadError, match="garbage.ckpt"):
        load_model(garbage)
