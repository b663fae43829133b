"""Signal metrics. SI-SNR lives here once; the loss, evaluation and reports all call it.

Convention (docs/design.md, conventions): SI-SNR is in dB and higher is better. The training loss is its negative.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

__all__ = ["si_snr", "si_snr_numpy", "sisnr_per_utterance", "snr", "NOISY_SISNR_PLAUSIBLE_DB",
           "MIN_STEPS_TO_JUDGE"]

DEFAULT_EPS = 1e-8
# SI-SNR of real noisy inputs against their clean references lies in this range (dB). Far outside
# it the pairs are broken (misaligned, swapped, mis-scaled: the users' -36 dB), not the model.
# Training's monitor, the evaluation's warning and the report's rules all use this one range.
NOISY_SISNR_PLAUSIBLE_DB = (-10.0, 30.0)
# Optimiser steps a healthy run needs before its validation can tell learning from not learning:
# before them a model is still near its random start, below its own noisy input, whatever the
# data. Training's monitor holds its model alarms until then and the report calls a shorter run
# inconclusive (too_short_to_judge). Measured in bench/RESULTS.md §51 (docs/report-rules.md).
MIN_STEPS_TO_JUDGE = 150


def _check_shapes(est: torch.Tensor, ref: torch.Tensor) -> None:
    # Broadcasting [B,1,T] against [B,T] silently builds a BxB matrix (one way to land at -33 dB).
    if est.shape != ref.shape:
        raise ValueError(
            f"si_snr: estimate shape {tuple(est.shape)} != reference shape {tuple(ref.shape)}; "
            "pass tensors of identical shape [..., samples] (no broadcasting)"
        )
    if est.shape[-1] < 2:
        raise ValueError(f"si_snr: need at least 2 samples along the last axis, got {est.shape[-1]}")


def si_snr(est: torch.Tensor | np.ndarray, ref: torch.Tensor | np.ndarray,
           eps: float = DEFAULT_EPS, zero_mean: bool = True) -> torch.Tensor:
    """Scale-invariant SNR in dB over the last axis (higher is better).

    Both signals are made zero-mean, the estimate is projected onto the reference
    (alpha = <est, ref> / ||ref||^2) and the ratio of target to residual energy is returned.
    Computed in float32 at least (float64 inputs stay float64), so bf16 activations do not
    quantise the metric.
    """
    est_t = torch.as_tensor(est)
    ref_t = torch.as_tensor(ref)
    _check_shapes(est_t, ref_t)
    dtype = torch.float64 if torch.float64 in (est_t.dtype, ref_t.dtype) else torch.float32
    est_t = est_t.to(dtype)
    ref_t = ref_t.to(dtype)
    if zero_mean:
        est_t = est_t - est_t.mean(dim=-1, keepdim=True)
        ref_t = ref_t - ref_t.mean(dim=-1, keepdim=True)
    dot = (est_t * ref_t).sum(dim=-1, keepdim=True)
    ref_energy = (ref_t * ref_t).sum(dim=-1, keepdim=True)
    target = dot / (ref_energy + eps) * ref_t
    noise = est_t - target
    ratio = (target.pow(2).sum(dim=-1) + eps) / (noise.pow(2).sum(dim=-1) + eps)
    return 10.0 * torch.log10(ratio)


def sisnr_per_utterance(est: torch.Tensor, ref: torch.Tensor,
                        lengths: torch.Tensor | None = None) -> torch.Tensor:
    """SI-SNR (dB) of each row of a padded batch over its own length: padding never counts."""
    if lengths is None or bool((lengths == est.shape[-1]).all()):
        return si_snr(est, ref)
    return torch.stack([si_snr(est[i, :n], ref[i, :n]) for i, n in enumerate(lengths.tolist())])


def si_snr_numpy(est: np.ndarray, ref: np.ndarray, eps: float = DEFAULT_EPS) -> float | np.ndarray:
    """float64 NumPy twin of :func:`si_snr` for per-utterance scoring on the CPU."""
    # ascontiguousarray: torch refuses the negative strides that e.g. sosfiltfilt returns.
    value = si_snr(np.ascontiguousarray(est, dtype=np.float64),
                   np.ascontiguousarray(ref, dtype=np.float64), eps=eps)
    out = value.numpy()
    return float(out) if out.ndim == 0 else out


def snr(est: torch.Tensor | np.ndarray, ref: torch.Tensor | np.ndarray,
        eps: float = DEFAULT_EPS) -> torch.Tensor:
    """Plain (scale-dependent) SNR in dB: 10 log10(||ref||^2 / ||est - ref||^2)."""
    est_t = torch.as_tensor(est)
    ref_t = torch.as_tensor(ref)
    _check_shapes(est_t, ref_t)
    dtype = torch.float64 if torch.float64 in (est_t.dtype, ref_t.dtype) else torch.float32
    est_t, ref_t = est_t.to(dtype), ref_t.to(dtype)
    return 10.0 * torch.log10((ref_t.pow(2).sum(-1) + eps) / ((est_t - ref_t).pow(2).sum(-1) + eps))


# --- Perceptual and intelligibility metrics (evaluation). Thin wrappers over the reference
# implementations (pesq = ITU-T P.862.2 C code, pystoi, speechmos' DNSMOS ONNX models), adding
# resampling to the rate each one is defined at and errors that say why a score is missing.

__all__ += ["MetricError", "si_sdr", "pesq_wb", "stoi", "estoi", "dnsmos"]

PESQ_SAMPLE_RATE = 16000
DNSMOS_SAMPLE_RATE = 16000


class MetricError(ValueError):
    """A metric is undefined for this input (too short, silent...): record it as missing."""


def si_sdr(est: torch.Tensor | np.ndarray, ref: torch.Tensor | np.ndarray,
           eps: float = DEFAULT_EPS) -> torch.Tensor:
    """SI-SDR (Le Roux et al. 2019) in dB: :func:`si_snr` without removing the means."""
    return si_snr(est, ref, eps=eps, zero_mean=False)


def _mono_pair(est: np.ndarray, ref: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    est = np.asarray(est, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    if est.ndim != 1 or est.shape != ref.shape:
        raise MetricError(f"{name}: need two 1-D signals of equal length, got {est.shape} and "
                          f"{ref.shape}")
    if not (np.all(np.isfinite(est)) and np.all(np.isfinite(ref))):
        raise MetricError(f"{name}: signal holds NaN or inf samples")
    if not np.any(ref):
        raise MetricError(f"{name}: reference is silent")
    return est, ref


def _to_rate(audio: np.ndarray, sample_rate: int, target: int) -> np.ndarray:
    if sample_rate == target:
        return audio
    from tfgridnet.audio.resample import resample

    return resample(audio, sample_rate, target)


def pesq_wb(est: np.ndarray, ref: np.ndarray, sample_rate: int) -> float:
    """Wide-band PESQ (P.862.2, MOS-LQO 1.04..4.64); audio at another rate is resampled to 16 kHz."""
    from pesq import PesqError
    from pesq import pesq as pesq_reference

    est, ref = _mono_pair(est, ref, "pesq_wb")
    est = _to_rate(est, sample_rate, PESQ_SAMPLE_RATE)
    ref = _to_rate(ref, sample_rate, PESQ_SAMPLE_RATE)
    if ref.size < PESQ_SAMPLE_RATE // 4:
        raise MetricError(f"pesq_wb: {ref.size / PESQ_SAMPLE_RATE:.2f} s is too short "
                          "(PESQ needs at least 0.25 s)")
    try:
        return float(pesq_reference(PESQ_SAMPLE_RATE, ref, est, "wb"))
    except (PesqError, ValueError) as exc:
        raise MetricError(f"pesq_wb: {type(exc).__name__}: {exc}") from exc


def stoi(est: np.ndarray, ref: np.ndarray, sample_rate: int, extended: bool = False) -> float:
    """STOI (Taal et al. 2011) or, with ``extended``, ESTOI (Jensen & Taal 2016), via pystoi."""
    import warnings

    from pystoi import stoi as stoi_reference

    name = "estoi" if extended else "stoi"
    est, ref = _mono_pair(est, ref, name)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = float(stoi_reference(ref, est, sample_rate, extended=extended))
    # pystoi returns a dummy 1e-5 with a warning when fewer than 30 speech frames remain.
    too_short = [w for w in caught if "Not enough STFT frames" in str(w.message)]
    if too_short:
        raise MetricError(f"{name}: too little active speech (fewer than 30 STFT frames of 384 ms "
                          "after silence removal)")
    return value


def estoi(est: np.ndarray, ref: np.ndarray, sample_rate: int) -> float:
    """Extended STOI, better suited than STOI to fluctuating noise."""
    return stoi(est, ref, sample_rate, extended=True)


def dnsmos(audio: np.ndarray, sample_rate: int) -> dict[str, float]:
    """Non-intrusive DNSMOS P.835 (SIG, BAK, OVRL) and P.808 MOS from the ``speechmos`` package.

    Returns ``{"dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl", "dnsmos_p808"}``.
    """
    try:
        from speechmos import dnsmos as dnsmos_reference
    except ImportError as exc:
        raise MetricError(f"dnsmos: needs the optional packages speechmos and onnxruntime "
                          f"(pip install 'tfgridnet[dnsmos]'): {exc}") from exc
    audio = np.asarray(audio, dtype=np.float64)
    if audio.ndim != 1 or audio.size == 0 or not np.any(audio):
        raise MetricError("dnsmos: need a 1-D, non-silent signal")
    audio = _to_rate(audio, sample_rate, DNSMOS_SAMPLE_RATE)
    peak = float(np.max(np.abs(audio)))
    if peak > 1.0:  # the reference refuses samples outside [-1, 1]
        audio = audio / peak
    result = dnsmos_reference.run(audio.astype(np.float32), DNSMOS_SAMPLE_RATE)
    return {"dnsmos_sig": float(result["sig_mos"]), "dnsmos_bak": float(result["bak_mos"]),
            "dnsmos_ovrl": float(result["ovrl_mos"]), "dnsmos_p808": float(result["p808_mos"])}


__all__ += ["distill_mos"]

DISTILLMOS_SAMPLE_RATE = 16000


@functools.lru_cache(maxsize=1)
def _distillmos_model() -> torch.nn.Module:
    """Distill-MOS (Stahl & Gamper 2025) with the weights its wheel ships: no download.

    ``distillmos.sqa`` imports torchaudio at module level, for its own command-line file reader
    only (we hand it waveforms). PyPI has no CPU torchaudio build for every torch, and a CUDA one
    fails to load; when torchaudio cannot be imported, an empty module satisfies that one import
    statement and is removed again right after, so nothing else ever sees it.
    """
    import contextlib
    import io
    import sys
    import types

    try:
        import torchaudio  # noqa: F401
        empty_torchaudio = None
    except (ImportError, OSError):
        empty_torchaudio = types.ModuleType("torchaudio")
        sys.modules["torchaudio"] = empty_torchaudio
    try:
        from distillmos.sqa import ConvTransformerSQAModel
    except ImportError as exc:
        raise MetricError(f"distillmos: needs the optional package distillmos (make install, or "
                          f"pip install --no-deps distillmos xls-r-sqa): {exc}") from exc
    finally:
        if empty_torchaudio is not None and sys.modules.get("torchaudio") is empty_torchaudio:
            del sys.modules["torchaudio"]
    with contextlib.redirect_stdout(io.StringIO()):  # it prints where it loaded its weights from
        model = ConvTransformerSQAModel()
    return model.eval()


def distill_mos(audio: np.ndarray, sample_rate: int) -> dict[str, float]:
    """Non-intrusive Distill-MOS (1-5, predicts P.808 MOS) of one signal: ``{"distillmos"}``."""
    audio = np.asarray(audio, dtype=np.float64)
    if audio.ndim != 1 or audio.size == 0 or not np.any(audio):
        raise MetricError("distillmos: need a 1-D, non-silent signal")
    if not np.all(np.isfinite(audio)):
        raise MetricError("distillmos: signal holds NaN or inf samples")
    audio = _to_rate(audio, sample_rate, DISTILLMOS_SAMPLE_RATE)
    model = _distillmos_model()
    with torch.inference_mode():
        score = model(torch.from_numpy(audio.astype(np.float32))[None])  # [1, N] -> [1, 1]
    return {"distillmos": float(score.reshape(-1)[0])}
