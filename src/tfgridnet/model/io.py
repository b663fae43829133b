"""Save, find and load models for inference without ever unpickling code.

Three sources are accepted everywhere a MODEL is asked for:

* an **exported dir**: ``model.safetensors`` + ``config.json`` (written by :func:`save_exported`);
* a **run dir**: its ``model/`` export, else the best checkpoint in ``checkpoints/``;
* a **Lightning checkpoint** (``.ckpt``): ``state_dict`` keys ``model.*`` and the model kwargs in
  ``hyper_parameters["config"]["model"]``. It is read with ``torch.load(weights_only=True)``, so a
  file carrying pickled objects (code) is refused instead of executed.
"""

from __future__ import annotations

import json
import os
import pickle
import re
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from tfgridnet.audio.io import AUDIO_SUFFIXES
from tfgridnet.contracts.folders import RunDir, checkpoint_epoch, checkpoint_score
from tfgridnet.contracts.names import CONFIG_NAME, WEIGHTS_NAME
from tfgridnet.errors import UserInputError
from tfgridnet.fileio import atomic_path, write_json_atomic
from tfgridnet.model.architectures import (
    ARCHITECTURES,
    DEFAULT_ARCHITECTURE,
    architecture_of,
    build_model,
)
from tfgridnet.model.config import RUNTIME_ONLY, validate_model_args

__all__ = [
    "EXPORT_FORMAT", "EXPORT_VERSION", "ModelLoadError", "save_exported", "load_model",
    "export_model", "resolve_checkpoint", "read_checkpoint",
]

EXPORT_FORMAT = "tfgridnet-export"
# 2 added the "architecture" key (V3); V2 exports are still written as 1, which older readers take.
EXPORT_VERSION = 2


class ModelLoadError(UserInputError):
    """A model source is missing, malformed or unsafe; the message names the file."""


def save_exported(model: torch.nn.Module, sample_rate: int, out_dir: Path,
                  extra: dict | None = None) -> Path:
    """Write ``out_dir/model.safetensors`` and ``out_dir/config.json`` atomically; return out_dir.

    ``config.json`` names the architecture (``v2``/``v3``); for V3, ``sample_rate`` is the rate it
    was trained or imported at, while it runs at its input's rate.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if not hasattr(model, "config"):
        raise ModelLoadError(f"cannot export {type(model).__name__}: it has no `config` attribute")
    # safetensors refuses shared or strided storage: give each tensor its own contiguous copy.
    tensors = {name: t.detach().cpu().contiguous().clone() for name, t in model.state_dict().items()}
    with atomic_path(out_dir / WEIGHTS_NAME) as tmp:
        save_file(tensors, str(tmp), metadata={"format": EXPORT_FORMAT})
    architecture = architecture_of(model)
    config = {"format": EXPORT_FORMAT,
              "version": 1 if architecture == DEFAULT_ARCHITECTURE else EXPORT_VERSION,
              "architecture": architecture,
              "model": _inference_kwargs(dict(model.config)), "sample_rate": int(sample_rate)}
    config.update(extra or {})
    write_json_atomic(out_dir / CONFIG_NAME, config)
    return out_dir


def load_model(path: str | os.PathLike,
               map_location: str | torch.device = "cpu") -> torch.nn.Module:
    """Load an exported dir, a run dir or a Lightning checkpoint; eval mode, ``.sample_rate`` set."""
    path = Path(path)
    if not path.exists():
        raise ModelLoadError(f"{path}: model not found (expected an exported model dir, a run dir "
                             "or a .ckpt checkpoint)")
    if path.is_dir():
        if (path / CONFIG_NAME).is_file() or (path / WEIGHTS_NAME).is_file():
            return _load_exported(path, map_location)
        if RunDir(path).model_weights.is_file():
            return _load_exported(RunDir(path).model, map_location)
        return _load_checkpoint(resolve_checkpoint(path), map_location)
    if path.suffix == ".safetensors":
        return _load_exported(path.parent, map_location)
    return _load_checkpoint(path, map_location)


def export_model(source: Path, out_dir: Path) -> Path:
    """Turn a run dir or checkpoint (or another export) into an exported model dir."""
    from tfgridnet.safety import refuse_existing_file, refuse_input_overwrite

    source, out_dir = Path(source), Path(out_dir)
    refuse_existing_file(out_dir)
    read = [source] if source.is_file() else [p for p in source.rglob("*") if p.is_file()]
    refuse_input_overwrite([out_dir / WEIGHTS_NAME, out_dir / CONFIG_NAME], read)
    model = load_model(source)
    extra: dict[str, Any] = {"source": str(source)}
    if source.is_file() and source.suffix != ".safetensors":
        extra["checkpoint"] = source.name
    return save_exported(model, model.sample_rate, out_dir, extra=extra)


def resolve_checkpoint(run_dir: Path) -> Path:
    """The best checkpoint of a run: ModelCheckpoint's recorded best, else the best score in the
    file names (``valid_sisnr=...``), else ``last.ckpt``."""
    run = RunDir(run_dir)
    ckpt_dir = run.checkpoints
    ckpts = run.checkpoint_files()
    if not ckpts:
        raise ModelLoadError(f"{run_dir}: no model/{WEIGHTS_NAME} and no checkpoints/*.ckpt; "
                             "expected an exported model dir, a run dir or a .ckpt file")
    last = run.last_checkpoint
    if last.is_file():
        try:
            callbacks = read_checkpoint(last).get("callbacks") or {}
        except ModelLoadError:
            callbacks = {}
        for key, state in callbacks.items():
            if "ModelCheckpoint" in str(key) and isinstance(state, dict):
                best = state.get("best_model_path")
                if best and (ckpt_dir / Path(best).name).is_file():
                    return ckpt_dir / Path(best).name
    scored = [(score, p) for p in ckpts if (score := checkpoint_score(p.name)) is not None]
    if scored:
        return max(scored)[1]
    return last if last.is_file() else max(ckpts, key=lambda p: p.stat().st_mtime)


def read_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """``torch.load(weights_only=True)`` with errors that name the file and say why."""
    path = Path(path)
    if not path.is_file():
        raise ModelLoadError(f"{path}: checkpoint not found")
    if path.suffix.lower() in AUDIO_SUFFIXES:
        raise ModelLoadError(f"{path}: this is an audio file, not a model; MODEL is an exported "
                             "model dir, a run dir or a .ckpt checkpoint (it comes first)")
    try:
        obj = torch.load(str(path), map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        unsafe = re.search(r"(?:unsupported|Unsupported global:) GLOBAL ([\w.]+)", str(exc))
        if unsafe is None:
            raise ModelLoadError(f"{path}: corrupt or not a checkpoint") from None
        raise ModelLoadError(
            f"{path}: refused to load: the checkpoint contains the pickled Python object "
            f"{unsafe.group(1)}, and loading it could run arbitrary code; only safetensors "
            "exports and plain-data checkpoints are accepted") from None
    except OSError as exc:
        raise ModelLoadError(f"{path}: cannot read checkpoint ({exc.strerror or exc})") from None
    except Exception:  # noqa: BLE001 - any failure to decode untrusted bytes means "corrupt"
        raise ModelLoadError(f"{path}: corrupt or not a checkpoint") from None
    if not isinstance(obj, dict):
        raise ModelLoadError(f"{path}: expected a checkpoint dict, got {type(obj).__name__}")
    return obj


epoch_from_name = checkpoint_epoch  # the name this module has always exported


def _inference_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in kwargs.items() if k not in RUNTIME_ONLY}


def _build(kwargs: Any, source: Path, architecture: Any = None) -> torch.nn.Module:
    """The model class named by ``architecture`` (an export's key) or by the training config's
    ``version`` inside ``kwargs``; neither means V2 (written before V3 existed)."""
    if not isinstance(kwargs, dict):
        raise ModelLoadError(f"{source}: model configuration must be a mapping of model "
                             f"arguments, got {type(kwargs).__name__}")
    kwargs = dict(kwargs)
    architecture = architecture or kwargs.pop("version", None) or DEFAULT_ARCHITECTURE
    kwargs.pop("version", None)
    if architecture not in ARCHITECTURES:
        raise ModelLoadError(f"{source}: unknown model architecture {architecture!r}; expected "
                             f"one of {sorted(ARCHITECTURES)}")
    name = ARCHITECTURES[architecture].__name__
    try:
        return build_model(architecture, _inference_kwargs(kwargs))
    except (TypeError, ValueError) as exc:
        raise ModelLoadError(f"{source}: model configuration does not match {name} ({exc})") \
            from exc


def _finish(model: torch.nn.Module, state: dict[str, torch.Tensor], sample_rate: Any,
            source: Path, map_location: str | torch.device) -> torch.nn.Module:
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ModelLoadError(f"{source}: weights do not fit the configured model: "
                             f"{str(exc).splitlines()[0]}") from exc
    if not isinstance(sample_rate, int) or sample_rate <= 0:
        raise ModelLoadError(f"{source}: missing or invalid sample_rate {sample_rate!r} "
                             "(expected a positive integer)")
    model.sample_rate = sample_rate
    return model.to(map_location).eval()


def _load_exported(model_dir: Path, map_location: str | torch.device) -> torch.nn.Module:
    config_path, weights_path = model_dir / CONFIG_NAME, model_dir / WEIGHTS_NAME
    for required in (config_path, weights_path):
        if not required.is_file():
            raise ModelLoadError(f"{required}: missing from the exported model dir {model_dir}")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"{config_path}: not valid JSON ({exc})") from exc
    if not isinstance(config, dict) or config.get("format") != EXPORT_FORMAT:
        raise ModelLoadError(f"{config_path}: expected \"format\": \"{EXPORT_FORMAT}\"")
    if config.get("version", 0) > EXPORT_VERSION:
        raise ModelLoadError(f"{config_path}: export version {config['version']} is newer than "
                             f"this tfgridnet supports ({EXPORT_VERSION}); upgrade tfgridnet")
    try:
        state = load_file(str(weights_path))
    except (SafetensorError, OSError) as exc:
        raise ModelLoadError(f"{weights_path}: unreadable safetensors file ({exc})") from exc
    model = _build(config.get("model"), config_path, config.get("architecture"))
    return _finish(model, state, config.get("sample_rate"), weights_path, map_location)


def _load_checkpoint(path: Path, map_location: str | torch.device) -> torch.nn.Module:
    ckpt = read_checkpoint(path)
    state_dict = ckpt.get("state_dict")
    hparams = ckpt.get("hyper_parameters") or {}
    config = hparams.get("config") if isinstance(hparams, dict) else None
    if not isinstance(state_dict, dict) or not isinstance(config, dict) or "model" not in config:
        raise ModelLoadError(
            f"{path}: not a tfgridnet Lightning checkpoint (expected 'state_dict' and "
            "hyper_parameters['config']['model']); ESPnet checkpoints are imported separately")
    prefix = "model."
    state = {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}
    if not state:
        raise ModelLoadError(f"{path}: state_dict holds no 'model.*' weights")
    sample_rate = (config.get("data") or {}).get("sample_rate")
    return _finish(_build(_checkpoint_model_kwargs(config["model"], path), path), state,
                   sample_rate, path, map_location)


def _checkpoint_model_kwargs(model_section: Any, source: Path) -> Any:
    """The training config's model section -> ``version`` + the selected class's arguments."""
    if not isinstance(model_section, dict):
        return model_section  # _build names the problem
    try:
        parsed = validate_model_args("model", **model_section)
    except ValueError as exc:
        raise ModelLoadError(f"{source}: invalid model configuration in the checkpoint "
                             f"({exc})") from exc
    return {"version": parsed.version, **parsed.model_kwargs()}
