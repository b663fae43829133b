"""Real-speech development set: does a model trained on eSpeak speech generalise to a real voice?

Clean speech: Debian's ``asterisk-core-sounds-en-wav`` (real recorded voice prompts, one female
speaker, 8 kHz mono; ``apt-get install asterisk-core-sounds-en-wav``). They are upsampled to the
model's 16 kHz with soxr (so nothing above 4 kHz is speech: the set measures generalisation to a
real voice and to telephone band-limiting at once). Noise: the demo corpus's own generators
(white, pink, brown, hum, bursts; babble is left out, since with one speaker it would be the
target's own voice) at 0 and 5 dB SNR, kinds and SNRs cycled so every condition has equal count.

This is a development set for judging, never for training or tuning (that is the demo valid
set), and never a unit test. Builds the manifest under ``--out`` (default in /tmp), evaluates a
model through ``tfgridnet.evaluate`` (SI-SNRi, PESQ-WB, STOI, plus level error), and adds the figures to bench/RESULTS.md:

    python bench/realspeech.py RUN_OR_EXPORT_DIR [--label "demo model, before"] [--no-append]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from _common import fmt, markdown_table, publish

from tfgridnet.audio.io import load_audio, save_audio
from tfgridnet.audio.levels import level_error_db
from tfgridnet.data.demo import make_noise
from tfgridnet.data.manifest import Pair, read_manifest, write_manifest

SOURCE = Path("/usr/share/asterisk/sounds/en_US_f_Allison")
KINDS = ("white", "pink", "brown", "hum", "bursts")
SNRS_DB = (0.0, 5.0)
# Prompts that are not speech: silences, tones, beeps and the joke prompt of monkey noises.
NOT_SPEECH = {"silence", "tone", "beep", "monkeys"}
SAMPLE_RATE = 16000


def build_dev_set(out_dir: Path, count: int = 60, min_seconds: float = 2.0,
                  max_seconds: float = 12.0, seed: int = 0) -> Path:
    """Write ``count`` noisy/clean pairs and ``manifest.csv`` (+ ``conditions.csv``) under
    ``out_dir``: the longest speech prompts up to ``max_seconds``, so each has enough speech to
    score and none dominates the evaluation time."""
    files = sorted(p for p in SOURCE.rglob("*.wav")
                   if not set(p.relative_to(SOURCE).parts) & NOT_SPEECH
                   and not any(word in p.stem for word in NOT_SPEECH))
    if not files:
        raise SystemExit(f"{SOURCE}: no prompts; run `apt-get install asterisk-core-sounds-en-wav`")
    speech = []
    for path in files:
        audio, _ = load_audio(path, SAMPLE_RATE)  # 8 kHz -> 16 kHz, soxr HQ
        if min_seconds * SAMPLE_RATE <= audio.size <= max_seconds * SAMPLE_RATE:
            speech.append((path, audio.astype(np.float64)))
    speech.sort(key=lambda item: (-item[1].size, item[0].name))
    speech = sorted(speech[:count], key=lambda item: item[0].name)
    rng = np.random.default_rng(seed)
    pairs, conditions = [], ["uttid,source,noise_kind,snr_db"]
    for k, (path, clean) in enumerate(speech):
        kind, snr_db = KINDS[k % len(KINDS)], SNRS_DB[(k // len(KINDS)) % len(SNRS_DB)]
        clean = clean * (10 ** (rng.uniform(-30, -20) / 20) / np.sqrt(np.mean(clean**2)))
        noise = make_noise(kind, clean.size, SAMPLE_RATE, rng)
        noise *= np.sqrt(np.sum(clean**2) / np.sum(noise**2) / 10 ** (snr_db / 10))
        noisy = clean + noise
        peak = max(np.max(np.abs(noisy)), np.max(np.abs(clean)))
        if peak > 0.95:  # one gain for both sides keeps the pair a pair
            noisy, clean = noisy * (0.95 / peak), clean * (0.95 / peak)
        uttid = f"real_{k:03d}"
        pairs.append(Pair(uttid, save_audio(out_dir / "noisy" / f"{uttid}.wav", noisy, SAMPLE_RATE),
                          save_audio(out_dir / "clean" / f"{uttid}.wav", clean, SAMPLE_RATE)))
        conditions.append(f"{uttid},{path.relative_to(SOURCE)},{kind},{snr_db:g}")
    (out_dir / "conditions.csv").write_text("\n".join(conditions) + "\n")
    return write_manifest(out_dir / "manifest.csv", pairs)


def level_errors(eval_dir: Path, manifest: Path) -> list[float]:
    """Enhanced vs clean RMS of every evaluated utterance, from the saved WAVs."""
    return [level_error_db(load_audio(eval_dir / "enhanced" / f"{p.uttid}.wav")[0],
                           load_audio(eval_dir / "clean" / f"{p.uttid}.wav")[0])
            for p in read_manifest(manifest)]


def main() -> None:
    from tfgridnet.evaluation.evaluate import evaluate

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", help="run dir, export dir or checkpoint")
    parser.add_argument("--out", type=Path,
                        default=Path(tempfile.gettempdir()) / "tfgridnet_realspeech_dev")
    parser.add_argument("--count", type=int, default=60)
    parser.add_argument("--label", default="")
    parser.add_argument("--raw-level", action="store_true", help="evaluate without level correction")
    parser.add_argument("--no-append", action="store_true", help="only print, leave RESULTS.md")
    args = parser.parse_args()

    manifest = args.out / "data" / "manifest.csv"
    if not manifest.is_file():
        manifest = build_dev_set(args.out / "data", args.count)
    eval_dir = args.out / "eval"
    summary = evaluate(args.model, manifest, eval_dir, n_plots=0, device="cpu",
                       level=not args.raw_level, progress=False)
    levels = np.asarray(level_errors(eval_dir, manifest))
    metrics = summary["metrics"]
    conditions = {row.split(",")[0]: row.split(",")[2:] for row in
                  (args.out / "data" / "conditions.csv").read_text().splitlines()[1:]}
    import csv

    with open(eval_dir / "evaluation_results.csv") as handle:
        results = list(csv.DictReader(handle))
    per_kind = {}
    for row in results:
        if row["sisnr_improvement"]:
            per_kind.setdefault(conditions[row["uttid"]][0], []).append(
                float(row["sisnr_improvement"]))
    table = markdown_table(
        ["model", "SI-SNRi mean (worst)", "PESQ-WB noisy → enh", "STOI noisy → enh",
         "level error mean / p90 abs (dB)", "SI-SNRi by noise kind"],
        [[args.label or str(args.model),
          f"{fmt(metrics['sisnr']['improvement_mean'], 2)} "
          f"({fmt(metrics['sisnr']['improvement_min'], 2)})",
          f"{fmt(metrics['pesq_wb']['noisy_mean'], 2)} → {fmt(metrics['pesq_wb']['enhanced_mean'], 2)}",
          f"{fmt(metrics['stoi']['noisy_mean'], 3)} → {fmt(metrics['stoi']['enhanced_mean'], 3)}",
          f"{fmt(levels.mean(), 2)} / {fmt(np.percentile(np.abs(levels), 90), 2)}",
          ", ".join(f"{k} {np.mean(v):+.1f}" for k, v in sorted(per_kind.items()))]])
    notes = [f"real-speech dev set: {summary['n']} asterisk-core-sounds-en-wav prompts (one real "
             "speaker, 8 kHz upsampled to 16 kHz with soxr) x demo noises "
             f"({', '.join(KINDS)}) at {'/'.join(f'{s:g}' for s in SNRS_DB)} dB; never trained "
             "or tuned on",
             f"level correction {'off (raw)' if args.raw_level else 'on'}; noisy SI-SNR "
             f"{fmt(metrics['sisnr']['noisy_mean'], 2)} dB"]
    publish("real-speech dev set", table, notes, append=not args.no_append)


if __name__ == "__main__":
    main()
