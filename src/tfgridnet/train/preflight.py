"""Checks made before a run starts, each refusing with one clear line: the resume checkpoint
(complete, readable without unpickling code, same model), the audio's sample rate against the
config, and the start-up data check of every manifest training reads."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from tfgridnet.contracts.check_data import ROLES
from tfgridnet.contracts.data_check import AudioPipeline, DataCheckFile, ManifestCheck
from tfgridnet.errors import ProblemsFound, UserInputError
from tfgridnet.text import plural
from tfgridnet.train.config import Config, ConfigError

__all__ = ["DataCheckFailed", "ResumeError", "validate_resume_checkpoint", "resumed_epoch",
           "check_sample_rates", "startup_data_check", "startup_leakage_check", "ProgressFactory"]

log = logging.getLogger("tfgridnet.train")


class DataCheckFailed(ProblemsFound, ValueError):
    """The start-up data check found broken pairs; the message lists them and what to run."""


class ResumeError(UserInputError):
    """The checkpoint given to --resume cannot be used; nothing was changed."""


def validate_resume_checkpoint(path: Path, config: Config) -> dict[str, Any]:
    """Read a checkpoint safely and check it is a resumable run of this model; raise ResumeError."""
    from tfgridnet.model.io import ModelLoadError, read_checkpoint

    try:
        ckpt = read_checkpoint(path)
    except ModelLoadError as exc:
        raise ResumeError(f"cannot resume: {exc}") from None
    missing = [k for k in ("state_dict", "optimizer_states", "loops", "hyper_parameters", "epoch")
               if k not in ckpt]
    if missing:
        raise ResumeError(f"cannot resume from {path}: not a complete tfgridnet training "
                          f"checkpoint (missing {', '.join(missing)}); to start from weights only, "
                          "train a fresh run")
    saved = (ckpt["hyper_parameters"] or {}).get("config") or {}
    saved_model = {"version": "v2", **(saved.get("model") or {})}  # older runs were all V2
    wanted = {"version": config.model.version, **config.model.architecture()}
    diffs = [f"model.{k}: checkpoint {saved_model.get(k)!r}, config {v!r}"
             for k, v in wanted.items() if saved_model.get(k) != v]
    if diffs:
        raise ResumeError(f"cannot resume from {path}: the model differs from the config ("
                          + "; ".join(diffs) + ")")
    return ckpt


def resumed_epoch(ckpt: dict[str, Any]) -> int:
    """The epoch Lightning will pass to ``set_epoch`` first when resuming from ``ckpt``."""
    try:
        return int(ckpt["loops"]["fit_loop"]["epoch_progress"]["current"]["processed"])
    except (KeyError, TypeError, ValueError):
        return int(ckpt.get("epoch", 0))


def check_sample_rates(config: Config) -> None:
    """Refuse audio at another rate than data.sample_rate unless data.resample is set."""
    if config.data.resample or config.data.check_pairs == 0 or config.model.rate_independent:
        return  # (a V3 model trains at every file's own rate)
    from tfgridnet.audio.io import audio_info
    from tfgridnet.data.manifest import read_manifest, read_noise_manifest

    data = config.data
    files: list[tuple[str, Path]] = []
    for key in ("train_manifest", "valid_manifest", "train_clean_manifest", "valid_extra"):
        manifest = getattr(data, key)
        if manifest is None:
            continue
        require = ("clean",) if key == "train_clean_manifest" else ("noisy", "clean")
        for pair in read_manifest(manifest, require=require)[:3]:
            files += [(key, p) for p in (pair.noisy, pair.clean) if p is not None]
    if data.train_noise_manifest is not None:
        files += [("train_noise_manifest", p)
                  for _, p in read_noise_manifest(data.train_noise_manifest)[:3]]
    for key, path in files:
        try:
            rate = int(audio_info(path).samplerate)
        except (OSError, ValueError, RuntimeError):
            continue  # unreadable files are reported by the data check
        if rate != data.sample_rate:
            raise ConfigError(
                f"data.sample_rate is {data.sample_rate} Hz but {path} (from data.{key}) is "
                f"{rate} Hz; set data.sample_rate: {rate}, or data.resample: true to resample "
                "every file on load")


# progress(label, unit=...) -> a context manager yielding update(done, total)
ProgressFactory = Callable[..., AbstractContextManager[Callable[[int, int], None]]]


def _manifests(config: Config) -> list[tuple[str, str, str]]:
    """(config key, manifest, role) of every manifest training reads."""
    data = config.data
    found = [("data.train_manifest", data.train_manifest, "pairs"),
             ("data.train_clean_manifest", data.train_clean_manifest, "clean"),
             ("data.train_noise_manifest", data.train_noise_manifest, "noise"),
             ("data.valid_manifest", data.valid_manifest, "pairs"),
             ("data.valid_extra", data.valid_extra, "pairs")]
    return [(key, manifest, role) for key, manifest, role in found if manifest is not None]


def _say(line: str) -> None:
    """A line on the console (global rank 0 only: every rank checks, one speaks) and in the log."""
    from lightning.fabric.utilities.rank_zero import rank_zero_only

    log.info("%s", line)
    if rank_zero_only.rank == 0:
        print(line, flush=True)


def startup_data_check(config: Config, ignore_errors: bool,
                       progress: ProgressFactory | None = None
                       ) -> tuple[list[str], DataCheckFile]:
    """check_data on every row of every manifest training reads (paired manifests: each pair;
    dynamic mixing: each clean and each noise file), or on the random sample ``data.check_pairs``
    asks for; raise DataCheckFailed on errors.

    ``progress(label, unit=...)``: a context manager yielding ``update(done, total)`` (the command
    line's progress display). Results come from the user's result cache where the files are unchanged.
    Returns log notes and the record kept in the run dir as ``data_check.json``.
    """
    data = config.data
    native = config.model.rate_independent
    record = DataCheckFile(pipeline=AudioPipeline.of(None if native else data.sample_rate,
                                                     data.resample and not native, data.bandpass),
                           check_pairs=data.check_pairs,
                           reference_snr_error_db=data.reference_snr_error_db)
    if data.check_pairs == 0:
        _say("data check: skipped (data.check_pairs: 0); nothing was checked")
        return [], record
    from tfgridnet.data.checks import check_data
    from tfgridnet.data.curate import read_curation

    sample = None if data.check_pairs == "all" else int(data.check_pairs)
    notes: list[str] = []
    failures: list[str] = []
    for key, manifest, role in _manifests(config):
        expected_rate = None if native else data.sample_rate
        unit = "pairs" if role == "pairs" else "files"
        with (progress(f"data check {key}", unit=unit) if progress
              else nullcontext(None)) as update:
            report = check_data(Path(manifest), sample_rate=expected_rate, max_pairs=sample,
                                role=role, progress=update,
                                snr_error_db=data.reference_snr_error_db)
        curation, curation_note = read_curation(manifest)
        record.checks.append(ManifestCheck.of(key, str(manifest), report, curation,
                                              curation_note))
        errors = report.errors
        cached = (f"; {report.cache['hits']} from the cache, {report.cache['checked']} read now"
                  if report.cache else "")
        _say(f"data check {key}: {report.checked_line} in {report.stats['seconds']:.1f} s"
             f"{cached}: {plural(len(errors), 'error')}, {plural(len(report.warnings), 'warning')}")
        for line in (curation_note,
                     curation and f"  curated: {curation.n_kept} of {curation.n_rows} rows kept "
                                  f"by `tfgridnet curate` ({curation.source})"):
            if line:
                _say(line)
        if not errors:
            notes.append(f"{key}: {report.summary()}")
            continue
        uttids = sorted({p.uttid for p in errors})
        kinds = sorted({p.kind for p in errors})
        listed = "; ".join(f"{p.uttid}: {p.kind}: {p.message}" for p in errors[:8])
        failures.append(
            f"{key} ({manifest}): {plural(len(errors), 'error')} in {len(uttids)} of the checked "
            f"{ROLES[report.role]} ({', '.join(kinds)}): {listed}"
            f"{' ...' if len(errors) > 8 else ''}\n"
            f"  run `tfgridnet check-data {manifest}` for the full report")
    if failures:
        message = ("start-up data check found broken data; training on it cannot work "
                   "(this is how a run ends at -36 dB):\n" + "\n".join(failures))
        if not ignore_errors:
            raise DataCheckFailed(
                message + "\n(--ignore-data-errors trains anyway; a reference audit error can "
                "also be relaxed with data.reference_snr_error_db)")
        log.warning("%s\n--ignore-data-errors given: training anyway", message)
        notes.append("data errors ignored: " + message)
        record.errors_ignored = True
    return notes, record


def startup_leakage_check(config: Config, ignore_errors: bool, record: DataCheckFile,
                          progress: ProgressFactory | None = None
                          ) -> list[str]:
    """Audio shared by the train manifests (paired, or clean + noise) and the valid manifest
    (``data.leakage_check``); raise DataCheckFailed in mode ``error``. Filled into ``record``.

    ``progress(label, unit)``: a context yielding ``update(done, total)`` (the CLI's bar).
    Only the first process of a distributed launch checks; the others would repeat it.
    """
    from tfgridnet.contracts.data_check import LeakageCheck

    data = config.data
    train = [m for m in (data.train_manifest, data.train_clean_manifest,
                         data.train_noise_manifest) if m is not None]
    record.leakage = LeakageCheck(mode=data.leakage_check)
    launched_rank = max(int(os.environ.get(k, "0") or 0) for k in ("RANK", "LOCAL_RANK"))
    if data.leakage_check == "off" or not train or data.valid_manifest is None or launched_rank:
        return []
    from tfgridnet.data.leakage import check_leakage

    with (progress or (lambda *_: nullcontext(None)))("leakage check", "files") as update:
        report = check_leakage({"train": train, "valid": [data.valid_manifest]},
                               progress=update)
    record.leakage = LeakageCheck.of(data.leakage_check, report)
    if report.ok:
        return [report.summary()]
    if data.leakage_check == "error" and not ignore_errors:
        raise DataCheckFailed(f"{report.summary()}\nvalidation on audio the model trains on "
                              "measures memory, not enhancement; remove the shared rows from one "
                              "split (data.leakage_check: warning, or --ignore-data-errors, "
                              "trains anyway)")
    log.warning("%s\ntraining anyway (%s)", report.summary(),
                "--ignore-data-errors" if ignore_errors else "data.leakage_check: warning")
    return ["leakage found: " + report.summary()]
