"""Real-time factor of chunked enhancement of a 60 s recording on the CPU (demo and seed configs).

    python bench/inference.py [--configs demo,seed] [--seconds 60] [--repeats 1] [--threads 0]

Runs tfgridnet.inference.Enhancer (8 s chunks, 1 s cross-faded overlap, one chunk per pass on the
CPU) around our model and, when installed, around ESPnet's class with the same weights. RTF =
wall-clock seconds / audio seconds (< 1 is faster than real time). A third row runs our model under
CPU bf16 autocast (an opt-in approximation, not the default): its agreement with the fp32 output is
given as SI-SNR in dB of the bf16 output against the fp32 one.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from _common import (
    REFERENCE_MISSING,
    SAMPLE_RATE,
    append_results,
    build_models,
    fmt,
    markdown_table,
    set_threads,
)

from tfgridnet.inference.enhancer import Enhancer
from tfgridnet.metrics import si_snr


class Bf16Autocast(torch.nn.Module):
    """Run a model under CPU bf16 autocast; output back to float32."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model
        self.sample_rate = SAMPLE_RATE

    def forward(self, noisy: torch.Tensor) -> torch.Tensor:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return self.model(noisy).float()


def timed_enhance(model: torch.nn.Module, audio: np.ndarray, repeats: int
                  ) -> tuple[float, np.ndarray]:
    enhancer = Enhancer(model, sample_rate=SAMPLE_RATE, device="cpu", chunk_seconds=8.0,
                        overlap_seconds=1.0)
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = enhancer.enhance(audio, SAMPLE_RATE)
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", default="demo,seed")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the recording")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: one per core)")
    parser.add_argument("--no-append", action="store_true", help="do not write RESULTS.md")
    args = parser.parse_args()
    threads = set_threads(args.threads)

    rng = np.random.default_rng(0)
    n = int(args.seconds * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    audio = (0.2 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(n)).astype(np.float32)

    rows = []
    for config in args.configs.split(","):
        ours, ref = build_models(config.strip())
        contenders = {"ours fp32": ours, "ESPnet fp32": ref, "ours bf16 autocast": Bf16Autocast(ours)}
        outputs = {}
        for name, model in contenders.items():
            if model is None:
                rows.append([config, name, "—", "—", REFERENCE_MISSING])
                continue
            wall, outputs[name] = timed_enhance(model, audio, args.repeats)
            agreement = ""
            if name != "ours fp32":
                agreement = f"{si_snr(outputs[name], outputs['ours fp32']).item():.1f} dB vs ours fp32"
            rows.append([config, name, fmt(wall, 1), fmt(wall / args.seconds, 3), agreement])
            print(" | ".join(rows[-1]), flush=True)
    table = markdown_table(["config", "model", f"wall s ({args.seconds:.0f} s file)", "RTF",
                            "output agreement"], rows)
    print(table)
    if not args.no_append:
        append_results("inference (CPU, Enhancer, 8 s chunks, 1 s overlap)", table,
                       [f"{threads} torch threads; median of {args.repeats} run(s)"])


if __name__ == "__main__":
    main()
