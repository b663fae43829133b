"""What each subcommand does around the Python API: call it, print the outcome, return the exit code.

Heavy modules are imported inside each command so `tfgridnet --help` stays fast.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tfgridnet import hardware
from tfgridnet.contracts.folders import EvalDir, RunDir
from tfgridnet.contracts.names import ERROR_COLUMN, MONITOR, UTTID
from tfgridnet.errors import UserInputError
from tfgridnet.inference.chunking import DEFAULT_CHUNK_SECONDS, DEFAULT_OVERLAP_SECONDS

if TYPE_CHECKING:
    from tfgridnet.data.check_json import CheckJson


# The word a threshold option takes for "no threshold" (a config's null).
THRESHOLD_OFF = "off"


def cmd_demo(args: argparse.Namespace) -> int:
    from tfgridnet.demo import run_demo
    from tfgridnet.train.console import quiet_lightning

    with quiet_lightning():  # the demo trains: Lightning's banners go to its train.log only
        run_demo(out_dir=Path(args.out), minutes=args.minutes)
    return 0


def cmd_make_demo_data(args: argparse.Namespace) -> int:
    from tfgridnet.data.demo import make_demo_data

    make_demo_data(Path(args.out), seed=args.seed)
    return 0


def cmd_make_manifest(args: argparse.Namespace) -> int:
    from tfgridnet.data.manifest import read_conditions_csv
    from tfgridnet.data.pairing import make_manifest

    constants = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UserInputError(f"--set {item!r}: expected COLUMN=VALUE, e.g. --set noise_kind=babble")
        constants[key.strip().lower()] = value.strip()
    conditions = read_conditions_csv(Path(args.conditions)) if args.conditions else None
    n = make_manifest(Path(args.noisy_dir), Path(args.clean_dir), Path(args.out),
                      conditions=conditions, constants=constants)
    print(f"wrote {args.out}: {n} pairs")
    return 0


def cmd_check_data(args: argparse.Namespace) -> int:
    from tfgridnet.data.check_json import CheckJson, leakage_splits

    manifest = Path(args.manifest)
    against = [Path(m) for m in args.against or ()]
    splits = leakage_splits(manifest, against) if against else {}
    # checked before any pair is read, and before any writing
    output = CheckJson(Path(args.json), manifest, splits) if args.json else None
    paired = True
    if against:  # the pair check needs pairs; a uttid,clean/noise MANIFEST is checked for leaks
        from tfgridnet.data.leakage import is_paired_manifest

        paired = is_paired_manifest(manifest)
    code = run_check_data(
        manifest, output=output,
        sample_rate=args.sample_rate, workers=args.workers, max_pairs=args.max_pairs,
        seed=args.seed, mos=args.mos, cache=not args.no_cache,
    ) if paired else 0
    if against and code != 2:
        code = max(code, run_leakage_check(splits, output=output, workers=args.workers))
    return code


def cmd_curate(args: argparse.Namespace) -> int:
    from tfgridnet.cli.progress import progress_reporter
    from tfgridnet.data.curate import curate

    given = args.reference_snr_error_db  # None: curate's own default
    threshold = ({} if given is None
                 else {"snr_error_db": None if given == THRESHOLD_OFF else given})
    with progress_reporter("curate") as progress:
        result = curate(Path(args.manifest), Path(args.out), measures=args.measures,
                        plot=args.plot, keep=tuple(args.keep), drop=tuple(args.drop),
                        min_mos=args.min_mos, mos=args.mos, workers=args.workers,
                        progress=progress, **threshold)
    record = result.record
    by_kind = ", ".join(f"{kind} {n}" for kind, n in record.dropped_by_kind.items()) or "none"
    print(f"curate: kept {record.n_kept} of {record.n_rows} rows, dropped "
          f"{record.n_rows - record.n_kept} ({by_kind})")
    if result.report.cache_line:
        print(result.report.cache_line)
    for path in (result.manifest, result.measures_csv, result.plot, result.record_path):
        print(f"wrote {path}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    return run_train(
        Path(args.config) if args.config else None, out_dir=Path(args.out) if args.out else None,
        resume=args.resume,
        overrides=args.override, ignore_data_errors=args.ignore_data_errors, init=args.init,
    )


def cmd_config_list(args: argparse.Namespace) -> int:
    from tfgridnet.train.config_files import recipe_names

    print("\n".join(recipe_names()))
    return 0


def cmd_config_show(args: argparse.Namespace) -> int:
    from tfgridnet.train.config_files import recipe_text

    sys.stdout.write(recipe_text(args.name))
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    return run_evaluate(
        args.model, manifest=Path(args.manifest), out_dir=Path(args.out),
        save_audio=not args.no_audio, n_plots=args.plots, dnsmos=args.dnsmos,
        device=args.device, overwrite=args.overwrite, distillmos=args.distillmos,
        level=not args.raw_level, lang=args.lang, baseline=args.baseline,
    )


def cmd_enhance(args: argparse.Namespace) -> int:
    return run_enhance(
        args.model, inputs=args.inputs, out_dir=Path(args.out), chunk_seconds=args.chunk_seconds,
        overlap_seconds=args.overlap_seconds, device=args.device, precision=args.precision,
        overwrite=args.overwrite, level=not args.raw_level, backend=args.backend,
        compile=args.compile, workers=args.workers,
    )


def cmd_export(args: argparse.Namespace) -> int:
    from tfgridnet.model.io import export_model

    out = export_model(Path(args.source), Path(args.out))
    if args.format == "onnx":
        from tfgridnet.model.onnx_export import export_onnx_dir

        out = export_onnx_dir(out)
    print(f"exported {args.source} -> {out}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    return run_report(Path(args.run_dir), eval_dir=Path(args.eval) if args.eval else None,
                      lang=args.lang)


# --- printing around the API (one function per subcommand) ---------------------------------

def run_check_data(manifest: Path, output: CheckJson | None, sample_rate: int | None,
                   workers: int | None, max_pairs: int | None = None, seed: int = 0,
                   mos: bool = False, cache: bool = True) -> int:
    """Print the summary, write the JSON; exit 0 no errors, 1 errors found, 2 unusable input."""
    from tfgridnet.audio.io import AudioError
    from tfgridnet.cli.progress import progress_reporter
    from tfgridnet.data.checks import check_data
    from tfgridnet.data.manifest import ManifestError

    try:
        with progress_reporter("check-data") as progress:
            report = check_data(manifest, sample_rate=sample_rate, workers=workers,
                                max_pairs=max_pairs, seed=seed, progress=progress, mos=mos,
                                cache=cache)
    except (ManifestError, AudioError) as exc:
        print(f"tfgridnet check-data: unusable input: {exc}", file=sys.stderr)
        if output is not None:
            output.add_unusable(exc)
        return 2
    print(report.summary())
    if not report.ok:
        bad = sorted({p.uttid for p in report.errors})
        listed = f"offending uttids: {', '.join(bad[:8])}{' ...' if len(bad) > 8 else ''}"
        if output is None:
            print(f"inspect with: tfgridnet check-data {manifest} --json report.json ({listed})")
        else:
            print(f"every problem is in {output.path} ({listed})")
    if output is not None:
        output.add(report)
    return 0 if report.ok else 1


def run_leakage_check(splits: dict[str, list[Path]], output: CheckJson | None = None,
                      workers: int | None = None) -> int:
    """`check-data MANIFEST --against ...`: print each leak; 0 none, 1 audio shared between
    splits. ``output`` gets the report as its ``"leakage"`` key, beside the pair check's."""
    from tfgridnet.cli.progress import progress_reporter
    from tfgridnet.data.leakage import check_leakage

    with progress_reporter("leakage check", unit="files") as progress:
        report = check_leakage(splits, workers=workers, progress=progress)
    print(report.summary())
    if output is not None:
        output.add(report)
    return 0 if report.ok else 1


def run_train(config_path: Path | None, out_dir: Path | None = None, resume: str | None = None,
              overrides: list[str] | tuple[str, ...] = (), ignore_data_errors: bool = False,
              init: str | None = None) -> int:
    """Entry point of ``tfgridnet train``; returns the exit code. ``init``: ``--init MODEL``
    (the config and run folder: :func:`tfgridnet.train.resume.plan_run`)."""
    from tfgridnet.cli.progress import progress_reporter
    from tfgridnet.errors import Interrupted
    from tfgridnet.train.console import quiet_lightning
    from tfgridnet.train.resume import plan_run
    from tfgridnet.train.run import train

    plan = plan_run(config_path, out_dir, resume, overrides, init)
    if plan.note:
        print(plan.note)
    # DataCheckFailed and TrainingDiverged (exit 1) are printed and mapped by `main`.
    with quiet_lightning():
        result = train(plan.config, plan.run_dir, resume=resume,
                       ignore_data_errors=ignore_data_errors,
                       data_check_progress=progress_reporter)
    summary = result.summary
    if summary is None:  # not global rank 0
        return 0
    best_text = (f"{summary.best_valid_sisnr:.2f} dB at epoch {summary.best_epoch}"
                 if summary.best_valid_sisnr is not None else "none (no finite validation score)")
    print(f"run dir: {result.run_dir}  stopped: {summary.stop_reason}  best {MONITOR}: "
          f"{best_text}  model: {RunDir(result.run_dir).model}")
    if summary.stop_reason.startswith("signal"):
        # Stopped by Ctrl-C/SIGTERM after saving: not a success, so `train && evaluate` stops.
        raise Interrupted(f"{RunDir(plan.run_dir).last_checkpoint.name} saved; resume with: "
                          f"tfgridnet train --out {plan.run_dir} --resume")
    return 0


def run_evaluate(model: str, manifest: Path, out_dir: Path, save_audio: bool = True,
                 n_plots: int = 5, dnsmos: bool = False, device: str | None = None,
                 overwrite: bool = False, distillmos: bool = False, level: bool = True,
                 lang: str = "en", baseline: str | None = None) -> int:
    """`tfgridnet evaluate`: 0 when every utterance was evaluated, 1 when some failed."""
    from tfgridnet.evaluation.artifacts import format_summary
    from tfgridnet.evaluation.evaluate import evaluate

    result = evaluate(model, manifest, out_dir, save_audio=save_audio, n_plots=n_plots,
                      dnsmos=dnsmos, device=device, overwrite=overwrite,
                      distillmos=distillmos, level=level, lang=lang, baseline=baseline)
    print(format_summary(result))
    page = EvalDir(result.out_dir).page(lang)
    print(f"results in {result.out_dir} (open {page})")
    for failure in result.failed:
        print(f"failed: {failure[UTTID]}: {failure[ERROR_COLUMN]}", file=sys.stderr)
    return 1 if result.n_failed else 0


def _name_once(source: Path, message: str) -> str:
    """``source: message``, without repeating the path when the message already starts with it."""
    return message if message.startswith(str(source)) else f"{source}: {message}"


def run_enhance(model: str, inputs: Sequence[str], out_dir: Path, chunk_seconds: float = DEFAULT_CHUNK_SECONDS,
                overlap_seconds: float = DEFAULT_OVERLAP_SECONDS, device: str | None = None,
                precision: str = "auto", overwrite: bool = False, level: bool = True,
                backend: str = "torch", compile: bool = False, workers: int | None = None) -> int:
    """`tfgridnet enhance`: 0 when every file was enhanced, 1 when some failed.

    Every output path is checked against the inputs before the model is even loaded.
    """
    from tfgridnet.inference.batch import enhance_files
    from tfgridnet.progress import progress_reporter

    with progress_reporter("enhance", unit="files") as progress:
        result = enhance_files(model, inputs, out_dir, overwrite=overwrite, on_file=progress,
                               device=device, chunk_seconds=chunk_seconds,
                               overlap_seconds=overlap_seconds, precision=precision,
                               level=level, backend=backend, compile=compile,
                               workers=workers)
    rate = ("each file's own rate" if result.rate_independent
            else f"model rate {result.sample_rate} Hz")
    print(f"enhanced {len(result.written)}/{result.n_inputs} files into {result.out_dir} "
          f"({rate}, {result.backend} backend on {result.device}, "
          f"precision {result.precision}, {result.workers} pass(es) at a time, level "
          f"{'matched to the input' if level else 'raw'}; "
          f"{result.limited_samples} samples peak-limited)")
    if result.precision == "bf16" and result.device == "cpu":
        note = hardware.bf16_emulation_note()
        if note:
            print(f"note: --precision bf16: {note}", file=sys.stderr)
    for source, reason in result.failed:
        print(f"failed: {_name_once(source, reason)}", file=sys.stderr)
    return 1 if result.failed else 0


def run_report(run_dir: Path, eval_dir: Path | None = None, lang: str = "en") -> int:
    """`tfgridnet report`: write the report, print the verdict and where the files are.

    Exit code 0 whatever the verdict: a broken run is a finding, not a failure of the command.
    """
    from tfgridnet.i18n import tr
    from tfgridnet.report.analysis import analyse
    from tfgridnet.report.render import write_analysis

    tr("title", lang, run="")
    if Path(run_dir).is_dir() and not os.access(run_dir, os.W_OK):
        raise UserInputError(f"{run_dir}: the run folder is read-only and the report is written "
                             "into it; copy the run folder somewhere writable and report on the copy")
    analysis = analyse(run_dir, eval_dir)
    paths = write_analysis(analysis, lang)
    counts = {key: sum(f.severity == severity for f in analysis.findings)
              for key, severity in (("errors", "error"), ("warnings", "warning"), ("notes", "info"))}
    print(tr("console.verdict", lang, verdict=tr(f"verdict.{analysis.verdict}", lang),
             **{key: tr(f"console.{key}_one", lang) if n == 1 else tr(f"console.{key}", lang, n=n)
                for key, n in counts.items()}))
    for finding in analysis.findings:
        if finding.severity != "info":
            print(tr("console.finding", lang, severity=tr(f"severity.{finding.severity}", lang),
                     code=finding.code, message=finding.message(lang)))
    if analysis.eval_dir_auto:
        print(tr("console.eval_found", lang, path=analysis.eval_dir))
    for name in ("markdown", "html", "findings"):
        print(tr("console.wrote", lang, path=paths[name]))
    print(tr("console.plots", lang, path=RunDir(analysis.run_dir).plots))
    return 0
