"""`tfgridnet` command line: parse, call the Python API, print. No science lives here."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tfgridnet import __version__


class UserError(Exception):
    """Bad input from the user: printed as one clear line, exit code 2, no traceback."""


def _cmd_demo(args: argparse.Namespace) -> int:
    from tfgridnet.demo import run_demo

    run_demo(out_dir=Path(args.out), minutes=args.minutes)
    return 0


def _cmd_make_demo_data(args: argparse.Namespace) -> int:
    from tfgridnet.data.demo import make_demo_data

    make_demo_data(Path(args.out), seed=args.seed)
    return 0


def _cmd_make_manifest(args: argparse.Namespace) -> int:
    from tfgridnet.data.manifest import make_manifest

    n = make_manifest(Path(args.noisy_dir), Path(args.clean_dir), Path(args.out))
    print(f"wrote {args.out}: {n} pairs")
    return 0


def _cmd_check_data(args: argparse.Namespace) -> int:
    from tfgridnet.data.checks import check_data_cli

    return check_data_cli(
        Path(args.manifest), json_path=Path(args.json) if args.json else None,
        sample_rate=args.sample_rate, workers=args.workers,
    )


def _cmd_train(args: argparse.Namespace) -> int:
    from tfgridnet.train.run import train_cli

    return train_cli(
        Path(args.config), out_dir=Path(args.out) if args.out else None, resume=args.resume,
        overrides=args.override, ignore_data_errors=args.ignore_data_errors,
    )


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from tfgridnet.evaluate import evaluate_cli

    return evaluate_cli(
        args.model, manifest=Path(args.manifest), out_dir=Path(args.out),
        save_audio=not args.no_audio, n_plots=args.plots, dnsmos=args.dnsmos,
        device=args.device,
    )


def _cmd_enhance(args: argparse.Namespace) -> int:
    from tfgridnet.enhance import enhance_cli

    return enhance_cli(
        args.model, inputs=args.inputs, out_dir=Path(args.out), chunk_seconds=args.chunk_seconds,
        overlap_seconds=args.overlap_seconds, device=args.device, precision=args.precision,
        backend=args.backend,
    )


def _cmd_export(args: argparse.Namespace) -> int:
    from tfgridnet.model.io import export_model

    out = export_model(Path(args.source), Path(args.out))
    if args.format == "onnx":
        from tfgridnet.model.onnx_export import export_onnx_dir

        out = export_onnx_dir(out)
    print(f"exported {args.source} -> {out}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from tfgridnet.report.render import report_cli

    return report_cli(Path(args.run_dir), eval_dir=Path(args.eval) if args.eval else None,
                      lang=args.lang)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tfgridnet",
        description="Train, evaluate, diagnose and use TF-GridNetV2 speech-enhancement models.",
    )
    parser.add_argument("--version", action="version", version=f"tfgridnet {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("demo", help="build demo data, train, evaluate and report, on a CPU in minutes")
    p.add_argument("--out", default="demo_out", help="output folder (default: demo_out)")
    p.add_argument("--minutes", type=float, default=None,
                   help="training time budget in minutes (default: the demo config's)")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("make-demo-data", help="synthesise the embedded default corpus (eSpeak + noise)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_cmd_make_demo_data)

    p = sub.add_parser("make-manifest", help="pair two folders by file name into a manifest CSV")
    p.add_argument("--noisy-dir", required=True)
    p.add_argument("--clean-dir", required=True)
    p.add_argument("--out", required=True, help="manifest CSV to write")
    p.set_defaults(func=_cmd_make_manifest)

    p = sub.add_parser("check-data", help="find missing, misaligned, swapped or mis-scaled pairs",
                       description="Exit code 0: no errors; 1: errors found; 2: unusable input.")
    p.add_argument("manifest")
    p.add_argument("--json", default=None, help="also write the full report as JSON here")
    p.add_argument("--sample-rate", type=int, default=None,
                   help="expected sample rate; pairs at another rate are flagged")
    p.add_argument("--workers", type=int, default=None, help="parallel processes (default: cores)")
    p.set_defaults(func=_cmd_check_data)

    p = sub.add_parser("train", help="train a model from a YAML config")
    p.add_argument("config")
    p.add_argument("--out", default=None, help="run folder (default: runs/<config name>)")
    p.add_argument("--resume", nargs="?", const="auto", default=None, metavar="CKPT",
                   help="resume from CKPT, or from the run folder's last.ckpt when no CKPT is given")
    p.add_argument("-o", "--override", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. -o optim.lr=1e-3 (repeatable)")
    p.add_argument("--ignore-data-errors", action="store_true",
                   help="train even when the start-up data check finds broken pairs")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("evaluate", help="score a model on a manifest: metrics, audio, plots, page")
    p.add_argument("model", help="exported model dir, run dir or Lightning checkpoint")
    p.add_argument("--manifest", required=True, help="uttid,noisy,clean CSV to score")
    p.add_argument("--out", required=True, help="evaluation folder to write")
    p.add_argument("--no-audio", action="store_true", help="do not write enhanced/noisy/clean WAVs")
    p.add_argument("--plots", type=int, default=5, help="plot the best K and worst K (default 5)")
    p.add_argument("--dnsmos", action="store_true", help="also compute DNSMOS (needs speechmos)")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if present)")
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("enhance", help="enhance audio files, folders or globs")
    p.add_argument("model", help="exported model dir, run dir or Lightning checkpoint")
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="audio files (any format libsndfile reads), folders or globs")
    p.add_argument("--out", required=True,
                   help="output folder: one WAV per input, same name, rate and channel count")
    p.add_argument("--chunk-seconds", type=float, default=8.0,
                   help="model pass length; files are streamed chunk by chunk (default 8)")
    p.add_argument("--overlap-seconds", type=float, default=1.0,
                   help="cross-faded overlap between chunks (default 1)")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if present)")
    p.add_argument("--precision", choices=["auto", "fp32", "bf16"], default="auto",
                   help="auto (default): bf16 autocast on CPUs with AMX/AVX512-BF16, else fp32; "
                        "bf16 output agrees with fp32 to ~34 dB")
    p.add_argument("--backend", choices=["torch", "onnx"], default="torch",
                   help="onnx: run MODEL/model.onnx (see `export --format onnx`) in onnxruntime")
    p.set_defaults(func=_cmd_enhance)

    p = sub.add_parser("export", help="export a run's best model (or a checkpoint) as safetensors")
    p.add_argument("source", metavar="RUN_DIR|CKPT")
    p.add_argument("--out", required=True, help="folder for model.safetensors + config.json")
    p.add_argument("--format", choices=["safetensors", "onnx"], default="safetensors",
                   help="onnx: also write model.onnx, the whole model waveform to waveform")
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser("report", help="write the experiment analysis of a run")
    p.add_argument("run_dir")
    p.add_argument("--eval", default=None, help="an evaluation folder to include")
    p.add_argument("--lang", choices=["en", "zh-TW"], default="en")
    p.set_defaults(func=_cmd_report)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (UserError, FileNotFoundError, ValueError) as exc:
        print(f"tfgridnet {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"tfgridnet {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
