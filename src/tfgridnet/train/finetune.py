"""Fine-tuning: start a run from a trained model (``init.from``) instead of random weights.

Before anything is written, :func:`prepare_finetune` loads the source weights-only
(``model.sources.load_source``: every MODEL form and ESPnet checkpoints) and takes the run's
``model`` section from it. A model key the config *gives* (in its YAML or with ``-o``; the
recipes' defaults do not count) that disagrees with the source is refused, naming each key and
both values; runtime-only keys (``gradient_checkpointing``) stay the config's. A source at another
sample rate than ``data.sample_rate`` (fixed-rate V2 models), a source the training config cannot
take (``n_srcs`` 2) and patterns that match no parameter are refused too, each in one line.

Then the run loads the weights (except ``init.reinit``'s), freezes ``init.freeze``'s parameters,
trains the pretrained ones at ``optim.lr_pretrained`` and the re-initialised ones at ``optim.lr``,
writes ``init.json``, and validates the initial model before the first optimiser step: the
``metrics.csv`` row at ``epoch`` -1, ``step`` 0 (``train.metrics_schema.INITIAL_EPOCH``).
A resume continues the fine-tune from its checkpoint: nothing here runs again.
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from pydantic import ValidationError

from tfgridnet.contracts.init_record import InitRecord
from tfgridnet.model.config import RUNTIME_ONLY
from tfgridnet.model.io import ModelLoadError
from tfgridnet.model.sources import ModelSource, load_source, one_line
from tfgridnet.text import plural
from tfgridnet.train.config import Config, ConfigError

if TYPE_CHECKING:
    import lightning.pytorch as pl

    from tfgridnet.train.epoch_log import EpochMonitor

__all__ = ["InitError", "matches", "prepare_finetune", "load_initial_weights", "freeze",
           "parameter_groups", "init_record", "describe", "start_from_source",
           "validate_initial_model"]

log = logging.getLogger("tfgridnet.train")


class InitError(ConfigError):
    """``init.from`` cannot start this run (source unusable, or at odds with the config)."""


def matches(name: str, patterns: Iterable[str]) -> bool:
    """``name`` (a parameter name) matches one of the fnmatch ``patterns``; a pattern naming a
    module (``conv``, ``blocks.0``) matches every parameter under it."""
    return any(fnmatch.fnmatchcase(name, p) or fnmatch.fnmatchcase(name, p + ".*")
               for p in patterns)


def _same(key: str, ours: Any, theirs: Any, model: dict[str, Any]) -> bool:
    if key == "win_length" and ours is None:  # V3: no window length means the FFT size
        ours = model.get("n_fft")
    return ours == theirs


def _conflicts(config: Config, source: ModelSource) -> list[str]:
    given = config.model.model_fields_set  # the keys the config gave (TrainModelConfig)
    recipe = config.model.model_dump()
    section = source.model_section
    return [f"model.{key}: config {recipe[key]!r}, source {section[key]!r}"
            for key in section if key in given and key in recipe
            and not _same(key, recipe[key], section[key], recipe)]


def _check_patterns(config: Config, source: ModelSource) -> None:
    names = [name for name, _ in source.model.named_parameters()]
    for key, patterns in (("init.freeze", config.init.freeze), ("init.reinit", config.init.reinit)):
        for pattern in patterns:
            if not any(matches(name, [pattern]) for name in names):
                modules = sorted({".".join(n.split(".")[:2]) if n.startswith("blocks.")
                                  else n.split(".")[0] for n in names})
                raise InitError(f"{key}: pattern {pattern!r} matches no parameter of the source "
                                f"model; its modules are {', '.join(modules)} (parameter names "
                                f"such as {names[0]}, {names[-1]})")
    both = [n for n in names if matches(n, config.init.freeze) and matches(n, config.init.reinit)]
    if both:
        raise InitError(f"init.freeze and init.reinit both match {both[0]}"
                        f"{f' (+{len(both) - 1} more)' if len(both) > 1 else ''}: a frozen "
                        "re-initialised parameter would stay random")
    if all(matches(n, config.init.freeze) for n in names):
        raise InitError("init.freeze matches every parameter of the model: nothing would train")


def prepare_finetune(config: Config) -> tuple[Config, ModelSource]:
    """Load ``init.from`` and return the config with the source's model section, and the source.

    Raises :class:`InitError` (one line, exit 2) before anything is written.
    """
    init = config.init
    try:
        source = load_source(init.source, init.espnet_config)
    except ModelLoadError as exc:
        raise InitError(f"init.from: {exc}") from None
    conflicts = _conflicts(config, source)
    if conflicts:
        raise InitError(
            f"init.from {init.source}: the config's model section disagrees with the source "
            f"model ({'; '.join(conflicts)}); the model is taken from the source, so remove "
            "those keys from the model section (or give -o 'model={}')")
    section = {**source.model_section,
               **{k: v for k, v in config.model.model_dump().items() if k in RUNTIME_ONLY}}
    raw = config.to_dict()
    raw["model"] = section
    try:
        resolved = Config.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'config'}: "
                             f"{e['msg'].removeprefix('Value error, ')}" for e in exc.errors())
        raise InitError(f"init.from {init.source}: the source model cannot be trained with this "
                        f"config ({one_line(problems)})") from None
    _check_rate(resolved, source)
    _check_patterns(resolved, source)
    return resolved, source


def _check_rate(config: Config, source: ModelSource) -> None:
    """A fixed-rate (V2) source must match ``data.sample_rate``: its STFT frames are so many
    samples long, so at another rate it would see other frequencies in every bin."""
    if config.model.rate_independent:
        return  # V3 runs at every file's own rate
    rate, wanted = source.sample_rate, config.data.sample_rate
    if rate is None:
        log.warning("init.from %s names no sample rate (an ESPnet config without fs): taking it "
                    "as data.sample_rate, %d Hz", source.path, wanted)
        return
    if rate != wanted:
        raise InitError(
            f"init.from {source.path}: the model runs at {rate} Hz (STFT {config.model.n_fft}/"
            f"{config.model.stride} samples) but data.sample_rate is {wanted} Hz; set "
            f"data.sample_rate: {rate} (and data.resample: true if your files are at another "
            f"rate), or start from a {wanted} Hz model")


def load_initial_weights(model: torch.nn.Module, source: ModelSource,
                         reinit: Sequence[str] = ()) -> list[str]:
    """Copy the source's weights into ``model`` (same architecture), except the parameters
    ``reinit`` matches, which keep their fresh initialisation; return those names."""
    parameters = {name for name, _ in model.named_parameters()}
    fresh = sorted(n for n in parameters if matches(n, reinit))
    state = {k: v for k, v in source.model.state_dict().items() if k not in fresh}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or sorted(missing) != fresh:  # prepare_finetune built the same architecture
        raise RuntimeError(f"source weights do not fit the training model: missing {missing}, "
                           f"unexpected {unexpected}")
    return fresh


def freeze(model: torch.nn.Module, patterns: Sequence[str]) -> list[str]:
    """Stop the gradients of the parameters ``patterns`` match; return their names."""
    frozen = []
    for name, parameter in model.named_parameters():
        if matches(name, patterns):
            parameter.requires_grad_(False)
            frozen.append(name)
    return frozen


def parameter_groups(model: torch.nn.Module, config: Config) -> list[dict[str, Any]]:
    """The optimiser's parameter groups: the trainable parameters at ``optim.lr``; in a fine-tune,
    the pretrained ones first, at ``optim.lr_pretrained`` (default ``optim.lr``), then the
    ``init.reinit`` ones at ``optim.lr``. Frozen parameters are in no group."""
    optim = config.optim
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if config.init.source is None:
        return [{"params": [p for _, p in trainable], "lr": optim.lr}]
    new = [p for n, p in trainable if matches(n, config.init.reinit)]
    pretrained = [p for n, p in trainable if not matches(n, config.init.reinit)]
    groups = [{"params": pretrained, "lr": optim.lr_pretrained or optim.lr, "name": "pretrained"},
              {"params": new, "lr": optim.lr, "name": "reinit"}]
    return [g for g in groups if g["params"]]


def init_record(config: Config, source: ModelSource, model: torch.nn.Module,
                fresh: Sequence[str]) -> InitRecord:
    """What ``init.json`` records, from the model as it will train."""
    parameters = list(model.named_parameters())
    frozen = [n for n, p in parameters if not p.requires_grad]
    return InitRecord(
        source=str(source.path), source_kind=source.kind,
        espnet_config=str(source.espnet_config) if source.espnet_config else None,
        architecture=config.model.version, source_sample_rate=source.sample_rate,
        freeze=list(config.init.freeze), reinit=list(config.init.reinit),
        n_parameters=sum(p.numel() for _, p in parameters),
        n_frozen=sum(p.numel() for _, p in parameters if not p.requires_grad),
        n_trainable=sum(p.numel() for _, p in parameters if p.requires_grad),
        n_reinitialised=sum(p.numel() for n, p in parameters if n in set(fresh)),
        frozen_tensors=frozen, lr=config.optim.lr,
        lr_pretrained=config.optim.lr_pretrained or config.optim.lr)


def describe(record: InitRecord) -> str:
    """The console/log line of a fine-tune's start."""
    line = (f"fine-tuning from {record.source} ({record.source_kind}, {record.architecture}): "
            f"{record.n_parameters:,} parameters, {record.n_trainable:,} trainable, "
            f"{record.n_frozen:,} frozen ({plural(len(record.frozen_tensors), 'tensor')})")
    if record.n_reinitialised:
        line += f", {record.n_reinitialised:,} re-initialised at lr {record.lr:g}"
    return line + f"; pretrained lr {record.lr_pretrained:g}"


def start_from_source(config: Config, source: ModelSource, module: pl.LightningModule,
                      run_dir: Path | None) -> InitRecord:
    """Load the source's weights into the new run's module, print and (on the rank that writes
    the run folder, ``run_dir`` not None) record in ``init.json`` what trains."""
    fresh = load_initial_weights(module.model, source, config.init.reinit)
    record = init_record(config, source, module.model, fresh)
    if run_dir is not None:
        record.write(run_dir)
        line = describe(record)
        print(line, flush=True)
        log.info(line)
    return record


def validate_initial_model(trainer: pl.Trainer, module: pl.LightningModule,
                           datamodule: pl.LightningDataModule, monitor: EpochMonitor) -> None:
    """Validate the model as loaded, before any optimiser step, into ``metrics.csv``'s initial
    row (epoch -1, step 0) through the monitor that writes the epoch rows."""
    from torchmetrics import Metric

    results = trainer.validate(module, datamodule=datamodule, verbose=False)
    for child in module.modules():  # their states were made in inference mode; fit updates them
        if isinstance(child, Metric):
            child.reset()
    values: dict[str, float] = {}
    for per_loader in results:
        values.update({k: float(v) for k, v in per_loader.items()})
    monitor.write_initial_row(trainer, values)
