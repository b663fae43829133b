"""Output level of a model on a paired set: which correction puts enhanced speech at the clean level.

Runs the model once per utterance (raw output, ``level=False``), then scores candidate level
corrections on the same outputs:

- ``raw``: the model's own gain (a -SI-SNR model leaves it free);
- ``match noisy RMS``: scale the output to the noisy input's RMS (what a user might try first);
- ``plain projection``: least-squares projection of the noisy input onto the output,
  ``<x, y> / <y, y>`` (needs no reference, works for any model);
- ``mixture-consistent (energy-weighted)``: the same projection in the STFT domain with each bin
  weighted by the output's energy — what ``tfgridnet.inference.level`` applies;
- ``oracle``: plain projection of the *clean* speech onto the output; not usable at inference.

Level error = enhanced minus clean RMS in dB. Also reports SNR (level-sensitive, unlike SI-SNR)
and how many samples the peak limiter had to bring down. Run by hand:

    python bench/level.py RUN_OR_EXPORT_DIR MANIFEST.csv [--no-append]
"""

from __future__ import annotations

import argparse

import numpy as np
from _common import fmt, markdown_table, publish

from tfgridnet.audio.io import load_audio
from tfgridnet.audio.levels import level_error_db
from tfgridnet.data.manifest import read_manifest
from tfgridnet.inference.enhancer import Enhancer
from tfgridnet.inference.level import (
    LIMITER_CEILING,
    limit_peaks,
    mixture_consistent_gain,
)
from tfgridnet.metrics import snr


def candidates(raw: np.ndarray, noisy: np.ndarray, clean: np.ndarray, sr: int
               ) -> dict[str, np.ndarray]:
    """Every correction of one raw output, by name."""
    match = np.sqrt(np.mean(noisy.astype(np.float64) ** 2) / max(np.mean(raw.astype(np.float64) ** 2),
                                                                 1e-20))
    return {
        "raw": raw,
        "match noisy RMS": raw * match,
        "plain projection <x,y>/<y,y>": raw * _plain(raw, noisy),
        "mixture-consistent (energy-weighted, shipped)": raw * mixture_consistent_gain(raw, noisy,
                                                                                       sr),
        "oracle (plain projection of clean)": raw * _plain(raw, clean),
    }


def _plain(estimate: np.ndarray, target: np.ndarray) -> float:
    y, x = estimate.astype(np.float64), target.astype(np.float64)
    return float(np.dot(x, y) / max(np.dot(y, y), 1e-20))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", help="run dir, export dir or checkpoint")
    parser.add_argument("manifest", help="paired manifest (uttid,noisy,clean)")
    parser.add_argument("--no-append", action="store_true", help="only print, leave RESULTS.md")
    parser.add_argument("--label", default="demo test set")
    args = parser.parse_args()

    enhancer = Enhancer.from_pretrained(args.model, device="cpu", chunk_seconds=60.0, level=False)
    sr = enhancer.sample_rate
    errors: dict[str, list[float]] = {}
    snrs: dict[str, list[float]] = {}
    by_snr: dict[str, dict[str, list[float]]] = {}
    limited = 0
    input_snrs = []
    for pair in read_manifest(args.manifest):
        noisy = load_audio(pair.noisy, sr)[0]
        clean = load_audio(pair.clean, sr)[0]
        raw = enhancer.enhance_mono(noisy)
        input_snr = float(snr(noisy, clean))
        input_snrs.append(input_snr)
        band = "< 2.5 dB" if input_snr < 2.5 else ">= 2.5 dB"
        for name, out in candidates(raw, noisy, clean, sr).items():
            errors.setdefault(name, []).append(level_error_db(out, clean))
            snrs.setdefault(name, []).append(float(snr(out, clean)))
            by_snr.setdefault(name, {}).setdefault(band, []).append(level_error_db(out, clean))
            if name.endswith("shipped)"):
                limited += limit_peaks(out.astype(np.float32), sr)[1]
    noisy_snr = float(np.mean(input_snrs))
    rows = []
    bands = sorted({b for name in by_snr for b in by_snr[name]})
    for name, values in errors.items():
        e = np.asarray(values)
        rows.append([name, fmt(e.mean(), 2), fmt(np.percentile(np.abs(e), 90), 2),
                     f"{fmt(e.min(), 2)} … {fmt(e.max(), 2)}",
                     *[fmt(float(np.mean(by_snr[name][b])), 2) for b in bands],
                     fmt(float(np.mean(snrs[name])), 2)])
    table = markdown_table(["correction", "mean level error (dB)", "p90 abs error (dB)",
                            "range (dB)", *[f"mean error, input SNR {b}" for b in bands],
                            f"SNR (dB; noisy {noisy_snr:.2f})"], rows)
    notes = [f"{len(input_snrs)} utterances of {args.label}, model {args.model}, one pass each",
             f"peak limiter (ceiling {LIMITER_CEILING}) after mixture-consistent gain: {limited} "
             "samples limited",
             "machine shared with other jobs (timings not measured here)"]
    publish("output level corrections", table, notes, append=not args.no_append)


if __name__ == "__main__":
    main()
