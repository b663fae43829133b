"""Examining one manifest row: a noisy/clean pair, a clean reference alone (dynamic mixing's clean
list) or a noise file, by the registered detectors.

The examination (``examine_*``) reads the audio and returns problems and measurements; it is what
the result cache stores. The judgement of the measurements (:func:`judge`: the reference audit,
whose error threshold a config may change) is made afterwards, on fresh and cached results alike.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from tfgridnet.audio.io import to_mono
from tfgridnet.contracts.names import UTTID
from tfgridnet.data.checks.detectors import (
    DETECTORS,
    KINDS,
    PairAudio,
    decode,
    side_format,
    side_levels,
)
from tfgridnet.data.checks.reference import measure_reference, reference_findings
from tfgridnet.data.checks.report import Problem
from tfgridnet.data.checks.thresholds import THRESHOLDS

__all__ = ["examine_pair", "examine_file", "examine_arrays", "judge", "check_pair",
           "check_arrays", "DEFAULT_SNR_ERROR_DB"]

DEFAULT_SNR_ERROR_DB: float = THRESHOLDS["ref_snr_error_db"]
Facts = dict[str, Any]


def _mos(clean: np.ndarray, rate: int, facts: Facts) -> None:
    """Distill-MOS (shipped) and, where speechmos is installed, DNSMOS of a mono reference."""
    from tfgridnet.metrics import MetricError, distill_mos, dnsmos

    try:
        facts["ref_distillmos"] = distill_mos(clean, rate)["distillmos"]
    except MetricError:
        pass
    try:
        scores = dnsmos(clean, rate)
    except MetricError:  # speechmos not installed, or a signal it refuses
        return
    facts.update(ref_dnsmos_bak=scores["dnsmos_bak"], ref_dnsmos_ovrl=scores["dnsmos_ovrl"])


def examine_arrays(uttid: str, noisy: np.ndarray, noisy_sr: int, clean: np.ndarray,
                   clean_sr: int, sample_rate: int | None = None, mos: bool = False
                   ) -> tuple[list[Problem], Facts]:
    """Every registered detector, in order, on decoded audio (``[N]`` or ``[C, N]``)."""
    pair = PairAudio(uttid, noisy, noisy_sr, clean, clean_sr, sample_rate,
                     facts={UTTID: uttid})
    for detector in DETECTORS:
        if detector.check is None:
            continue
        detector.check(pair)
        if mos and detector.name == "reference":
            _mos(pair.clean, pair.clean_sr, pair.facts)
        if pair.done:
            break
    return pair.problems, pair.facts


def examine_pair(uttid: str, noisy: str | None, clean: str | None, sample_rate: int | None = None,
                 mos: bool = False) -> tuple[list[Problem], Facts]:
    """Read and examine one pair (never raises on bad files: they are findings)."""
    problems: list[Problem] = []
    facts: Facts = {UTTID: uttid}
    if noisy is None or clean is None:
        problems.append(Problem(uttid, "missing_file", KINDS["missing_file"], "manifest row has "
                                f"no {'noisy' if noisy is None else 'clean'} path"))
        return problems, facts
    noisy_read = decode(Path(noisy), "noisy", uttid, problems)
    clean_read = decode(Path(clean), "clean", uttid, problems)
    if noisy_read is None or clean_read is None:
        return problems, facts
    (noisy_audio, noisy_sr), (clean_audio, clean_sr) = noisy_read, clean_read
    return examine_arrays(uttid, noisy_audio, noisy_sr, clean_audio, clean_sr, sample_rate, mos)


def examine_file(uttid: str, path: str, role: str, sample_rate: int | None = None,
                 mos: bool = False) -> tuple[list[Problem], Facts]:
    """Read and examine one file of a one-sided list: ``role`` "clean" (a reference, audited as
    the clean side of a pair is) or "noise" (dynamic mixing's noise)."""
    problems: list[Problem] = []
    facts: Facts = {UTTID: uttid}

    def add(kind: str, message: str, severity: str | None = None) -> None:
        problems.append(Problem(uttid, kind, severity or KINDS[kind], message))

    read = decode(Path(path), role, uttid, problems)
    if read is None:
        return problems, facts
    audio, rate = read  # [C, N]
    facts.update({f"{role}_sr": rate, "duration_s": audio.shape[-1] / rate})
    side_format(add, role, audio, rate, sample_rate)
    mono = to_mono(audio)
    facts[f"{role}_rms_dbfs"] = side_levels(add, role, mono)
    if role == "clean" and facts["clean_rms_dbfs"] >= THRESHOLDS["silence_dbfs"]:
        facts.update(measure_reference(mono, rate))
        if mos:
            _mos(mono, rate, facts)
    return problems, facts


def judge(uttid: str, problems: list[Problem], facts: Facts,
          snr_error_db: float | None = DEFAULT_SNR_ERROR_DB) -> list[Problem]:
    """``problems`` plus the reference audit's findings from ``facts`` (see
    :func:`~tfgridnet.data.checks.reference.reference_findings`)."""
    rate = facts.get("clean_sr")
    if rate is None or "ref_snr_db" not in facts:
        return problems
    return problems + [Problem(uttid, kind, severity, message) for kind, severity, message
                       in reference_findings(facts, int(rate), snr_error_db)]


def check_pair(pair: Any, sample_rate: int | None = None,
               snr_error_db: float | None = DEFAULT_SNR_ERROR_DB) -> tuple[list[Problem], Facts]:
    """Check one :class:`~tfgridnet.data.manifest.Pair`: its problems and its measurements."""
    problems, facts = examine_pair(pair.uttid, None if pair.noisy is None else str(pair.noisy),
                                   None if pair.clean is None else str(pair.clean), sample_rate)
    return judge(pair.uttid, problems, facts, snr_error_db), facts


def check_arrays(uttid: str, noisy: np.ndarray, noisy_sr: int, clean: np.ndarray, clean_sr: int,
                 sample_rate: int | None = None,
                 snr_error_db: float | None = DEFAULT_SNR_ERROR_DB) -> tuple[list[Problem], Facts]:
    """Every registered detector and the reference audit on decoded audio (``[N]``/``[C, N]``)."""
    problems, facts = examine_arrays(uttid, noisy, noisy_sr, clean, clean_sr, sample_rate)
    return judge(uttid, problems, facts, snr_error_db), facts
