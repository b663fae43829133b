"""`check-data`: find the pairs that would silently ruin a training run, before it starts.

Every pair is read and compared at an analysis rate of 16 kHz (or lower when both files are lower):
  * FFT cross-correlation over a bounded window -> lag (misaligned) and peak (not_a_pair);
  * the transfer function noisy/clean (Welch cross-spectrum) -> one-sided filtering, phase
    distortion and scale mismatch, on bins where the two are coherent;
  * SI-SNR(noisy, clean) (metrics.si_snr) -> estimated input SNR, identical pairs, very low SNR;
  * plain file facts: missing/unreadable, rates, channels, lengths, silence, clipping, DC offset.
Thresholds and the measurements behind them are in docs/data-checks.md (THRESHOLDS below).
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from array import array
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy import fft as sp_fft
from scipy import signal

from tfgridnet.audio.io import to_mono
from tfgridnet.audio.levels import rms_dbfs
from tfgridnet.audio.resample import resample
from tfgridnet.data.manifest import Pair, read_manifest

__all__ = ["Problem", "CheckReport", "check_data", "check_pair", "check_arrays",
           "THRESHOLDS", "KINDS"]

# kind -> severity. Errors make training refuse to start; warnings are reported only.
KINDS = {
    "missing_file": "error",
    "unreadable_file": "error",
    "sample_rate_mismatch": "error",
    "unexpected_sample_rate": "warning",
    "multichannel": "warning",
    "length_mismatch": "error",          # warning below THRESHOLDS["length_error_s"]
    "misaligned": "error",
    "not_a_pair": "error",
    "one_sided_filtering": "error",
    "silent_clean": "error",
    "silent_noisy": "error",
    "clipping": "warning",
    "dc_offset": "warning",
    "identical_pair": "error",
    "swapped_sides": "error",
    "scale_mismatch": "warning",
    "very_low_snr": "warning",
}

# Chosen from measurements on eSpeak speech + six noise kinds at -10..20 dB (docs/data-checks.md).
THRESHOLDS = {
    "analysis_rate": 16000,        # Hz; lags are measured on this grid
    "window_s": 8.0,               # cross-correlation window (from the start of both files)
    "length_warning_s": 0.002,     # |len(noisy) - len(clean)| above this: warning (loader trims)
    "length_error_s": 0.1,         # ... above this (or 5 %): error
    "length_error_ratio": 0.05,
    "silence_dbfs": -60.0,         # RMS below this: silent
    "clip_level": 0.999,           # |x| at or above this counts as clipped
    "clip_fraction": 1e-3,         # more than this fraction of clipped samples: clipping
    "dc_abs": 0.01,                # |mean| above this AND above dc_rel * RMS: dc_offset
    "dc_rel": 0.1,
    "not_a_pair_peak": 0.08,       # normalised xcorr peak below this: not a pair
    "lag_confident_peak": 0.15,    # a nonzero lag is trusted above this peak (else: not a pair)
    "identical_sisnr_db": 50.0,    # SI-SNR above this: noisy is (a copy of) clean
    "very_low_sisnr_db": -15.0,    # aligned but SI-SNR below this: warning
    "coherence_min": 0.5,          # bins used for the transfer function
    "filter_gain_spread_db": 6.0,  # max-min band gain of noisy/clean above this: filtered
    "deficit_db": -6.0,            # a strong clean band this much louder than noisy: filtered
    "deficit_band_range_db": 40.0,  # "strong" clean bands: within this of the loudest band
    "filter_phase_rad": 0.25,      # coherent-weighted mean |phase| above this: phase distortion
    "swap_residual_corr": 0.2,     # |corr(n-c, c)| above this while |corr(n-c, n)| is below ...
    "swap_residual_corr_low": 0.05,  # ... this, and no band of noisy is louder than the clean's
    "swap_band_excess_db": 0.5,    # ... by more than this: the noisy/clean columns are swapped
    "scale_gain_db": 1.0,          # flat noisy/clean gain further than this from 0 dB: scale
}


@dataclass
class Problem:
    """One finding on one pair."""

    uttid: str
    kind: str
    severity: str
    message: str


@dataclass
class CheckReport:
    """Result of :func:`check_data`; ``to_dict`` is the check-data JSON of docs/design.md."""

    ok: bool
    n_pairs: int
    problems: list[Problem] = field(default_factory=list)
    stats: dict = field(default_factory=dict)
    sampled: dict | None = None  # {"n", "of", "seed"} when only a random sample was checked

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    def to_dict(self) -> dict:
        return {"ok": self.ok, "n_pairs": self.n_pairs, "sampled": self.sampled,
                "problems": [asdict(p) for p in self.problems], "stats": self.stats}

    def summary(self, max_listed: int = 10) -> str:
        """A few lines for people: verdict, counts by kind, worst offenders, SNR distribution."""
        checked = self.stats.get("n_checked", self.n_pairs)
        bad = len({p.uttid for p in self.errors})
        verdict = "OK" if self.ok else f"ERRORS in {bad} of {checked} checked pairs"
        lines = [f"check-data: {verdict} ({len(self.errors)} errors, {len(self.warnings)} warnings; "
                 f"{checked} of {self.n_pairs} pairs checked)"]
        if self.sampled:
            lines.append(f"SAMPLED: statistics below are from a random sample of "
                         f"{self.sampled['n']} of {self.sampled['of']} pairs (seed "
                         f"{self.sampled['seed']}); the other pairs were not checked")
        by_kind = Counter((p.severity, p.kind) for p in self.problems)
        for (severity, kind), count in sorted(by_kind.items()):
            lines.append(f"  {severity:7s} {kind:22s} {count}")
        listed = self.errors[:max_listed] + self.warnings[:max(0, max_listed - len(self.errors))]
        if listed:
            lines.append("first problems:")
            lines += [f"  [{p.severity}] {p.uttid}: {p.kind}: {p.message}" for p in listed]
            if len(self.problems) > len(listed):
                lines.append(f"  ... {len(self.problems) - len(listed)} more (see --json)")
        snr = self.stats.get("sisnr_db")
        if snr:
            lines.append("estimated input SI-SNR (dB): " + ", ".join(
                f"{k} {snr[k]:.1f}" for k in ("min", "p10", "median", "p90", "max") if k in snr))
        durations = self.stats.get("duration_s")
        if durations:
            lines.append(f"durations (s): min {durations['min']:.2f}, median "
                         f"{durations['median']:.2f}, max {durations['max']:.2f}; total "
                         f"{durations['total_hours']:.2f} h")
        if self.stats.get("sample_rates"):
            lines.append("sample rates: " + ", ".join(
                f"{rate} Hz x{n}" for rate, n in self.stats["sample_rates"].items()))
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# per-pair analysis (runs in worker processes: numpy/scipy only, plus metrics.si_snr)


def _problem(uttid: str, kind: str, message: str, severity: str | None = None) -> Problem:
    return Problem(uttid, kind, severity or KINDS[kind], message)


def _read(path: Path, side: str, uttid: str, problems: list[Problem]):
    """Decode one side; on failure append the problem and return None."""
    if not path.is_file():
        problems.append(_problem(uttid, "missing_file", f"{side} file not found: {path}"))
        return None
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:  # noqa: BLE001 - any decoder failure is a finding, never a crash
        problems.append(_problem(uttid, "unreadable_file", f"{side} file {path}: {exc}"))
        return None
    if data.shape[0] == 0:
        problems.append(_problem(uttid, "unreadable_file", f"{side} file {path} has no samples"))
        return None
    return data.T, int(rate)


def _level_checks(uttid: str, side: str, audio: np.ndarray, problems: list[Problem]) -> float:
    """Silence, clipping and DC offset of one (mono) side; returns its RMS in dBFS."""
    t = THRESHOLDS
    rms_db = rms_dbfs(audio)
    if rms_db < t["silence_dbfs"]:
        problems.append(_problem(uttid, f"silent_{side}",
                                 f"{side} side is silent (RMS {rms_db:.1f} dBFS < "
                                 f"{t['silence_dbfs']:.0f} dBFS)"))
        return rms_db
    clipped = float(np.mean(np.abs(audio) >= t["clip_level"]))
    if clipped > t["clip_fraction"]:
        problems.append(_problem(uttid, "clipping", f"{side} side clipped: {100 * clipped:.2f} % "
                                 f"of samples at full scale"))
    mean = float(np.mean(audio, dtype=np.float64))
    rms = 10.0 ** (rms_db / 20.0)  # linear RMS for the DC ratio
    if abs(mean) > t["dc_abs"] and abs(mean) > t["dc_rel"] * rms:
        problems.append(_problem(uttid, "dc_offset", f"{side} side has a DC offset of {mean:+.3f} "
                                 f"({100 * abs(mean) / rms:.0f} % of its RMS)"))
    return rms_db


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    """Inner product without BLAS: a multi-threaded BLAS dot spins under CPU contention and was
    measured at 5 ms for 64 000 samples in worker processes (vs 0.05 ms like this)."""
    return float(np.sum(a * b, dtype=np.float64))


def _xcorr(noisy: np.ndarray, clean: np.ndarray) -> tuple[int, float, float]:
    """Lag (samples; positive = noisy is late), its normalised peak, and the peak at lag 0.

    One real FFT pair of a fast length; lags limited to half the shorter window so the peak
    always rests on a substantial overlap.
    """
    a = (noisy - noisy.mean()).astype(np.float32)
    b = (clean - clean.mean()).astype(np.float32)
    size = sp_fft.next_fast_len(a.size + b.size - 1, real=True)
    corr = sp_fft.irfft(sp_fft.rfft(a, size) * np.conj(sp_fft.rfft(b, size)), size)
    limit = max(1, min(a.size, b.size) // 2)
    lags = np.concatenate([np.arange(0, limit + 1), np.arange(-limit, 0)])
    values = np.concatenate([corr[:limit + 1], corr[size - limit:]])
    norm = float(np.sqrt(_dot(a, a) * _dot(b, b))) + 1e-20
    best = int(np.argmax(np.abs(values)))
    return int(lags[best]), float(abs(values[best]) / norm), float(abs(corr[0]) / norm)


def _spectra(noisy: np.ndarray, clean: np.ndarray, rate: int, nperseg: int):
    """Welch auto/cross spectra (Hann, 50 % overlap) in one batched FFT.

    Same estimator as ``scipy.signal.welch``/``csd`` (tested against them), ~20x faster here
    because scipy transforms segment by segment.
    """
    hop = nperseg // 2
    window = signal.get_window("hann", nperseg)
    frames_n = np.lib.stride_tricks.sliding_window_view(noisy, nperseg)[::hop]
    frames_c = np.lib.stride_tricks.sliding_window_view(clean, nperseg)[::hop]
    spec_n = np.fft.rfft((frames_n - frames_n.mean(axis=1, keepdims=True)) * window, axis=1)
    spec_c = np.fft.rfft((frames_c - frames_c.mean(axis=1, keepdims=True)) * window, axis=1)
    scale = 1.0 / (rate * np.sum(window ** 2))
    p_nn = np.mean(np.abs(spec_n) ** 2, axis=0) * scale
    p_cc = np.mean(np.abs(spec_c) ** 2, axis=0) * scale
    p_nc = np.mean(spec_n * np.conj(spec_c), axis=0) * scale
    one_sided = np.ones(p_nn.size)
    one_sided[1:-1 if nperseg % 2 == 0 else None] = 2.0
    freqs = np.fft.rfftfreq(nperseg, 1.0 / rate)
    return freqs, p_nn * one_sided, p_cc * one_sided, p_nc * one_sided


def _transfer(noisy: np.ndarray, clean: np.ndarray, rate: int) -> dict | None:
    """Band gains and phase of noisy/clean where the two are coherent (None: too few bins)."""
    t = THRESHOLDS
    nperseg = 512 if rate >= 16000 else 256
    if min(noisy.size, clean.size) < 4 * nperseg:
        return None
    freqs, p_nn, p_cc, p_nc = _spectra(noisy, clean, rate, nperseg)
    coherence = np.abs(p_nc) ** 2 / (p_nn * p_cc + 1e-30)
    h = p_nc / (p_cc + 1e-30)
    strong = p_cc > p_cc.max() * 10 ** (-50 / 10)
    use = (coherence > t["coherence_min"]) & strong & (freqs > 50)
    if use.sum() < 8:
        return None
    gains_db = 20 * np.log10(np.abs(h[use]) + 1e-20)
    # bands of ~1/2 octave: medians make the estimate robust to single noisy bins
    edges = 62.5 * 2.0 ** np.arange(0, 16, 0.5)
    band_of = np.digitize(freqs[use], edges)
    bands = [float(np.median(gains_db[band_of == b])) for b in np.unique(band_of)
             if np.sum(band_of == b) >= 2]
    if not bands:
        return None
    gain_db = float(np.median(gains_db))
    weights = coherence[use]
    phase = float(np.sum(weights * np.abs(np.angle(h[use]))) / np.sum(weights))
    # Energy deficit: with noisy = clean + noise, the noisy band energy is never far below the
    # clean's. A band where it is (after removing the overall gain) was filtered out of noisy;
    # such bands are incoherent, so the transfer function alone cannot see them.
    energy_band = np.digitize(freqs, edges)
    clean_bands, ratio_db = [], []
    for b in np.unique(energy_band[freqs > 50]):
        members = (energy_band == b) & (freqs > 50)
        clean_bands.append(float(p_cc[members].sum()))
        ratio_db.append(10 * np.log10((p_nn[members].sum() + 1e-30) / (p_cc[members].sum() + 1e-30)))
    clean_bands_db = 10 * np.log10(np.asarray(clean_bands) + 1e-30)
    strong_bands = clean_bands_db > clean_bands_db.max() - t["deficit_band_range_db"]
    deficit = float(np.min(np.asarray(ratio_db)[strong_bands]) - gain_db)
    return {"band_gain_min_db": min(bands), "band_gain_max_db": max(bands),
            "gain_median_db": gain_db, "phase_rad": phase, "energy_deficit_db": deficit,
            "band_ratio_max_db": float(np.max(np.asarray(ratio_db)[strong_bands])),
            "coherent_fraction": float(use.sum() / strong.sum())}


def _residual_correlations(noisy: np.ndarray, clean: np.ndarray) -> tuple[float, float]:
    """corr(noisy - clean, clean) and corr(noisy - clean, noisy): ~0 and > 0 for an additive pair;
    the other way round when the columns are swapped (the residual is then minus the noise)."""
    a, b = noisy - noisy.mean(), clean - clean.mean()
    residual = a - b
    r_norm = np.sqrt(_dot(residual, residual)) + 1e-20
    return (_dot(residual, b) / (r_norm * np.sqrt(_dot(b, b)) + 1e-20),
            _dot(residual, a) / (r_norm * np.sqrt(_dot(a, a)) + 1e-20))


def check_pair(pair: Pair, sample_rate: int | None = None) -> tuple[list[Problem], dict]:
    """Check one pair; returns its problems and its measurements (never raises on bad files)."""
    uttid = pair.uttid
    problems: list[Problem] = []
    facts: dict = {"uttid": uttid}
    if pair.noisy is None or pair.clean is None:
        problems.append(_problem(uttid, "missing_file", "manifest row has no "
                                 f"{'noisy' if pair.noisy is None else 'clean'} path"))
        return problems, facts
    noisy_read = _read(Path(pair.noisy), "noisy", uttid, problems)
    clean_read = _read(Path(pair.clean), "clean", uttid, problems)
    if noisy_read is None or clean_read is None:
        return problems, facts
    (noisy, noisy_sr), (clean, clean_sr) = noisy_read, clean_read
    return check_arrays(uttid, noisy, noisy_sr, clean, clean_sr, sample_rate)


def check_arrays(uttid: str, noisy: np.ndarray, noisy_sr: int, clean: np.ndarray, clean_sr: int,
                 sample_rate: int | None = None) -> tuple[list[Problem], dict]:
    """The content checks of :func:`check_pair` on decoded audio (``[N]`` or ``[C, N]``)."""
    from tfgridnet.metrics import si_snr_numpy  # torch import kept out of module import time

    t = THRESHOLDS
    problems: list[Problem] = []
    facts: dict = {"uttid": uttid}
    noisy, clean = np.atleast_2d(noisy), np.atleast_2d(clean)
    facts.update(noisy_sr=noisy_sr, clean_sr=clean_sr,
                 duration_s=clean.shape[-1] / clean_sr, noisy_duration_s=noisy.shape[-1] / noisy_sr)
    if noisy_sr != clean_sr:
        problems.append(_problem(uttid, "sample_rate_mismatch",
                                 f"noisy is {noisy_sr} Hz but clean is {clean_sr} Hz"))
    if sample_rate is not None:
        for side, rate in (("noisy", noisy_sr), ("clean", clean_sr)):
            if rate != sample_rate:
                problems.append(_problem(uttid, "unexpected_sample_rate",
                                         f"{side} is {rate} Hz, expected {sample_rate} Hz "
                                         "(the loader will resample it)"))
    for side, audio in (("noisy", noisy), ("clean", clean)):
        if audio.shape[0] > 1:
            problems.append(_problem(uttid, "multichannel", f"{side} has {audio.shape[0]} "
                                     "channels; the loader averages them to mono"))
    noisy, clean = to_mono(noisy), to_mono(clean)
    delta = facts["noisy_duration_s"] - facts["duration_s"]
    longer = max(facts["noisy_duration_s"], facts["duration_s"])
    if abs(delta) > t["length_warning_s"]:
        is_error = abs(delta) > t["length_error_s"] or abs(delta) / longer > t["length_error_ratio"]
        problems.append(_problem(
            uttid, "length_mismatch",
            f"noisy is {facts['noisy_duration_s']:.3f} s, clean {facts['duration_s']:.3f} s "
            f"(noisy {'longer' if delta > 0 else 'shorter'} by {abs(delta) * 1000:.0f} ms)",
            severity="error" if is_error else "warning"))
    noisy_db = _level_checks(uttid, "noisy", noisy, problems)
    clean_db = _level_checks(uttid, "clean", clean, problems)
    facts.update(noisy_rms_dbfs=noisy_db, clean_rms_dbfs=clean_db)
    if min(noisy_db, clean_db) < t["silence_dbfs"]:
        return problems, facts

    rate = min(t["analysis_rate"], noisy_sr, clean_sr)
    window = int(t["window_s"] * rate)
    a = resample(noisy[:int(np.ceil(t["window_s"] * noisy_sr))].astype(np.float64), noisy_sr, rate)
    b = resample(clean[:int(np.ceil(t["window_s"] * clean_sr))].astype(np.float64), clean_sr, rate)
    a, b = a[:window], b[:window]
    lag, peak, peak_at_zero = _xcorr(a, b)
    facts.update(xcorr_lag=lag, xcorr_peak=peak)
    if peak < t["not_a_pair_peak"]:
        problems.append(_problem(
            uttid, "not_a_pair",
            f"noisy and clean are unrelated (cross-correlation peak {peak:.3f} < "
            f"{t['not_a_pair_peak']}): wrong file, wrong sample rate or a broken pairing"))
        return problems, facts
    if lag != 0:
        if peak < t["lag_confident_peak"]:
            problems.append(_problem(
                uttid, "not_a_pair",
                f"no convincing alignment (best cross-correlation {peak:.3f} at "
                f"{lag * 1000 / rate:+.1f} ms): probably the wrong file"))
            return problems, facts
        native = round(lag * noisy_sr / rate)
        problems.append(_problem(
            uttid, "misaligned",
            f"noisy is {'late' if lag > 0 else 'early'} by {abs(lag) * 1000 / rate:.2f} ms "
            f"({abs(lag)} samples at {rate} Hz, ~{abs(native)} at {noisy_sr} Hz); "
            f"correlation {peak:.2f} at that lag vs {peak_at_zero:.2f} at lag 0"))
        # Score the pair as it would be trained on (unshifted) for the statistics.
    n = min(a.size, b.size)
    sisnr = float(si_snr_numpy(a[:n], b[:n]))
    facts["sisnr_db"] = sisnr
    if lag != 0:
        return problems, facts
    if sisnr > t["identical_sisnr_db"]:
        problems.append(_problem(uttid, "identical_pair",
                                 f"noisy equals clean (SI-SNR {sisnr:.1f} dB): nothing to remove"))
        return problems, facts
    if sisnr < t["very_low_sisnr_db"]:
        problems.append(_problem(uttid, "very_low_snr",
                                 f"input SI-SNR {sisnr:.1f} dB (aligned, but below "
                                 f"{t['very_low_sisnr_db']:.0f} dB)"))
    corr_clean, corr_noisy = _residual_correlations(a[:n], b[:n])
    facts.update(residual_corr_clean=corr_clean, residual_corr_noisy=corr_noisy)
    transfer = _transfer(a[:n], b[:n], rate)
    # Swapped: the residual is minus the noise (uncorrelated with 'noisy', correlated with
    # 'clean'), and 'noisy' is not louder than 'clean' in any band (a band-passed noisy side
    # still has bands where the noise makes it louder).
    if (abs(corr_noisy) < t["swap_residual_corr_low"] and abs(corr_clean) > t["swap_residual_corr"]
            and (transfer is None or transfer["band_ratio_max_db"] < t["swap_band_excess_db"])):
        problems.append(_problem(
            uttid, "swapped_sides",
            f"the 'clean' file looks like clean + noise and the 'noisy' file like its clean part "
            f"(corr(noisy-clean, clean) {corr_clean:+.2f}, corr(noisy-clean, noisy) "
            f"{corr_noisy:+.2f}): the noisy and clean columns are probably swapped"))
        return problems, facts
    if transfer is not None:
        facts.update(transfer)
        spread = transfer["band_gain_max_db"] - transfer["band_gain_min_db"]
        if spread > t["filter_gain_spread_db"] or transfer["energy_deficit_db"] < t["deficit_db"]:
            problems.append(_problem(
                uttid, "one_sided_filtering",
                f"noisy/clean gain varies by {spread:.0f} dB across frequency and noisy lacks up to "
                f"{-transfer['energy_deficit_db']:.0f} dB of the clean's energy in some band: "
                "one side was filtered (e.g. band-passed) and the other was not"))
        elif transfer["phase_rad"] > t["filter_phase_rad"]:
            problems.append(_problem(
                uttid, "one_sided_filtering",
                f"noisy/clean phase differs by {transfer['phase_rad']:.2f} rad on average: one side "
                "went through a causal (phase-distorting) filter; use zero-phase sosfiltfilt"))
        elif abs(transfer["gain_median_db"]) > t["scale_gain_db"]:
            problems.append(_problem(
                uttid, "scale_mismatch",
                f"noisy ~= {10 ** (transfer['gain_median_db'] / 20):.2f} x clean + noise "
                f"({transfer['gain_median_db']:+.1f} dB): the sides were scaled separately "
                "(fine for SI-SNR training; wrong for SNR-based losses or re-mixing)"))
    return problems, facts


def _check_chunk(args: tuple[list[Pair], int | None]) -> list[tuple[list[Problem], dict]]:
    pairs, sample_rate = args
    return [check_pair(pair, sample_rate) for pair in pairs]


def _worker_init() -> None:
    import torch

    torch.set_num_threads(1)


def _iter_parallel(pairs: list[Pair], sample_rate: int | None,
                   workers: int) -> Iterator[tuple[list[Problem], dict]]:
    """Results in pair order, with at most 2 chunks per worker in flight (bounded memory)."""
    import torch

    # One torch thread per process: SI-SNR of a few seconds is ~20x slower with a contended
    # pool, and forked workers inherit the parent's setting.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        if workers <= 1 or len(pairs) < 16:
            for pair in pairs:
                yield check_pair(pair, sample_rate)
            return
        size = max(4, min(64, len(pairs) // (workers * 4) or 1))
        chunks = ((pairs[i:i + size], sample_rate) for i in range(0, len(pairs), size))
        # fork on Linux: no re-import of __main__, workers start in milliseconds (as DataLoader's).
        context = multiprocessing.get_context("fork" if sys.platform.startswith("linux")
                                              else "spawn")
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_worker_init) as pool:
            pending: deque = deque()
            for chunk in chunks:
                pending.append(pool.submit(_check_chunk, chunk))
                if len(pending) >= 2 * workers:
                    yield from pending.popleft().result()
            while pending:
                yield from pending.popleft().result()
    finally:
        torch.set_num_threads(threads)


def _percentiles(values: Iterable[float]) -> dict:
    arr = np.asarray([v for v in values if np.isfinite(v)], dtype=np.float64)
    if arr.size == 0:
        return {}
    return {"min": float(arr.min()), "p10": float(np.percentile(arr, 10)),
            "median": float(np.median(arr)), "mean": float(arr.mean()),
            "p90": float(np.percentile(arr, 90)), "max": float(arr.max())}


def check_data(manifest: str | os.PathLike | Path | list[Pair], sample_rate: int | None = None,
               workers: int | None = None, max_pairs: int | None = None,
               seed: int = 0, progress: Callable[[int, int], None] | None = None) -> CheckReport:
    """Check every pair of ``manifest`` (or a random sample of ``max_pairs``) in parallel.

    Memory stays bounded on large manifests: per pair only its problems and two floats (SI-SNR,
    duration) are kept. ``progress(done, total)`` is called as pairs finish.
    Raises ManifestError (a ValueError) when the manifest itself is unusable.
    """
    pairs = list(manifest) if isinstance(manifest, list) \
        else read_manifest(manifest, require=("noisy", "clean"))
    n_pairs = len(pairs)
    sampled = None
    if max_pairs is not None and max_pairs < n_pairs:
        if max_pairs < 1:
            raise ValueError(f"max_pairs must be >= 1, got {max_pairs}")
        chosen = np.sort(np.random.default_rng(seed).choice(n_pairs, size=max_pairs, replace=False))
        pairs = [pairs[i] for i in chosen]
        sampled = {"n": len(pairs), "of": n_pairs, "seed": seed}
    workers = workers or os.cpu_count() or 1
    start = time.perf_counter()
    problems: list[Problem] = []
    sisnrs, durations = array("d"), array("d")
    rates: Counter = Counter()
    for done, (found, f) in enumerate(_iter_parallel(pairs, sample_rate, workers), 1):
        problems.extend(found)
        if "sisnr_db" in f:
            sisnrs.append(f["sisnr_db"])
        if "duration_s" in f:
            durations.append(f["duration_s"])
        if "noisy_sr" in f:
            rates[f"{f['noisy_sr']}" if f["noisy_sr"] == f["clean_sr"]
                  else f"{f['noisy_sr']}/{f['clean_sr']}"] += 1
        if progress is not None:
            progress(done, len(pairs))
    elapsed = time.perf_counter() - start
    stats = {
        "n_checked": len(pairs),
        "n_with_errors": len({p.uttid for p in problems if p.severity == "error"}),
        "problems_by_kind": dict(Counter(p.kind for p in problems)),
        "sisnr_db": _percentiles(sisnrs),
        "duration_s": ({**_percentiles(durations), "total_hours": float(sum(durations) / 3600)}
                       if durations else {}),
        "sample_rates": dict(sorted(rates.items())),
        "seconds": elapsed,
        "pairs_per_second": len(pairs) / elapsed if elapsed > 0 else None,
        "workers": workers,
        "thresholds": dict(THRESHOLDS),
    }
    ok = not any(p.severity == "error" for p in problems)
    return CheckReport(ok=ok, n_pairs=n_pairs, problems=problems, stats=stats, sampled=sampled)
