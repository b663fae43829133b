"""How many optimiser steps a healthy run needs before its validation can say whether it learns.

The report's ``too_short_to_judge`` threshold (``tfgridnet.metrics.MIN_STEPS_TO_JUDGE``) and the
training monitor's step gate come from this measurement: real trainings of the shipped recipes,
validated every few steps, each validation's SI-SNR gain over the noisy input recorded. A run is
"judgeable" from the first step after which every validation clears the report's not-learning
margin (``Thresholds.not_learning_gain_db``, 1 dB over the identity baseline).

    python bench/judging.py tiny --seeds 0,1,2 --steps 200
    python bench/judging.py demo --data DEMO_OUT/data --seeds 0,1 --steps 300 --every 10

``tiny`` is the test suite's tiny config on its synthetic corpus (validation every epoch of 2
steps); ``demo`` is the shipped demo recipe on a corpus made by ``tfgridnet make-demo-data``, its
schedule untouched (warm-up over its first 150 steps, cosine over its 10 planned epochs), stopped
after ``--steps`` and validated every ``--every`` steps on ``--valid-utts`` utterances. One
training thread each.
"""

from __future__ import annotations

import argparse
import importlib.util
import tempfile
import time
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
from _common import BENCH_DIR, markdown_table, publish

from tfgridnet.report.thresholds import THRESHOLDS
from tfgridnet.train.config_files import config_from_dict, load_config
from tfgridnet.train.run import train

MARKS = (2, 5, 10, 20, 30, 50, 75, 100, 150, 200, 300, 400)


class ValidationLog(pl.Callback):
    """(global step, valid SI-SNR, noisy SI-SNR, seconds) of every validation after the sanity
    run; stops training after ``max_steps`` without telling the Trainer beforehand (its
    ``max_steps`` would shorten the schedule: warm-up and cosine are sized from the step total)."""

    def __init__(self, max_steps: int) -> None:
        self.rows: list[tuple[int, float, float, float]] = []
        self.max_steps = max_steps
        self.started = time.monotonic()

    def on_train_batch_end(self, trainer: pl.Trainer, *args: Any) -> None:
        if trainer.global_step >= self.max_steps:
            trainer.should_stop = True

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        metrics = trainer.callback_metrics
        self.rows.append((trainer.global_step, float(metrics["valid_sisnr"]),
                          float(metrics["valid_noisy_sisnr"]), time.monotonic() - self.started))


def _patched_trainer(log: ValidationLog, every: int | None) -> None:
    """Make the next ``pl.Trainer`` validate every ``every`` steps and record each validation."""
    base = pl.Trainer

    class Trainer(base):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["callbacks"] = [*kwargs.get("callbacks", []), log]
            if every:
                kwargs["val_check_interval"] = every
            super().__init__(*args, **kwargs)

    pl.Trainer = Trainer  # train() looks it up at call time


def _tiny_config(seed: int, steps: int, work: Path) -> Any:
    spec = importlib.util.spec_from_file_location(
        "train_conftest", BENCH_DIR.parent / "tests" / "train" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    corpus_dir = work / f"corpus{seed}"
    corpus_dir.mkdir()
    corpus = module.write_corpus(corpus_dir)
    raw = module.tiny_config_dict(corpus, trainer={"max_epochs": steps // 2 + 1, "seed": seed})
    return config_from_dict(raw)


def _demo_config(seed: int, data: Path, valid_utts: int) -> Any:
    manifests = data / "manifests"
    return load_config("demo", [
        f"data.train_clean_manifest={manifests / 'train_clean.csv'}",
        f"data.train_noise_manifest={manifests / 'train_noise.csv'}",
        f"data.valid_manifest={manifests / 'valid.csv'}", f"trainer.seed={seed}",
        "trainer.max_minutes=null", "trainer.num_threads=1", "trainer.progress_bar=none",
        f"trainer.limit_val_batches={valid_utts}"])


def steps_to_judge(rows: list[tuple[int, float, float, float]], margin: float) -> int | None:
    """The first validation step from which every validation clears ``margin`` dB over the
    noisy input; None when the last one does not."""
    first = None
    for step, valid, noisy, _ in rows:
        if valid - noisy >= margin:
            first = step if first is None else first
        else:
            first = None
    return first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("recipe", choices=("tiny", "demo"))
    parser.add_argument("--data", type=Path, help="demo corpus (make-demo-data --out)")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--every", type=int, default=10, help="demo: validate every N steps")
    parser.add_argument("--valid-utts", type=int, default=20)
    parser.add_argument("--no-append", action="store_true")
    args = parser.parse_args()
    if args.recipe == "demo" and args.data is None:
        parser.error("demo needs --data (a folder made by `tfgridnet make-demo-data`)")
    margin = THRESHOLDS.not_learning_gain_db
    marks = [m for m in MARKS if m <= args.steps]
    rows, notes = [], []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for seed in (int(s) for s in args.seeds.split(",")):
            log = ValidationLog(args.steps)
            base = pl.Trainer
            _patched_trainer(log, args.every if args.recipe == "demo" else None)
            try:
                config = (_tiny_config(seed, args.steps, work) if args.recipe == "tiny"
                          else _demo_config(seed, args.data, args.valid_utts))
                train(config, work / f"run{seed}")
            finally:
                pl.Trainer = base
            gains = {step: valid - noisy for step, valid, noisy, _ in log.rows}
            cells = []
            for mark in marks:  # the last validation at or before each mark
                done = [s for s in gains if s <= mark]
                cells.append(f"{gains[max(done)]:+.2f}" if done else "—")
            judged = steps_to_judge(log.rows, margin)
            seconds = log.rows[-1][3] if log.rows else float("nan")
            rows.append([args.recipe, str(seed), *cells, str(judged) if judged else "never",
                         f"{seconds:.0f}"])
            notes.append(f"{args.recipe} seed {seed}: " + ", ".join(
                f"{s}: {g:+.2f}" for s, g in gains.items()))
    header = ["recipe", "seed", *[f"{m} steps" for m in marks],
              f"steps to ≥ {margin:g} dB for good", "s (train + valid)"]
    table = markdown_table(header, rows)
    notes.insert(0, f"valid SI-SNR minus noisy SI-SNR (dB) at the last validation by each step "
                    f"count; {args.recipe} validated "
                    + ("every epoch (2 steps)" if args.recipe == "tiny" else
                       f"every {args.every} steps on {args.valid_utts} utterances"))
    publish(f"steps before a run can be judged ({args.recipe})", table, notes,
            append=not args.no_append)


if __name__ == "__main__":
    main()
