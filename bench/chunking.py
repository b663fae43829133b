"""What chunked enhancement costs in quality: a trained model's output with each chunk/overlap
against its own one-pass output (the whole utterance at once) and against the clean speech.

    python bench/chunking.py RUN_OR_EXPORT_DIR --manifest VALID.csv [--chunking 4:0.5,8:1]
                             [--concat 8]

``--concat N`` joins every N consecutive utterances into one long recording (the demo's are 2.5-5 s,
shorter than any chunk worth measuring).

Pair it with the speed side, ``python bench/inference.py --chunking ...``, to choose the default
chunking (bench/RESULTS.md). Choose on a validation manifest, never on the test set.
"""

from __future__ import annotations

import argparse
import statistics

import numpy as np
from _common import append_results, fmt, markdown_table, set_threads

from tfgridnet.audio.io import load_audio
from tfgridnet.data.manifest import read_manifest
from tfgridnet.inference.enhancer import Enhancer
from tfgridnet.metrics import si_snr_numpy
from tfgridnet.model.io import load_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="run folder, export folder or checkpoint")
    parser.add_argument("--manifest", required=True, help="uttid,noisy,clean manifest (valid)")
    parser.add_argument("--chunking", default="4:0.5,6:0.5,8:0.5,8:1,16:0.5",
                        help="chunk:overlap seconds, comma-separated")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--concat", type=int, default=1,
                        help="join every N consecutive utterances into one recording")
    parser.add_argument("--no-append", action="store_true", help="do not write RESULTS.md")
    args = parser.parse_args()
    set_threads(args.threads)
    model = load_model(args.model)
    rate = model.sample_rate
    pairs = read_manifest(args.manifest)
    audio = [(load_audio(p.noisy, rate)[0], load_audio(p.clean, rate)[0]) for p in pairs]
    audio = [(np.concatenate([n for n, _ in audio[i:i + args.concat]]),
              np.concatenate([c for _, c in audio[i:i + args.concat]]))
             for i in range(0, len(audio), args.concat)]
    longest = max(noisy.size for noisy, _ in audio) / rate
    one_pass = Enhancer(model, chunk_seconds=longest + 1, overlap_seconds=0, precision="fp32")
    reference = [one_pass.enhance(noisy, rate) for noisy, _ in audio]
    base = [si_snr_numpy(out, clean) for out, (_, clean) in zip(reference, audio)]
    rows = [["one pass", "", fmt(statistics.mean(base), 2), ""]]
    for pair in args.chunking.split(","):
        chunk, overlap = (float(v) for v in pair.split(":"))
        enhancer = Enhancer(model, chunk_seconds=chunk, overlap_seconds=overlap, precision="fp32")
        outs = [enhancer.enhance(noisy, rate) for noisy, _ in audio]
        vs_clean = [si_snr_numpy(out, clean) for out, (_, clean) in zip(outs, audio)]
        vs_pass = [si_snr_numpy(out, ref) for out, ref in zip(outs, reference)]
        rows.append([f"{chunk:g}/{overlap:g}", fmt(float(np.median(vs_pass)), 1),
                     fmt(statistics.mean(vs_clean), 2),
                     fmt(statistics.mean(vs_clean) - statistics.mean(base), 2)])
        print(" | ".join(rows[-1]), flush=True)
    table = markdown_table(["chunk/overlap s", "agreement with one pass (median SI-SNR dB)",
                            "SI-SNR vs clean (mean dB)", "vs one pass (dB)"], rows)
    print(table)
    notes = [f"model: {args.model}", f"manifest: {args.manifest} ({len(pairs)} utterances joined "
             f"{args.concat} at a time into {len(audio)} recordings, longest {longest:.1f} s)"]
    if not args.no_append:
        append_results("chunking quality (trained model, fp32)", table, notes)


if __name__ == "__main__":
    main()
