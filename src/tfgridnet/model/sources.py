"""A model to start from or to compare with: every MODEL form, and an ESPnet checkpoint.

``load_source`` accepts what ``model.io.load_model`` accepts (an exported dir, a run dir, a
Lightning checkpoint) and an ESPnet enhancement checkpoint (``*.pth``: a plain state_dict) with its
``config.yaml`` (given, else the one beside the ``.pth``, as ESPnet's ``exp/*/`` folders and the
URGENT baselines lay them out). Every file is read weights-only: a checkpoint that carries pickled
objects (code) is refused, never executed. Each failure is one ``ModelLoadError`` line naming the
file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
import yaml

from tfgridnet.contracts import names
from tfgridnet.model.architectures import architecture_of
from tfgridnet.model.io import (
    CONFIG_NAME,
    WEIGHTS_NAME,
    ModelLoadError,
    load_model,
    read_checkpoint,
)

__all__ = ["ESPNET_CONFIG_NAME", "ModelSource", "SourceKind", "load_source", "one_line"]

SourceKind = Literal["export", "run", "checkpoint", "espnet"]
ESPNET_CONFIG_NAME = names.ESPNET_CONFIG_NAME  # beside the .pth in ESPnet's exp/<name>/ folders


def one_line(text: object) -> str:
    """An error text on one line (load_state_dict and unpickling errors span several)."""
    return " ".join(str(text).split())


@dataclass(frozen=True)
class ModelSource:
    """A loaded model (eval mode) and where it came from.

    ``model.sample_rate`` is the rate it was trained or imported at; it is None for an ESPnet
    V1/V2 checkpoint whose config gives no ``fs`` (ESPnet enhancement configs often omit it).
    """

    model: torch.nn.Module
    path: Path
    kind: SourceKind
    espnet_config: Path | None = None

    @property
    def sample_rate(self) -> int | None:
        rate = getattr(self.model, "sample_rate", None)
        return int(rate) if rate else None

    @property
    def model_section(self) -> dict[str, Any]:
        """The training config's ``model`` section that builds this network: ``version`` and the
        architecture arguments (runtime-only ones such as gradient checkpointing excluded)."""
        return {"version": architecture_of(self.model), **dict(self.model.config)}

    def describe(self) -> str:
        """``PATH (what it is)`` for log lines and reports."""
        what = {"export": "exported model", "run": "run folder's best model",
                "checkpoint": "Lightning checkpoint",
                "espnet": f"ESPnet checkpoint, config {self.espnet_config}"}[self.kind]
        return f"{self.path} ({what})"


def _kind_of_dir(path: Path) -> SourceKind:
    return "export" if (path / CONFIG_NAME).is_file() or (path / WEIGHTS_NAME).is_file() \
        else "run"


def load_source(path: str | os.PathLike, espnet_config: str | os.PathLike | None = None
                ) -> ModelSource:
    """Load ``path`` as a model; ``espnet_config`` is the ``config.yaml`` of an ESPnet ``.pth``
    (default: the one in the same folder)."""
    path = Path(path)
    if not path.exists():
        raise ModelLoadError(f"{path}: not found (expected an exported model dir, a run dir, a "
                             ".ckpt checkpoint or an ESPnet .pth with its config.yaml)")
    if path.is_dir():
        return ModelSource(load_model(path), path, _kind_of_dir(path))
    if path.suffix == ".safetensors":
        return ModelSource(load_model(path), path, "export")
    state = read_checkpoint(path)  # weights-only: pickled code is refused here, in one line
    if "state_dict" in state or "hyper_parameters" in state:
        return ModelSource(load_model(path), path, "checkpoint")
    if not state or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                            for k, v in state.items()):
        raise ModelLoadError(f"{path}: not a model: neither a tfgridnet Lightning checkpoint nor "
                             "an ESPnet state_dict (a mapping of parameter names to tensors)")
    return _load_espnet(path, state, espnet_config)


def _load_espnet(path: Path, state: dict[str, Any], espnet_config: str | os.PathLike | None
                 ) -> ModelSource:
    from tfgridnet.model.espnet import EspnetImportError, load_espnet_checkpoint

    config = Path(espnet_config) if espnet_config is not None else path.parent / ESPNET_CONFIG_NAME
    if not config.is_file():
        where = "given" if espnet_config is not None else f"beside it ({config})"
        raise ModelLoadError(f"{path}: an ESPnet state_dict needs the config.yaml of its training "
                             f"run, and there is none {where}; give it (init.espnet_config)")
    try:
        model = load_espnet_checkpoint(path, config, state_dict=state)
    except EspnetImportError as exc:
        raise ModelLoadError(f"{path}: cannot import as ESPnet TF-GridNet: {one_line(exc)}") \
            from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ModelLoadError(f"{config}: cannot read the ESPnet config ({one_line(exc)})") \
            from None
    except (TypeError, ValueError) as exc:
        raise ModelLoadError(f"{config}: not a usable ESPnet enhancement config "
                             f"({one_line(exc)})") from None
    return ModelSource(model.eval(), path, "espnet", config)
