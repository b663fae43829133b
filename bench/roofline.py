"""This CPU's arithmetic ceiling, and the lowest real-time factor the model's multiply-adds allow on it.

    python bench/roofline.py [--configs seed] [--threads 2] [--seconds 4] [--repeats 3] [--no-append]

A speed target is only meaningful if the machine can reach it. Per configuration and precision
(bf16 only on CPUs with native bf16):

* FLOPs of one pass over ``--seconds`` of audio (the Enhancer's chunk length by default):
  torch's FlopCounterMode for the matrix products and convolutions, plus the LSTMs, which it does
  not see (oneDNN's RNN operator), counted per call from their shapes. Elementwise work (gates,
  norms, activations) is left out, so the count is a lower bound.
* The ceiling of one core: the best of at least 5 2048 x 2048 matrix products through torch
  (MKL/oneDNN) on 1 thread, in GFLOP/s; for information, the same on ``--threads`` threads (on
  a VM it swings with the clock and with the other core's load).
* The lower bound on the RTF on ``--threads`` cores: FLOPs per audio second / (cores x one core's
  ceiling), the most these cores could give if they scaled perfectly. No implementation doing
  these multiply-adds in this precision on these cores can be faster; chunk overlap, elementwise
  work and memory traffic only add to it. "Needs" is that bound over the target RTF given: the
  share of the cores' ceiling the whole model would have to sustain to meet it.
* One measured pass on 1 thread (best of ``--repeats``): its GFLOP/s as a share of the 1-thread
  ceiling, the LSTMs (timed by forward hooks) and everything else apart.
"""

from __future__ import annotations

import argparse
import time
from contextlib import nullcontext

import torch
from _common import SAMPLE_RATE, build_models, fmt, markdown_table, publish, set_threads
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from tfgridnet.hardware import cpu_has_bf16
from tfgridnet.inference.chunking import DEFAULT_CHUNK_SECONDS

GEMM_SIZE = 2048
CEILING_REPEATS = 5
PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16}


def lstm_flops(lstm: nn.LSTM, x: torch.Tensor) -> int:
    """FLOPs (2 per multiply-add) of one ``nn.LSTM`` call on ``x``: per step, direction and
    sequence, the four gates' input and recurrent products, 2 x 4H x (inputs + H)."""
    if lstm.proj_size:
        raise SystemExit("LSTMs with proj_size are not counted here")
    if x.dim() == 2:
        steps, batch = x.shape[0], 1
    else:
        steps, batch = (x.shape[1], x.shape[0]) if lstm.batch_first else x.shape[:2]
    directions = 2 if lstm.bidirectional else 1
    hidden, inputs, total = lstm.hidden_size, lstm.input_size, 0
    for _ in range(lstm.num_layers):
        total += directions * 2 * 4 * hidden * (inputs + hidden) * steps * batch
        inputs = directions * hidden
    return total


def check_lstm_count() -> None:
    """:func:`lstm_flops` against FlopCounterMode on the same products written out (2 layers,
    both directions; the gates' sums and nonlinearities are not products)."""
    lstm, x = nn.LSTM(3, 5, num_layers=2, bidirectional=True), torch.randn(7, 2, 3)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        inputs = x
        for layer in range(lstm.num_layers):
            for suffix in ("", "_reverse"):
                w_ih, w_hh = (getattr(lstm, f"weight_{kind}_l{layer}{suffix}") for kind in ("ih", "hh"))
                h = torch.zeros(x.shape[1], lstm.hidden_size)
                for step in inputs:
                    step @ w_ih.T + h @ w_hh.T
            inputs = torch.zeros(x.shape[0], x.shape[1], 2 * lstm.hidden_size)
    if counter.get_total_flops() != lstm_flops(lstm, x):
        raise SystemExit(f"lstm_flops gives {lstm_flops(lstm, x)}, the written-out products "
                         f"{counter.get_total_flops()}")


def count_flops(model: nn.Module, audio: torch.Tensor) -> tuple[int, int, dict[str, int]]:
    """(LSTM FLOPs, other FLOPs, other FLOPs by operator) of one forward pass."""
    lstm_total = 0

    def count(module: nn.LSTM, args: tuple, _output: object) -> None:
        nonlocal lstm_total
        lstm_total += lstm_flops(module, args[0])

    handles = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, nn.LSTM)]
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(audio)
    finally:
        for handle in handles:
            handle.remove()
    by_operator = {str(op): n for op, n in counter.get_flop_counts()["Global"].items()}
    if any("rnn" in op or "lstm" in op for op in by_operator):  # would count the LSTMs twice
        raise SystemExit(f"FlopCounterMode now counts an RNN operator itself: {by_operator}")
    return lstm_total, counter.get_total_flops(), by_operator


def gemm_ceiling(threads: int, dtype: torch.dtype, repeats: int) -> float:
    """Best GFLOP/s of a square matrix product on ``threads`` threads."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        a, b = (torch.randn(GEMM_SIZE, GEMM_SIZE).to(dtype) for _ in range(2))
        a @ b
        best = min(_seconds(lambda: a @ b) for _ in range(max(repeats, CEILING_REPEATS)))
    finally:
        torch.set_num_threads(previous)
    return 2 * GEMM_SIZE**3 / best / 1e9


def timed_pass(model: nn.Module, audio: torch.Tensor, dtype: torch.dtype, repeats: int
               ) -> tuple[float, float]:
    """(best seconds of one pass on 1 thread, seconds of it spent in LSTM calls)."""
    started: dict[nn.Module, float] = {}
    lstm_seconds = 0.0

    def start(module: nn.Module, _args: tuple) -> None:
        started[module] = time.perf_counter()

    def stop(module: nn.Module, _args: tuple, _output: object) -> None:
        nonlocal lstm_seconds
        lstm_seconds += time.perf_counter() - started.pop(module)

    lstms = [m for m in model.modules() if isinstance(m, nn.LSTM)]
    handles = [m.register_forward_pre_hook(start) for m in lstms]
    handles += [m.register_forward_hook(stop) for m in lstms]
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    autocast = (torch.autocast("cpu", dtype=dtype) if dtype != torch.float32 else nullcontext())
    try:
        with torch.no_grad(), autocast:
            model(audio)  # warm-up: first-call allocations, oneDNN primitive creation
            best = (float("inf"), 0.0)
            for _ in range(repeats):
                lstm_seconds = 0.0
                seconds = _seconds(lambda: model(audio))
                best = min(best, (seconds, lstm_seconds))
    finally:
        torch.set_num_threads(previous)
        for handle in handles:
            handle.remove()
    return best


def _seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", default="seed")
    parser.add_argument("--threads", type=int, default=2, help="cores the lower bound is for")
    parser.add_argument("--seconds", type=float, default=DEFAULT_CHUNK_SECONDS,
                        help="audio in one pass (default: the Enhancer's chunk)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--target", type=float, default=0.6, help="RTF to compare the bound with")
    parser.add_argument("--no-append", action="store_true", help="do not write RESULTS.md")
    args = parser.parse_args()
    threads = set_threads(args.threads)
    check_lstm_count()
    precisions = ("fp32", "bf16") if cpu_has_bf16() else ("fp32",)
    ceilings = {name: (gemm_ceiling(1, dtype, args.repeats),
                       gemm_ceiling(threads, dtype, args.repeats))
                for name, dtype in PRECISIONS.items() if name in precisions}
    notes = [f"ceiling: best of {max(args.repeats, CEILING_REPEATS)} {GEMM_SIZE}x{GEMM_SIZE} "
             f"matrix products; one pass = {args.seconds:g} s of audio, best of {args.repeats} on "
             f"1 thread; lower bound = GFLOP per audio second / ({threads} x the 1-thread "
             "ceiling): no overlap, no elementwise work, no memory traffic, perfect scaling; "
             f"needs = lower bound / target RTF {args.target:g}"]
    if len(precisions) == 1:
        notes.append("no bf16 rows: this CPU has no native bf16")
    rows = []
    audio = 0.1 * torch.randn(1, int(args.seconds * SAMPLE_RATE),
                              generator=torch.Generator().manual_seed(1))
    for config in args.configs.split(","):
        model, _ = build_models(config.strip())
        model.eval()
        lstm, other, by_operator = count_flops(model, audio)
        notes.append(f"{config}: GFLOP of one pass outside the LSTMs by operator: "
                     + ", ".join(f"{op} {n / 1e9:.1f}" for op, n in by_operator.items()))
        per_second = (lstm + other) / args.seconds / 1e9
        for precision in precisions:
            one, many = ceilings[precision]
            bound = per_second / (threads * one)
            seconds, lstm_seconds = timed_pass(model, audio, PRECISIONS[precision], args.repeats)
            rows.append([
                config, precision, f"{per_second:.1f} ({lstm / (lstm + other):.0%} LSTM)",
                f"{one:.0f} / {many:.0f}", f"**{fmt(bound)}**", f"{bound / args.target:.0%}",
                f"{seconds:.2f}",
                f"{(lstm + other) / seconds / 1e9:.1f} ({(lstm + other) / seconds / 1e9 / one:.0%})",
                f"{lstm / lstm_seconds / 1e9 / one:.0%}",
                f"{other / (seconds - lstm_seconds) / 1e9 / one:.0%}",
            ])
    table = markdown_table(
        ["config", "precision", "GFLOP per audio s", f"ceiling GFLOP/s, 1 / {threads} threads",
         f"lower-bound RTF, {threads} cores", f"needs (of ceiling) for RTF {args.target:g}",
         "one pass s (1 thread)",
         "its GFLOP/s (of ceiling)", "LSTMs, of ceiling", "the rest, of ceiling"], rows)
    publish("roofline (CPU ceiling and the RTF it allows)", table, notes, append=not args.no_append)


if __name__ == "__main__":
    main()
