"""Throughput of the data check that runs before every training: first run and cached run.

    python bench/data_check_scale.py [--sizes 1000,10000] [--workers 2] [--mos-pairs 40]

Pairs: the demo corpus's 300 training pairs (eSpeak speech + noise, 16 kHz, median 3.7 s), each
linked under many names (hard links under ``--root``, outside the repository): every name is its
own row, decode and cache entry, so N rows cost what N distinct files of that length cost (their
bytes come from the page cache after the first pass, as on a machine that has read the corpus
once). For each size: ``check_data`` with every detector and the reference audit, into an empty
result cache (first run), then again (cached run); and, on ``--mos-pairs`` pairs, the same with
``--mos`` (Distill-MOS of every clean reference). Rates count pairs and files (2 per pair) per
second, and per core. The GPU epoch it is compared with is the seed recipe's measured step
(bench/RESULTS.md §6a: batch 32 x 4 s, bf16 + checkpointing, 937 ms on one H200): 34 pairs/s.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from pathlib import Path

from _common import markdown_table, publish

from tfgridnet.data.checks import ResultCache, check_data
from tfgridnet.data.demo import make_demo_data
from tfgridnet.data.manifest import Pair, read_manifest, write_manifest

GPU_PAIRS_PER_S = 32 / 0.937  # seed recipe, one H200, bf16 + checkpointing (RESULTS §6a)


def linked_manifest(root: Path, demo: Path, n: int) -> Path:
    """``n`` rows made of the demo training pairs under distinct hard-linked names."""
    manifest = root / f"pairs_{n}.csv"
    if manifest.is_file():
        return manifest
    sources = read_manifest(make_demo_data(demo, progress=None)["train"])
    folder = root / f"files_{n}"
    folder.mkdir(parents=True, exist_ok=True)
    pairs = []
    for k in range(n):
        source = sources[k % len(sources)]
        names = folder / f"r{k:06d}_noisy.wav", folder / f"r{k:06d}_clean.wav"
        for name, target in zip(names, (source.noisy, source.clean)):
            if not name.exists():
                os.link(target, name)
        pairs.append(Pair(f"r{k:06d}", *names))
    return write_manifest(manifest, pairs)


def _cpu_seconds() -> float:
    """User + system CPU time of this process and its finished children (the check's workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(
        resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed_check(manifest: Path, workers: int, cache_dir: Path | None, mos: bool = False
                ) -> tuple[float, float]:
    """Wall seconds and CPU seconds (all processes) of one check."""
    start, cpu = time.perf_counter(), _cpu_seconds()
    check_data(manifest, workers=workers, mos=mos,
               cache=ResultCache(cache_dir) if cache_dir else False)
    return time.perf_counter() - start, _cpu_seconds() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--mos-pairs", type=int, default=40)
    parser.add_argument("--root", type=Path, default=Path("/tmp/tfgridnet_check_scale"))
    parser.add_argument("--no-append", action="store_true")
    args = parser.parse_args()
    demo = args.root / "demo"
    rows = []
    cpu_per_pair = {}
    for n in (int(s) for s in args.sizes.split(",")):
        manifest = linked_manifest(args.root, demo, n)
        cache = args.root / f"cache_{n}_{int(time.time())}"
        first, first_cpu = timed_check(manifest, args.workers, cache)
        cached, _ = timed_check(manifest, args.workers, cache)
        cpu_per_pair[n] = first_cpu / n
        rows.append([f"{n:,}", "every detector + reference audit", f"{first:.1f}",
                     f"{n / first:.1f}", f"{1000 * first_cpu / n:.1f}",
                     f"{2 * n / first_cpu:.0f}", f"{cached:.2f}", f"{n / cached:,.0f}",
                     f"{first / cached:.0f}x"])
    if args.mos_pairs:
        manifest = write_manifest(args.root / f"pairs_mos_{args.mos_pairs}.csv",
                                  read_manifest(linked_manifest(args.root, demo, 1000))
                                  [:args.mos_pairs])
        for label, mos in (("without --mos", False), ("with --mos (model load included)", True)):
            seconds, cpu = timed_check(manifest, args.workers, None, mos=mos)
            rows.append([f"{args.mos_pairs:,}", label, f"{seconds:.1f}",
                         f"{args.mos_pairs / seconds:.1f}", f"{1000 * cpu / args.mos_pairs:.1f}",
                         f"{2 * args.mos_pairs / cpu:.0f}", "—", "—", "—"])
    table = markdown_table(["pairs", "check", "first run s", "pairs/s (wall)", "CPU ms per pair",
                            "files per CPU-second", "cached run s", "cached pairs/s",
                            "first/cached"], rows)
    largest = max(cpu_per_pair)
    cpu_100k = 100_000 * cpu_per_pair[largest]
    epoch = 100_000 / GPU_PAIRS_PER_S
    notes = [f"workers: {args.workers}; demo training pairs (16 kHz, median 3.7 s) under distinct "
             "hard-linked names; page cache warm; CPU = user + system of every process",
             f"100,000 pairs at the {largest:,}-pair CPU cost: {cpu_100k / 60:.0f} CPU-minutes, "
             f"{cpu_100k / 60 / 2:.0f} min on 2 free cores, {cpu_100k / 60 / 16:.1f} min on 16; "
             f"one seed-recipe epoch of 100,000 pairs on one H200 (34 pairs/s, RESULTS §6a): "
             f"{epoch / 60:.0f} min, so the first check is {100 * cpu_100k / 2 / epoch:.0f} % of "
             f"it on 2 cores, {100 * cpu_100k / 16 / epoch:.1f} % on 16"]
    publish("data check throughput (first and cached runs)", table, notes, not args.no_append)


if __name__ == "__main__":
    main()
