"""Real-time factor of chunked enhancement of a 60 s recording on the CPU: both backends, both
precisions, ESPnet in the same run.

    python bench/inference.py [--configs demo,seed] [--seconds 60] [--repeats 1] [--threads 2]
                              [--chunking 4:0.25] [--workers 2] [--int8] [--torch-only] [--compile]
                              [--model RUN_OR_EXPORT_DIR] [--audio FILE]

``--configs`` builds each architecture with non-trivial random weights; ``--model`` benches a
trained model instead (its weights; no ESPnet row), and ``--audio`` enhances that recording
(mixed to mono, resampled to 16 kHz, repeated to ``--seconds``) instead of a tone in white noise:
with both, the bf16 rows' agreement is the figure ``--precision auto`` is held to (at least 30 dB
SI-SNR against fp32; the notes say whether it is met). On a CPU with AVX512-BF16 or AMX:

    python bench/inference.py --model demo_out/run --audio NOISY.wav --seconds 60 --repeats 3

Every contender runs through tfgridnet.enhance.Enhancer (one chunk per pass on the CPU, ``--workers``
passes side by side, each on threads / workers intra-op threads; a list repeats the rows for each):

* ours torch fp32 / bf16 (autocast; what ``--precision auto`` picks on CPUs with AMX/AVX512-BF16;
  on other CPUs bf16 is emulated, slower than fp32 and never chosen, so its rows are left out);
  with ``--compile`` also both through ``Enhancer(compile=True)`` (the compilation is done in the
  warm-up and its time is printed in the notes);
* ESPnet's class with the same weights, fp32 (when installed: ``make bench-deps``);
* ours onnx: the exported model.onnx in onnxruntime (all graph optimisations), once with the
  matrix-basis STFT (the default) and once with the ONNX STFT operator; with ``--int8`` also the
  matrix export after onnxruntime's pre-processing (constant folding) and dynamic int8
  quantisation (the notes list which products became integer ones).

With ``--repeats N`` the contenders run in N rounds, each contender once per round, and each row
is its median: drift in the machine's speed then moves every row alike. RTF = wall-clock seconds /
audio seconds. Agreement = SI-SNR (dB) of each output against ours
torch fp32 (same chunking). ``--chunking`` lists chunk:overlap seconds pairs; the torch fp32 and
bf16 rows are repeated for each (the other rows use the first pair). "time / torch fp32" and the
agreement compare with ours torch fp32 at the same chunking and workers. The ONNX export parity
(max abs error over the peak, one 4 s pass) is printed in the notes.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch
from _common import (
    REFERENCE_MISSING,
    SAMPLE_RATE,
    build_models,
    fmt,
    markdown_table,
    publish,
    set_threads,
)

from tfgridnet.hardware import cpu_has_bf16
from tfgridnet.inference.chunking import DEFAULT_CHUNK_SECONDS, DEFAULT_OVERLAP_SECONDS
from tfgridnet.inference.enhancer import Enhancer
from tfgridnet.inference.onnx_backend import OnnxModel
from tfgridnet.inference.parallel import AUTO_CPU_WORKERS
from tfgridnet.inference.precision import BF16_AGREEMENT_DB
from tfgridnet.metrics import si_snr
from tfgridnet.model.onnx_export import export_onnx


def trained_model(path: str) -> tuple[torch.nn.Module, None]:
    """A trained model at the bench's rate (no ESPnet twin: its weights are not ours to copy)."""
    from tfgridnet.model.io import load_model

    model = load_model(path).eval()
    rate = getattr(model, "sample_rate", SAMPLE_RATE)
    if rate != SAMPLE_RATE:
        raise SystemExit(f"{path}: a {rate} Hz model; this bench runs at {SAMPLE_RATE} Hz")
    return model, None


def warmed_enhancer(model, audio: np.ndarray, chunking: tuple[float, float],
                    **kwargs) -> tuple[Enhancer, float]:
    """An Enhancer after its warm-up (first-call allocations; with compile=True the compilation:
    two full-length chunks), and the warm-up's wall time."""
    enhancer = Enhancer(model, sample_rate=SAMPLE_RATE, device="cpu", chunk_seconds=chunking[0],
                        overlap_seconds=chunking[1], **kwargs)
    start = time.perf_counter()
    enhancer.enhance(audio[:int((chunking[0] + 1) * SAMPLE_RATE)], SAMPLE_RATE)
    return enhancer, time.perf_counter() - start


def onnx_contenders(ours: torch.nn.Module, folder: Path, threads: int, int8: bool
                    ) -> tuple[dict[str, OnnxModel], list[str]]:
    """Export both STFT variants (and int8 when asked); notes give export time and parity."""
    models, notes = {}, []
    probe = torch.randn(1, 4 * SAMPLE_RATE + 123)
    with torch.no_grad():
        want = ours(probe).numpy()
    for stft in ("matrix", "op"):
        start = time.perf_counter()
        path = export_onnx(ours, folder / f"{stft}.onnx", SAMPLE_RATE, stft=stft)
        models[f"ours onnx fp32 ({stft} STFT)"] = OnnxModel(path, threads=threads)
        err = np.abs(models[f"ours onnx fp32 ({stft} STFT)"](probe.numpy()) - want).max()
        notes.append(f"onnx export ({stft} STFT): {time.perf_counter() - start:.0f} s, "
                     f"max abs error / peak vs torch on one 4 s pass: {err / np.abs(want).max():.1e}")
    if int8:
        from onnxruntime.quantization import QuantType, quantize_dynamic
        from onnxruntime.quantization.shape_inference import quant_pre_process

        # The quantiser only touches products whose weights are initializers; the exporter feeds
        # them through Transpose/Concat nodes, which onnxruntime's pre-processing folds first.
        # (Symbolic shape inference fails on the exporter's list-valued Constants: skipped.)
        quant_pre_process(folder / "matrix.onnx", folder / "folded.onnx", skip_symbolic_shape=True)
        quantize_dynamic(folder / "folded.onnx", folder / "int8.onnx", weight_type=QuantType.QInt8)
        models["ours onnx int8 dynamic"] = OnnxModel(folder / "int8.onnx", threads=threads)
        notes.append(f"int8 graph: {quantised_operators(folder / 'int8.onnx')}")
    return models, notes


# onnxruntime's integer operators, and the float ones they replace.
INTEGER_OPERATORS = ("MatMulInteger", "DynamicQuantizeMatMul", "ConvInteger", "DynamicQuantizeLSTM")
FLOAT_PRODUCTS = ("MatMul", "Gemm", "Conv", "ConvTranspose", "LSTM")


def quantised_operators(path: Path) -> str:
    """What quantisation changed: integer products against the float products still left."""
    import onnx

    counts = Counter(node.op_type for node in onnx.load(path).graph.node)
    return ", ".join(f"{op} {counts[op]}" for op in (*INTEGER_OPERATORS, *FLOAT_PRODUCTS)
                     if counts[op]) or "no products"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", default="demo,seed")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the recording")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2, help="torch and onnxruntime threads")
    parser.add_argument("--chunking", default=f"{DEFAULT_CHUNK_SECONDS:g}:{DEFAULT_OVERLAP_SECONDS:g}",
                        help="chunk:overlap seconds, comma-separated (default: the Enhancer's)")
    parser.add_argument("--workers", default=str(AUTO_CPU_WORKERS),
                        help="passes side by side, comma-separated (default: the Enhancer's on "
                             "2+ threads)")
    parser.add_argument("--int8", action="store_true", help="also onnxruntime int8 dynamic quant")
    parser.add_argument("--torch-only", action="store_true",
                        help="only ours torch fp32/bf16 (no ONNX export, no ESPnet)")
    parser.add_argument("--compile", action="store_true",
                        help="also ours torch fp32/bf16 with Enhancer(compile=True)")
    parser.add_argument("--model", default=None,
                        help="a trained model (run dir, export dir or checkpoint) instead of "
                             "--configs")
    parser.add_argument("--audio", default=None, help="a recording to enhance instead of a tone")
    parser.add_argument("--no-append", action="store_true", help="do not write RESULTS.md")
    args = parser.parse_args()
    threads = set_threads(args.threads)
    chunkings = [tuple(float(v) for v in pair.split(":")) for pair in args.chunking.split(",")]
    worker_counts = [int(v) for v in args.workers.split(",")]

    n = int(args.seconds * SAMPLE_RATE)
    if args.audio:
        from tfgridnet.audio.io import load_audio

        recording = load_audio(args.audio, SAMPLE_RATE)[0]
        audio = np.resize(recording, n).astype(np.float32)  # repeated to the length asked
    else:
        rng = np.random.default_rng(0)
        t = np.arange(n) / SAMPLE_RATE
        audio = (0.2 * np.sin(2 * np.pi * 220 * t)
                 + 0.05 * rng.standard_normal(n)).astype(np.float32)

    rows, notes = [], [f"{threads} torch / onnxruntime threads; median of {args.repeats} "
                       "interleaved round(s)"]
    precisions = ("fp32", "bf16") if cpu_has_bf16() else ("fp32",)
    if len(precisions) == 1:
        notes.append("no torch bf16 rows: this CPU has no native bf16 (--precision auto runs fp32)")
    notes.append(f"input: {args.audio or 'a 220 Hz tone in white noise'}, {args.seconds:g} s")
    for config in [args.model] if args.model else args.configs.split(","):
        ours, ref = trained_model(config) if args.model else build_models(config.strip())
        with tempfile.TemporaryDirectory() as folder:
            onnx_models, export_notes = ({}, []) if args.torch_only else onnx_contenders(
                ours, Path(folder), threads, args.int8)
            notes += [f"{config}: {note}" for note in export_notes]
            contenders = []  # (name, model, chunking, workers, Enhancer kwargs)
            for workers in worker_counts:
                for chunking in chunkings:
                    contenders += [(f"ours torch {precision}", ours, chunking, workers,
                                    dict(precision=precision)) for precision in precisions]
                    if args.compile and workers == 1:  # compile runs one pass at a time
                        contenders += [(f"ours torch {precision} compiled", ours, chunking,
                                        workers, dict(precision=precision, compile=True))
                                       for precision in precisions]
                if not args.torch_only:
                    contenders.append(("ESPnet fp32", ref, chunkings[0], workers,
                                       dict(precision="fp32")))
                contenders += [(name, model, chunkings[0], workers, dict(backend="onnx"))
                               for name, model in onnx_models.items()]
            # Every contender once per round, rounds in turn: a machine whose speed drifts
            # (a shared VM: +-10-25 % within minutes) then shifts all rows alike, and the
            # ratios between them hold.
            prepared = []
            for name, model, chunking, workers, kwargs in contenders:
                if model is None:
                    prepared.append(None)
                    continue
                enhancer, warmup = warmed_enhancer(model, audio, chunking, workers=workers,
                                                   **kwargs)
                prepared.append(enhancer)
                if kwargs.get("compile"):
                    notes.append(f"{config}: {name} {chunking[0]:g}/{chunking[1]:g}: warm-up "
                                 f"incl. compilation {warmup:.0f} s")
            times = [[] for _ in contenders]
            outs = [None for _ in contenders]
            for _ in range(args.repeats):
                for i, enhancer in enumerate(prepared):
                    if enhancer is None:
                        continue
                    start = time.perf_counter()
                    outs[i] = enhancer.enhance(audio, SAMPLE_RATE)
                    times[i].append(time.perf_counter() - start)
            fp32 = {(chunking, workers): (statistics.median(times[i]), outs[i])
                    for i, (name, _, chunking, workers, _) in enumerate(contenders)
                    if name == "ours torch fp32"}
            for i, (name, model, chunking, workers, _) in enumerate(contenders):
                label = f"{chunking[0]:g}/{chunking[1]:g}"
                if model is None:
                    rows.append([config, name, label, str(workers), "—", "—", "—",
                                 REFERENCE_MISSING])
                    continue
                wall, out = statistics.median(times[i]), outs[i]
                base_wall, base_out = fp32[(chunking, workers)]
                agreement = "" if name == "ours torch fp32" else (
                    f"{si_snr(out, base_out).item():.1f} dB")
                rows.append([config, name, label, str(workers), fmt(wall, 1),
                             fmt(wall / args.seconds, 3), fmt(wall / base_wall, 2), agreement])
                if name == "ours torch bf16":
                    value = si_snr(out, base_out).item()
                    notes.append(f"{config} {label} x{workers}: bf16 agrees with fp32 to "
                                 f"{value:.1f} dB SI-SNR, {wall / base_wall:.2f}x its time: the "
                                 f"{BF16_AGREEMENT_DB:g} dB condition of --precision auto is "
                                 f"{'met' if value >= BF16_AGREEMENT_DB else 'NOT met'}")
                print(" | ".join(rows[-1]), flush=True)
    table = markdown_table(["config", "model", "chunk/overlap s", "workers", f"wall s ({args.seconds:.0f} s)",
                            "RTF", "time / torch fp32", "agreement vs torch fp32"], rows)
    publish("inference (CPU, Enhancer, both backends and precisions)", table, notes, append=not args.no_append)


if __name__ == "__main__":
    main()
