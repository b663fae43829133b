"""GPU training step: seed configuration, batch 32 x 4 s, ours vs ESPnet's class.

    python bench/gpu.py [--batch 32] [--seconds 4] [--repeats 5] [--configs seed]

Prints "no CUDA device" and exits 0 when there is no GPU. Otherwise, for fp32 and bf16 autocast,
with and without gradient checkpointing, with torch.compile on and off (ours), it measures the
median time of a full training step (forward, -SI-SNR, backward, Adam) and the peak allocated GPU
memory, after the outputs of the two implementations have been compared in fp32 (TF32 off).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch
from _common import (
    REFERENCE_MISSING,
    append_results,
    build_models,
    fmt,
    markdown_table,
    ratio,
    test_signal,
)

from tfgridnet.metrics import si_snr


def step_stats(model: torch.nn.Module, noisy: torch.Tensor, clean: torch.Tensor,
               precision: str, repeats: int) -> tuple[float, float]:
    """Median step seconds and peak allocated MB of fwd + loss + bwd + Adam."""
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-4)
    model.train()

    def step() -> None:
        optimiser.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=precision == "bf16"):
            est = model(noisy)
        (-si_snr(est.float(), clean).mean()).backward()
        optimiser.step()

    for _ in range(2):  # warm-up (and compilation)
        step()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times), torch.cuda.max_memory_allocated() / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", default="seed")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile rows")
    parser.add_argument("--no-append", action="store_true", help="do not write RESULTS.md")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA device: GPU benchmark skipped")
        sys.exit(0)
    device = torch.device("cuda")
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    gpu = torch.cuda.get_device_name(device)

    rows = []
    for config in args.configs.split(","):
        noisy = test_signal(args.batch, args.seconds).to(device)
        clean = test_signal(args.batch, args.seconds, seed=2).to(device)
        ours, ref = (m.to(device) if m is not None else None for m in build_models(config))
        diff = None
        if ref is not None:
            with torch.no_grad():
                probe = noisy[:2]
                diff = (ours.eval()(probe) - ref.eval()(probe)).abs().max().item()
        print(f"[{config}] fp32 max abs diff ours vs ESPnet: {diff}", flush=True)

        variants = []
        for checkpointing in (False, True):
            ours_v, ref_v = (m.to(device) if m is not None else None
                             for m in build_models(config, checkpointing=checkpointing))
            for precision in ("fp32", "bf16"):
                variants.append(("ESPnet", precision, checkpointing, False, ref_v))
                variants.append(("ours", precision, checkpointing, False, ours_v))
                if not args.no_compile:
                    variants.append(("ours", precision, checkpointing, True, ours_v))
        results = {}
        for name, precision, checkpointing, compiled, model in variants:
            key = (name, precision, checkpointing, compiled)
            if model is None:
                rows.append([config, name, precision, str(checkpointing), str(compiled), "—", "—",
                             "—", REFERENCE_MISSING])
                continue
            try:
                runner = torch.compile(model) if compiled else model
                seconds, peak = step_stats(runner, noisy, clean, precision, args.repeats)
                note = ""
            except Exception as error:  # noqa: BLE001 - report and go on with the other rows
                seconds, peak, note = None, None, f"failed: {type(error).__name__}: {error}"[:120]
            results[key] = seconds
            baseline = results.get(("ESPnet", precision, checkpointing, False))
            rows.append([config, name, precision, str(checkpointing), str(compiled),
                         fmt(seconds), fmt(peak, 0),
                         fmt(ratio(baseline, seconds), 2) if name == "ours" else "", note])
            print(" | ".join(rows[-1]), flush=True)
            torch.cuda.empty_cache()
        if diff is not None:
            rows.append([config, "fp32 max abs diff ours vs ESPnet", "", "", "", "", "", "",
                         f"{diff:.1e}"])
    table = markdown_table(["config", "model", "precision", "checkpointing", "compile",
                            f"step s (batch {args.batch} x {args.seconds:g} s)", "peak MB",
                            "ESPnet/ours (same precision, ckpt)", "note"], rows)
    print(table)
    if not args.no_append:
        append_results(f"gpu ({gpu})", table, ["ESPnet row first in each (precision, ckpt) group; ratio > 1: ours faster"])


if __name__ == "__main__":
    main()
