"""Data pipeline throughput: pairs/s and x real time per core, and whether loading keeps up.

    python bench/data.py [--pairs 24] [--source-rate 48000] [--repeats 3]

A synthetic corpus (noisy/clean WAV pairs of 6 s at ``--source-rate``, 16-bit) is written to a
temporary folder and read through tfgridnet.data.datasets exactly as training reads it: decode,
resample to 16 kHz (soxr), optional zero-phase band-pass, random crop with the same offset on both
sides. One process, torch limited to one thread: the figures are per loader core. "cold" disables
the dataset's in-memory cache (every item decodes and resamples both files, as in the first
epoch or with a corpus larger than memory); "cached" is every later epoch.

"Keeps up" means the loader delivers >= 5x the pairs/s a training step consumes: the demo step is
measured here on this CPU; the seed step per GPU is taken from the users' report (RTX 5090: 32
pairs in 0.22 s), a figure we did not measure.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import yaml
from _common import append_results, fmt, markdown_table, set_threads

from tfgridnet.data.datasets import DynamicMixDataset, PairedDataset
from tfgridnet.data.manifest import Pair, write_manifest, write_single_manifest
from tfgridnet.train.config_files import recipe_text

SAMPLE_RATE = 16000
KEEP_UP_FACTOR = 5.0
USERS_GPU_SEED_PAIRS_PER_S = 32 / 0.22  # users' RTX 5090 report, batch 32 x 4 s; not measured here


def write_corpus(folder: Path, n_pairs: int, seconds: float, source_rate: int) -> Path:
    rng = np.random.default_rng(0)
    pairs = []
    t = np.arange(int(seconds * source_rate)) / source_rate
    for i in range(n_pairs):
        clean = 0.3 * np.sin(2 * np.pi * (200 + 10 * i) * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))
        noisy = clean + 0.05 * rng.standard_normal(t.shape)
        paths = folder / f"noisy_{i:03d}.wav", folder / f"clean_{i:03d}.wav"
        sf.write(paths[0], noisy, source_rate, subtype="PCM_16")
        sf.write(paths[1], clean, source_rate, subtype="PCM_16")
        pairs.append(Pair(uttid=f"utt{i:03d}", noisy=paths[0], clean=paths[1]))
    manifest = folder / "pairs.csv"
    write_manifest(manifest, pairs)
    write_single_manifest(folder / "clean.csv", "clean", [(p.uttid, p.clean) for p in pairs])
    write_single_manifest(folder / "noise.csv", "noise", [(p.uttid, p.noisy) for p in pairs])
    return manifest


def pairs_per_second(dataset, repeats: int) -> float:
    """Median over passes of len(dataset) / time to produce every item once."""
    rates = []
    for epoch in range(repeats + 1):  # the first pass is a warm-up (and fills a cache if any)
        dataset.set_epoch(epoch)
        start = time.perf_counter()
        for index in range(len(dataset)):
            dataset[index]
        if epoch:
            rates.append(len(dataset) / (time.perf_counter() - start))
    return statistics.median(rates)


def cold_pairs_per_second(make_dataset, repeats: int) -> float:
    """Like :func:`pairs_per_second` with a fresh cache-less dataset per pass (first-epoch cost)."""
    rates = []
    for _ in range(repeats):
        dataset = make_dataset()
        start = time.perf_counter()
        for index in range(len(dataset)):
            dataset[index]
        rates.append(len(dataset) / (time.perf_counter() - start))
    return statistics.median(rates)


def demo_step_pairs_per_second(repeats: int) -> tuple[float, int, float]:
    """Pairs/s one demo training step consumes on this CPU (config: the packaged demo recipe)."""
    from tfgridnet.metrics import si_snr
    from tfgridnet.model.tfgridnetv2 import TFGridNetV2

    conf = yaml.safe_load(recipe_text("demo"))
    model_conf = {k: v for k, v in conf["model"].items() if k != "gradient_checkpointing"}
    batch, crop = int(conf["data"]["batch_size"]), float(conf["data"]["crop_seconds"])
    model = TFGridNetV2(**model_conf).train()
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    noisy = torch.randn(batch, int(crop * SAMPLE_RATE))
    clean = torch.randn(batch, int(crop * SAMPLE_RATE))
    times = []
    for step in range(repeats + 1):
        start = time.perf_counter()
        optimiser.zero_grad()
        (-si_snr(model(noisy), clean).mean()).backward()
        optimiser.step()
        if step:
            times.append(time.perf_counter() - start)
    return batch / statistics.median(times), batch, crop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=24, help="pairs in the synthetic corpus")
    parser.add_argument("--seconds", type=float, default=6.0, help="length of each file")
    parser.add_argument("--source-rate", type=int, default=48000, help="rate of the files on disk")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads for the demo step (the loader is always 1 core)")
    parser.add_argument("--no-append", action="store_true", help="do not write RESULTS.md")
    args = parser.parse_args()

    rows, results = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        set_threads(1)
        manifest = write_corpus(Path(tmp), args.pairs, args.seconds, args.source_rate)
        band = (80.0, 7000.0)
        cases = {
            "paired, cold, crop 4 s": (4.0, lambda: cold_pairs_per_second(
                lambda: PairedDataset(manifest, SAMPLE_RATE, crop_seconds=4.0, cache=False),
                args.repeats)),
            "paired, cold, crop 4 s + band-pass": (4.0, lambda: cold_pairs_per_second(
                lambda: PairedDataset(manifest, SAMPLE_RATE, crop_seconds=4.0, bandpass=band,
                                      cache=False), args.repeats)),
            "paired, cached, crop 4 s + band-pass": (4.0, lambda: pairs_per_second(
                PairedDataset(manifest, SAMPLE_RATE, crop_seconds=4.0, bandpass=band),
                args.repeats)),
            "dynamic mix (demo), cached, crop 1.5 s": (1.5, lambda: pairs_per_second(
                DynamicMixDataset(Path(tmp) / "clean.csv", Path(tmp) / "noise.csv", SAMPLE_RATE,
                                  crop_seconds=1.5), args.repeats)),
        }
        for name, (crop, run) in cases.items():
            rate = run()
            results[name] = rate
            rows.append([name, fmt(rate, 1), fmt(rate * crop, 0)])
            print(f"{name}: {rate:.1f} pairs/s, {rate * crop:.0f}x real time per core", flush=True)

    set_threads(args.threads)
    demo_rate, demo_batch, demo_crop = demo_step_pairs_per_second(args.repeats)
    demo_loader = results["dynamic mix (demo), cached, crop 1.5 s"]
    seed_loader = results["paired, cold, crop 4 s + band-pass"]
    need_cores = KEEP_UP_FACTOR * USERS_GPU_SEED_PAIRS_PER_S / seed_loader
    verdicts = [
        ["demo training step on this CPU", f"{demo_rate:.1f} pairs/s (batch {demo_batch} x "
         f"{demo_crop} s, {args.threads} threads)", fmt(demo_loader, 1),
         f"{demo_loader / demo_rate:.0f}x", "yes" if demo_loader >= KEEP_UP_FACTOR * demo_rate
         else "NO"],
        ["seed step per GPU (users' RTX 5090 figure)", f"{USERS_GPU_SEED_PAIRS_PER_S:.0f} pairs/s",
         f"{seed_loader:.1f} per core (cold + band-pass)",
         f"{seed_loader / USERS_GPU_SEED_PAIRS_PER_S:.2f}x per core",
         f"needs {need_cores:.1f} loader cores per GPU for 5x"],
    ]
    table = (markdown_table(["pipeline (1 core)", "pairs/s", "x real time"], rows) + "\n\n"
             + markdown_table(["consumer", "consumes", "loader pairs/s", "loader/consumer",
                               "keeps up (>= 5x)?"], verdicts))
    print(table)
    if not args.no_append:
        append_results("data", table, [
            f"{args.pairs} synthetic pairs of {args.seconds} s at {args.source_rate} Hz, 16-bit "
            f"WAV, resampled to {SAMPLE_RATE} Hz; band-pass {band[0]:.0f}-{band[1]:.0f} Hz "
            "(zero-phase SOS); median of passes"])


if __name__ == "__main__":
    main()
