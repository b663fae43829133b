"""What curation buys: the demo recipe trained on clean, contaminated and curated references.

    python bench/curation.py [--out /tmp/tfgridnet_curation] [--share 0.3] [--level-db 5]
                             [--epochs 7] [--epoch-size 600] [--threads 1] [--no-append]

1. The demo corpus (``make-demo-data``, seed 0) is built under ``--out``.
2. A share (``--share``) of its training references, drawn with a fixed seed, is contaminated:
   noise is left in them at ``--level-db`` SNR (the demo's six noise kinds in turn; babble made
   of the other references). docs/data-checks.md gives the audit's measured detection rate per
   level (5 dB: 82 % as an error, the misses being the transient "bursts" kind). The other
   references are hard links to the originals.
3. ``tfgridnet curate`` (the API, its default drop set) curates the contaminated clean list.
4. The demo recipe trains three times, side by side in turn, with a FIXED number of steps
   (``--epochs`` x ``--epoch-size`` / batch 4; the defaults give 1,050 steps, what the demo's
   8-minute budget gives on this CPU, RESULTS.md §41-43) and no time budget: on the clean list,
   on the contaminated list (its start-up check relaxed with ``data.reference_snr_error_db:
   null``, recorded in the run) and on the curated list. Same seed, noise list, valid set.
5. Each best model is evaluated on the demo test set: SI-SNRi, PESQ-WB, level error.

Prints one table (and appends it to RESULTS.md) with the audit's recall on the planted references
and the clean ones it dropped (false positives), by kind. A 20-step check of the whole script:
``--epochs 1 --epoch-size 80``.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import soundfile as sf
from _common import markdown_table, publish

from tfgridnet.data.curate import curate
from tfgridnet.data.demo import NOISE_KINDS, make_demo_data, make_noise
from tfgridnet.data.manifest import Entry, read_entries, write_single_manifest

BATCH = 4  # the demo recipe's data.batch_size


def contaminate(data: dict[str, Path], out: Path, share: float, level_db: float, seed: int
                ) -> tuple[Path, set[str]]:
    """The training clean list with ``share`` of its references carrying noise at ``level_db``."""
    entries = read_entries(data["train_clean"], "clean")
    rng = np.random.default_rng(seed)
    planted = set(rng.choice([e.uttid for e in entries], size=round(share * len(entries)),
                             replace=False).tolist())
    folder = out / "contaminated"
    folder.mkdir(parents=True, exist_ok=True)
    sources = [sf.read(e.path)[0] for e in entries[:20]]
    written = []
    for k, entry in enumerate(entries):
        target = folder / f"{entry.uttid}.wav"
        if target.exists():
            target.unlink()
        if entry.uttid in planted:
            clean, rate = sf.read(entry.path)
            noise = make_noise(NOISE_KINDS[k % len(NOISE_KINDS)], clean.size, rate, rng, sources)
            noisy = clean + noise * np.sqrt(np.sum(clean ** 2) / np.sum(noise ** 2)
                                            / 10 ** (level_db / 10))
            peak = np.max(np.abs(noisy))
            sf.write(target, noisy * (0.95 / peak if peak > 0.95 else 1.0), rate,
                     subtype="FLOAT")
        else:
            os.link(entry.path, target)
        written.append(Entry(entry.uttid, target, entry.conditions))
    return write_single_manifest(out / "contaminated_clean.csv", "clean", written), planted


def train_and_evaluate(name: str, clean_list: Path, data: dict[str, Path], out: Path,
                       args: argparse.Namespace, relaxed: bool = False) -> dict:
    from tfgridnet.evaluation.evaluate import evaluate
    from tfgridnet.train.config_files import load_config
    from tfgridnet.train.console import quiet_lightning
    from tfgridnet.train.run import train

    overrides = [f"data.train_clean_manifest={clean_list}",
                 f"data.train_noise_manifest={data['train_noise']}",
                 f"data.valid_manifest={data['valid']}", f"data.epoch_size={args.epoch_size}",
                 f"trainer.max_epochs={args.epochs}", "trainer.max_minutes=null",
                 f"trainer.seed={args.seed}", "trainer.progress_bar=none",
                 f"trainer.num_threads={args.threads}"]
    if relaxed:  # the contaminated list is the point of the experiment: let it train
        overrides.append("data.reference_snr_error_db=null")
    config = load_config("demo", overrides)
    run_dir = out / "runs" / name
    started = time.monotonic()
    with quiet_lightning():  # Lightning's banners go to the run's train.log
        summary = train(config, run_dir).summary
    minutes = (time.monotonic() - started) / 60
    result = evaluate(run_dir, data["test"], out / "eval" / name, save_audio=False, n_plots=0,
                      overwrite=True)
    metrics = result.metrics
    return {"steps": summary.global_step, "minutes": minutes,
            "valid": summary.best_valid_sisnr,
            "sisnri": metrics["sisnr"].improvement_mean,
            "pesq": metrics["pesq_wb"].enhanced_mean,
            "pesq_delta": metrics["pesq_wb"].improvement_mean,
            "level": metrics["level_error_db"].enhanced_mean}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/tfgridnet_curation"))
    parser.add_argument("--share", type=float, default=0.3)
    parser.add_argument("--level-db", type=float, default=5.0)
    parser.add_argument("--epochs", type=int, default=7)
    parser.add_argument("--epoch-size", type=int, default=600)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--workers", type=int, default=None, help="check/curate processes")
    parser.add_argument("--no-append", action="store_true")
    args = parser.parse_args()
    out = args.out.resolve()
    for stale in ("runs", "eval"):  # a previous run of this script: replaced as a whole
        if (out / stale).exists():
            import shutil

            shutil.rmtree(out / stale)
    data = make_demo_data(out / "data", seed=args.seed, progress=None)
    contaminated, planted = contaminate(data, out, args.share, args.level_db, args.seed + 1)
    curated = curate(contaminated, out / "curated_clean.csv", workers=args.workers)
    dropped = {d.uttid: d.kinds for d in curated.record.dropped}
    n_refs = curated.record.n_rows
    false_kinds: dict[str, int] = {}
    for uttid, kinds in dropped.items():
        if uttid not in planted:
            for kind in kinds:
                false_kinds[kind] = false_kinds.get(kind, 0) + 1
    recall = len(planted & set(dropped))
    false_positives = len(set(dropped) - planted)
    arms = [("clean", data["train_clean"], False), ("contaminated", contaminated, True),
            ("contaminated, then curated", curated.manifest, False)]
    rows = []
    for name, clean_list, relaxed in arms:
        r = train_and_evaluate(name.split(",")[0].replace(" ", "_") if "curated" not in name
                               else "curated", clean_list, data, out, args, relaxed)
        n_train = len(read_entries(clean_list, "clean"))
        rows.append([name, str(n_train), str(r["steps"]), f"{r['minutes']:.1f}",
                     f"{r['valid']:.2f}", f"{r['sisnri']:.2f}",
                     f"{r['pesq']:.3f} ({r['pesq_delta']:+.3f})", f"{r['level']:+.2f}"])
    table = markdown_table(["training references", "n", "steps", "train min",
                            "best valid SI-SNR dB", "test SI-SNRi dB", "test PESQ-WB (gain)",
                            "test level error dB"], rows)
    notes = [f"contamination: {len(planted)} of {n_refs} training references "
             f"({args.share:.0%}) carry noise at {args.level_db:g} dB (six kinds in turn), seed "
             f"{args.seed + 1}",
             f"audit (curate, default drop set): recall {recall}/{len(planted)} planted; "
             f"{false_positives}/{n_refs - len(planted)} other references dropped "
             f"({', '.join(f'{k} {n}' for k, n in sorted(false_kinds.items())) or 'none'})",
             f"fixed steps: {args.epochs} epochs x {args.epoch_size} examples / batch {BATCH}; "
             f"no time budget; {args.threads} torch thread(s); demo test set (40 utterances)"]
    publish("curation: clean vs contaminated vs curated training references", table, notes,
            not args.no_append)


if __name__ == "__main__":
    main()
