"""``data_check.json`` in the run dir: the audio pipeline training used and its start-up check.

Written by ``train`` before the first epoch, read by the report's audio-pipeline section: one
schema for both. The figures are those of ``check_data`` on every row (or on the random sample
``data.check_pairs: N`` asked for, marked in ``sampled``), with every row's measurements
(``pairs``: :class:`~tfgridnet.contracts.check_data.Measures`) and, for a manifest made by ``tfgridnet
curate``, what curation dropped (``curation``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import soundfile as sf
import soxr
from pydantic import BaseModel, ConfigDict

from tfgridnet.audio.filters import BANDPASS_ORDER
from tfgridnet.audio.resample import QUALITY
from tfgridnet.contracts.check_data import Measures
from tfgridnet.contracts.curation import CurationRecord
from tfgridnet.contracts.folders import RunDir
from tfgridnet.contracts.names import DATA_CHECK_FILE
from tfgridnet.fileio import read_json_validated, write_json_atomic

__all__ = ["DATA_CHECK_FILE", "AudioPipeline", "DataCheckFile", "ManifestCheck", "LeakageCheck"]


class AudioPipeline(BaseModel):
    """How every training file is read: loader, resampler, filters, at which rate."""

    model_config = ConfigDict(extra="ignore")

    sample_rate: int | None  # None: each file at its own rate (a rate-independent model)
    loader: str
    resampler: str
    resample_on_load: bool
    bandpass_hz: tuple[float | None, float | None] | None = None
    filter: str | None = None

    @classmethod
    def of(cls, sample_rate: int | None, resample: bool,
           bandpass: tuple[float | None, float | None] | None) -> AudioPipeline:
        return cls(
            sample_rate=sample_rate,
            loader=f"soundfile {sf.__version__} (libsndfile {sf.__libsndfile_version__})",
            resampler=f"soxr {soxr.__version__} ({QUALITY})", resample_on_load=resample,
            bandpass_hz=bandpass,
            filter=(f"Butterworth order {BANDPASS_ORDER}, second-order sections, zero-phase "
                    "(sosfiltfilt), same on both sides of a pair" if bandpass else None))


class ManifestCheck(BaseModel):
    """The start-up check of one manifest (every row, or the sample asked for)."""

    model_config = ConfigDict(extra="ignore")

    key: str
    manifest: str
    ok: bool
    n_pairs: int
    n_checked: int
    n_errors: int
    n_warnings: int
    problems_by_kind: dict[str, int] = {}
    sisnr_db: dict[str, float] = {}
    duration_s: dict[str, float] = {}
    sample_rates: dict[str, int] = {}
    role: str = "pairs"  # pairs, clean (references alone) or noise (data.checks.ROLES)
    sampled: dict[str, int] | None = None  # {"n", "of", "seed"}: only a random sample checked
    n_cached: int | None = None  # rows whose result came from the cache
    seconds: float | None = None
    ref_snr_db: dict[str, float] = {}
    ref_bandwidth_hz: dict[str, float] = {}
    ref_speech_share: dict[str, float] = {}
    pairs: list[Measures] = []
    curation: CurationRecord | None = None
    curation_note: str | None = None  # a record beside the manifest that no longer matches it

    @classmethod
    def of(cls, key: str, manifest: str, report: Any, curation: CurationRecord | None = None,
           curation_note: str | None = None) -> ManifestCheck:
        """From a ``data.checks.CheckReport`` (and the manifest's curation record, if any)."""
        stats = report.stats
        return cls(key=key, manifest=manifest, ok=report.ok, n_pairs=report.n_pairs,
                   n_checked=stats.get("n_checked", report.n_pairs),
                   n_errors=len(report.errors), n_warnings=len(report.warnings),
                   problems_by_kind=stats.get("problems_by_kind", {}),
                   sisnr_db=stats.get("sisnr_db", {}), duration_s=stats.get("duration_s", {}),
                   sample_rates=stats.get("sample_rates", {}), role=report.role,
                   sampled=report.sampled,
                   n_cached=report.cache["hits"] if report.cache else None,
                   seconds=stats.get("seconds"), ref_snr_db=stats.get("ref_snr_db", {}),
                   ref_bandwidth_hz=stats.get("ref_bandwidth_hz", {}),
                   ref_speech_share=stats.get("ref_speech_share", {}),
                   pairs=report.measures, curation=curation, curation_note=curation_note)


class LeakageCheck(BaseModel):
    """The start-up leakage check between the train and valid manifests (``data.leakage_check``:
    ``error``/``warning``; ``off`` leaves ``checked`` false)."""

    model_config = ConfigDict(extra="ignore")

    mode: str
    checked: bool = False
    ok: bool | None = None
    splits: dict[str, list[str]] = {}
    n_files: int = 0
    seconds: float | None = None
    leaks_by_kind: dict[str, int] = {}
    leaks: list[str] = []  # the first 20, one line each

    @classmethod
    def of(cls, mode: str, report: Any) -> LeakageCheck:
        """From a ``data.leakage.LeakageReport``."""
        return cls(mode=mode, checked=True, ok=report.ok,
                   splits={s.name: s.manifests for s in report.splits},
                   n_files=report.stats.get("n_files", 0), seconds=report.stats.get("seconds"),
                   leaks_by_kind=report.by_kind,
                   leaks=[line.strip() for line in report.lines(20)])


class DataCheckFile(BaseModel):
    """The whole file: the pipeline, the pairs checked per manifest, and each manifest's result."""

    model_config = ConfigDict(extra="ignore")

    pipeline: AudioPipeline
    check_pairs: int | str  # "all", or the size of the random sample per manifest (0: skipped)
    checks: list[ManifestCheck] = []
    errors_ignored: bool = False
    leakage: LeakageCheck | None = None
    reference_snr_error_db: float | None = None  # data.reference_snr_error_db (None: warnings)

    def write(self, run_dir: Path) -> Path:
        # Every row's measurements are kept: a large corpus gets compact JSON (~250 bytes a row).
        rows = sum(len(check.pairs) for check in self.checks)
        return write_json_atomic(RunDir(run_dir).data_check, self.model_dump(mode="json"),
                                 indent=2 if rows <= 2000 else None)

    @classmethod
    def read(cls, path: Path) -> DataCheckFile:
        """One ValueError naming the file when it is not valid JSON or not this schema."""
        return read_json_validated(path, cls.model_validate, "a data-check file")
