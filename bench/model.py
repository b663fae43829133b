"""Our TFGridNetV2 against ESPnet's class: forward, forward+backward, peak memory, CPU.

    python bench/model.py                          # demo + small, ~5 minutes on 2 cores
    python bench/model.py --configs seed --repeats 1 --threads 2   # ~40 s per ref step, ~13 GB

Same weights and inputs for both; outputs are compared first (fp32 max abs diff < 1e-5). Times are
medians of interleaved runs after a warm-up; peak memory is the RSS high-water mark of a fresh child
process doing one forward+backward (so one measurement cannot inherit another's heap). With
``--threads 0`` torch uses one thread per core; on a loaded machine 1 thread is far steadier.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import torch
from _common import (
    REFERENCE_MISSING,
    append_results,
    build_models,
    fmt,
    interleaved_medians,
    markdown_table,
    peak_rss_mb,
    ratio,
    reference_class,
    reset_peak_rss,
    set_threads,
    test_signal,
)

from tfgridnet.metrics import si_snr

OUTPUT_TOLERANCE = 1e-5
VARIANTS = ("ours", "ours_ckpt", "ref", "ref_ckpt")


def train_step(model: torch.nn.Module, noisy: torch.Tensor, clean: torch.Tensor) -> None:
    model.train()
    model.zero_grad(set_to_none=True)
    loss = -si_snr(model(noisy), clean).mean()
    loss.backward()


def child_peak_memory(config: str, variant: str, threads: int) -> dict:
    """Runs in a fresh process: build one variant, one forward+backward, report the RSS peak."""
    set_threads(threads)
    reference_class()  # imported in every child so the baselines match
    ours, ref = build_models(config, checkpointing=variant.endswith("_ckpt"))
    model = ours if variant.startswith("ours") else ref
    if model is None:
        return {"error": REFERENCE_MISSING}
    noisy, clean = test_signal(4, 2.0), test_signal(4, 2.0, seed=2)
    baseline = reset_peak_rss()
    train_step(model, noisy, clean)
    return {"baseline_mb": baseline, "peak_mb": peak_rss_mb()}


def measure_memory(config: str, variant: str, threads: int) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", config, variant, "--threads", str(threads)],
        capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr else "child failed"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def bench_config(config: str, repeats: int, warmup: int, threads: int, memory: bool) -> dict:
    ours, ref = build_models(config)
    ours_ck, ref_ck = build_models(config, checkpointing=True)
    row: dict = {"config": config, "params": sum(p.numel() for p in ours.parameters())}

    utterance = test_signal(1, 4.0)
    with torch.inference_mode():
        ours.eval()
        out_ours = ours(utterance)
        if ref is not None:
            ref.eval()
            row["max_abs_diff"] = (out_ours - ref(utterance)).abs().max().item()
            if row["max_abs_diff"] >= OUTPUT_TOLERANCE:
                print(f"[{config}] OUTPUTS DIFFER: max abs diff {row['max_abs_diff']:.2e}")

    def forward(model: torch.nn.Module):
        def run() -> None:
            with torch.inference_mode():
                model(utterance)
        return run

    contenders = {"ours": forward(ours)}
    if ref is not None:
        contenders["ref"] = forward(ref)
    row["fwd"] = interleaved_medians(contenders, repeats, max(warmup, 1))

    noisy, clean = test_signal(4, 2.0), test_signal(4, 2.0, seed=2)
    contenders = {"ours": lambda: train_step(ours, noisy, clean),
                  "ours_ckpt": lambda: train_step(ours_ck, noisy, clean)}
    if ref is not None:
        contenders["ref"] = lambda: train_step(ref, noisy, clean)
        contenders["ref_ckpt"] = lambda: train_step(ref_ck, noisy, clean)
    row["step"] = interleaved_medians(contenders, repeats, warmup)
    if memory:
        row["mem"] = {v: measure_memory(config, v, threads) for v in contenders}
    return row


def summarise(rows: list[dict]) -> str:
    header = ["config", "params", "max abs diff", "fwd 4 s ours", "fwd ref", "fwd ref/ours",
              "fwd+bwd 4x2 s ours", "ours ckpt", "ref", "ref ckpt", "fwd+bwd ref/ours",
              "ours ckpt/ours", "peak RSS MB ours", "ours ckpt", "ref", "ref ckpt",
              "ours ckpt/ref"]
    table = []
    for row in rows:
        fwd, step, mem = row["fwd"], row["step"], row.get("mem", {})

        def peak(variant: str, mem: dict = mem) -> float | None:
            return mem.get(variant, {}).get("peak_mb")

        table.append([
            row["config"], f"{row['params']:,}",
            "n/a" if row.get("max_abs_diff") is None else f"{row['max_abs_diff']:.1e}",
            fmt(fwd.get("ours")), fmt(fwd.get("ref")), fmt(ratio(fwd.get("ref"), fwd.get("ours")), 2),
            fmt(step.get("ours")), fmt(step.get("ours_ckpt")), fmt(step.get("ref")),
            fmt(step.get("ref_ckpt")), fmt(ratio(step.get("ref"), step.get("ours")), 2),
            fmt(ratio(step.get("ours_ckpt"), step.get("ours")), 2),
            fmt(peak("ours"), 0), fmt(peak("ours_ckpt"), 0), fmt(peak("ref"), 0),
            fmt(peak("ref_ckpt"), 0), fmt(ratio(peak("ours_ckpt"), peak("ref")), 2),
        ])
    return markdown_table(header, table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", default="demo,small",
                        help="comma-separated: demo, small, seed (default demo,small)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per contender")
    parser.add_argument("--warmup", type=int, default=1,
                        help="untimed fwd+bwd rounds first (0 is fine for the seed config)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: one per core)")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-RSS children")
    parser.add_argument("--no-append", action="store_true", help="do not write RESULTS.md")
    parser.add_argument("--child", nargs=2, metavar=("CONFIG", "VARIANT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child_peak_memory(*args.child, args.threads)))
        return
    threads = set_threads(args.threads)
    if reference_class() is None:
        print(REFERENCE_MISSING)
    rows = []
    for config in args.configs.split(","):
        print(f"[{config}] benchmarking ({threads} threads, {args.repeats} repeats)...", flush=True)
        rows.append(bench_config(config.strip(), args.repeats, args.warmup, args.threads,
                                 not args.no_memory))
        print(json.dumps(rows[-1], indent=1), flush=True)
    table = summarise(rows)
    print(table)
    notes = ["times in seconds (medians, interleaved, same process); memory: peak RSS of a fresh "
             "child doing one fwd+bwd of 4 x 2 s; ckpt = gradient checkpointing (ours: per "
             "intra/inter/attention path; reference: per block, wrapped by this bench)"]
    if reference_class() is None:
        notes.append(REFERENCE_MISSING)
    if not args.no_append:
        append_results("model (CPU, fp32)", table, notes)


if __name__ == "__main__":
    main()
