"""The TF-GridNet constructor arguments (V2 and V3) and their validation, defined once.

``ModelConfig`` is what ``TFGridNetV2(...)`` and ``TFGridNetV3(...)`` validate their arguments
with, what an export's ``config.json`` ``model`` entry holds, what the ESPnet import accepts from
``separator_conf`` and the base of the training config's ``model:`` section. ``version`` selects
the class (``v2``, or the sample-rate-independent ``v3``); each class takes the shared arguments
plus its own (``V2_ONLY`` / ``V3_ONLY``). Names and defaults follow ESPnet's classes so ESPnet
configs load unchanged; where the two versions' defaults differ (the STFT sizes,
``VERSION_DEFAULTS``), each follows ESPnet's for that version. ``model_defaults(version)`` is what
the classes' signatures take their defaults from, so they cannot drift from this definition.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from tfgridnet.errors import UserInputError

__all__ = ["ModelConfig", "ModelVersion", "RUNTIME_ONLY", "V2_ONLY", "V3_ONLY",
           "VERSION_DEFAULTS", "ARCHITECTURE_KEYS", "architecture_keys", "model_defaults",
           "validate_model_args"]

ModelVersion = Literal["v2", "v3"]
# Arguments that change how the model runs, not what it computes: never stored in an export.
RUNTIME_ONLY = ("gradient_checkpointing",)
# Arguments only one architecture takes (V3's attention has a fixed Q/K width per head; its STFT
# sizes are given at default_fs and scale with the input's rate).
V2_ONLY = ("attn_approx_qk_dim",)
V3_ONLY = ("attn_qk_output_channel", "win_length", "default_fs", "normalize_variance")
# Defaults that depend on the version, as in ESPnet: TFGridNetV2 computes its own STFT (its
# separator's defaults, n_fft 128 / stride 64), while TFGridNetV3 is given its spectra by ESPnet's
# STFT encoder/decoder, whose defaults are n_fft 512 / hop_length 128 at default_fs 16 kHz. An
# ESPnet V3 config that leaves a size out of encoder_conf runs with those, and V3's weights do
# not depend on the STFT size (they would load strictly at any size), so only ESPnet's values
# make such a checkpoint compute what it computed in ESPnet (docs/urgent.md).
VERSION_DEFAULTS: dict[str, dict[str, Any]] = {
    "v2": {"n_fft": 128, "stride": 64},
    "v3": {"n_fft": 512, "stride": 128},
}


class ModelConfig(BaseModel):
    """TF-GridNet constructor arguments (ESPnet names and defaults), the ``version`` that selects
    the class, and ``gradient_checkpointing``.

    ``version: v3`` selects the sample-rate-independent TFGridNetV3: ``n_fft``/``stride``/
    ``win_length`` are then the STFT sizes at ``default_fs``, and it runs (and trains) at each
    input's own rate.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    version: ModelVersion = Field("v2", description="v2: one rate; v3: any rate (URGENT)")
    n_srcs: int = Field(2, ge=1, description="output signals (1 for enhancement)")
    # The defaults written here are V2's; a V3 config without them gets VERSION_DEFAULTS["v3"].
    n_fft: int = Field(VERSION_DEFAULTS["v2"]["n_fft"], ge=4,
                       description="STFT window = FFT size (even); v2: 128, v3: 512")
    stride: int = Field(VERSION_DEFAULTS["v2"]["stride"], ge=1,
                        description="STFT hop, 1..n_fft; v2: 64, v3: 128")
    window: Literal["hann", "hamming", "blackman", "bartlett", "kaiser"] = "hann"
    n_imics: int = Field(1, ge=1, description="input microphones")
    n_layers: int = Field(6, ge=1, description="TF-GridNet blocks")
    lstm_hidden_units: int = Field(192, ge=1)
    attn_n_head: int = Field(4, ge=1)
    attn_approx_qk_dim: int = Field(512, ge=1)
    emb_dim: int = Field(48, ge=1)
    emb_ks: int = Field(4, ge=1, description="unfold kernel over frequency/time")
    emb_hs: int = Field(1, ge=1, description="unfold hop, 1..emb_ks")
    activation: Literal["prelu"] = "prelu"
    eps: float = Field(1.0e-5, gt=0)
    gradient_checkpointing: bool = False
    attn_qk_output_channel: int = Field(4, ge=1, description="v3: Q/K channels per head")
    win_length: int | None = Field(None, ge=1, description="v3: STFT window (None: n_fft)")
    default_fs: int = Field(16000, ge=1000, description="v3: rate the STFT sizes are given at")
    normalize_variance: bool = Field(True, description="v3: divide the input by its std")

    @model_validator(mode="before")
    @classmethod
    def _version_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        version = data.get("version", cls.model_fields["version"].default)
        return {**VERSION_DEFAULTS.get(version, {}), **data}

    @field_validator("n_fft")
    @classmethod
    def _even_fft(cls, value: int, info: ValidationInfo) -> int:
        # V2 only: V3's n_fft is rescaled per rate (n_fft * fs // default_fs), odd or even anyway.
        if info.data.get("version", "v2") == "v2" and value % 2:
            raise ValueError(f"n_fft must be even (e.g. 256, 512), got {value}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ModelConfig:
        window = self.n_fft if self.version == "v2" else (self.win_length or self.n_fft)
        if self.version == "v3":
            if window > self.n_fft:
                raise ValueError(f"win_length {window} > n_fft {self.n_fft}; allowed "
                                 f"1..{self.n_fft}")
            if self.n_imics != 1:
                raise ValueError(f"n_imics {self.n_imics}: V3 is single-microphone (ESPnet's "
                                 "TFGridNetV3), so n_imics must be 1")
        if self.stride > window:
            name = "n_fft" if self.version == "v2" else "win_length"
            raise ValueError(f"stride (hop) {self.stride} > {name} {window}: frames would skip "
                             f"samples; allowed 1..{window}")
        if self.emb_dim % self.attn_n_head:
            divisors = [h for h in range(1, self.emb_dim + 1) if self.emb_dim % h == 0]
            raise ValueError(f"emb_dim {self.emb_dim} is not divisible by attn_n_head "
                             f"{self.attn_n_head}; allowed attn_n_head for this emb_dim: {divisors}")
        if self.emb_hs > self.emb_ks:
            raise ValueError(f"emb_hs {self.emb_hs} > emb_ks {self.emb_ks} would skip bins/frames; "
                             f"allowed emb_hs 1..{self.emb_ks}")
        return self

    @property
    def rate_independent(self) -> bool:
        """V3 runs (and trains) at each input's own sample rate."""
        return self.version == "v3"

    def model_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of the selected class (``TFGridNetV2`` or ``TFGridNetV3``)."""
        keys = set(architecture_keys(self.version)) | set(RUNTIME_ONLY)
        return {k: v for k, v in self.model_dump().items() if k in keys}

    def architecture(self) -> dict[str, Any]:
        """The arguments that define the computed function (an export's ``config.json`` ``model``)."""
        return {k: v for k, v in self.model_kwargs().items() if k not in RUNTIME_ONLY}


def architecture_keys(version: str = "v2") -> tuple[str, ...]:
    """The arguments (besides the runtime-only ones) that ``version``'s class takes."""
    other = V3_ONLY if version == "v2" else V2_ONLY
    return tuple(k for k in ModelConfig.model_fields
                 if k not in RUNTIME_ONLY and k not in other and k != "version")


ARCHITECTURE_KEYS = architecture_keys("v2")  # TFGridNetV2's (and ESPnet V1/V2's separator_conf)


def model_defaults(version: str = "v2") -> dict[str, Any]:
    """Every argument of ``version``'s class with its default (the classes' signatures use these)."""
    return ModelConfig(version=version).model_kwargs()


def validate_model_args(owner: str, **kwargs: Any) -> ModelConfig:
    """``ModelConfig(**kwargs)``, with a failure as one ``ValueError`` naming ``owner`` and each key."""
    try:
        return ModelConfig(**kwargs)
    except ValidationError as exc:
        problems = "; ".join(_describe(err) for err in exc.errors())
        raise UserInputError(f"{owner}: {problems}") from None


def _describe(err: Any) -> str:
    """One pydantic error as ``key: what is wrong``; the value is added where the message lacks it."""
    message = err["msg"].removeprefix("Value error, ")
    if err["type"] != "value_error":
        message += f" (got {err.get('input')!r})"
    return f"{'.'.join(str(p) for p in err['loc'])}: {message}" if err["loc"] else message
