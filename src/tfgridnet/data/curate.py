"""``tfgridnet curate``: a manifest without the rows ``check-data`` flags, with the reasons kept.

Writes four files next to ``--out`` (no input is ever written over):

* the curated manifest (same columns and conditions, paths relative to its own folder);
* ``<stem>.measures.csv``: every row's figures (:data:`~tfgridnet.data.checks.MEASURE_FIELDS`),
  whether it was dropped and by which findings;
* ``<stem>.png``: a histogram of each measure, its thresholds drawn, dropped rows in red;
* ``<stem>.curation.json`` (:class:`CurationRecord`): what was dropped and why. ``train`` reads
  it when the curated manifest is the one it trains on and keeps it in ``data_check.json``, so the
  run (and its report) says which rows were left out.

Dropped by default: every row with an error, and rows with a warning of :data:`DROP_WARNINGS`
(the reference audit and the corpus outliers); ``keep``/``drop`` change the set by kind.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from tfgridnet.contracts.curation import RECORD_SUFFIX, CurationRecord, DroppedRow
from tfgridnet.contracts.names import UTTID
from tfgridnet.data.checks import KINDS, MEASURE_FIELDS, CheckReport, check_data, read_rows
from tfgridnet.data.checks.examine import DEFAULT_SNR_ERROR_DB
from tfgridnet.data.manifest import (
    Entry,
    read_entries,
    read_manifest,
    write_manifest,
    write_single_manifest,
)
from tfgridnet.errors import UserInputError
from tfgridnet.fileio import write_text_atomic
from tfgridnet.safety import refuse_input_overwrite

__all__ = ["curate", "CurateResult", "CurationRecord", "DroppedRow", "DROP_WARNINGS",
           "curation_record_path", "read_curation", "curate_outputs"]

# Warnings that make curate drop a row by default: the reference is not clean speech, or the pair
# sits far from its corpus. (Clipping, DC, scale and rate warnings leave the audio usable.)
DROP_WARNINGS = ("reference_noise", "band_limited_reference", "little_speech", "sisnr_outlier")


def curation_record_path(manifest: str | os.PathLike) -> Path:
    """Where curate keeps the record of ``manifest``: ``<stem>.curation.json`` beside it."""
    manifest = Path(manifest)
    return manifest.with_name(manifest.stem + RECORD_SUFFIX)


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def read_curation(manifest: str | os.PathLike) -> tuple[CurationRecord | None, str | None]:
    """The curation record of ``manifest`` and a note: (None, None) when it was not curated;
    (None, why) when a record exists but does not describe this file (edited since, unreadable)."""
    path = curation_record_path(manifest)
    if not path.is_file():
        return None, None
    try:
        record = CurationRecord.read(path)
    except ValueError as exc:
        return None, f"{path}: unreadable curation record ({exc})"
    if record.manifest_sha256 != _sha256(Path(manifest)):
        return None, (f"{path}: {manifest} changed after curation; the record no longer "
                      "describes it and is ignored")
    return record, None


@dataclass(frozen=True)
class CurateResult:
    """What :func:`curate` wrote and the check it decided on."""

    manifest: Path
    measures_csv: Path
    plot: Path
    record_path: Path
    record: CurationRecord
    report: CheckReport


def curate_outputs(out: Path, measures: Path | None = None, plot: Path | None = None
                   ) -> tuple[Path, Path, Path]:
    """The side CSV, picture and record paths of a curated manifest ``out``."""
    stem = out.with_suffix("")
    return (measures or Path(f"{stem}.measures.csv"), plot or Path(f"{stem}.png"),
            curation_record_path(out))


def _drop_set(keep: tuple[str, ...], drop: tuple[str, ...]) -> list[str]:
    for kind in (*keep, *drop):
        if kind not in KINDS:
            raise UserInputError(f"--keep/--drop {kind}: unknown finding kind; expected one of "
                                 f"{', '.join(sorted(KINDS))}")
    chosen = {k for k, severity in KINDS.items() if severity == "error"} | set(DROP_WARNINGS)
    return sorted((chosen | set(drop)) - set(keep))


def _measures_csv(report: CheckReport, dropped: dict[str, list[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([UTTID, "dropped", "kinds", *MEASURE_FIELDS])
    for m in report.measures:
        values = asdict(m)
        writer.writerow([m.uttid, int(m.uttid in dropped), ";".join(dropped.get(m.uttid, [])),
                         *("" if values[name] is None else f"{values[name]:g}"
                           for name in MEASURE_FIELDS)])
    return buffer.getvalue()


def curate(manifest: str | os.PathLike, out: str | os.PathLike, measures: str | os.PathLike |
           None = None, plot: str | os.PathLike | None = None, keep: tuple[str, ...] = (),
           drop: tuple[str, ...] = (), min_mos: float | None = None, mos: bool = False,
           workers: int | None = None, sample_rate: int | None = None,
           snr_error_db: float | None = DEFAULT_SNR_ERROR_DB, progress=None) -> CurateResult:
    """Check every row of ``manifest`` and write it without the flagged ones (module docstring).

    ``min_mos``: also drop references whose Distill-MOS is below it (needs ``mos``).
    Raises UserInputError (exit 2) for bad arguments, an output that would replace an input, or
    an unusable manifest.
    """
    manifest, out = Path(manifest), Path(out)
    if min_mos is not None and not mos:
        raise UserInputError("--min-mos needs --mos (the MOS of every reference is measured then)")
    measures_path, plot_path, record_path = curate_outputs(
        out, Path(measures) if measures else None, Path(plot) if plot else None)
    role, rows = read_rows(manifest)
    inputs = [manifest, *(p for _, noisy, clean in rows for p in (noisy, clean) if p)]
    outputs = [out, measures_path, plot_path, record_path]
    refuse_input_overwrite(outputs, inputs, what="curate output")
    if len({Path(p).resolve() for p in outputs}) < len(outputs):
        raise UserInputError(f"{out}: the curated manifest, --measures and --plot must be "
                             "different files")
    drop_kinds = _drop_set(keep, drop)
    report = check_data(manifest, sample_rate=sample_rate, workers=workers, progress=progress,
                        mos=mos, snr_error_db=snr_error_db)
    dropped: dict[str, list[str]] = {}
    reasons: dict[str, str] = {}
    for problem in report.problems:
        if problem.kind in drop_kinds and problem.kind not in dropped.get(problem.uttid, []):
            dropped.setdefault(problem.uttid, []).append(problem.kind)
            reasons.setdefault(problem.uttid, problem.message)
    if min_mos is not None:
        for m in report.measures:
            if m.ref_distillmos is not None and m.ref_distillmos < min_mos:
                dropped.setdefault(m.uttid, []).append("low_mos")
                reasons.setdefault(m.uttid, f"Distill-MOS {m.ref_distillmos:.2f} < {min_mos:g}")
    if role == "pairs":
        kept_pairs = [p for p in read_manifest(manifest) if p.uttid not in dropped]
        write_manifest(out, kept_pairs)
        n_kept = len(kept_pairs)
    else:
        kept = [e for e in read_entries(manifest, "clean") if e.uttid not in dropped]
        write_single_manifest(out, "clean", [Entry(e.uttid, e.path, e.conditions) for e in kept])
        n_kept = len(kept)
    write_text_atomic(measures_path, _measures_csv(report, dropped))
    from tfgridnet.data.curate_plot import write_curation_plot

    write_curation_plot(plot_path, report, dropped, min_mos=min_mos)
    by_kind: dict[str, int] = {}
    for kinds in dropped.values():
        for kind in kinds:
            by_kind[kind] = by_kind.get(kind, 0) + 1
    record = CurationRecord(
        source=str(manifest.resolve()), manifest=str(out.resolve()),
        manifest_sha256=_sha256(out), role=role, n_rows=report.n_pairs, n_kept=n_kept,
        drop_kinds=drop_kinds, min_mos=min_mos, reference_snr_error_db=snr_error_db,
        dropped_by_kind=dict(sorted(by_kind.items())),
        dropped=[DroppedRow(uttid=u, kinds=k, reason=reasons[u]) for u, k in dropped.items()],
        measures_csv=str(measures_path.resolve()), plot=str(plot_path.resolve()),
        created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))
    record.write(record_path)
    return CurateResult(out, measures_path, plot_path, record_path, record, report)
