"""GPU benchmarks of the seed configuration: training steps vs ESPnet's class, gradient range under
bf16, evaluation throughput and enhancement RTF. Run by hand (bench/gpu_check.sh runs them all).

    python bench/gpu.py steps [--batch 32] [--seconds 4] [--repeats 5] [--compile bf16]
    python bench/gpu.py grads [--batch 8]
    python bench/gpu.py inference [--utterances 64] [--file-seconds 60]
    python bench/gpu.py profile [--checkpointing]                 (top operators of a bf16 step)
    python bench/gpu.py corpus DIR [--train 256] [--valid 16]   (synthetic pairs + manifests)
    python bench/gpu.py train-report RUN_DIR                      (loss trend, peak memory)

``steps``: the median time of a full training step (forward, -SI-SNR, backward, Adam) after
warm-up and the peak allocated GPU memory, ours and the ESPnet reference in the same process with
the same weights, fp32 and bf16 autocast, gradient checkpointing off/on (ESPnet: per block), and
ours with ``torch.compile`` of the attention path (the non-recurrent part; the LSTMs stay eager).
Every command prints "no CUDA device" and exits 0 without a GPU (``corpus``/``train-report`` run
anywhere). Rows go to RESULTS.md unless ``--no-append``.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from _common import (
    REFERENCE_MISSING,
    SAMPLE_RATE,
    append_results,
    build_models,
    fmt,
    markdown_table,
    model_kwargs,
    ratio,
    test_signal,
)

from tfgridnet.metrics import si_snr
from tfgridnet.model import recurrence

FP16_MIN_NORMAL = float(torch.finfo(torch.float16).tiny)  # 6.1e-5: below it fp16 loses bits


def _need_cuda(device: str) -> torch.device:
    """The device to run on; exits 0 when CUDA is asked for and absent."""
    if device == "cuda" and not torch.cuda.is_available():
        print("no CUDA device: GPU benchmark skipped")
        sys.exit(0)
    return torch.device(device)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _device_name(device: torch.device) -> str:
    return torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU dry run"


@contextlib.contextmanager
def autocast_fp16_lstms():
    """The behaviour before model/recurrence.py: CUDA autocast picks fp16 for the LSTMs."""
    saved = recurrence.lstm_compute_dtype
    recurrence.lstm_compute_dtype = lambda *args: None
    try:
        yield
    finally:
        recurrence.lstm_compute_dtype = saved


def compile_attention(model: torch.nn.Module) -> None:
    """torch.compile the attention path of every block (ours only); the BLSTMs stay eager."""
    for block in model.blocks:
        block._attention = torch.compile(block._attention, dynamic=False)


def step_stats(model: torch.nn.Module, noisy: torch.Tensor, clean: torch.Tensor,
               precision: str, repeats: int, warmup: int = 2) -> tuple[float, float]:
    """Median step seconds and peak allocated MB of fwd + loss + bwd + Adam."""
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-4)
    model.train()
    device = noisy.device

    def step() -> None:
        optimiser.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
            est = model(noisy)
        (-si_snr(est.float(), clean).mean()).backward()
        optimiser.step()

    for _ in range(warmup):  # cuDNN algorithm choice, compilation
        step()
    _sync(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        _sync(device)
        times.append(time.perf_counter() - start)
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None
    return statistics.median(times), peak


def cmd_steps(args: argparse.Namespace) -> None:
    device = _need_cuda(args.device)
    noisy = test_signal(args.batch, args.seconds).to(device)
    clean = test_signal(args.batch, args.seconds, seed=2).to(device)
    ours, ref = build_models(args.config)
    diff = None
    if ref is not None:  # function check in fp32 with TF32 off, before any timing
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
        with torch.no_grad():
            probe = noisy[:2]
            diff = (ours.to(device).eval()(probe) - ref.to(device).eval()(probe)).abs().max().item()
        torch.backends.cudnn.allow_tf32 = True  # PyTorch's default again (matmul TF32 stays off)
    print(f"[{args.config}] fp32 max abs diff ours vs ESPnet: {diff}", flush=True)
    del ours, ref
    compiled_precisions = set(filter(None, args.compile.split(",")))
    rows, results = [], {}
    for checkpointing in (False, True):
        for precision in ("fp32", "bf16"):
            variants = [("ESPnet", False), ("ours", False)]
            if precision in compiled_precisions:
                variants.append(("ours", True))
            if precision == "bf16":
                variants.append(("ours, autocast-fp16 LSTMs", False))
            for name, compiled in variants:
                ours, ref = build_models(args.config, checkpointing=checkpointing)
                model = ref if name == "ESPnet" else ours
                key = (name, precision, checkpointing, compiled)
                if model is None:
                    rows.append([name, precision, str(checkpointing), str(compiled), "—", "—", "—",
                                 REFERENCE_MISSING])
                    continue
                model.to(device)
                note = ""
                started = time.perf_counter()
                try:
                    if compiled:
                        compile_attention(model)
                    policy = (autocast_fp16_lstms() if name.startswith("ours, autocast")
                              else contextlib.nullcontext())
                    with policy:
                        seconds, peak = step_stats(model, noisy, clean, precision, args.repeats)
                    if compiled:
                        note = f"incl. compile: {time.perf_counter() - started:.0f} s"
                except Exception as error:  # noqa: BLE001 - report and go on with the other rows
                    seconds, peak, note = None, None, f"failed: {type(error).__name__}: {error}"
                    note = note.replace("\n", " ")[:160]
                results[key] = (seconds, peak)
                base_s, base_mb = results.get(("ESPnet", precision, checkpointing, False),
                                              (None, None))
                speed = ratio(base_s, seconds) if name != "ESPnet" else None
                memory = ratio(peak, base_mb) if name != "ESPnet" else None
                memory_text = "—" if memory is None else f"{memory:.2f}x"
                rows.append([name, precision, str(checkpointing), str(compiled),
                             fmt(None if seconds is None else 1000 * seconds, 0), fmt(peak, 0),
                             "" if speed is None else f"{speed:.2f}x / {memory_text}", note])
                print(" | ".join(rows[-1]), flush=True)
                del model, ours, ref
                if device.type == "cuda":
                    torch.cuda.empty_cache()
    if diff is not None:
        rows.append(["fp32 max abs diff ours vs ESPnet (TF32 off)", "", "", "", "", "", "",
                     f"{diff:.1e}"])
    table = markdown_table(
        ["model", "precision", "checkpointing", "compile (attention)",
         f"step ms (batch {args.batch} x {args.seconds:g} s)", "peak MB",
         "ESPnet/ours time / ours/ESPnet memory (same precision, ckpt)", "note"], rows)
    print(table)
    if not args.no_append:
        append_results(f"gpu steps, {args.config} ({_device_name(device)})", table, [
            "median of the timed steps after 2 warm-up steps; peak = max_memory_allocated",
            "ESPnet checkpointing: each block under torch.utils.checkpoint (its class has no "
            "option); ours: each block path, half a batch at a time",
            "bf16 rows: ESPnet's LSTMs run in fp16 (CUDA autocast's choice); ours in bf16 "
            "(model/recurrence.py), or in fp16 in the 'autocast-fp16 LSTMs' row"])


def cmd_profile(args: argparse.Namespace) -> None:
    """Where one bf16 training step of ours spends its GPU time: the top operators."""
    device = _need_cuda(args.device)
    from torch.profiler import ProfilerActivity, profile

    model, _ = build_models(args.config, checkpointing=args.checkpointing)
    model.to(device)
    noisy = test_signal(args.batch, args.seconds).to(device)
    clean = test_signal(args.batch, args.seconds, seed=2).to(device)
    step_stats(model, noisy, clean, "bf16", repeats=1)  # warm-up
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=activities) as prof:
        step_stats(model, noisy, clean, "bf16", repeats=1, warmup=0)
    averages = prof.key_averages()
    sort = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
    try:
        print(averages.table(sort_by=sort, row_limit=args.rows, max_name_column_width=50))
    except (AttributeError, KeyError):  # newer PyTorch names it "device" time
        print(averages.table(sort_by=sort.replace("cuda", "device"), row_limit=args.rows,
                             max_name_column_width=50))


def _flat_grads(model: torch.nn.Module, names: list[str]) -> torch.Tensor:
    params = dict(model.named_parameters())
    return torch.cat([params[n].grad.detach().double().flatten() for n in names])


def cmd_grads(args: argparse.Namespace) -> None:
    """Gradient range and error under bf16 autocast: fp16 LSTMs (autocast) vs bf16 LSTMs (ours)."""
    device = _need_cuda(args.device)
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    model, _ = build_models(args.config, checkpointing=False)
    model.to(device).train()
    noisy = test_signal(args.batch, args.seconds).to(device)
    clean = test_signal(args.batch, args.seconds, seed=2).to(device)
    lstm_names = [n for n, _ in model.named_parameters() if "_rnn." in n]
    all_names = [n for n, _ in model.named_parameters()]
    lstm_out_grads: list[torch.Tensor] = []

    def keep_output_grad(_module, _inputs, output) -> None:
        output[0].register_hook(lambda grad: lstm_out_grads.append(grad.detach().abs().flatten()))

    hooks = [m.register_forward_hook(keep_output_grad) for m in model.modules()
             if isinstance(m, torch.nn.LSTM)]

    def run(autocast: bool) -> None:
        model.zero_grad(set_to_none=True)
        lstm_out_grads.clear()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
            est = model(noisy)
        (-si_snr(est.float(), clean).mean()).backward()

    run(False)
    ref_all, ref_lstm = _flat_grads(model, all_names), _flat_grads(model, lstm_names)
    act = torch.cat(lstm_out_grads).float()
    act_nonzero = act[act > 0]
    rows = [["fp32 reference: abs(dL/d LSTM output)",
             f"median {act_nonzero.median().item():.2e}",
             f"{(act_nonzero < FP16_MIN_NORMAL).float().mean().item():.1%} below fp16's smallest "
             f"normal ({FP16_MIN_NORMAL:.1e})",
             f"{(act_nonzero < 6e-8).float().mean().item():.1%} below its smallest subnormal"]]
    for label, policy in (("bf16 autocast, LSTMs fp16 (autocast's choice)", autocast_fp16_lstms()),
                          ("bf16 autocast, LSTMs bf16 (ours)", contextlib.nullcontext())):
        with policy:
            run(True)
        lstm = _flat_grads(model, lstm_names)
        every = _flat_grads(model, all_names)
        rel = lambda a, b: float((a - b).norm() / b.norm())  # noqa: E731
        zeroed = ((lstm == 0) & (ref_lstm != 0)).double().mean().item()
        rows.append([label, f"LSTM grads rel. err {rel(lstm, ref_lstm):.2e}",
                     f"all grads rel. err {rel(every, ref_all):.2e}",
                     f"LSTM grads zeroed: {zeroed:.2%}; finite: "
                     f"{bool(torch.isfinite(every).all())}"])
        print(" | ".join(rows[-1]), flush=True)
    for hook in hooks:
        hook.remove()
    table = markdown_table(["case", "", "", ""], rows)
    print(table)
    if not args.no_append:
        append_results(f"gpu gradient range under bf16, {args.config} "
                       f"({_device_name(device)})", table,
                       [f"batch {args.batch} x {args.seconds:g} s, -SI-SNR loss, TF32 off, "
                        "errors against the fp32 gradients of the same weights and batch"])


def _write_pairs(root: Path, n: int, seconds: float, seed: int) -> Path:
    """n synthetic noisy/clean pairs (harmonic bursts + the demo corpus' noises) and a manifest."""
    import soundfile as sf

    from tfgridnet.data.demo import make_noise
    from tfgridnet.data.manifest import Pair, write_manifest

    for sub in ("noisy", "clean"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    size = int(seconds * SAMPLE_RATE)
    t = np.arange(size) / SAMPLE_RATE
    pairs = []
    for i in range(n):
        rng = np.random.default_rng([seed, i])
        f0 = rng.uniform(90, 250) * (1 + 0.1 * np.sin(2 * np.pi * rng.uniform(0.2, 1) * t))
        phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
        voice = sum(np.sin(k * phase) / k for k in range(1, 12))
        envelope = np.clip(np.sin(2 * np.pi * rng.uniform(2, 4) * t + rng.uniform(0, 6)), 0,
                           None) ** 2
        clean = voice * envelope
        clean = 0.1 * clean / (np.std(clean) + 1e-9)
        noise = make_noise(str(rng.choice(["white", "pink", "brown", "hum", "bursts"])), size,
                           SAMPLE_RATE, rng)
        noisy = clean + noise * 0.1 * 10 ** (-rng.uniform(-5, 10) / 20)
        peak = max(1.0, float(np.max(np.abs(noisy))) / 0.9)
        uttid = f"utt{i:04d}"
        sf.write(root / "noisy" / f"{uttid}.wav", noisy / peak, SAMPLE_RATE, subtype="FLOAT")
        sf.write(root / "clean" / f"{uttid}.wav", clean / peak, SAMPLE_RATE, subtype="FLOAT")
        pairs.append(Pair(uttid, root / "noisy" / f"{uttid}.wav", root / "clean" / f"{uttid}.wav"))
    return write_manifest(root / "manifest.csv", pairs)


def cmd_corpus(args: argparse.Namespace) -> None:
    train = _write_pairs(args.dir / "train", args.train, args.seconds, seed=0)
    valid = _write_pairs(args.dir / "valid", args.valid, args.seconds, seed=1)
    print(f"train manifest: {train}\nvalid manifest: {valid}")


def cmd_train_report(args: argparse.Namespace) -> None:
    """Per-epoch train loss and peak memory from a run's metrics.csv; exit 1 unless finite+falling."""
    with open(args.run_dir / "metrics.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    losses = [float(r["train_loss"]) for r in rows]
    for r in rows:
        print(f"epoch {r['epoch']:>3} step {r['step']:>5} train_loss {float(r['train_loss']):8.3f} "
              f"valid_sisnr {float(r['valid_sisnr']):7.2f} sec/batch {float(r['sec_per_batch']):.3f}"
              f" peak_mem_mb {float(r['peak_mem_mb']):8.0f} nonfinite {r['nonfinite_steps']}")
    third = max(1, len(losses) // 3)
    first, last = statistics.mean(losses[:third]), statistics.mean(losses[-third:])
    ok = all(math.isfinite(v) for v in losses) and last < first
    print(f"train loss: first third {first:.3f} -> last third {last:.3f}: "
          f"{'finite and falling' if ok else 'NOT finite and falling'}")
    sys.exit(0 if ok else 1)


def cmd_inference(args: argparse.Namespace) -> None:
    """Evaluation utterances/s (batched on the GPU, scored on CPU workers) and enhance RTF."""
    device = _need_cuda(args.device)
    import soundfile as sf

    from tfgridnet.evaluation.evaluate import evaluate
    from tfgridnet.inference.enhancer import Enhancer
    from tfgridnet.model.tfgridnetv2 import TFGridNetV2

    torch.manual_seed(0)
    model = TFGridNetV2(**model_kwargs(args.config)).eval()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        manifest = _write_pairs(root / "eval", args.utterances, args.utt_seconds, seed=2)
        for precision in ("fp32", "bf16"):
            enhancer = Enhancer(model, sample_rate=SAMPLE_RATE, device=device, precision=precision)
            batch = np.stack([test_signal(1, args.utt_seconds, seed=s)[0].numpy()
                              for s in range(enhancer.chunks_per_batch)])
            enhancer.forward_batch(batch)  # warm-up (forward_batch returns host arrays: synced)
            start = time.perf_counter()
            for _ in range(3):
                enhancer.forward_batch(batch)
            forward_rate = 3 * len(batch) / (time.perf_counter() - start)
            start = time.perf_counter()
            evaluate(enhancer, manifest, root / f"out-{precision}", save_audio=False, n_plots=0,
                     progress=False)
            eval_rate = args.utterances / (time.perf_counter() - start)
            long_in = root / "long.wav"
            sf.write(long_in, test_signal(1, args.file_seconds, seed=5)[0].numpy(), SAMPLE_RATE)
            enhancer.enhance_file(long_in, root / "warm.wav")
            start = time.perf_counter()
            enhancer.enhance_file(long_in, root / "long-out.wav")
            rtf = (time.perf_counter() - start) / args.file_seconds
            rows.append([precision, f"{eval_rate:.1f}", f"{forward_rate:.1f}", f"{rtf:.4f}"])
            print(" | ".join(rows[-1]), flush=True)
    table = markdown_table(
        ["precision", f"evaluate utt/s ({args.utterances} x {args.utt_seconds:g} s, all metrics)",
         f"model-only utt/s (batches of {enhancer.chunks_per_batch})",
         f"enhance RTF ({args.file_seconds:g} s file, default chunking)"], rows)
    print(table)
    if not args.no_append:
        append_results(f"gpu inference, {args.config} ({_device_name(device)})", table,
                       ["random seed-config weights; evaluate includes PESQ/STOI/ESTOI scoring "
                        "on CPU workers; RTF = wall time / audio time, after one warm-up file"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("steps", help="training step time and memory, ours vs ESPnet")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seconds", type=float, default=4.0)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--compile", default="bf16",
                   help="precisions that also get a torch.compile row ('' for none: slow)")
    p.set_defaults(run=cmd_steps)
    p = sub.add_parser("grads", help="gradient range and error under bf16 autocast")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seconds", type=float, default=4.0)
    p.set_defaults(run=cmd_grads)
    p = sub.add_parser("profile", help="top GPU operators of one bf16 training step")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seconds", type=float, default=4.0)
    p.add_argument("--checkpointing", action="store_true")
    p.add_argument("--rows", type=int, default=25)
    p.set_defaults(run=cmd_profile)
    p = sub.add_parser("inference", help="evaluation throughput and enhance RTF")
    p.add_argument("--utterances", type=int, default=64)
    p.add_argument("--utt-seconds", type=float, default=4.0)
    p.add_argument("--file-seconds", type=float, default=60.0)
    p.set_defaults(run=cmd_inference)
    p = sub.add_parser("corpus", help="write a synthetic training corpus")
    p.add_argument("dir", type=Path)
    p.add_argument("--train", type=int, default=256)
    p.add_argument("--valid", type=int, default=16)
    p.add_argument("--seconds", type=float, default=4.5)
    p.set_defaults(run=cmd_corpus)
    p = sub.add_parser("train-report", help="summarise a run's metrics.csv")
    p.add_argument("run_dir", type=Path)
    p.set_defaults(run=cmd_train_report)
    for p in sub.choices.values():
        p.add_argument("--config", default="seed")
        p.add_argument("--no-append", action="store_true", help="do not write RESULTS.md")
        p.add_argument("--device", default="cuda",
                       help="cpu: a dry run of the script's logic (figures meaningless)")
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
