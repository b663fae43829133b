"""`tfgridnet` command line: the argument parser and the mapping of errors to exit codes."""

from __future__ import annotations

import argparse
import os
import select
import sys

from tfgridnet import __version__
from tfgridnet.cli.commands import (
    THRESHOLD_OFF,
    cmd_check_data,
    cmd_config_list,
    cmd_config_show,
    cmd_curate,
    cmd_demo,
    cmd_enhance,
    cmd_evaluate,
    cmd_export,
    cmd_make_demo_data,
    cmd_make_manifest,
    cmd_report,
    cmd_train,
)
from tfgridnet.errors import (
    CLOSED_PIPE,
    EXIT_CODES,
    SUCCESS,
    Interrupted,
    ProblemsFound,
    TfgridnetError,
    UserInputError,
    missing_extra,
)
from tfgridnet.i18n import DEFAULT_LANGUAGE, LANGUAGES
from tfgridnet.inference.chunking import DEFAULT_CHUNK_SECONDS, DEFAULT_OVERLAP_SECONDS
from tfgridnet.inference.precision import BACKEND_CHOICES, PRECISIONS

_RAW = argparse.RawDescriptionHelpFormatter


def _epilog(own: dict[type[TfgridnetError] | int, str] | None = None) -> str:
    """The exit codes of one subcommand: the shared meanings (``EXIT_CODES``), with the command's
    own wording for an error type's code (or ``SUCCESS``); a code no error maps to is refused."""
    codes = dict(EXIT_CODES)
    for key, text in (own or {}).items():
        code = key if isinstance(key, int) else key.exit_code
        if code not in codes:
            raise ValueError(f"exit code {code} is not one the command line returns")
        codes[code] = text
    return "exit codes:\n" + "\n".join(f"  {code:>3}  {text}" for code, text in sorted(codes.items()))


def _db_or_off(text: str) -> float | str:
    """A threshold in dB, or ``off`` (the config's ``null``)."""
    if text == THRESHOLD_OFF:
        return text
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number of dB or '{THRESHOLD_OFF}', got {text!r}") from None


def _add_output_arguments(p: argparse.ArgumentParser) -> None:
    """The output-level and --out safety options shared by ``evaluate`` and ``enhance``."""
    p.add_argument("--raw-level", "--no-level-correction", dest="raw_level", action="store_true",
                   help="keep the model's raw output gain (default: rescale each output onto "
                        "its input, mixture-consistent; a peak limiter always prevents clipping)")
    p.add_argument("--overwrite", action="store_true",
                   help="write into an --out folder holding files tfgridnet did not write "
                        "(a previous run's outputs are always replaced; inputs never are)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tfgridnet",
        description="Train, evaluate, diagnose and use TF-GridNet (V2/V3) speech-enhancement models.",
        formatter_class=_RAW, epilog=_epilog(),
    )
    parser.add_argument("--version", action="version", version=f"tfgridnet {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("demo", formatter_class=_RAW, epilog=_epilog(),
                       help="build demo data, train, evaluate and report, on a CPU in minutes")
    p.add_argument("--out", default="demo_out", help="output folder (default: demo_out)")
    p.add_argument("--minutes", type=float, default=None,
                   help="training time budget in minutes (default: the demo config's)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("make-demo-data", formatter_class=_RAW, epilog=_epilog(),
                       help="synthesise the embedded default corpus (eSpeak + noise)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_make_demo_data)

    p = sub.add_parser("make-manifest", formatter_class=_RAW, epilog=_epilog(),
                       help="pair two folders by file name into a manifest CSV")
    p.add_argument("--noisy-dir", required=True)
    p.add_argument("--clean-dir", required=True)
    p.add_argument("--out", required=True, help="manifest CSV to write")
    p.add_argument("--conditions", default=None, metavar="CSV",
                   help="side table uttid,<column>,... (e.g. uttid,snr_db,noise_kind) whose columns "
                        "are added per utterance as condition columns")
    p.add_argument("--set", action="append", default=[], metavar="COLUMN=VALUE",
                   help="a condition column with the same value on every row (repeatable)")
    p.set_defaults(func=cmd_make_manifest)

    p = sub.add_parser("check-data", formatter_class=_RAW,
                       epilog=_epilog({ProblemsFound: "errors found in the pairs, or audio shared "
                                                      "between splits (--against)",
                                       UserInputError: "unusable input (manifest or audio "
                                                       "unreadable)"}),
                       help="find missing, misaligned, swapped or mis-scaled pairs, unclean "
                            "references and audio shared between splits",
                       description="Reads every pair of MANIFEST (uttid,noisy,clean), or every "
                                   "reference of a uttid,clean list,\nand names each broken one: "
                                   "the pair checks, the reference audit (each clean reference's"
                                   "\nown SNR, bandwidth, speech activity) and input SI-SNR "
                                   "outliers (docs/data-checks.md).\nResults are cached by file "
                                   "identity (path, size, mtime) in $TFGRIDNET_CACHE_DIR, else\n"
                                   "$XDG_CACHE_HOME/tfgridnet (~/.cache/tfgridnet): a second run "
                                   "re-reads only what changed.\nWith --against VALID [TEST ...], "
                                   "also finds the same audio in two splits.")
    p.add_argument("manifest")
    p.add_argument("--json", default=None, help="also write the full report as JSON here")
    p.add_argument("--sample-rate", type=int, default=None,
                   help="expected sample rate; pairs at another rate are flagged")
    p.add_argument("--workers", type=int, default=None, help="parallel processes (default: cores)")
    p.add_argument("--max-pairs", type=int, default=None, metavar="N",
                   help="check a random sample of N pairs; the statistics are marked as sampled")
    p.add_argument("--seed", type=int, default=0, help="seed of the --max-pairs sample (default 0)")
    p.add_argument("--against", nargs="+", default=None, metavar="SPLIT",
                   help="manifests of the other splits (valid, test ...): audio found in two "
                        "splits (MANIFEST included) is an error, matched by content (identical "
                        "samples, or a fingerprint that survives gain, resampling, re-encoding "
                        "and moderate added noise) and named with both paths; MANIFEST may then "
                        "also be a uttid,clean or uttid,noise manifest")
    p.add_argument("--mos", action="store_true",
                   help="also score every clean reference with Distill-MOS (and DNSMOS where "
                        "speechmos is installed); costs CPU time")
    p.add_argument("--no-cache", action="store_true",
                   help="check every file again and leave the result cache alone")
    p.set_defaults(func=cmd_check_data)

    p = sub.add_parser("curate", formatter_class=_RAW,
                       epilog=_epilog({UserInputError: "unusable input, or an output that would "
                                                       "replace an input"}),
                       help="write a manifest without the rows check-data flags",
                       description="Checks every row of MANIFEST (as check-data) and writes OUT "
                                   "without the rows that have an error\nor a reference-audit / "
                                   "outlier warning, plus, beside OUT: .measures.csv (every "
                                   "row's figures),\n.png (a histogram per measure, thresholds "
                                   "drawn, dropped rows in red) and .curation.json\n(what was "
                                   "dropped and why; `train` keeps it in data_check.json when it "
                                   "trains on OUT).\nInputs are never written over.")
    p.add_argument("manifest", help="uttid,noisy,clean pairs or a uttid,clean reference list")
    p.add_argument("--out", required=True, help="curated manifest to write")
    p.add_argument("--measures", default=None, metavar="CSV",
                   help="side CSV of every row's figures (default: OUT's stem + .measures.csv)")
    p.add_argument("--plot", default=None, metavar="PNG",
                   help="the histograms (default: OUT's stem + .png)")
    p.add_argument("--keep", action="append", default=[], metavar="KIND",
                   help="keep rows whose only findings are of KIND (repeatable), e.g. "
                        "--keep band_limited_reference")
    p.add_argument("--drop", action="append", default=[], metavar="KIND",
                   help="also drop rows with a warning of KIND (repeatable), e.g. --drop clipping")
    p.add_argument("--mos", action="store_true", help="also measure Distill-MOS (see check-data)")
    p.add_argument("--min-mos", type=float, default=None, metavar="MOS",
                   help="drop references whose Distill-MOS is below MOS (needs --mos)")
    p.add_argument("--reference-snr-error-db", type=_db_or_off, default=None, metavar="DB",
                   help="the reference audit's error threshold (default: the measured one in "
                        "docs/data-checks.md); 'off': a noisy reference is never an error, only "
                        "the reference_noise warning (for targets reverberant by design, add "
                        "--keep reference_noise)")
    p.add_argument("--workers", type=int, default=None, help="parallel processes (default: cores)")
    p.set_defaults(func=cmd_curate)

    p = sub.add_parser("train", formatter_class=_RAW,
                       epilog=_epilog({ProblemsFound: "the start-up data check found broken "
                                                      "pairs, unclean references, or audio shared "
                                                      "by the train and valid manifests; or "
                                                      "training diverged (non-finite steps)"}),
                       help="train a model from a YAML config or a shipped recipe")
    p.add_argument("config", nargs="?", default=None,
                   help="YAML file, or a shipped recipe name (see `tfgridnet config list`); "
                        "not needed with --resume, which reads the run folder's config.yaml")
    p.add_argument("--out", default=None, help="run folder (default: runs/<config name>)")
    p.add_argument("--resume", nargs="?", const="auto", default=None, metavar="CKPT",
                   help="continue the run in --out from CKPT, or from its last.ckpt when no CKPT "
                        "is given, with its own config.yaml (earlier -o included; new -o apply on "
                        "top) and a fresh trainer.max_minutes budget")
    p.add_argument("-o", "--override", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. -o optim.lr=1e-3 (repeatable)")
    p.add_argument("--ignore-data-errors", action="store_true",
                   help="train even when the start-up data check (every row of every "
                        "manifest, or data.check_pairs: N of them; results cached) finds errors, "
                        "or audio shared by the train and valid manifests (data.leakage_check)")
    p.add_argument("--init", default=None, metavar="MODEL",
                   help="fine-tune: start from MODEL's weights (exported dir, run dir, .ckpt, or "
                        "an ESPnet .pth with its config.yaml beside it); the model section comes "
                        "from MODEL (same as -o init.from=MODEL)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("config", formatter_class=_RAW, epilog=_epilog(),
                       help="list the shipped recipes or print one to edit",
                       description="`tfgridnet config show seed > my.yaml` writes a recipe to edit; "
                                   "`tfgridnet train my.yaml` then trains from it.")
    config_sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    q = config_sub.add_parser("list", formatter_class=_RAW, epilog=_epilog(),
                              help="names of the shipped recipes")
    q.set_defaults(func=cmd_config_list)
    q = config_sub.add_parser("show", formatter_class=_RAW, epilog=_epilog(),
                              help="print a shipped recipe's YAML (comments included)")
    q.add_argument("name", help="recipe name, e.g. demo, cpu, seed, dns2020, voicebank_demand")
    q.set_defaults(func=cmd_config_show)

    p = sub.add_parser("evaluate", formatter_class=_RAW,
                       epilog=_epilog({ProblemsFound: "some utterances could not be evaluated"}),
                       help="score a model on a manifest: metrics, audio, plots, page")
    p.add_argument("model", help="exported model dir, run dir or Lightning checkpoint")
    p.add_argument("--manifest", required=True,
                   help="uttid,noisy,clean CSV to score; uttid,noisy alone (real recordings) is "
                        "scored by DNSMOS and Distill-MOS only")
    p.add_argument("--out", required=True, help="evaluation folder to write")
    p.add_argument("--no-audio", action="store_true", help="do not write enhanced/noisy/clean WAVs")
    p.add_argument("--plots", type=int, default=5, help="plot the best K and worst K (default 5)")
    p.add_argument("--dnsmos", action="store_true", help="also compute DNSMOS (needs speechmos)")
    p.add_argument("--distillmos", action="store_true",
                   help="also compute Distill-MOS (needs distillmos)")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if present)")
    p.add_argument("--lang", choices=LANGUAGES, default=DEFAULT_LANGUAGE,
                   help="language of the listening page and plots (default en; zh-TW writes "
                        "index.zh-TW.html and visualizations/*.zh-TW.png)")
    p.add_argument("--baseline", default=None, metavar="MODEL",
                   help="also score MODEL (e.g. the model a fine-tune started from; any MODEL, or "
                        "an ESPnet .pth with its config.yaml beside it) on the same utterances: "
                        "noisy -> baseline -> this model, per utterance and in summary.json")
    _add_output_arguments(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("enhance", formatter_class=_RAW,
                       epilog=_epilog({ProblemsFound: "some files could not be enhanced"}),
                       help="enhance audio files, folders or globs")
    p.add_argument("model", help="exported model dir, run dir or Lightning checkpoint")
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="audio files (any format libsndfile reads), folders or globs")
    p.add_argument("--out", required=True,
                   help="output folder: one WAV per input, same name, rate and channel count")
    p.add_argument("--chunk-seconds", type=float, default=DEFAULT_CHUNK_SECONDS,
                   help="model pass length; files are streamed chunk by chunk "
                        f"(default {DEFAULT_CHUNK_SECONDS:g}: fastest per second of audio)")
    p.add_argument("--overlap-seconds", type=float, default=DEFAULT_OVERLAP_SECONDS,
                   help=f"cross-faded overlap between chunks (default {DEFAULT_OVERLAP_SECONDS:g})")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if present)")
    p.add_argument("--precision", choices=PRECISIONS, default="auto",
                   help="auto (default): bf16 autocast on CPUs with AMX/AVX512-BF16, else fp32; "
                        "bf16 output agrees with fp32 to ~34 dB")
    p.add_argument("--backend", choices=BACKEND_CHOICES, default="torch",
                   help="onnx: run MODEL/model.onnx (see `export --format onnx`) in onnxruntime; "
                        "needs only `pip install 'tfgridnet[onnx]'`, no torch. auto: onnxruntime "
                        "where it runs faster (x86 CPUs with AVX2 and no AVX-512) and MODEL has a "
                        "model.onnx, else torch (docs/deployment.md)")
    p.add_argument("--compile", action="store_true",
                   help="torch backend: run chunks through torch.compile, one pass at a time "
                        "(on a 2-core CPU, once compiled: a few %% faster in fp32, 6-13 %% in "
                        "bf16 than eager passes one at a time, less than the default --workers "
                        "gain; compiling takes tens of seconds)")
    p.add_argument("--workers", type=int, default=None,
                   help="CPU: chunk passes run side by side, each on its share of the threads "
                        "(default: 2 with 2+ threads, 1 with --compile; on a 2-core Xeon two "
                        "one-thread passes take 0.75-0.78x the time of one two-thread pass)")
    _add_output_arguments(p)
    p.set_defaults(func=cmd_enhance)

    p = sub.add_parser("export", formatter_class=_RAW, epilog=_epilog(),
                       help="export a run's best model (or a checkpoint) as safetensors")
    p.add_argument("source", metavar="RUN_DIR|CKPT")
    p.add_argument("--out", required=True, help="folder for model.safetensors + config.json")
    p.add_argument("--format", choices=["safetensors", "onnx"], default="safetensors",
                   help="onnx: also write model.onnx, the whole model waveform to waveform "
                        "(TF-GridNetV2 only: V3 scales its STFT with each input's rate, which one "
                        "traced graph cannot; docs/deployment.md)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("report", formatter_class=_RAW,
                       epilog=_epilog({SUCCESS: "report written, whatever the verdict "
                                                "(a broken run is a finding, not a failure)"}),
                       help="write the experiment analysis of a run")
    p.add_argument("run_dir")
    p.add_argument("--eval", default=None, help="an evaluation folder to include")
    p.add_argument("--lang", choices=LANGUAGES, default=DEFAULT_LANGUAGE,
                   help="report language (default en); in another language the files carry its "
                        "name (EXPERIMENT_ANALYSIS.zh-TW.md, report.zh-TW.html, plots/*.zh-TW.png) "
                        "and live beside the English ones; findings.json is the same in every "
                        "language")
    p.set_defaults(func=cmd_report)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand; the project's errors become one line on stderr and their exit code.

    Only the project's own errors (and the OS refusing a path the user gave) get one line; any
    other exception, a ``ValueError`` from a bug included, keeps its traceback (exit 1). A reader
    that closes our stdout early (``| head``) ends the command quietly with :data:`CLOSED_PIPE`.
    """
    args = build_parser().parse_args(argv)
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not as a traceback at interpreter exit
        return code
    except BrokenPipeError:
        if not _stdout_closed():
            raise
        _silence_stdout()
        return CLOSED_PIPE
    except Interrupted as exc:
        print(f"tfgridnet {args.command}: interrupted: {exc}", file=sys.stderr)
        return exc.exit_code
    except TfgridnetError as exc:
        print(f"tfgridnet {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except (FileNotFoundError, PermissionError, NotADirectoryError, IsADirectoryError) as exc:
        # a path the user gave (or an unwritable output) refused by the OS
        print(f"tfgridnet {args.command}: error: {exc}", file=sys.stderr)
        return UserInputError.exit_code
    except KeyboardInterrupt:
        print(f"tfgridnet {args.command}: interrupted", file=sys.stderr)
        return Interrupted.exit_code
    except ModuleNotFoundError as exc:  # a torch-free install (pyproject's extras)
        extra = missing_extra(exc)
        if extra is None:
            raise
        print(f"tfgridnet {args.command}: error: {exc.name} is not installed: this needs "
              f"pip install 'tfgridnet[{extra}]'"
              + (" (or --backend onnx with an exported model.onnx)"
                 if args.command == "enhance" and extra == "torch" else ""), file=sys.stderr)
        return UserInputError.exit_code


def _stdout_closed() -> bool:
    """Whether our stdout is a pipe whose reader has gone (POLLERR), so that a BrokenPipeError
    came from it and not from some other pipe (a worker's)."""
    try:
        descriptor = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # an in-memory stdout has no pipe to break
        return False
    if not hasattr(select, "poll"):  # Windows: cannot tell, so assume it was
        return True
    poller = select.poll()
    poller.register(descriptor, select.POLLOUT)
    return any(events & select.POLLERR for _, events in poller.poll(0))


def _silence_stdout() -> None:
    """Point stdout at /dev/null: Python flushes it again at exit, which would raise once more
    (the convention of the Python documentation on SIGPIPE)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (AttributeError, OSError, ValueError):  # stdout replaced by an object without a file
        pass


if __name__ == "__main__":
    sys.exit(main())
