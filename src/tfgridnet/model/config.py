"""The TF-GridNetV2 constructor arguments and their validation, defined once.

``ModelConfig`` is what ``TFGridNetV2(...)`` validates its arguments with, what an export's
``config.json`` ``model`` entry holds, what the ESPnet import accepts from ``separator_conf`` and
the base of the training config's ``model:`` section. Names and defaults follow ESPnet's
``TFGridNetV2`` so ESPnet configs load unchanged.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

__all__ = ["ModelConfig", "RUNTIME_ONLY", "ARCHITECTURE_KEYS", "validate_model_args"]

# Arguments that change how the model runs, not what it computes: never stored in an export.
RUNTIME_ONLY = ("gradient_checkpointing",)


class ModelConfig(BaseModel):
    """TFGridNetV2 constructor arguments (ESPnet names and defaults) plus ``gradient_checkpointing``."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    n_srcs: int = Field(2, ge=1, description="output signals (1 for enhancement)")
    n_fft: int = Field(128, ge=4, description="STFT window = FFT size (even)")
    stride: int = Field(64, ge=1, description="STFT hop, 1..n_fft")
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

    @field_validator("n_fft")
    @classmethod
    def _even_fft(cls, value: int) -> int:
        if value % 2:
            raise ValueError(f"n_fft must be even (e.g. 256, 512), got {value}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ModelConfig:
        if self.stride > self.n_fft:
            raise ValueError(f"stride (hop) {self.stride} > n_fft {self.n_fft}: frames would skip "
                             f"samples; allowed 1..{self.n_fft}")
        if self.emb_dim % self.attn_n_head:
            divisors = [h for h in range(1, self.emb_dim + 1) if self.emb_dim % h == 0]
            raise ValueError(f"emb_dim {self.emb_dim} is not divisible by attn_n_head "
                             f"{self.attn_n_head}; allowed attn_n_head for this emb_dim: {divisors}")
        if self.emb_hs > self.emb_ks:
            raise ValueError(f"emb_hs {self.emb_hs} > emb_ks {self.emb_ks} would skip bins/frames; "
                             f"allowed emb_hs 1..{self.emb_ks}")
        return self

    def model_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``TFGridNetV2(**kwargs)``."""
        return self.model_dump()

    def architecture(self) -> dict[str, Any]:
        """The arguments that define the computed function (an export's ``config.json`` ``model``)."""
        return {k: v for k, v in self.model_dump().items() if k not in RUNTIME_ONLY}


ARCHITECTURE_KEYS = tuple(k for k in ModelConfig.model_fields if k not in RUNTIME_ONLY)


def validate_model_args(owner: str, **kwargs: Any) -> ModelConfig:
    """``ModelConfig(**kwargs)``, with a failure as one ``ValueError`` naming ``owner`` and each key."""
    try:
        return ModelConfig(**kwargs)
    except ValidationError as exc:
        problems = "; ".join(_describe(err) for err in exc.errors())
        raise ValueError(f"{owner}: {problems}") from None


def _describe(err: Any) -> str:
    """One pydantic error as ``key: what is wrong``; the value is added where the message lacks it."""
    message = err["msg"].removeprefix("Value error, ")
    if err["type"] != "value_error":
        message += f" (got {err.get('input')!r})"
    return f"{'.'.join(str(p) for p in err['loc'])}: {message}" if err["loc"] else message
