"""Fine-tuning the demo model on a shifted domain against training from scratch, same steps.

The shifted domain: only babble and mains hum, at -8 to 0 dB SNR (the demo corpus mixes six noise
kinds at -8 to 10 dB in training, -5 to 15 dB in valid/test). Training mixes the demo's own clean
training speech with its babble and hum noise files on the fly. The shifted valid and test sets
are the demo valid and test speech (test: unseen voices) mixed afresh with babble (from the other
utterances of the same split) and hum at -8..0 dB, built under --out; the valid set picks the best
epoch, the test set is only scored.

Two runs of the `demo` recipe with the same data, seed and number of optimiser steps:

* **fine-tuned**: ``--init`` the demo model (every parameter trains), the pretrained parameters at
  ``optim.lr_pretrained`` (default 3e-3, a quarter of the recipe's 1.2e-2: set before any run,
  never tuned on these sets), with the demo valid set as ``data.valid_extra`` (forgetting);
* **scratch**: random weights, the recipe's own learning rate.

Both are evaluated on the shifted test set (the fine-tune with ``--baseline`` = the demo model, so
the table also holds the untouched demo model) and on the original demo test set (what the
fine-tune forgot). Fixed step counts rather than wall minutes: on a shared machine a time budget
buys each run a different number of steps; the table gives each run's s/batch and training
minutes. ``--minutes M`` uses a time budget instead (quiet machine only).

    python bench/finetune.py demo_out/run --data demo_out/data            # ~600 steps each
    python bench/finetune.py RUN --data DATA --steps 8 --count 4 --no-append   # an end-to-end check
"""

from __future__ import annotations

import argparse
import csv
import math
import shutil
import tempfile
from pathlib import Path

import numpy as np
from _common import fmt, markdown_table, publish

from tfgridnet.audio.io import load_audio, save_audio
from tfgridnet.data.demo import make_noise
from tfgridnet.data.manifest import (
    NOISE_KIND_COLUMN,
    SNR_COLUMN,
    Pair,
    read_entries,
    read_manifest,
    write_manifest,
    write_single_manifest,
)

KINDS = ("babble", "hum")
SNR_DB = (-8.0, 0.0)
SAMPLE_RATE = 16000
STEPS_PER_EPOCH = 150  # the demo recipe's 600 examples / batch 4
LR_PRETRAINED = 3e-3


def shifted_pairs(manifest: Path, out_dir: Path, count: int, seed: int) -> Path:
    """The clean speech of ``manifest`` (first ``count`` pairs) mixed afresh with babble or hum
    at SNR_DB; conditions noise_kind / snr_db kept per utterance."""
    pairs = read_manifest(manifest)[:count]
    speech = [load_audio(p.clean, SAMPLE_RATE)[0].astype(np.float64) for p in pairs]
    rng = np.random.default_rng(seed)
    out = []
    for k, (pair, clean) in enumerate(zip(pairs, speech)):
        kind, snr_db = KINDS[k % len(KINDS)], float(rng.uniform(*SNR_DB))
        others = speech[:k] + speech[k + 1:]
        noise = make_noise(kind, clean.size, SAMPLE_RATE, rng, others or speech)
        noisy = clean + noise * np.sqrt(np.sum(clean**2) / np.sum(noise**2) / 10 ** (snr_db / 10))
        peak = max(np.max(np.abs(noisy)), np.max(np.abs(clean)))
        if peak > 0.95:  # one gain for both sides keeps the pair a pair
            noisy, clean = noisy * (0.95 / peak), clean * (0.95 / peak)
        out.append(Pair(pair.uttid, save_audio(out_dir / "noisy" / f"{pair.uttid}.wav", noisy,
                                               SAMPLE_RATE),
                        save_audio(out_dir / "clean" / f"{pair.uttid}.wav", clean, SAMPLE_RATE),
                        {NOISE_KIND_COLUMN: kind, SNR_COLUMN: f"{snr_db:.2f}"}))
    return write_manifest(out_dir / "manifest.csv", out)


def build_domain(data: Path, out: Path, count: int) -> dict[str, Path]:
    manifests = data / "manifests"
    noise = [e for e in read_entries(manifests / "train_noise.csv", "noise")
             if e.conditions.get(NOISE_KIND_COLUMN) in KINDS]
    if not noise:
        raise SystemExit(f"{manifests / 'train_noise.csv'}: no {'/'.join(KINDS)} noise files")
    return {"train_clean": manifests / "train_clean.csv",
            "train_noise": write_single_manifest(out / "train_noise.csv", "noise", noise),
            "valid": shifted_pairs(manifests / "valid.csv", out / "valid", count, seed=11),
            "test": shifted_pairs(manifests / "test.csv", out / "test", count, seed=12),
            "demo_valid": manifests / "valid.csv", "demo_test": manifests / "test.csv"}


def run(name: str, domain: dict[str, Path], out: Path, steps: int, minutes: float | None,
        seed: int, init: Path | None, lr_pretrained: float) -> Path:
    from tfgridnet.demo import demo_config_path
    from tfgridnet.train.config_files import load_config
    from tfgridnet.train.console import quiet_lightning
    from tfgridnet.train.run import train

    per_epoch = min(STEPS_PER_EPOCH, steps)
    overrides = [f"data.train_clean_manifest={domain['train_clean']}",
                 f"data.train_noise_manifest={domain['train_noise']}",
                 f"data.snr_range=[{SNR_DB[0]}, {SNR_DB[1]}]",
                 f"data.valid_manifest={domain['valid']}",
                 f"data.epoch_size={4 * per_epoch}", f"trainer.seed={seed}",
                 "trainer.progress_bar=none", "trainer.num_threads=2"]
    if minutes is None:
        overrides += [f"trainer.max_epochs={math.ceil(steps / per_epoch)}",
                      "trainer.max_minutes=null"]
    else:
        overrides += ["trainer.max_epochs=1000", f"trainer.max_minutes={minutes}"]
    if init is not None:
        overrides += [f"init.from={init}", f"optim.lr_pretrained={lr_pretrained}",
                      f"data.valid_extra={domain['demo_valid']}"]
    run_dir = out / name
    if run_dir.exists():
        shutil.rmtree(run_dir)
    with quiet_lightning():  # Lightning's banners go to the run's train.log only
        train(load_config(demo_config_path(), overrides), run_dir)
    return run_dir


def training_figures(run_dir: Path) -> dict[str, float]:
    with open(run_dir / "metrics.csv", newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if int(r["epoch"]) >= 0]
    return {"steps": int(rows[-1]["step"]), "minutes": float(rows[-1]["time_s"]) / 60,
            "s_per_batch": float(np.mean([float(r["sec_per_batch"]) for r in rows])),
            "valid_best": max(float(r["valid_sisnr"]) for r in rows)}


def main() -> None:
    from tfgridnet.evaluation.evaluate import evaluate

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", type=Path, help="the demo model: run dir or export dir")
    parser.add_argument("--data", type=Path, required=True, help="the demo corpus (DIR/data)")
    parser.add_argument("--out", type=Path,
                        default=Path(tempfile.gettempdir()) / "tfgridnet_bench_finetune")
    parser.add_argument("--steps", type=int, default=600, help="optimiser steps of each run")
    parser.add_argument("--minutes", type=float, default=None,
                        help="a time budget per run instead of --steps (quiet machine only)")
    parser.add_argument("--count", type=int, default=40, help="utterances of shifted valid/test")
    parser.add_argument("--lr-pretrained", type=float, default=LR_PRETRAINED)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-append", action="store_true", help="only print, leave RESULTS.md")
    args = parser.parse_args()

    domain = build_domain(args.data, args.out / "data", args.count)
    runs = {"fine-tuned": run("finetuned", domain, args.out, args.steps, args.minutes, args.seed,
                              args.model, args.lr_pretrained),
            "scratch": run("scratch", domain, args.out, args.steps, args.minutes, args.seed,
                           None, args.lr_pretrained)}
    evals: dict[tuple[str, str], dict] = {}
    for name, run_dir in runs.items():
        for test in ("test", "demo_test"):
            evals[(name, test)] = evaluate(
                run_dir, domain[test], args.out / "eval" / f"{run_dir.name}_{test}",
                save_audio=False, n_plots=0, device="cpu", progress=False, overwrite=True,
                baseline=args.model if name == "fine-tuned" else None)

    def cells(summary: dict) -> list[str]:
        pesq = summary["metrics"]["pesq_wb"]
        return [fmt(summary["metrics"]["sisnr"]["improvement_mean"], 2),
                f"{fmt(pesq['enhanced_mean'], 2)} ({pesq['improvement_mean']:+.2f})"]

    source = evals[("fine-tuned", "test")]["baseline_model"]["metrics"]
    noisy_test = evals[("fine-tuned", "test")]["metrics"]
    source_demo = evaluate(args.model, domain["demo_test"], args.out / "eval" / "source_demo_test",
                           save_audio=False, n_plots=0, device="cpu", progress=False,
                           overwrite=True)
    rows = [["demo model (start, not trained here)",
             fmt(source["sisnr"]["mean"] - noisy_test["sisnr"]["noisy_mean"], 2),
             f"{fmt(source['pesq_wb']['mean'], 2)} "
             f"({source['pesq_wb']['mean'] - noisy_test['pesq_wb']['noisy_mean']:+.2f})",
             *cells(source_demo), "—", "—"]]
    for name, run_dir in runs.items():
        figures = training_figures(run_dir)
        rows.append([f"{name} ({figures['steps']} steps)", *cells(evals[(name, "test")]),
                     *cells(evals[(name, "demo_test")]),
                     f"{figures['minutes']:.1f} / {figures['s_per_batch']:.2f}",
                     fmt(figures["valid_best"], 2)])
    table = markdown_table(
        ["model", "shifted test SI-SNRi (dB)", "shifted test PESQ-WB (gain)",
         "demo test SI-SNRi (dB)", "demo test PESQ-WB (gain)", "train min / s per batch",
         "best shifted valid SI-SNR (dB)"], rows)
    budget = (f"{args.minutes:g} min each" if args.minutes is not None
              else f"{args.steps} optimiser steps each")
    notes = [f"shifted domain: {' + '.join(KINDS)} only at {SNR_DB[0]:g}..{SNR_DB[1]:g} dB; train "
             "= demo clean speech x the demo's babble/hum noise files (dynamic mixing); shifted "
             f"valid/test = {args.count} demo valid/test utterances remixed",
             f"demo recipe, seed {args.seed}, {budget}; fine-tuned from {args.model} with "
             f"optim.lr_pretrained {args.lr_pretrained:g} (recipe lr 1.2e-2 for scratch), "
             "data.valid_extra = demo valid set",
             f"shifted test noisy SI-SNR {fmt(noisy_test['sisnr']['noisy_mean'], 2)} dB, PESQ-WB "
             f"{fmt(noisy_test['pesq_wb']['noisy_mean'], 2)}; the fine-tune beats the demo model "
             f"on {100 * source['sisnr']['share_better']:.0f}% of the shifted test utterances"]
    publish("fine-tuning vs scratch on a shifted domain", table, notes,
            append=not args.no_append)


if __name__ == "__main__":
    main()
