"""`tfgridnet demo`: the whole pipeline on the embedded corpus, on a laptop CPU, in minutes.

data (synthesised, checked) -> training (the packaged demo recipe, bounded time) -> export of the best
epoch -> evaluation of the demo test set (metrics, audio, plots, listening page) -> report.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from rich.console import Console

from tfgridnet.contracts.evaluation import EvaluationSummary
from tfgridnet.contracts.folders import EvalDir, RunDir
from tfgridnet.contracts.names import EVAL_DIR_NAME

__all__ = ["DemoResult", "demo_config_path", "run_demo"]


@dataclass
class DemoResult:
    out_dir: Path
    data_dir: Path
    run_dir: Path
    eval_dir: Path
    summary: dict[str, Any]
    report_files: dict[str, Path]
    seconds: float


def demo_config_path() -> Path:
    """The demo recipe shipped inside the package (``tfgridnet config show demo``)."""
    return Path(str(resources.files("tfgridnet") / "configs" / "demo.yaml"))


def run_demo(out_dir: Path, minutes: float | None = None, seed: int = 0,
             console: Console | None = None, corpus: dict[str, int] | None = None,
             overrides: list[str] | None = None, n_plots: int = 5) -> DemoResult:
    """Run every stage into ``out_dir`` (``data/``, ``run/``, ``eval/``) and return where they are.

    The corpus in ``out_dir/data`` is reused when it is already complete; a previous demo's
    ``run/`` and ``eval/`` are replaced, since a demo run is only meaningful as a whole.
    ``corpus`` (``n_train``/``n_valid``/``n_test``) and ``overrides`` (``key=value`` on the demo
    config) shrink the demo, e.g. for tests.
    """
    from tfgridnet.data.checks import check_data
    from tfgridnet.data.demo import make_demo_data
    from tfgridnet.evaluation.evaluate import evaluate
    from tfgridnet.report.render import write_report
    from tfgridnet.train.config_files import load_config
    from tfgridnet.train.run import train

    console = console or Console()
    started = time.monotonic()
    out_dir = Path(out_dir).resolve()
    data_dir, run_dir, eval_dir = out_dir / "data", out_dir / "run", out_dir / EVAL_DIR_NAME

    def stage(title: str) -> None:
        console.rule(f"[bold]{title}[/bold]  ({time.monotonic() - started:.0f} s)")

    stage("1/5 demo corpus")
    manifests = make_demo_data(data_dir, seed=seed, **(corpus or {}))
    console.print(f"manifests in {data_dir / 'manifests'}")

    stage("2/5 check-data")
    for split in ("valid", "test"):
        report = check_data(manifests[split])
        console.print(f"{split}: {report.summary()}")
        if not report.ok:
            raise RuntimeError(
                f"the demo corpus failed check-data ({split}); see `tfgridnet check-data "
                f"{manifests[split]}`")

    stage("3/5 training")
    for stale in (run_dir, eval_dir):
        if stale.exists():
            console.print(f"replacing the previous demo output {stale}")
            shutil.rmtree(stale)
    config_overrides = [
        f"data.train_clean_manifest={manifests['train_clean']}",
        f"data.train_noise_manifest={manifests['train_noise']}",
        f"data.valid_manifest={manifests['valid']}",
        f"trainer.seed={seed}",
    ]
    if minutes is not None:
        config_overrides.append(f"trainer.max_minutes={minutes}")
    config = load_config(demo_config_path(), config_overrides + list(overrides or []))
    train(config, run_dir, max_minutes=minutes if minutes is not None else
          config.trainer.max_minutes)

    stage("4/5 evaluation of the demo test set")
    summary = evaluate(run_dir, manifests["test"], eval_dir, save_audio=True,
                       n_plots=n_plots).summary

    stage("5/5 report")
    report_files = write_report(run_dir, eval_dir=eval_dir)

    seconds = time.monotonic() - started
    console.rule("[bold green]demo finished[/bold green]")
    sisnr = EvaluationSummary.model_validate(summary).sisnr
    console.print(
        f"test set: noisy {sisnr.noisy_mean:.2f} dB -> enhanced {sisnr.enhanced_mean:.2f} dB "
        f"SI-SNR, improvement {sisnr.improvement_mean:+.2f} ± {sisnr.improvement_std:.2f} dB "
        f"(worst {sisnr.improvement_min:+.2f} dB) over {summary['n']} utterances")
    console.print(f"total time {seconds / 60:.1f} min")
    console.print(f"data       {data_dir}")
    run = RunDir(run_dir)
    console.print(f"run        {run_dir}  ({run.metrics.name}, {run.checkpoints.name}/, "
                  f"{run.model.name}/)")
    console.print(f"evaluation {EvalDir(eval_dir).page()}  (listening page)")
    for name, path in report_files.items():
        console.print(f"report     {path}  ({name})")
    return DemoResult(out_dir, data_dir, run_dir, eval_dir, summary, report_files, seconds)
