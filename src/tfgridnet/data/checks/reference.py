"""The reference audit: is the "clean" side of a pair really clean speech?

Measured on every clean reference (its first ``THRESHOLDS["audit_max_s"]`` seconds, at its own
rate; numpy only, so it runs in the check's worker processes):

* **its own SNR** (``ref_snr_db``): WADA-SNR (Kim & Stern, Interspeech 2008), read off the
  amplitude distribution of the waveform (speech: gamma-distributed amplitudes, shape 0.4; noise:
  Gaussian). It sees noise that never pauses, but takes sustained harmonic sound (a held vowel, a
  synthetic tone) for noise. So a second estimate must agree before anything is reported: the
  noise floor between speech segments (``ref_floor_snr_db``: mean energy of the quietest 5 % of
  32 ms frames against the mean energy), which sees whatever fills the pauses and reads digital
  silence as clean.
* **effective bandwidth** (``ref_bandwidth_hz``): the highest frequency whose mean power lies
  within 50 dB of the mean spectrum's peak (the URGENT challenge's data-preparation rule), so a
  16 kHz file made from 8 kHz material reads ~4 kHz.
* **speech activity** (``ref_speech_share``): the share of 32 ms frames that carry sound (within
  45 dB of the loudest frames and above -70 dBFS) *and* lie within 150 ms of a voiced frame (the
  pre-emphasised, normalised autocorrelation has a peak above 0.45 at a 2.5-16 ms lag: a pitch of
  62-400 Hz). A silence-padded file has little sound; a noise file used as "clean" has sound but no
  voicing. ``ref_active_share`` keeps the sound part alone, so the message can say which.

docs/data-checks.md gives the measurements behind every threshold (bench/reference_audit.py).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tfgridnet.audio.levels import EPS
from tfgridnet.data.checks.thresholds import THRESHOLDS

__all__ = ["measure_reference", "effective_bandwidth", "wada_snr", "reference_findings",
           "REFERENCE_FACTS"]

# The per-reference figures this module adds to a pair's facts (check JSON, data_check.json).
REFERENCE_FACTS = ("ref_snr_db", "ref_floor_snr_db", "ref_bandwidth_hz", "ref_speech_share",
                   "ref_active_share", "noisy_bandwidth_hz")

_SNR_RANGE_DB = (-20.0, 100.0)  # estimates are clamped to this (100: no measurable noise)
_WADA_SHAPE = 0.4  # gamma shape of speech amplitudes assumed by WADA-SNR
_FRAME_S, _HOP_S = 0.032, 0.016
_FLOOR_SHARE = 0.05  # quietest share of frames taken as the noise floor
_PITCH_LAGS_S = (0.0025, 0.016)
_VOICED_CORR = 0.45
_HANGOVER_S = 0.15
_ACTIVE_RANGE_DB = 45.0
_BANDWIDTH_FLOOR_DB = -50.0


@functools.lru_cache(maxsize=1)
def _wada_table() -> tuple[np.ndarray, np.ndarray]:
    """SNR (dB) -> G = log E|z| - E log|z| for z = gamma-amplitude speech + Gaussian noise.

    Kim & Stern tabulated G by simulation; so do we (fixed seed, 200,000 samples, monotone
    enforced). At low SNR G tends to the Gaussian's log sqrt(2/pi) + (gamma_E + ln 2) / 2 = 0.41.
    """
    rng = np.random.default_rng(20080922)
    n = 200_000
    speech = rng.gamma(_WADA_SHAPE, 1.0, n) * rng.choice((-1.0, 1.0), n)
    speech /= np.sqrt(np.mean(speech ** 2))
    noise = rng.standard_normal(n)
    noise /= np.sqrt(np.mean(noise ** 2))
    snr_db = np.arange(_SNR_RANGE_DB[0], _SNR_RANGE_DB[1] + 1.0)
    g = np.empty(snr_db.size)
    for i, db in enumerate(snr_db):
        magnitude = np.maximum(np.abs(speech * 10.0 ** (db / 20.0) + noise), 1e-20)
        g[i] = np.log(magnitude.mean()) - np.log(magnitude).mean()
    return snr_db, np.maximum.accumulate(g)


def wada_snr(audio: np.ndarray) -> float:
    """WADA-SNR of a signal in dB, clamped to [-20, 100]; exact zeros (digital silence) are
    left out, so a gated or padded recording is judged on what it holds."""
    x = np.asarray(audio, dtype=np.float64)
    peak = float(np.max(np.abs(x), initial=0.0))
    if peak <= 0.0:
        return _SNR_RANGE_DB[1]
    magnitude = np.abs(x[x != 0.0]) / peak
    if magnitude.size < 64:
        return _SNR_RANGE_DB[1]
    magnitude = np.maximum(magnitude, 1e-10)
    g = float(np.log(magnitude.mean()) - np.log(magnitude).mean())
    snr_db, table = _wada_table()
    return float(np.interp(g, table, snr_db))


def _frames_power(x: np.ndarray, rate: int, hop_s: float = _HOP_S, pad: bool = True
                  ) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Hann frames of 32 ms every ``hop_s``: power spectra (zero-padded to twice the frame length
    when ``pad``, so the inverse transform is a linear autocorrelation) ``[T, F]``, each frame's
    mean square (window-compensated, the scale of :func:`~tfgridnet.audio.levels.rms_dbfs`)
    ``[T]``, the frame length and the hop. float32: half the time of float64, ample here."""
    win = max(32, int(round(_FRAME_S * rate)))
    hop = max(1, int(round(hop_s * rate)))
    x = np.asarray(x, dtype=np.float32)
    if x.size < win:
        x = np.pad(x, (0, win - x.size))
    window = np.hanning(win).astype(np.float32)
    frames = np.lib.stride_tricks.sliding_window_view(x, win)[::hop] * window  # [T, win]
    spectrum = np.fft.rfft(frames, n=2 * win if pad else win, axis=1)  # [T, F]
    mean_square = np.mean(frames * frames, axis=1, dtype=np.float64) / np.mean(window * window)
    return spectrum.real ** 2 + spectrum.imag ** 2, mean_square, win, hop


def effective_bandwidth(power_spectrum: np.ndarray, rate: int) -> float:
    """Highest frequency (Hz) whose mean power is within 50 dB of the spectrum's peak.

    ``power_spectrum``: a mean power spectrum over ``rfft`` bins 0..rate/2.
    """
    freqs = np.linspace(0.0, rate / 2.0, power_spectrum.size)
    peak = float(power_spectrum.max(initial=0.0))
    if peak <= 0.0:
        return 0.0
    above = np.flatnonzero(power_spectrum > peak * 10.0 ** (_BANDWIDTH_FLOOR_DB / 10.0))
    return float(freqs[above[-1]])


@functools.lru_cache(maxsize=8)
def _window_autocorrelation(win: int) -> np.ndarray:
    window = np.hanning(win)
    return np.correlate(window, window, mode="full")[win - 1:]


def _voiced(frames_spectrum: np.ndarray, win: int, rate: int) -> np.ndarray:
    """Frames whose normalised autocorrelation has a peak above 0.45 at a pitch lag: ``[T]``.

    The spectrum is pre-emphasised first (first difference, |1 - e^-jw|^2), so smooth low-frequency
    noise (brown, rumble) does not read as periodic, and the peak must be a local maximum inside
    the lag range, not its edge.
    """
    freqs = np.linspace(0.0, np.pi, frames_spectrum.shape[1])
    emphasised = frames_spectrum * (2.0 - 2.0 * np.cos(freqs))
    autocorr = np.fft.irfft(emphasised, axis=1)[:, :win]  # [T, lags]
    window_corr = _window_autocorrelation(win)  # taper bias per lag
    low = max(1, int(_PITCH_LAGS_S[0] * rate))
    high = min(win - 2, int(_PITCH_LAGS_S[1] * rate))
    lags = np.arange(low - 1, high + 2)
    normalised = autocorr[:, lags] / (autocorr[:, :1] + 1e-30) * (window_corr[0] / window_corr[lags])
    inner = normalised[:, 1:-1]
    peaks = (inner >= normalised[:, :-2]) & (inner >= normalised[:, 2:]) & (inner > _VOICED_CORR)
    return peaks.any(axis=1)


def _snr_db(signal_power: float, noise_power: float) -> float:
    if noise_power <= 0.0:
        return _SNR_RANGE_DB[1]
    ratio = max(signal_power - noise_power, 0.0) / noise_power
    db = 10.0 * np.log10(ratio) if ratio > 0 else _SNR_RANGE_DB[0]
    return float(np.clip(db, *_SNR_RANGE_DB))


def measure_reference(clean: np.ndarray, rate: int, noisy: np.ndarray | None = None
                      ) -> dict[str, float]:
    """The audit's figures for one mono reference (and the noisy side's bandwidth, if given)."""
    span = int(THRESHOLDS["audit_max_s"] * rate)
    x = np.asarray(clean[:span], dtype=np.float64)
    power, energy, win, hop = _frames_power(x, rate)  # [T, F], [T]
    quiet = np.sort(energy)[:max(1, int(np.ceil(_FLOOR_SHARE * energy.size)))]
    floor_snr = _snr_db(float(energy.mean()), float(quiet.mean()))
    wada = wada_snr(x)
    energy_db = 10.0 * np.log10(energy + EPS)
    loud_db = float(np.percentile(energy_db, 95))
    active = energy_db > max(loud_db - _ACTIVE_RANGE_DB, THRESHOLDS["silence_dbfs"] - 10.0)
    voiced = _voiced(power, win, rate) & active
    reach = int(round(_HANGOVER_S * rate / hop))
    near_voiced = np.convolve(voiced.astype(np.float64), np.ones(2 * reach + 1), "same") > 0
    facts = {
        "ref_snr_db": wada,
        "ref_floor_snr_db": floor_snr,
        "ref_bandwidth_hz": effective_bandwidth(power.mean(axis=0, dtype=np.float64), rate),
        "ref_speech_share": float(np.mean(active & near_voiced)),
        "ref_active_share": float(np.mean(active)),
    }
    if noisy is not None:
        noisy_power, _, _, _ = _frames_power(noisy[:span], rate, hop_s=_FRAME_S, pad=False)
        facts["noisy_bandwidth_hz"] = effective_bandwidth(
            noisy_power.mean(axis=0, dtype=np.float64), rate)
    return facts


def reference_findings(facts: dict[str, Any], rate: int, snr_error_db: float | None
                       ) -> list[tuple[str, str, str]]:
    """``(kind, severity, message)`` of the audit from measured ``facts``.

    ``snr_error_db``: the estimated SNR under which a reference is an error (None: such
    references are warnings only). Decided apart from the measuring, so a changed threshold never
    needs the audio again (cached results are re-judged).
    """
    t = THRESHOLDS
    out: list[tuple[str, str, str]] = []
    snr, floor = facts.get("ref_snr_db"), facts.get("ref_floor_snr_db")
    if snr is not None and floor is not None and floor < t["ref_floor_confirm_db"]:
        detail = (f"the clean reference itself has an estimated SNR of {snr:.1f} dB (WADA-SNR; "
                  f"the noise floor between its speech segments agrees: {floor:.1f} dB)")
        if snr_error_db is not None and snr < snr_error_db:
            out.append(("noisy_reference", "error",
                        f"{detail} < {snr_error_db:g} dB: it still carries noise, and a model "
                        "trained on it learns to keep that noise (data.reference_snr_error_db "
                        "lowers or disables this error; a reverberant reference reads as noisy "
                        "too: for targets reverberant by design, set it to null)"))
        elif snr < t["ref_snr_warning_db"]:
            out.append(("reference_noise", "warning",
                        f"{detail} < {t['ref_snr_warning_db']:g} dB: audible noise in the "
                        "reference"))
    bandwidth = facts.get("ref_bandwidth_hz")
    if bandwidth is not None:
        nyquist = rate / 2.0
        noisy_bw = facts.get("noisy_bandwidth_hz")
        narrow = bandwidth < t["bandwidth_ratio"] * nyquist
        narrower = (noisy_bw is not None
                    and bandwidth < t["bandwidth_vs_noisy_ratio"] * noisy_bw)
        if narrow or narrower:
            against = (f"; the noisy side reaches {noisy_bw:,.0f} Hz, so the model learns to remove "
                       "the band above" if narrower else "")
            out.append(("band_limited_reference", "warning",
                        f"the clean reference carries energy only up to {bandwidth:,.0f} Hz of its "
                        f"{nyquist:,.0f} Hz band (a {rate} Hz file made from lower-rate or "
                        f"low-passed material){against}"))
    share = facts.get("ref_speech_share")
    if share is not None and share < t["speech_share_min"]:
        active = facts["ref_active_share"]
        what = ("mostly silence" if active < t["speech_share_min"]
                else "sound without voicing (not speech?)")
        out.append(("little_speech", "warning",
                    f"speech in {100 * share:.0f} % of the clean reference (sound in "
                    f"{100 * active:.0f} %): {what}"))
    return out
