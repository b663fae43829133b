"""Validated training configuration: YAML file + ``-o section.key=value`` overrides -> :class:`Config`.

Every mistake is reported with its key path and what was expected, before any training starts:
unknown keys, wrong types, and combinations that cannot work (``emb_dim`` not a multiple of
``attn_n_head``, odd ``n_fft``, a hop longer than the window, a crop shorter than one STFT frame...).
Relative paths in a config file resolve against the file's folder; relative paths given with
``-o`` resolve against the current directory (where the user typed them).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    ValidationInfo,
    field_validator,
    model_validator,
)

from tfgridnet.data.cache import DEFAULT_CACHE_MB
from tfgridnet.data.checks.thresholds import THRESHOLDS
from tfgridnet.data.distortions import NO_RIRS, DistortionConfig
from tfgridnet.errors import UserInputError
from tfgridnet.lazy import lazy_exports
from tfgridnet.metrics import MIN_STEPS_TO_JUDGE, NOISY_SISNR_PLAUSIBLE_DB
from tfgridnet.model.config import ModelConfig

__all__ = [
    "Config", "ConfigError", "ModelConfig", "TrainModelConfig", "DataConfig", "LossConfig",
    "OptimConfig", "SchedulerConfig", "TrainerConfig", "CheckpointConfig", "EarlyStoppingConfig",
    "MonitorConfig", "InitConfig", "PATH_KEYS",
]

# Config keys that hold file paths (resolved to absolute paths when the config is loaded).
PATH_KEYS: tuple[tuple[str, str], ...] = (
    ("data", "train_manifest"),
    ("data", "train_clean_manifest"),
    ("data", "train_noise_manifest"),
    ("data", "valid_manifest"),
    ("data", "train_rir_manifest"),
    ("data", "valid_extra"),
    ("init", "from"),
    ("init", "espnet_config"),
)


def _number_or_word(word: str, minimum: int, expected: str) -> Any:
    """A config value that is a whole number >= ``minimum`` or the word ``word``; anything else is
    refused with ``expected`` (one line, beside the key and the value given)."""

    def at_least(value: int | str) -> int | str:
        if isinstance(value, int) and value < minimum:
            raise ValueError(f"expected {expected}")
        return value

    return Annotated[int | Literal[word], AfterValidator(at_least)]  # type: ignore[valid-type]


RowsOrAll = _number_or_word("all", 0, "all, a number of rows, or 0 to skip")
DevicesOrAuto = _number_or_word("auto", 1, "'auto' or a number of devices >= 1")


class ConfigError(UserInputError):
    """A config cannot be used; the message names the file, each bad key path and what is allowed."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


# The recipes' defaults for the model section (a small enhancement model); the arguments themselves,
# their ranges and their cross-checks are ModelConfig's (tfgridnet.model.config). They apply to V3
# too, whose own (ESPnet's) STFT defaults differ: docs/urgent.md, "Default arguments".
TRAINING_MODEL_DEFAULTS: dict[str, Any] = {
    "n_srcs": 1, "n_fft": 512, "stride": 256, "n_layers": 4, "lstm_hidden_units": 128,
    "attn_n_head": 4, "attn_approx_qk_dim": 512, "emb_dim": 32, "emb_ks": 4, "emb_hs": 4,
}


# Model arguments training fixes to 1, and why.
_TRAINING_FIXED_TO_ONE = {
    "n_srcs": "training is speech enhancement with one clean target",
    "n_imics": "training reads mono pairs",
}


class TrainModelConfig(ModelConfig):
    """``ModelConfig`` with the recipes' defaults; training enhances one source from one microphone."""

    @model_validator(mode="wrap")
    @classmethod
    def _training_defaults(cls, data: Any, handler: ModelWrapValidatorHandler) -> Any:
        if not isinstance(data, dict):
            return handler(data)
        config = handler({**TRAINING_MODEL_DEFAULTS, **data})
        # model_fields_set stays what the config gave, not the recipes' defaults: with init.from,
        # only those keys can disagree with the source model (train/finetune.py).
        object.__setattr__(config, "__pydantic_fields_set__", set(data) & set(cls.model_fields))
        return config

    @field_validator(*_TRAINING_FIXED_TO_ONE)
    @classmethod
    def _fixed_to_one(cls, value: int, info: ValidationInfo) -> int:
        if value != 1:
            raise ValueError(f"{_TRAINING_FIXED_TO_ONE[info.field_name]}: {info.field_name} must be 1")
        return value


REFERENCE_SNR_ERROR_DB: float = THRESHOLDS["ref_snr_error_db"]


class DataConfig(_Section):
    """Training data: a paired manifest, or dynamic mixing of a clean and a noise manifest."""

    sample_rate: int = Field(16000, ge=1000, le=192000)
    resample: bool = Field(False, description="resample files whose rate differs (else refuse)")
    train_manifest: str | None = Field(None, description="paired uttid,noisy,clean CSV")
    train_clean_manifest: str | None = Field(None, description="dynamic mixing: uttid,clean CSV")
    train_noise_manifest: str | None = Field(None, description="dynamic mixing: uttid,noise CSV")
    snr_range: tuple[float, float] = (-5.0, 15.0)
    gain_range_db: tuple[float, float] = (-6.0, 6.0)
    epoch_size: int | None = Field(None, ge=1, description="dynamic mixing: examples per epoch")
    valid_manifest: str | None = Field(None, description="paired uttid,noisy,clean CSV")
    valid_extra: str | None = Field(None, description="a second paired validation set, scored "
                                    "every epoch in its own metrics.csv columns (valid_extra_*)")
    crop_seconds: float = Field(3.0, gt=0)
    valid_crop_seconds: float | None = Field(None, gt=0, description="None: whole utterances")
    batch_size: int = Field(4, ge=1)
    valid_batch_size: int | None = Field(None, ge=1, description="None: same as batch_size")
    num_workers: int = Field(2, ge=0)
    cache_mb: float = Field(DEFAULT_CACHE_MB, ge=0, description="decoded-audio cache per loader "
                            "process, MB (least recently used out first; 0: no cache)")
    bandpass: tuple[float | None, float | None] | None = Field(
        None, description="[low_hz, high_hz] zero-phase band-pass on both sides of a pair")
    check_pairs: RowsOrAll = Field(
        "all", description="rows of each manifest checked before training: all (the default), "
        "or a random sample of N, announced as such (0: skip the check)")
    reference_snr_error_db: float | None = Field(
        REFERENCE_SNR_ERROR_DB, description="a clean reference whose own estimated SNR is below "
        "this is a data error and training refuses to start; lower it to accept noisier "
        "references, null to report them as warnings only")
    train_rir_manifest: str | None = Field(None, description="dynamic mixing: uttid,rir CSV")
    distortions: DistortionConfig = Field(DistortionConfig(),
                                          description="dynamic mixing: URGENT-style distortions")
    leakage_check: Literal["error", "warning", "off"] = Field(
        "error", description="audio shared by the train and valid manifests, found by content "
        "before training: error refuses to train, warning logs it and trains, off skips it")

    @model_validator(mode="after")
    def _consistent(self) -> DataConfig:
        dynamic = self.train_clean_manifest is not None or self.train_noise_manifest is not None
        if self.train_manifest is not None and dynamic:
            raise ValueError("give either train_manifest (paired) or train_clean_manifest + "
                             "train_noise_manifest (dynamic mixing), not both")
        if dynamic and (self.train_clean_manifest is None or self.train_noise_manifest is None):
            raise ValueError("dynamic mixing needs both train_clean_manifest and "
                             "train_noise_manifest")
        if (self.distortions.active or self.train_rir_manifest) and not dynamic:
            raise ValueError("distortions and train_rir_manifest apply to dynamic mixing: give "
                             "train_clean_manifest + train_noise_manifest")
        if self.distortions.reverb_prob > 0 and not self.train_rir_manifest and \
                self.distortions.simulated_rirs == 0:
            raise ValueError(NO_RIRS)
        for name in ("snr_range", "gain_range_db"):
            low, high = getattr(self, name)
            if low > high:
                raise ValueError(f"{name} [{low}, {high}]: low must be <= high")
        if self.bandpass is not None:
            low, high = self.bandpass
            nyquist = self.sample_rate / 2
            if low is not None and not 0 <= low < nyquist:
                raise ValueError(f"bandpass low_hz {low} must be in [0, {nyquist}) at "
                                 f"sample_rate {self.sample_rate}")
            if high is not None and not 0 < high <= nyquist:
                raise ValueError(f"bandpass high_hz {high} must be in (0, {nyquist}]")
            if low is not None and high is not None and low >= high:
                raise ValueError(f"bandpass [{low}, {high}]: low_hz must be below high_hz")
        return self

    @property
    def dynamic_mixing(self) -> bool:
        return self.train_clean_manifest is not None


class LossConfig(_Section):
    """-SI-SNR, plus ``spectral_weight`` x the compressed spectral loss (losses.py) when > 0."""

    name: Literal["neg_sisnr"] = "neg_sisnr"
    clamp_db: float | None = Field(70.0, description="cap SI-SNR per utterance (None: no cap)")
    spectral_weight: float = Field(0.0, ge=0, description="weight of the level-aware compressed "
                                   "spectral term (0: -SI-SNR alone)")


class OptimConfig(_Section):
    name: Literal["adam", "adamw"] = "adam"
    lr: float = Field(1.0e-3, gt=0, le=1.0)
    lr_pretrained: float | None = Field(None, gt=0, le=1.0, description="fine-tuning: LR of the "
                                        "parameters loaded by init.from (None: optim.lr)")
    weight_decay: float = Field(0.0, ge=0)
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = Field(1.0e-8, gt=0)

    @field_validator("betas")
    @classmethod
    def _betas(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not all(0 <= b < 1 for b in value):
            raise ValueError(f"betas {list(value)} must both be in [0, 1)")
        return value


class SchedulerConfig(_Section):
    """Learning-rate schedule. ``min_lr`` is a floor that every schedule respects."""

    name: Literal["none", "warmup_cosine", "cosine_restarts", "plateau", "exponential"] = "plateau"
    min_lr: float = Field(1.0e-6, ge=0, description="LR floor")
    warmup_epochs: float = Field(0.0, ge=0, description="linear warm-up (any schedule but plateau)")
    restart_epochs: float = Field(10.0, gt=0, description="cosine_restarts: first cycle length")
    restart_mult: float = Field(1.0, ge=1.0, description="cosine_restarts: cycle growth")
    plateau_factor: float = Field(0.7, gt=0, lt=1)
    plateau_patience: int = Field(1, ge=0)
    gamma: float = Field(0.97, gt=0, le=1, description="exponential: LR factor per epoch")


class TrainerConfig(_Section):
    max_epochs: int = Field(100, ge=1)
    max_minutes: float | None = Field(None, gt=0, description="wall-clock budget")
    accelerator: Literal["auto", "cpu", "gpu", "cuda", "mps"] = "auto"
    devices: DevicesOrAuto = "auto"
    num_nodes: int = Field(1, ge=1)
    strategy: Literal["auto", "ddp", "ddp_spawn", "ddp_find_unused_parameters_true"] = "auto"
    precision: Literal["auto", "32-true", "bf16-mixed", "16-mixed", "bf16-true", "64-true"] = "auto"
    accumulate_grad_batches: int = Field(1, ge=1)
    gradient_clip_val: float | None = Field(5.0, gt=0, description="max grad norm (None: off)")
    max_consecutive_nonfinite: int = Field(10, ge=1, description="stop after N bad steps in a row")
    seed: int = 0
    deterministic: bool = False
    limit_train_batches: int | float | None = None
    limit_val_batches: int | float | None = None
    log_every_n_steps: int = Field(20, ge=1)
    progress_bar: Literal["rich", "tqdm", "none"] = "rich"
    num_threads: int | None = Field(None, ge=1, description="torch CPU threads (None: default)")


class CheckpointConfig(_Section):
    every_n_epochs: int = Field(1, ge=1, description="how often last.ckpt / top-k are written")
    save_top_k: int = Field(3, ge=1, description="best checkpoints kept by valid_sisnr")


class EarlyStoppingConfig(_Section):
    patience: int | None = Field(20, ge=1, description="epochs without valid_sisnr gain (None: off)")
    min_delta: float = Field(0.01, ge=0, description="dB that count as a gain")


class MonitorConfig(_Section):
    """Thresholds of the loud warnings during training: after the first validation (broken pairs
    look like this), and when the model stays below its noisy input (training is not working)."""

    identity_margin_db: float = Field(10.0, ge=0, description="model below noisy input by this")
    min_noisy_sisnr_db: float = Field(NOISY_SISNR_PLAUSIBLE_DB[0],
                                      description="noisy input itself below this")
    below_input_epochs: int = Field(3, ge=1, description="valid SI-SNR under the noisy input's "
                                    "this many epochs in a row")
    min_steps: int = Field(MIN_STEPS_TO_JUDGE, ge=0, description="optimiser steps before the "
                           "model alarms speak (a model near its random start is below its input)")


class InitConfig(_Section):
    """Fine-tuning: start from a trained model's weights instead of random ones (train/finetune.py).

    ``from`` is a MODEL (export dir, run dir, Lightning checkpoint) or an ESPnet ``.pth`` with its
    ``config.yaml`` (``espnet_config``, default: the one beside it). Patterns are ``fnmatch``
    patterns over the network's parameter names (``blocks.0.*``); a module's name stands for all
    of its parameters (``conv`` = ``conv.*``).
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True, populate_by_name=True,
                              serialize_by_alias=True)

    source: str | None = Field(None, alias="from", description="MODEL whose weights start the run")
    espnet_config: str | None = Field(None, description="ESPnet config.yaml of a .pth source "
                                      "(None: config.yaml beside it)")
    freeze: list[str] = Field(default_factory=list, description="parameter-name patterns kept "
                              "fixed (not trained)")
    reinit: list[str] = Field(default_factory=list, description="parameter-name patterns not "
                              "loaded: fresh random weights, trained at optim.lr")


class Config(_Section):
    name: str = "run"
    model: TrainModelConfig = TrainModelConfig()
    init: InitConfig = InitConfig()
    data: DataConfig = DataConfig()
    loss: LossConfig = LossConfig()
    optim: OptimConfig = OptimConfig()
    scheduler: SchedulerConfig = SchedulerConfig()
    trainer: TrainerConfig = TrainerConfig()
    checkpoint: CheckpointConfig = CheckpointConfig()
    early_stopping: EarlyStoppingConfig = EarlyStoppingConfig()
    monitor: MonitorConfig = MonitorConfig()

    @model_validator(mode="after")
    def _cross_section(self) -> Config:
        # V3's n_fft is given at default_fs (and lasts the same time at every rate).
        rate = self.model.default_fs if self.model.rate_independent else self.data.sample_rate
        crop_samples = self.data.crop_seconds * rate
        if crop_samples < self.model.n_fft:
            raise ValueError(
                f"data.crop_seconds {self.data.crop_seconds} s is {crop_samples:.0f} samples at "
                f"{rate} Hz, shorter than one STFT window (model.n_fft "
                f"{self.model.n_fft}); use at least {self.model.n_fft / rate:.4f}")
        init = self.init
        if init.source is None and (init.freeze or init.reinit or init.espnet_config
                                    or self.optim.lr_pretrained is not None):
            raise ValueError("init.freeze, init.reinit, init.espnet_config and "
                             "optim.lr_pretrained apply to fine-tuning: set init.from (or "
                             "--init MODEL)")
        return self

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types only (lists, not tuples): safe for ``torch.load(weights_only=True)``."""
        return _plain(self.model_dump(mode="json"))

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


# Reading config files, recipes and overrides lives in train/config_files.py; its functions stay
# importable from here.
__getattr__ = lazy_exports("tfgridnet.train", {
    name: ".config_files" for name in ("load_config", "config_from_dict", "apply_overrides",
                                       "recipe_names", "recipe_text")})
