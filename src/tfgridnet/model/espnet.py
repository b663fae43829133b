"""Load ESPnet TF-GridNet weights (V2 directly, V1 by an exact re-layout) into our TFGridNetV2.

ESPnet's only published 16 kHz TF-GridNet enhancement model (its DNS-2020 recipe) uses the older V1
class. With ``emb_ks == emb_hs`` and PReLU, V1 computes the same function as V2 with a different
parameterisation, so its weights are mapped rather than approximated:

* ``LayerNormalization4D`` gamma/beta [1, C, 1, 1] -> ``nn.LayerNorm`` weight/bias [C];
* unfold features are channel-major (c*I + i) in V1 and position-major (i*C + c) in V2's fast path:
  the LSTM input columns are permuted;
* ``ConvTranspose1d(2H, C, I, stride=I)`` -> ``Linear(2H, I*C)`` (non-overlapping windows);
* per-head ``attn_conv_{Q,K,V}_{h}`` (conv, single-slope PReLU, LayerNormalization4DCF) -> the stacked
  ``attn_conv_*`` / ``attn_norm_*`` of all heads, head-major.

Anything else (V1 with overlapping windows pads differently; another activation) cannot be mapped
exactly and raises :class:`EspnetImportError` saying why.

V3 (``separator: tfgridnetv3``) loads into :class:`TFGridNetV3` unchanged; its STFT comes from the
checkpoint's ``encoder: stft`` / ``decoder: stft`` settings (which must describe the same transform)
and its variance normalisation from ``model_conf.normalize_variance``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import yaml

from tfgridnet.errors import UserInputError
from tfgridnet.model.config import architecture_keys
from tfgridnet.model.tfgridnetv2 import TFGridNetV2
from tfgridnet.model.tfgridnetv3 import TFGridNetV3

__all__ = ["EspnetImportError", "from_espnet_state_dict", "load_espnet_checkpoint", "stft_kwargs"]

# ESPnet constructor arguments that change nothing in our model.
_IGNORED_CONF = {"use_builtin_complex", "ref_channel", "input_dim"}
_MODEL_ARGS = set(architecture_keys("v2"))  # what separator_conf may set: ModelConfig's arguments

# ESPnet STFT encoder/decoder argument -> TFGridNetV3 argument.
_STFT_ARGS = {"n_fft": "n_fft", "win_length": "win_length", "hop_length": "stride",
              "window": "window", "default_fs": "default_fs"}
# V3's separator_conf: ModelConfig's V3 arguments less the STFT ones (ESPnet's encoder_conf) and
# the variance normalisation (ESPnet's model_conf).
_V3_SEPARATOR_ARGS = set(architecture_keys("v3")) - set(_STFT_ARGS.values()) - {"normalize_variance"}
# STFT encoder/decoder arguments whose value is fixed in our model (ESPnet's defaults).
_STFT_FIXED: dict[str, tuple[Any, ...]] = {
    "center": (True,), "normalized": (False,), "onesided": (True,),
    "spec_transform_type": (None, "none"),
}
# Only used by a spec_transform_type we refuse, or no effect on the function.
_STFT_IGNORED = {"use_builtin_complex", "spec_factor", "spec_abs_exponent"}


class EspnetImportError(UserInputError):
    """An ESPnet checkpoint that cannot be represented exactly by our TFGridNetV2 / TFGridNetV3."""


def _strip_prefix(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    if any(k.startswith("separator.") for k in state_dict):
        return {k[len("separator."):]: v for k, v in state_dict.items()
                if k.startswith("separator.")}
    return dict(state_dict)


def _separator_kwargs(separator_conf: Mapping[str, Any] | None, allowed: set[str],
                      class_name: str) -> dict[str, Any]:
    """The ``separator_conf`` arguments ``class_name`` takes; a key it neither takes nor ignores is
    refused, so no setting of the checkpoint is silently dropped."""
    conf = dict(separator_conf or {})
    unknown = set(conf) - allowed - _IGNORED_CONF
    if unknown:
        raise EspnetImportError(
            f"separator_conf has keys {class_name} does not take: {sorted(unknown)}; "
            f"expected a subset of {sorted(allowed | _IGNORED_CONF)}")
    return {k: v for k, v in conf.items() if k in allowed}


def _load_exact(model_class: type[TFGridNetV2] | type[TFGridNetV3], kwargs: dict[str, Any],
                state: dict[str, torch.Tensor]) -> Any:
    """``model_class(**kwargs)`` holding ``state`` (strict), in eval mode; failures name the class."""
    try:
        model = model_class(**kwargs)
    except ValueError as exc:
        raise EspnetImportError(str(exc)) from exc
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise EspnetImportError(
            f"ESPnet weights do not fit {model_class.__name__}({kwargs}): {exc}") from exc
    return model.eval()


def _v1_to_v2(state: dict[str, torch.Tensor], kwargs: dict[str, Any]) -> dict[str, torch.Tensor]:
    ks = kwargs.get("emb_ks", 4)
    hs = kwargs.get("emb_hs", 1)
    n_head = kwargs.get("attn_n_head", 4)
    activation = kwargs.get("activation", "prelu")
    if activation != "prelu":
        raise EspnetImportError(
            f"V1 checkpoint uses activation={activation!r}; TF-GridNetV2 blocks are PReLU-only, "
            "so its attention branch cannot be represented")
    if ks != hs:
        raise EspnetImportError(
            f"V1 checkpoint has emb_ks={ks} != emb_hs={hs}: V1 pads the unfold windows only at the "
            "end while V2 pads both sides, so the two compute different functions; only "
            "emb_ks == emb_hs V1 models can be mapped exactly")

    out: dict[str, torch.Tensor] = {}
    consumed: set[str] = set()

    def take(key: str) -> torch.Tensor:
        if key not in state:
            raise EspnetImportError(f"V1 state_dict lacks {key!r}")
        consumed.add(key)
        return state[key]

    block_ids = sorted({int(m.group(1)) for k in state if (m := re.match(r"blocks\.(\d+)\.", k))})
    for key in ("conv.0.weight", "conv.0.bias", "conv.1.weight", "conv.1.bias", "deconv.weight",
                "deconv.bias"):
        out[key] = take(key)

    for b in block_ids:
        p = f"blocks.{b}."
        for path in ("intra", "inter"):
            out[f"{p}{path}_norm.weight"] = take(f"{p}{path}_norm.gamma").reshape(-1)
            out[f"{p}{path}_norm.bias"] = take(f"{p}{path}_norm.beta").reshape(-1)
            channels = out[f"{p}{path}_norm.weight"].numel()
            for suffix in ("", "_reverse"):
                w_ih = take(f"{p}{path}_rnn.weight_ih_l0{suffix}")  # [4H, C*I], col = c*I + i
                gates = w_ih.shape[0]
                out[f"{p}{path}_rnn.weight_ih_l0{suffix}"] = (
                    w_ih.reshape(gates, channels, ks).transpose(1, 2).reshape(gates, ks * channels))
                for name in ("weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
                    out[f"{p}{path}_rnn.{name}{suffix}"] = take(f"{p}{path}_rnn.{name}{suffix}")
            w_ct = take(f"{p}{path}_linear.weight")  # [2H, C, I]
            out[f"{p}{path}_linear.weight"] = w_ct.permute(2, 1, 0).reshape(ks * channels, -1)
            out[f"{p}{path}_linear.bias"] = take(f"{p}{path}_linear.bias").repeat(ks)
        for name in ("Q", "K", "V"):
            heads = [f"{p}attn_conv_{name}_{h}." for h in range(n_head)]
            if f"{heads[0]}1.weight" not in state:
                raise EspnetImportError(
                    f"V1 state_dict has no PReLU slope at {heads[0]}1.weight: its activation is "
                    "not PReLU and cannot be mapped")
            out[f"{p}attn_conv_{name}.weight"] = torch.cat([take(h + "0.weight") for h in heads])
            out[f"{p}attn_conv_{name}.bias"] = torch.cat([take(h + "0.bias") for h in heads])
            out[f"{p}attn_norm_{name}.gamma"] = torch.stack([take(h + "2.gamma")[0]
                                                             for h in heads])[None]
            out[f"{p}attn_norm_{name}.beta"] = torch.stack([take(h + "2.beta")[0]
                                                            for h in heads])[None]
            out[f"{p}attn_norm_{name}.act.weight"] = torch.cat([take(h + "1.weight")
                                                                for h in heads])
        for key in ("0.weight", "0.bias", "1.weight", "2.gamma", "2.beta"):
            out[f"{p}attn_concat_proj.{key}"] = take(f"{p}attn_concat_proj.{key}")

    left = sorted(set(state) - consumed)
    if left:
        raise EspnetImportError(f"V1 state_dict has parameters with no V2 counterpart: {left[:8]}"
                                + (f" (+{len(left) - 8} more)" if len(left) > 8 else ""))
    return out


def stft_kwargs(encoder_conf: Mapping[str, Any] | None,
                decoder_conf: Mapping[str, Any] | None) -> dict[str, Any]:
    """TFGridNetV3's STFT arguments from ESPnet's ``encoder_conf``/``decoder_conf`` (stft).

    Both must describe the same transform, with the settings our STFT computes (centred, one-sided,
    not normalised, no spectral transform); anything else is refused with its key.
    """
    resolved = []
    for part, conf in (("encoder_conf", encoder_conf), ("decoder_conf", decoder_conf)):
        conf = dict(conf or {})
        unknown = set(conf) - set(_STFT_ARGS) - set(_STFT_FIXED) - _STFT_IGNORED
        if unknown:
            raise EspnetImportError(f"{part} has keys the STFT front end does not take: "
                                    f"{sorted(unknown)}")
        for key, allowed in _STFT_FIXED.items():
            if key in conf and conf[key] not in allowed:
                raise EspnetImportError(f"{part}.{key}={conf[key]!r}: only {allowed[0]!r} is "
                                        "supported by TFGridNetV3's STFT")
        resolved.append({_STFT_ARGS[k]: v for k, v in conf.items() if k in _STFT_ARGS})
    encoder, decoder = resolved
    encoder.setdefault("win_length", encoder.get("n_fft"))
    decoder.setdefault("win_length", decoder.get("n_fft"))
    differ = sorted(k for k in set(encoder) | set(decoder) if encoder.get(k) != decoder.get(k))
    if differ:
        raise EspnetImportError(f"encoder_conf and decoder_conf differ in {differ}: the STFT and "
                                "its inverse must use the same window and hop")
    return {k: v for k, v in encoder.items() if v is not None}


def _v3_from_state(state: dict[str, torch.Tensor], separator_conf: Mapping[str, Any] | None,
                   stft: Mapping[str, Any], normalize_variance: bool) -> TFGridNetV3:
    kwargs = _separator_kwargs(separator_conf, _V3_SEPARATOR_ARGS, "TFGridNetV3")
    kwargs.update(stft)
    return _load_exact(TFGridNetV3, {**kwargs, "normalize_variance": normalize_variance}, state)


def from_espnet_state_dict(state_dict: Mapping[str, torch.Tensor], separator: str = "tfgridnetv2",
                           separator_conf: Mapping[str, Any] | None = None,
                           stft: Mapping[str, Any] | None = None,
                           normalize_variance: bool = False) -> TFGridNetV2 | TFGridNetV3:
    """Build our model from an ESPnet separator (or whole enhancement model) state_dict.

    ``separator`` is ESPnet's config name: ``tfgridnetv2``, ``tfgridnet`` (V1) or ``tfgridnetv3``.
    Keys may carry the ``separator.`` prefix of ``ESPnetEnhancementModel``. Loading is strict.
    For V3, ``stft`` holds its STFT arguments (see :func:`stft_kwargs`) and ``normalize_variance``
    is ESPnet's ``model_conf.normalize_variance``.
    """
    state = _strip_prefix(state_dict)
    if separator == "tfgridnetv3":
        return _v3_from_state(state, separator_conf, stft or {}, normalize_variance)
    kwargs = _separator_kwargs(separator_conf, _MODEL_ARGS, "TF-GridNet")
    if separator == "tfgridnetv2":
        pass
    elif separator == "tfgridnet":
        state = _v1_to_v2(state, kwargs)
    else:
        raise EspnetImportError(
            f"separator={separator!r}: expected 'tfgridnetv2', 'tfgridnet' (V1) or 'tfgridnetv3'")
    return _load_exact(TFGridNetV2, kwargs, state)


def load_espnet_checkpoint(model_file: str | Path, config_yaml: str | Path,
                           sample_rate: int | None = None,
                           state_dict: Mapping[str, torch.Tensor] | None = None
                           ) -> TFGridNetV2 | TFGridNetV3:
    """Load an ESPnet enhancement model (``*.pth`` + its ``config.yaml``) as our model.

    V1/V2 give a :class:`TFGridNetV2`, V3 a :class:`TFGridNetV3`. The weights are read with
    ``torch.load(weights_only=True)``: no code is unpickled. The sample rate is taken from
    ``sample_rate``, else the config's ``fs`` when present (ESPnet enhancement configs often omit
    it), and stored as ``model.sample_rate``; a V3 model without one gets its ``default_fs`` there
    (it runs at its input's rate whatever that attribute says). ``state_dict``: the weights of
    ``model_file`` already read (``model.io.read_checkpoint``), so the file is not read twice.
    """
    config_yaml = Path(config_yaml)
    with open(config_yaml, encoding="utf-8") as handle:
        config = yaml.safe_load(handle) or {}
    separator = config.get("separator")
    if separator not in ("tfgridnetv2", "tfgridnet", "tfgridnetv3"):
        raise EspnetImportError(
            f"{config_yaml}: separator is {separator!r}, expected 'tfgridnetv2', 'tfgridnet' or "
            "'tfgridnetv3'")
    stft: dict[str, Any] = {}
    normalize_variance = False
    if separator == "tfgridnetv3":
        for part in ("encoder", "decoder"):
            if config.get(part) != "stft":
                raise EspnetImportError(f"{config_yaml}: {part}={config.get(part)!r}; TFGridNetV3 "
                                        "takes spectra from the 'stft' encoder/decoder")
        try:
            stft = stft_kwargs(config.get("encoder_conf"), config.get("decoder_conf"))
        except EspnetImportError as exc:
            raise EspnetImportError(f"{config_yaml}: {exc}") from exc
        model_conf = config.get("model_conf") or {}
        if model_conf.get("always_forward_in_48k"):
            raise EspnetImportError(
                f"{config_yaml}: model_conf.always_forward_in_48k is set: that model was trained "
                "on input upsampled to 48 kHz, while TFGridNetV3 here runs at the input's own "
                "rate, so its outputs would not be the checkpoint's; not supported")
        normalize_variance = bool(model_conf.get("normalize_variance")
                                  or model_conf.get("normalize_variance_per_ch"))
    else:
        for part in ("encoder", "decoder"):
            if config.get(part, "same") != "same":
                raise EspnetImportError(
                    f"{config_yaml}: {part}={config.get(part)!r}; TF-GridNet(V2) has its own STFT "
                    "and is used with the 'same' (null) encoder/decoder")
    try:
        state = state_dict if state_dict is not None else torch.load(
            model_file, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means "not plain tensors"
        raise EspnetImportError(f"{model_file}: not a loadable tensor checkpoint ({exc})") from exc
    if not isinstance(state, Mapping):
        raise EspnetImportError(f"{model_file}: expected a state_dict mapping, got {type(state)}")
    model = from_espnet_state_dict(state, separator, config.get("separator_conf"), stft,
                                   normalize_variance)
    model.sample_rate = sample_rate or _parse_fs(config.get("fs"))
    if model.sample_rate is None and isinstance(model, TFGridNetV3):
        model.sample_rate = model.default_fs  # only a default: V3 runs at its input's rate
    return model


def _parse_fs(value: Any) -> int | None:
    """ESPnet writes ``fs`` as 16000 or as '16k'."""
    if value is None:
        return None
    if isinstance(value, str) and value.lower().endswith("k"):
        return int(float(value[:-1]) * 1000)
    return int(value)
