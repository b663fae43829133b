"""Where a model's STOI gain comes from: per third-octave band, noisy vs enhanced, by condition.

STOI (Taal et al. 2011) is the mean over 15 third-octave bands (150 Hz to ~4.3 kHz, at 10 kHz)
and 384 ms segments of the correlation between the clean and the processed band envelopes.
This script follows pystoi's own steps (its resampling rate, silent-frame removal, band matrix,
normalisation and clipping) but keeps the band axis, so a gain of +0.03 reads as "+0.1 in the
low bands where hum was, nothing from 1 to 2 kHz". The per-band means average to pystoi's STOI
(to float rounding: the script checks this on the first utterance). An analysis of an evaluation, never a target to tune on.

    python bench/stoi_bands.py EVAL_DIR --manifest MANIFEST [--by noise_kind] [--no-append]

EVAL_DIR is a ``tfgridnet evaluate`` output with audio (its ``enhanced/UTTID.wav``); MANIFEST the
paired manifest it scored (clean and noisy files, condition columns).
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

import numpy as np
from _common import markdown_table, publish
from pystoi import stoi, utils
from pystoi.stoi import BETA, DYN_RANGE, FS, MINFREQ, N_FRAME, NFFT, NUMBAND, N

from tfgridnet.audio.io import load_audio
from tfgridnet.data.manifest import NOISE_KIND_COLUMN, read_manifest

BAND_MATRIX, CENTRES_HZ = utils.thirdoct(FS, NFFT, NUMBAND, MINFREQ)


def band_correlations(clean: np.ndarray, processed: np.ndarray) -> np.ndarray:
    """Mean clean/processed envelope correlation per band [NUMBAND]; both at ``FS``."""
    clean, processed = utils.remove_silent_frames(clean, processed, DYN_RANGE, N_FRAME,
                                                  N_FRAME // 2)
    envelopes = [np.sqrt(BAND_MATRIX @ np.abs(utils.stft(x, N_FRAME, NFFT, overlap=2).T) ** 2)
                 for x in (clean, processed)]  # [bands, frames] each
    # [segments, bands, N]: 384 ms windows sliding one frame at a time
    c, p = (np.stack([env[:, m - N:m] for m in range(N, env.shape[1] + 1)]) for env in envelopes)
    p = p * np.linalg.norm(c, axis=2, keepdims=True) / (
        np.linalg.norm(p, axis=2, keepdims=True) + utils.EPS)
    p = np.minimum(p, c * (1 + 10 ** (-BETA / 20)))
    c, p = (x - x.mean(axis=2, keepdims=True) for x in (c, p))
    c, p = (x / (np.linalg.norm(x, axis=2, keepdims=True) + utils.EPS) for x in (c, p))
    return (c * p).sum(axis=2).mean(axis=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("eval_dir", type=Path)
    parser.add_argument("--manifest", type=Path, required=True)
    parser.add_argument("--by", default=NOISE_KIND_COLUMN, help="condition column to group by")
    parser.add_argument("--no-append", action="store_true", help="do not write RESULTS.md")
    args = parser.parse_args()
    notes = [f"evaluation {args.eval_dir}, manifest {args.manifest}; envelope correlation gain "
             "(enhanced - noisy) per third-octave band centre (Hz), mean of the bands = STOI gain"]
    groups: dict[str, list[tuple[np.ndarray, np.ndarray]]] = defaultdict(list)
    for pair in read_manifest(args.manifest):
        enhanced_path = args.eval_dir / "enhanced" / f"{pair.uttid}.wav"
        if not enhanced_path.is_file():
            raise SystemExit(f"{enhanced_path}: missing; evaluate with audio (no --no-audio)")
        clean, noisy, enhanced = (_at_stoi_rate(path)
                                  for path in (pair.clean, pair.noisy, enhanced_path))
        n = min(len(clean), len(noisy), len(enhanced))
        row = (band_correlations(clean[:n], noisy[:n]), band_correlations(clean[:n], enhanced[:n]))
        if not groups:
            notes.append(f"check on {pair.uttid}: pystoi {stoi(clean[:n], enhanced[:n], FS):.4f}, "
                         f"mean of the bands {row[1].mean():.4f}")
        groups["all"].append(row)
        groups[pair.conditions.get(args.by, "?")].append(row)
    table = []
    for name, rows in sorted(groups.items(), key=lambda item: (item[0] != "all", item[0])):
        noisy, enhanced = (np.array(side) for side in zip(*rows))
        gain = (enhanced - noisy).mean(axis=0)
        table.append([name, str(len(rows)), f"{noisy.mean():.3f}", f"{gain.mean():+.4f}",
                      *(f"{g:+.2f}" for g in gain)])
    table = markdown_table([args.by, "n", "noisy STOI", "STOI gain",
                            *(f"{f:.0f}" for f in CENTRES_HZ)], table)
    publish("STOI gain by band", table, notes, append=not args.no_append)


def _at_stoi_rate(path: str | Path) -> np.ndarray:
    """Mono float64 at STOI's 10 kHz, resampled as pystoi does."""
    audio, rate = load_audio(path)
    audio = audio.astype(np.float64)
    return audio if rate == FS else utils.resample_oct(audio, FS, rate)


if __name__ == "__main__":
    main()
