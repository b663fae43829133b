"""The detectors of ``check-data`` and their registry.

Each :class:`Detector` names the problem kinds it can report (with their severity) and checks one
pair, in registry order, on a shared :class:`PairAudio`. A detector may end the examination when
later ones would be meaningless (silence, unrelated files, swapped sides). ``check-data``, the
problem kinds of :data:`KINDS`, docs/data-checks.md and the tests all iterate :data:`DETECTORS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from tfgridnet.audio.io import decoder_reason, to_mono
from tfgridnet.audio.levels import rms_dbfs
from tfgridnet.audio.resample import resample
from tfgridnet.data.checks.channels import check_channels
from tfgridnet.data.checks.reference import measure_reference
from tfgridnet.data.checks.report import Problem
from tfgridnet.data.checks.signals import residual_correlations, transfer, xcorr
from tfgridnet.data.checks.thresholds import THRESHOLDS

__all__ = ["Detector", "PairAudio", "DETECTORS", "KINDS", "decode", "side_format", "side_levels",
           "JUDGED_LATER"]


@dataclass
class PairAudio:
    """One pair under examination: its audio, what the detectors measured and found so far."""

    uttid: str
    noisy: np.ndarray  # [C, N] until the format detector mixes it to mono [N]
    noisy_sr: int
    clean: np.ndarray
    clean_sr: int
    sample_rate: int | None = None  # the rate training expects, if given
    problems: list[Problem] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    done: bool = False  # set by a detector after which the others have nothing to measure
    # Alignment window at the analysis rate, set by the alignment detector.
    rate: int = 0
    a: np.ndarray | None = None  # noisy [n]
    b: np.ndarray | None = None  # clean [n]
    lag: int = 0
    _transfer: dict | None = None
    _transfer_done: bool = False

    def add(self, kind: str, message: str, severity: str | None = None) -> None:
        """Record a problem of ``kind`` (its registered severity unless given)."""
        self.problems.append(Problem(self.uttid, kind, severity or KINDS[kind], message))

    def transfer(self) -> dict | None:
        """The noisy/clean transfer function of the aligned window (computed once)."""
        if not self._transfer_done:
            assert self.a is not None and self.b is not None
            self._transfer = transfer(self.a, self.b, self.rate)
            self._transfer_done = True
        return self._transfer


@dataclass(frozen=True)
class Detector:
    """A named check: the problem kinds it reports (kind -> severity) and the function that
    examines a decoded pair (None for the file checks, which :func:`decode` makes)."""

    name: str
    kinds: dict[str, str]
    check: Callable[[PairAudio], None] | None
    doc: str


def decode(path: Path, side: str, uttid: str, problems: list[Problem]
           ) -> tuple[np.ndarray, int] | None:
    """Decode one side to ``[C, N]``; on failure append the problem and return None."""
    if not path.is_file():
        problems.append(Problem(uttid, "missing_file", KINDS["missing_file"],
                                f"{side} file not found: {path}"))
        return None
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:  # noqa: BLE001 - any decoder failure is a finding, never a crash
        problems.append(Problem(uttid, "unreadable_file", KINDS["unreadable_file"],
                                f"{side} file {path}: {decoder_reason(exc)}"))
        return None
    if data.shape[0] == 0:
        problems.append(Problem(uttid, "unreadable_file", KINDS["unreadable_file"],
                                f"{side} file {path} has no samples"))
        return None
    bad = int(np.count_nonzero(~np.isfinite(data)))
    if bad:
        problems.append(Problem(uttid, "non_finite_samples", KINDS["non_finite_samples"],
                                f"{side} file {path} holds {bad} NaN/inf samples"))
        return None
    return data.T, int(rate)


Add = Callable[..., None]  # add(kind, message, severity=None): record a problem


def side_format(add: Add, side: str, audio: np.ndarray, rate: int, expected: int | None,
                channels: bool = True) -> None:
    """Rate against the expected one, and channels, of one side (``audio``: ``[C, N]``); a pair's
    channels are judged by the ``channels`` detector instead (``channels=False``)."""
    if expected is not None and rate != expected:
        add("unexpected_sample_rate", f"{side} is {rate} Hz, expected {expected} Hz (the loader "
            "will resample it)")
    if channels and audio.shape[0] > 1:
        add("multichannel", f"{side} has {audio.shape[0]} channels; the loader averages them to "
            "mono")


def side_levels(add: Add, side: str, audio: np.ndarray) -> float:
    """Silence, clipping and DC offset of one mono side; returns its RMS in dBFS."""
    t = THRESHOLDS
    rms_db = rms_dbfs(audio)
    if rms_db < t["silence_dbfs"]:
        add(f"silent_{side}", f"{side} side is silent (RMS {rms_db:.1f} dBFS < "
            f"{t['silence_dbfs']:.0f} dBFS)")
        return rms_db
    clipped = float(np.mean(np.abs(audio) >= t["clip_level"]))
    if clipped > t["clip_fraction"]:
        add("clipping", f"{side} side clipped: {100 * clipped:.2f} % of samples at full scale")
    mean = float(np.mean(audio, dtype=np.float64))
    rms = 10.0 ** (rms_db / 20.0)  # linear RMS for the DC ratio
    if abs(mean) > t["dc_abs"] and abs(mean) > t["dc_rel"] * rms:
        add("dc_offset", f"{side} side has a DC offset of {mean:+.3f} "
            f"({100 * abs(mean) / rms:.0f} % of its RMS)")
    return rms_db


def _format(pair: PairAudio) -> None:
    t = THRESHOLDS
    noisy_sr, clean_sr = pair.noisy_sr, pair.clean_sr
    noisy, clean = np.atleast_2d(pair.noisy), np.atleast_2d(pair.clean)  # [C, N]
    pair.facts.update(noisy_sr=noisy_sr, clean_sr=clean_sr,
                      duration_s=clean.shape[-1] / clean_sr,
                      noisy_duration_s=noisy.shape[-1] / noisy_sr)
    if noisy_sr != clean_sr:
        pair.add("sample_rate_mismatch", f"noisy is {noisy_sr} Hz but clean is {clean_sr} Hz")
    for side, audio, rate in (("noisy", noisy, noisy_sr), ("clean", clean, clean_sr)):
        side_format(pair.add, side, audio, rate, pair.sample_rate, channels=False)
    pair.noisy, pair.clean = to_mono(noisy), to_mono(clean)  # [N]
    facts = pair.facts
    delta = facts["noisy_duration_s"] - facts["duration_s"]
    longer = max(facts["noisy_duration_s"], facts["duration_s"])
    if abs(delta) > t["length_warning_s"]:
        is_error = abs(delta) > t["length_error_s"] or abs(delta) / longer > t["length_error_ratio"]
        pair.add("length_mismatch",
                 f"noisy is {facts['noisy_duration_s']:.3f} s, clean {facts['duration_s']:.3f} s "
                 f"(noisy {'longer' if delta > 0 else 'shorter'} by {abs(delta) * 1000:.0f} ms)",
                 severity="error" if is_error else "warning")


def _levels(pair: PairAudio) -> None:
    levels = {side: side_levels(pair.add, side, audio)
              for side, audio in (("noisy", pair.noisy), ("clean", pair.clean))}
    pair.facts.update(noisy_rms_dbfs=levels["noisy"], clean_rms_dbfs=levels["clean"])
    if min(levels.values()) < THRESHOLDS["silence_dbfs"]:
        pair.done = True  # SI-SNR and correlations are undefined on silence


def _reference(pair: PairAudio) -> None:
    """Measure the clean reference itself (judged later by reference.reference_findings, so a
    threshold set in the config applies to cached measurements too)."""
    pair.facts.update(measure_reference(pair.clean, pair.clean_sr,
                                        pair.noisy if pair.noisy_sr == pair.clean_sr else None))


def _alignment(pair: PairAudio) -> None:
    from tfgridnet.metrics import si_snr_numpy  # torch import kept out of module import time

    t = THRESHOLDS
    noisy_sr, clean_sr = pair.noisy_sr, pair.clean_sr
    rate = min(t["analysis_rate"], noisy_sr, clean_sr)
    window = int(t["window_s"] * rate)
    a = resample(pair.noisy[:int(np.ceil(t["window_s"] * noisy_sr))].astype(np.float64),
                 noisy_sr, rate)[:window]
    b = resample(pair.clean[:int(np.ceil(t["window_s"] * clean_sr))].astype(np.float64),
                 clean_sr, rate)[:window]
    lag, peak, peak_at_zero = xcorr(a, b)
    pair.facts.update(xcorr_lag=lag, xcorr_peak=peak)
    if peak < t["not_a_pair_peak"]:
        pair.add("not_a_pair", f"noisy and clean are unrelated (cross-correlation peak "
                 f"{peak:.3f} < {t['not_a_pair_peak']}): wrong file, wrong sample rate or a "
                 "broken pairing")
        pair.done = True
        return
    if lag != 0:
        if peak < t["lag_confident_peak"]:
            pair.add("not_a_pair", f"no convincing alignment (best cross-correlation {peak:.3f} "
                     f"at {lag * 1000 / rate:+.1f} ms): probably the wrong file")
            pair.done = True
            return
        native = round(lag * noisy_sr / rate)
        pair.add("misaligned",
                 f"noisy is {'late' if lag > 0 else 'early'} by {abs(lag) * 1000 / rate:.2f} ms "
                 f"({abs(lag)} samples at {rate} Hz, ~{abs(native)} at {noisy_sr} Hz); "
                 f"correlation {peak:.2f} at that lag vs {peak_at_zero:.2f} at lag 0")
    n = min(a.size, b.size)
    pair.rate, pair.a, pair.b, pair.lag = rate, a[:n], b[:n], lag
    # Scored as it would be trained on (unshifted), for the statistics.
    pair.facts["sisnr_db"] = float(si_snr_numpy(pair.a, pair.b))
    if lag != 0:
        pair.done = True  # the content checks assume an aligned pair


def _snr(pair: PairAudio) -> None:
    t = THRESHOLDS
    sisnr = pair.facts["sisnr_db"]
    if sisnr > t["identical_sisnr_db"]:
        pair.add("identical_pair", f"noisy equals clean (SI-SNR {sisnr:.1f} dB): nothing to "
                 "remove")
        pair.done = True
        return
    if sisnr < t["very_low_sisnr_db"]:
        pair.add("very_low_snr", f"input SI-SNR {sisnr:.1f} dB (aligned, but below "
                 f"{t['very_low_sisnr_db']:.0f} dB)")


def _swap(pair: PairAudio) -> None:
    t = THRESHOLDS
    corr_clean, corr_noisy = residual_correlations(pair.a, pair.b)
    pair.facts.update(residual_corr_clean=corr_clean, residual_corr_noisy=corr_noisy)
    found = pair.transfer()
    # Swapped: the residual is minus the noise (uncorrelated with 'noisy', correlated with
    # 'clean'), and 'noisy' is not louder than 'clean' in any band (a band-passed noisy side
    # still has bands where the noise makes it louder).
    if (abs(corr_noisy) < t["swap_residual_corr_low"] and abs(corr_clean) > t["swap_residual_corr"]
            and (found is None or found["band_ratio_max_db"] < t["swap_band_excess_db"])):
        pair.add("swapped_sides",
                 f"the 'clean' file looks like clean + noise and the 'noisy' file like its clean "
                 f"part (corr(noisy-clean, clean) {corr_clean:+.2f}, corr(noisy-clean, noisy) "
                 f"{corr_noisy:+.2f}): the noisy and clean columns are probably swapped")
        pair.done = True


def _spectrum(pair: PairAudio) -> None:
    t = THRESHOLDS
    found = pair.transfer()
    if found is None:
        return
    pair.facts.update(found)
    spread = found["band_gain_max_db"] - found["band_gain_min_db"]
    if spread > t["filter_gain_spread_db"] or found["energy_deficit_db"] < t["deficit_db"]:
        pair.add("one_sided_filtering",
                 f"noisy/clean gain varies by {spread:.0f} dB across frequency and noisy lacks "
                 f"up to {-found['energy_deficit_db']:.0f} dB of the clean's energy in some "
                 "band: one side was filtered (e.g. band-passed) and the other was not")
    elif found["phase_rad"] > t["filter_phase_rad"]:
        pair.add("one_sided_filtering",
                 f"noisy/clean phase differs by {found['phase_rad']:.2f} rad on average: one "
                 "side went through a causal (phase-distorting) filter; use zero-phase "
                 "sosfiltfilt")
    elif abs(found["gain_median_db"]) > t["scale_gain_db"]:
        pair.add("scale_mismatch",
                 f"noisy ~= {10 ** (found['gain_median_db'] / 20):.2f} x clean + noise "
                 f"({found['gain_median_db']:+.1f} dB): the sides were scaled separately "
                 "(fine for SI-SNR training; wrong for SNR-based losses or re-mixing)")


# Registry order is examination order. Errors make training refuse to start; warnings are
# reported only. length_mismatch is a warning below THRESHOLDS["length_error_s"].
DETECTORS: tuple[Detector, ...] = (
    Detector("files", {"missing_file": "error", "unreadable_file": "error",
                       "non_finite_samples": "error"}, None,
             "each side exists and decodes to at least one finite sample"),
    Detector("channels", {"multichannel": "warning", "unrelated_channels": "error"},
             check_channels, "multichannel sides: one source (averaged, warning) or different "
             "signals (clean side: error)"),
    Detector("format", {"sample_rate_mismatch": "error", "unexpected_sample_rate": "warning",
                        "length_mismatch": "error"}, _format,
             "sample rates and lengths of the two sides; mixes them to mono"),
    Detector("levels", {"silent_noisy": "error", "silent_clean": "error", "silent_noise": "error",
                        "clipping": "warning", "dc_offset": "warning"}, _levels,
             "silence, clipping and DC offset of each side (and of each noise file)"),
    Detector("reference", {"noisy_reference": "error", "reference_noise": "warning",
                           "band_limited_reference": "warning", "little_speech": "warning"},
             _reference, "the clean reference itself: its own SNR, effective bandwidth, speech "
             "activity"),
    Detector("alignment", {"not_a_pair": "error", "misaligned": "error"}, _alignment,
             "cross-correlation: related at all, and at which lag"),
    Detector("snr", {"identical_pair": "error", "very_low_snr": "warning"}, _snr,
             "estimated input SI-SNR of an aligned pair"),
    Detector("swap", {"swapped_sides": "error"}, _swap,
             "residual correlations: are the noisy and clean columns swapped"),
    Detector("spectrum", {"one_sided_filtering": "error", "scale_mismatch": "warning"},
             _spectrum, "transfer function noisy/clean: filtering, phase, scale"),
    Detector("corpus", {"sisnr_outlier": "warning"}, None,
             "after every pair: input SI-SNR far from the corpus median"),
)

# Kinds decided from measurements after the examination (reference.reference_findings, the
# corpus rule of check_data): never stored in the result cache, always judged afresh.
JUDGED_LATER = frozenset(("noisy_reference", "reference_noise", "band_limited_reference",
                          "little_speech", "sisnr_outlier"))

# kind -> severity, from the registry.
KINDS: dict[str, str] = {kind: severity for d in DETECTORS for kind, severity in d.kinds.items()}
