"""`tfgridnet` command line: the argument parser and the mapping of errors to exit codes."""

from __future__ import annotations

import argparse
import sys

from tfgridnet import __version__
from tfgridnet.cli.commands import (
    cmd_check_data,
    cmd_config_list,
    cmd_config_show,
    cmd_demo,
    cmd_enhance,
    cmd_evaluate,
    cmd_export,
    cmd_make_demo_data,
    cmd_make_manifest,
    cmd_report,
    cmd_train,
)
from tfgridnet.errors import EXIT_CODES, Interrupted, TfgridnetError, UserInputError
from tfgridnet.inference.chunking import DEFAULT_CHUNK_SECONDS, DEFAULT_OVERLAP_SECONDS
from tfgridnet.inference.precision import BACKENDS, PRECISIONS

_RAW = argparse.RawDescriptionHelpFormatter


def _epilog(**meanings: str) -> str:
    """The exit codes of one subcommand: the shared meanings, with the command's own wording."""
    codes = {str(code): text for code, text in EXIT_CODES.items()}
    codes.update({k.removeprefix("c"): v for k, v in meanings.items()})
    return "exit codes:\n" + "\n".join(f"  {code:>3}  {text}" for code, text in
                                        sorted(codes.items(), key=lambda item: int(item[0])))


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
                       epilog=_epilog(c1="errors found in the pairs",
                                      c2="unusable input (manifest or audio unreadable)"),
                       help="find missing, misaligned, swapped or mis-scaled pairs",
                       description="Reads every pair of MANIFEST and names each broken one.")
    p.add_argument("manifest")
    p.add_argument("--json", default=None, help="also write the full report as JSON here")
    p.add_argument("--sample-rate", type=int, default=None,
                   help="expected sample rate; pairs at another rate are flagged")
    p.add_argument("--workers", type=int, default=None, help="parallel processes (default: cores)")
    p.add_argument("--max-pairs", type=int, default=None, metavar="N",
                   help="check a random sample of N pairs; the statistics are marked as sampled")
    p.add_argument("--seed", type=int, default=0, help="seed of the --max-pairs sample (default 0)")
    p.set_defaults(func=cmd_check_data)

    p = sub.add_parser("train", formatter_class=_RAW,
                       epilog=_epilog(c1="the start-up data check found broken pairs",
                                      c3="training diverged (non-finite steps)"),
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
                   help="train even when the start-up data check finds broken pairs")
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
                       epilog=_epilog(c1="some utterances could not be evaluated"),
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
    _add_output_arguments(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("enhance", formatter_class=_RAW,
                       epilog=_epilog(c1="some files could not be enhanced"),
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
    p.add_argument("--backend", choices=BACKENDS, default="torch",
                   help="onnx: run MODEL/model.onnx (see `export --format onnx`) in onnxruntime")
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
                   help="onnx: also write model.onnx, the whole model waveform to waveform")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("report", formatter_class=_RAW,
                       epilog=_epilog(c0="report written, whatever the verdict "
                                         "(a broken run is a finding, not a failure)"),
                       help="write the experiment analysis of a run")
    p.add_argument("run_dir")
    p.add_argument("--eval", default=None, help="an evaluation folder to include")
    p.add_argument("--lang", choices=["en", "zh-TW"], default="en")
    p.set_defaults(func=cmd_report)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand; the project's errors become one line on stderr and their exit code."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except Interrupted as exc:
        print(f"tfgridnet {args.command}: interrupted: {exc}", file=sys.stderr)
        return exc.exit_code
    except TfgridnetError as exc:
        print(f"tfgridnet {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except (FileNotFoundError, PermissionError, NotADirectoryError, IsADirectoryError,
            ValueError) as exc:  # user input (or an unwritable output) refused by the OS/a check
        print(f"tfgridnet {args.command}: error: {exc}", file=sys.stderr)
        return UserInputError.exit_code
    except KeyboardInterrupt:
        print(f"tfgridnet {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
