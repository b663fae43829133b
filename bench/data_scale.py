"""Data at corpus scale: manifest load time and loader memory with 100,000 files.

    python bench/data_scale.py [--files 100000] [--items 50000] [--root /tmp/tfgridnet_scale]

A synthetic corpus of ``--files`` short clean WAVs (0.1 s, 16 kHz, 16-bit) and 1,000 noise
WAVs is written once under ``--root`` (outside the repository; reused by later runs). Each
figure comes from a fresh child process so one measurement's memory cannot leak into the next:

* manifest: seconds to read and validate the 100,000-row paired and clean manifests;
* loader: resident memory (VmRSS) of one process that builds the training ``DynamicMixDataset``
  and reads items 0..N of one epoch, after 1k, 10k and ``--items`` items, with the
  decoded-audio cache at its default budget and at a small one (a code version without a budget
  runs unbounded: the "before" figure). "distinct" counts the clean files the items used.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf
from _common import append_results, markdown_table

SAMPLE_RATE = 16000
NOISE_FILES = 1000
DISTINCT = 100
CHECKPOINTS = (1000, 10000)


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def write_corpus(root: Path, n_files: int, seconds: float) -> dict[str, Path]:
    """Tiny WAVs + manifests (paired, clean, noise); reused when the stamp matches."""
    stamp = root / f"stamp_{n_files}_{seconds}.json"
    manifests = {name: root / f"{name}_{n_files}.csv" for name in ("paired", "clean", "noise")}
    if stamp.is_file() and all(p.is_file() for p in manifests.values()):
        return manifests
    rng = np.random.default_rng(0)
    n = int(seconds * SAMPLE_RATE)
    (root / "clean").mkdir(parents=True, exist_ok=True)
    (root / "noise").mkdir(parents=True, exist_ok=True)
    # DISTINCT different recordings, hard-linked to many names: every path is its own cache
    # entry and decode, and writing 100,000 files takes seconds instead of minutes.
    sources = []
    for k in range(DISTINCT):
        sources.append(root / f"source{k:03d}.wav")
        sf.write(sources[-1], 0.1 * rng.standard_normal(n), SAMPLE_RATE, subtype="PCM_16")
    for folder, prefix, count in (("clean", "c", n_files), ("noise", "n", NOISE_FILES)):
        for i in range(count):
            path = root / folder / f"{prefix}{i:06d}.wav"
            if path.exists():
                path.unlink()
            os.link(sources[i % DISTINCT], path)
    ids = [f"c{i:06d}" for i in range(n_files)]
    manifests["paired"].write_text("uttid,noisy,clean\n" + "".join(
        f"{u},clean/{u}.wav,clean/{u}.wav\n" for u in ids))
    manifests["clean"].write_text("uttid,clean\n" + "".join(f"{u},clean/{u}.wav\n" for u in ids))
    manifests["noise"].write_text("uttid,noise\n" + "".join(
        f"n{i:06d},noise/n{i:06d}.wav\n" for i in range(NOISE_FILES)))
    stamp.write_text("{}")
    return manifests


def child_manifest(paired: Path, clean: Path) -> dict:
    from tfgridnet.data.manifest import read_manifest

    before = _rss_mb()
    start = time.perf_counter()
    pairs = read_manifest(paired)
    paired_s = time.perf_counter() - start
    start = time.perf_counter()
    cleans = read_manifest(clean, require=("clean",))
    clean_s = time.perf_counter() - start
    return {"paired_s": paired_s, "clean_s": clean_s, "rows": len(pairs) + len(cleans),
            "rss_growth_mb": _rss_mb() - before}


def child_loader(clean: Path, noise: Path, items: int, cache_mb: float | None) -> dict:
    import torch

    from tfgridnet.data.datasets import DynamicMixDataset

    torch.set_num_threads(1)
    kwargs = {}
    budgeted = "cache_mb" in inspect.signature(DynamicMixDataset).parameters
    if budgeted and cache_mb is not None:
        kwargs["cache_mb"] = cache_mb
    start_rss = _rss_mb()
    dataset = DynamicMixDataset(clean, noise, SAMPLE_RATE, crop_seconds=0.1, epoch_size=items,
                                seed=0, **kwargs)
    built_rss = _rss_mb()
    rss, seen = {}, set()
    start = time.perf_counter()
    for index in range(items):
        item = dataset[(index, 0)]
        seen.add(item["uttid"].split("__")[0])
        if index + 1 in CHECKPOINTS:
            rss[index + 1] = _rss_mb()
    rss[items] = _rss_mb()
    return {"budgeted": budgeted, "start_mb": start_rss, "built_mb": built_rss, "rss": rss,
            "distinct": len(seen), "items_per_s": items / (time.perf_counter() - start)}


def _run_child(args: list[str], src: Path | None = None) -> dict:
    env = {**os.environ, "PYTHONPATH": str(src)} if src is not None else None
    out = subprocess.run([sys.executable, __file__, "--child", *args], check=True,
                         capture_output=True, text=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def compare_manifest_reads(manifests: dict[str, Path], other_src: Path, rounds: int) -> list:
    """This tree vs another checkout's ``src`` (e.g. the previous commit), rounds interleaved."""
    runs: dict[str, list[dict]] = {"this": [], "other": []}
    for _ in range(rounds):
        for name, src in (("other", other_src), ("this", None)):
            runs[name].append(_run_child(
                ["manifest", str(manifests["paired"]), str(manifests["clean"])], src))
    med = {name: {key: statistics.median(r[key] for r in values)
                  for key in ("paired_s", "clean_s", "rss_growth_mb")}
           for name, values in runs.items()}
    rows = [[f"read_manifest ({label}), median of {rounds}", f"paired {m['paired_s']:.2f} s, "
             f"clean {m['clean_s']:.2f} s", f"+{m['rss_growth_mb']:.0f} MB", "", ""]
            for label, m in (("other src", med["other"]), ("this src", med["this"]))]
    rows.append(["ratio other/this", f"paired {med['other']['paired_s'] / med['this']['paired_s']:.1f}x"
                 f", clean {med['other']['clean_s'] / med['this']['clean_s']:.1f}x",
                 f"{med['other']['rss_growth_mb'] / med['this']['rss_growth_mb']:.1f}x", "", ""])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=0.1)
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--root", type=Path, default=Path("/tmp/tfgridnet_scale"))
    parser.add_argument("--small-cache-mb", type=float, default=32.0)
    parser.add_argument("--label", default="", help="tag for the rows (e.g. before/after)")
    parser.add_argument("--note", action="append", default=[], help="extra note for RESULTS.md")
    parser.add_argument("--compare-src", type=Path, default=None,
                        help="also time manifest reads with another checkout's src/, interleaved")
    parser.add_argument("--rounds", type=int, default=3, help="rounds for --compare-src")
    parser.add_argument("--manifest-only", action="store_true", help="skip the loader rows")
    parser.add_argument("--no-append", action="store_true")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        if kind == "manifest":
            result = child_manifest(Path(rest[0]), Path(rest[1]))
        else:
            cache = None if rest[3] == "default" else float(rest[3])
            result = child_loader(Path(rest[0]), Path(rest[1]), int(rest[2]), cache)
        print(json.dumps(result))
        return

    start = time.perf_counter()
    manifests = write_corpus(args.root, args.files, args.seconds)
    print(f"corpus ready in {time.perf_counter() - start:.0f} s under {args.root}", flush=True)
    label = f"{args.label} " if args.label else ""
    m = _run_child(["manifest", str(manifests["paired"]), str(manifests["clean"])])
    rows = [[f"{label}read_manifest, {args.files:,} rows", f"paired {m['paired_s']:.2f} s, "
             f"clean {m['clean_s']:.2f} s", f"+{m['rss_growth_mb']:.0f} MB", "", ""]]
    print(rows[-1], flush=True)
    if args.compare_src is not None:
        rows += compare_manifest_reads(manifests, args.compare_src.resolve(), args.rounds)
        print(rows[-3:], flush=True)
    for cache in () if args.manifest_only else ("default", str(args.small_cache_mb)):
        r = _run_child(["loader", str(manifests["clean"]), str(manifests["noise"]),
                        str(args.items), cache])
        if not r["budgeted"] and cache != "default":
            continue
        budget = ("unbounded (no budget in this version)" if not r["budgeted"]
                  else "default budget" if cache == "default" else f"budget {cache} MB")
        points = ", ".join(f"{k // 1000}k: {v:.0f}" for k, v in
                           sorted((int(k), v) for k, v in r["rss"].items()))
        growth = r["rss"][str(args.items)] - r["rss"][str(CHECKPOINTS[0])]
        rows.append([f"{label}DynamicMixDataset, cache {budget}",
                     f"built {r['built_mb']:.0f} MB; {points} MB",
                     f"+{growth:.0f} MB (1k -> {args.items // 1000}k)",
                     f"{r['distinct']:,}", f"{r['items_per_s']:.0f}"])
        print(rows[-1], flush=True)
    table = markdown_table(["case", "time / RSS", "growth (manifest: both lists held)",
                            "distinct clean files",
                            "items/s"], rows)
    print(table)
    if not args.no_append:
        append_results("data at scale", table, [
            f"{args.files:,} clean WAVs of {args.seconds} s + {NOISE_FILES:,} noise WAVs at "
            f"{SAMPLE_RATE} Hz (16-bit) under a /tmp folder; one epoch of {args.items:,} items, "
            "one process, no DataLoader workers; each row a fresh child process",
            "shared machine (other jobs running): times are noisy, memory figures are not",
            *args.note])


if __name__ == "__main__":
    main()
