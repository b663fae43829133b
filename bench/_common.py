"""Shared pieces of the benchmarks: configurations, the ESPnet reference, timing, RESULTS.md rows.

Benchmarks are run as scripts (``python bench/model.py``), never by the test suite. Timings on a
shared machine are noisy, so every comparison interleaves the contenders inside one process and
reports medians and ratios measured in that same run.
"""

from __future__ import annotations

import datetime as _dt
import os
import resource
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import torch

from tfgridnet.fileio import write_text_atomic
from tfgridnet.hardware import REPORTED_CPU_FLAGS, cpu_flags, cpu_model

BENCH_DIR = Path(__file__).resolve().parent
RESULTS = BENCH_DIR / "RESULTS.md"
SAMPLE_RATE = 16000

# Model configurations named in bench/README.md (n_srcs=1, 16 kHz enhancement).
CONFIGS: dict[str, dict] = {
    "demo": dict(n_fft=512, stride=256, emb_dim=16, lstm_hidden_units=32, n_layers=1,
                 attn_n_head=4, emb_ks=4, emb_hs=4),
    "small": dict(n_fft=256, stride=128, emb_dim=32, lstm_hidden_units=64, n_layers=2,
                  attn_n_head=4, emb_ks=1, emb_hs=1),
    "seed": dict(n_fft=512, stride=256, emb_dim=128, lstm_hidden_units=128, n_layers=4,
                 attn_n_head=4, emb_ks=1, emb_hs=1),
}

REFERENCE_MISSING = ("ESPnet reference not installed (optional bench extra): run `make bench-deps`; "
                     "reference columns are left empty")


def model_kwargs(name: str) -> dict:
    if name not in CONFIGS:
        raise SystemExit(f"unknown configuration {name!r}; expected one of {sorted(CONFIGS)}")
    return {"n_srcs": 1, **CONFIGS[name]}


def set_threads(threads: int) -> int:
    """0 keeps torch's default (one per core). Returns the count in use."""
    if threads > 0:
        torch.set_num_threads(threads)
    return torch.get_num_threads()


def reference_class():
    """ESPnet's TFGridNetV2 class, or None when the optional bench extra is absent."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from espnet2.enh.separator.tfgridnetv2_separator import TFGridNetV2
    except Exception:  # noqa: BLE001 - any import failure means "not usable here"
        return None
    return TFGridNetV2


class ReferenceWrapper(torch.nn.Module):
    """ESPnet's separator behind our call signature: ``model(noisy [B, N]) -> [B, N]``."""

    def __init__(self, separator: torch.nn.Module, checkpoint_blocks: bool = False) -> None:
        super().__init__()
        self.separator = separator
        if checkpoint_blocks:  # the class has no option; block-level checkpointing as users do it
            from torch.utils.checkpoint import checkpoint

            for block in separator.blocks:
                plain = block.forward
                block.forward = lambda x, plain=plain: (
                    checkpoint(plain, x, use_reentrant=False) if torch.is_grad_enabled()
                    else plain(x))

    def forward(self, noisy: torch.Tensor) -> torch.Tensor:
        lengths = torch.full((noisy.shape[0],), noisy.shape[1], dtype=torch.long)
        return self.separator(noisy, lengths)[0][0]


def build_models(name: str, seed: int = 0, checkpointing: bool = False
                 ) -> tuple[torch.nn.Module, torch.nn.Module | None]:
    """Ours and the reference with the same, non-trivial weights (every parameter perturbed)."""
    from tfgridnet.model.tfgridnetv2 import TFGridNetV2

    kwargs = model_kwargs(name)
    torch.manual_seed(seed)
    ours = TFGridNetV2(**kwargs, gradient_checkpointing=checkpointing)
    with torch.no_grad():
        for param in ours.parameters():
            param.add_(torch.randn_like(param) * 0.05)
    reference_cls = reference_class()
    if reference_cls is None:
        return ours, None
    separator = reference_cls(None, **kwargs)
    separator.load_state_dict(ours.state_dict(), strict=True)
    return ours, ReferenceWrapper(separator, checkpoint_blocks=checkpointing)


def test_signal(batch: int, seconds: float, seed: int = 1) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return 0.1 * torch.randn(batch, int(seconds * SAMPLE_RATE), generator=generator)


def interleaved_medians(contenders: dict[str, Callable[[], object]], repeats: int,
                        warmup: int = 1) -> dict[str, float]:
    """Median seconds per contender; rounds alternate between contenders so noise hits all alike."""
    for _ in range(warmup):
        for fn in contenders.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, fn in contenders.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def _proc_status_mb(field: str) -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def reset_peak_rss() -> float:
    """Restart the RSS high-water mark at the current RSS (Linux >= 4.0); returns that RSS in MB.

    So a child's peak measures its benchmark step, not a transient spike of its imports.
    """
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass
    current = _proc_status_mb("VmRSS")
    return current if current is not None else peak_rss_mb()


def peak_rss_mb() -> float:
    """Resident-set high-water mark of this process in MB (VmHWM, else getrusage's ru_maxrss)."""
    hwm = _proc_status_mb("VmHWM")
    return hwm if hwm is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine() -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    flags = sorted(cpu_flags() & {*REPORTED_CPU_FLAGS, "amx_tile"})
    return (f"{cpu_model()} (flags: {' '.join(flags) or 'none of avx2/avx512/amx'}), "
            f"{os.cpu_count()} cores, torch {torch.__version__}, "
            f"{torch.get_num_threads()} threads, load avg {load:.1f}")


def command_line() -> str:
    return " ".join(["python", *[a if " " not in a else repr(a) for a in sys.argv]])


def fmt(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def publish(benchmark: str, table: str, notes: list[str], append: bool) -> None:
    """Print the table and its notes; with ``append``, also add them to RESULTS.md."""
    print(table)
    print("\n".join(notes))
    if append:
        append_results(benchmark, table, notes)


def append_results(benchmark: str, table: str, notes: list[str] | None = None) -> None:
    """Append one dated block (machine, command, table) to RESULTS.md; earlier blocks are kept."""
    stamp = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    block = [f"\n### {benchmark} — {stamp}", "", f"- machine: {machine()}",
             f"- command: `{command_line()}`", *[f"- {note}" for note in notes or []], "", table, ""]
    previous = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    write_text_atomic(RESULTS, previous.rstrip("\n") + "\n" + "\n".join(block))
    print(f"appended to {RESULTS}")
