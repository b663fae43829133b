"""Signal metrics. SI-SNR lives here once; the loss, evaluation and reports all call it.

Convention (DESIGN.md §2): SI-SNR is in dB and higher is better. The training loss is its negative.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["si_snr", "si_snr_numpy", "snr"]

DEFAULT_EPS = 1e-8


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


def si_snr_numpy(est: np.ndarray, ref: np.ndarray, eps: float = DEFAULT_EPS) -> float | np.ndarray:
    """float64 NumPy twin of :func:`si_snr` for per-utterance scoring on the CPU."""
    value = si_snr(np.asarray(est, dtype=np.float64), np.asarray(ref, dtype=np.float64), eps=eps)
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
