"""The measurements ``check-data`` keeps for every row (:class:`Measures`): the check-data JSON's
``pairs``, ``data_check.json``'s per-manifest ``pairs`` and curate's ``.measures.csv``, and the
roles a checked manifest can have (its ``role``)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from tfgridnet.contracts.names import UTTID

__all__ = ["Measures", "MEASURE_FIELDS", "ROLES"]

# What a checked manifest lists: noisy/clean pairs, clean references alone (dynamic mixing's
# clean list), or noise files (its noise list).
ROLES = {"pairs": "pairs", "clean": "clean references", "noise": "noise files"}


@dataclass(slots=True)
class Measures:
    """The figures of one checked row, kept for every row: the check JSON's ``pairs``,
    ``data_check.json`` and curate's side CSV. None: not measured (e.g. an unreadable file, a
    noise file has no reference, MOS without ``--mos``)."""

    uttid: str
    duration_s: float | None = None
    sisnr_db: float | None = None  # input SI-SNR(noisy, clean), pairs only
    ref_snr_db: float | None = None  # the reference audit (data/checks/reference.py): WADA-SNR
    ref_floor_snr_db: float | None = None  # ... and the noise floor between speech segments
    ref_bandwidth_hz: float | None = None
    noisy_bandwidth_hz: float | None = None
    ref_speech_share: float | None = None
    ref_active_share: float | None = None
    ref_distillmos: float | None = None  # --mos
    ref_dnsmos_bak: float | None = None  # --mos, where speechmos is installed
    ref_dnsmos_ovrl: float | None = None

    @classmethod
    def of(cls, uttid: str, facts: dict[str, Any]) -> Measures:
        """From a pair's facts (the detectors' measurements), rounded for the files."""
        values = {name: round(float(facts[name]), 4) for name in MEASURE_FIELDS
                  if facts.get(name) is not None}
        return cls(uttid, **values)


MEASURE_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Measures) if f.name != UTTID)
