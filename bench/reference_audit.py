"""The reference audit's thresholds, measured: false positives on real clean speech, detections on
contaminated copies.

Clean speech: the demo corpus (eSpeak NG, ``tfgridnet make-demo-data``; its training split has a
quarter of its references low-passed at 3.4-7 kHz by design, so bandwidth false positives are
counted on the valid and test references only) and the real-speech prompts of bench/realspeech.py
(Debian ``asterisk-core-sounds-en-wav``, one real voice, at their own 8 kHz rate). Each reference
is then contaminated the ways the audit must see:

* noise left in at 0-25 dB SNR (the six demo noise kinds in turn; babble made of the other
  references of the same set);
* low-passed at 4 kHz and 3.4 kHz (8th-order zero-phase Butterworth), and "8 kHz material"
  (down to 8 kHz and back up with soxr), for the 16 kHz references;
* silence-padded so the speech fills a half, a third or a quarter of the file;
* a demo noise file put where the clean reference should be (not speech at all);
* reverberant but clean: convolved with a simulated room (pyroomacoustics, RT60 0.3, 0.6 and
  0.9 s; four rooms per RT60, used in turn), as the reverberant targets of DNS-style corpora are.
  Not a contamination the audit should report: the rows are its false positives there;

and, on paired manifests, the corpus outlier rule: the demo's paired splits as they are (false
positives) and with 10 % of their clean sides replaced by a copy still carrying some of the noise;
and the clean side's bandwidth against the noisy side's (the demo's valid and test pairs, the
clean side low-passed or not).
Every figure goes through ``check_arrays`` (the registered detectors) and the corpus rule of
``check_data``, with the shipped thresholds. Prints the tables of docs/data-checks.md:

    python bench/reference_audit.py [--demo DIR] [--real N] [--no-append]
"""

from __future__ import annotations

import argparse
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import soundfile as sf
from _common import markdown_table, publish
from scipy.signal import fftconvolve

from tfgridnet.audio.filters import bandpass
from tfgridnet.audio.resample import resample
from tfgridnet.data.checks import KINDS, THRESHOLDS
from tfgridnet.data.checks.corpus import sisnr_outliers
from tfgridnet.data.checks.reference import measure_reference, reference_findings
from tfgridnet.data.demo import NOISE_KINDS, make_demo_data, make_noise
from tfgridnet.data.distortions import simulate_rir
from tfgridnet.data.manifest import read_entries, read_manifest
from tfgridnet.metrics import si_snr_numpy

REAL_SOURCE = Path("/usr/share/asterisk/sounds/en_US_f_Allison")
NOT_SPEECH = {"silence", "tone", "beep", "monkeys"}
LEVELS_DB = (0, 5, 10, 15, 20, 25)
REVERB_RT60_S = (0.3, 0.6, 0.9)
ROOMS_PER_RT60 = 4
AUDIT_KINDS = ("noisy_reference", "reference_noise", "band_limited_reference", "little_speech")


def demo_references(demo_dir: Path) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(every reference, the valid + test ones: never band-limited by the corpus builder)."""
    paths = make_demo_data(demo_dir, progress=None)
    full = [sf.read(p.clean)[0] for split in ("valid", "test") for p in read_manifest(paths[split])]
    train = [sf.read(e.path)[0] for e in read_entries(paths["train_clean"], "clean")]
    return train + full, full


def real_references(count: int) -> list[np.ndarray]:
    files = sorted(p for p in REAL_SOURCE.rglob("*.wav")
                   if not set(p.relative_to(REAL_SOURCE).parts) & NOT_SPEECH
                   and not any(word in p.stem for word in NOT_SPEECH))
    out = []
    for path in files:
        audio, rate = sf.read(path)
        if rate == 8000 and audio.ndim == 1 and audio.size >= 8000:
            out.append(audio.astype(np.float64))
    rng = np.random.default_rng(0)
    chosen = rng.choice(len(out), size=min(count, len(out)), replace=False)
    return [out[i] for i in sorted(chosen)]


def add_noise(clean: np.ndarray, kind: str, snr_db: float, rate: int, rng: np.random.Generator,
              others: list[np.ndarray]) -> np.ndarray:
    noise = make_noise(kind, clean.size, rate, rng, others)
    return clean + noise * np.sqrt(np.sum(clean ** 2) / np.sum(noise ** 2) / 10 ** (snr_db / 10))


def pad(clean: np.ndarray, share: float) -> np.ndarray:
    total = int(clean.size / share)
    before = (total - clean.size) // 2
    return np.concatenate([np.zeros(before), clean, np.zeros(total - clean.size - before)])


def conditions(refs: list[np.ndarray], rate: int, seed: int, bandwidth_refs: int | None
               ) -> dict[str, list[np.ndarray]]:
    """Condition name -> references under it (``bandwidth_refs``: how many of ``refs``, from the
    end, may be used for the band-limiting rows; None: none)."""
    rng = np.random.default_rng(seed)
    out: dict[str, list[np.ndarray]] = defaultdict(list)
    rooms = {rt60: [simulate_rir(rng, rate, rt60) for _ in range(ROOMS_PER_RT60)]
             for rt60 in REVERB_RT60_S}
    for i, clean in enumerate(refs):
        others = [refs[(i + k) % len(refs)] for k in (1, 2, 3)]
        out["clean"].append(clean)
        for level in LEVELS_DB:
            kind = NOISE_KINDS[(i + level // 5) % len(NOISE_KINDS)]
            out[f"noise left in at {level} dB"].append(add_noise(clean, kind, level, rate, rng,
                                                                 others))
        for share in (0.5, 1 / 3, 0.25):
            out[f"silence-padded, speech {share:.0%} of the file"].append(pad(clean, share))
        kind = NOISE_KINDS[i % len(NOISE_KINDS)]
        out["a noise file as the reference"].append(
            0.05 * make_noise(kind, clean.size, rate, rng, others))
        for rt60, rirs in rooms.items():
            wet = fftconvolve(clean, rirs[i % len(rirs)])[:clean.size]
            out[f"reverberant, RT60 {rt60:g} s (clean)"].append(wet)
    if bandwidth_refs:
        for clean in refs[-bandwidth_refs:]:
            out["clean, full band"].append(clean)
            out["low-passed at 4 kHz"].append(bandpass(clean, rate, None, 4000.0))
            out["low-passed at 3.4 kHz"].append(bandpass(clean, rate, None, 3400.0))
            out["8 kHz material at 16 kHz"].append(resample(resample(clean, rate, 8000), 8000,
                                                            rate))
    return out


def measure(refs: dict[str, list[np.ndarray]], rate: int) -> dict[str, list[dict]]:
    """Condition -> the audit's figures of each of its references."""
    return {condition: [measure_reference(audio, rate) for audio in signals]
            for condition, signals in refs.items()}


def audit_rows(name: str, measured: dict[str, list[dict]], rate: int) -> list[list[str]]:
    rows = []
    for condition, signals in measured.items():
        counts: Counter = Counter()
        measures = defaultdict(list)
        for facts in signals:
            for key, value in facts.items():
                measures[key].append(value)
            kinds = {kind for kind, _, _ in reference_findings(
                facts, rate, THRESHOLDS["ref_snr_error_db"])}
            counts.update(kinds)
            counts["any"] += bool(kinds)
        n = len(signals)

        def median(key: str, digits: int = 1, measures: dict = measures) -> str:
            return f"{np.median(measures[key]):.{digits}f}"

        rows.append([name, condition, str(n), median("ref_snr_db"),
                     f"{np.percentile(measures['ref_snr_db'], 5):.1f}",
                     f"{np.median(measures['ref_bandwidth_hz']):,.0f}", median("ref_speech_share", 2),
                     *(f"{100 * counts[k] / n:.0f} %" for k in (*AUDIT_KINDS, "any"))])
    return rows


def outlier_rows(demo_dir: Path, seed: int) -> list[list[str]]:
    """The corpus rule on the demo's paired splits: as they are, and with 10 % of the clean sides
    still carrying a share of the noise (clean + k * (noisy - clean))."""
    paths = make_demo_data(demo_dir, progress=None)
    rng = np.random.default_rng(seed)
    rows = []
    for split in ("train", "valid", "test"):
        pairs = read_manifest(paths[split])
        audio = [(sf.read(p.noisy)[0], sf.read(p.clean)[0]) for p in pairs]
        for share in (None, 0.5, 0.7, 0.9):
            planted = set() if share is None else set(
                rng.choice(len(pairs), size=max(1, len(pairs) // 10), replace=False).tolist())
            sisnr, audited = [], 0
            for k, (noisy, clean) in enumerate(audio):
                if k in planted:
                    clean = clean + share * (noisy - clean)
                    audited += bool(reference_findings(measure_reference(clean, 16000, noisy),
                                                       16000, THRESHOLDS["ref_snr_error_db"]))
                sisnr.append(float(si_snr_numpy(noisy, clean)))
            flagged = {i for i, _, _ in sisnr_outliers(list(range(len(sisnr))), sisnr)}
            label = "as built" if share is None else f"10 % of cleans keep {share:.0%} of the noise"
            rows.append([split, label, str(len(pairs)), f"{np.median(sisnr):.1f}",
                         f"{len(flagged & planted)}/{len(planted)}" if planted else "—",
                         str(len(flagged - planted)),
                         f"{audited}/{len(planted)}" if planted else "—"])
    return rows


def pair_bandwidth_rows(demo_dir: Path) -> list[list[str]]:
    """The clean side's bandwidth against the noisy side's, on the demo's valid + test pairs: as
    built (full band on both sides) and with the clean side low-passed at 5 and 6 kHz."""
    paths = make_demo_data(demo_dir, progress=None)
    pairs = [p for split in ("valid", "test") for p in read_manifest(paths[split])]
    rows = []
    for cutoff in (None, 6000.0, 5000.0):
        flagged = 0
        for pair in pairs:
            noisy, rate = sf.read(pair.noisy)
            clean = sf.read(pair.clean)[0]
            if cutoff is not None:
                clean = bandpass(clean, rate, None, cutoff)
            facts = measure_reference(clean, rate, noisy)
            flagged += any(kind == "band_limited_reference" for kind, _, _ in reference_findings(
                facts, rate, THRESHOLDS["ref_snr_error_db"]))
        label = "as built" if cutoff is None else f"clean side low-passed at {cutoff / 1000:g} kHz"
        rows.append([label, str(len(pairs)), f"{100 * flagged / len(pairs):.0f} %"])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--demo", type=Path, default=None,
                        help="demo corpus folder (built there when absent; default: a temp dir)")
    parser.add_argument("--real", type=int, default=200, help="real-speech prompts to use")
    parser.add_argument("--no-append", action="store_true")
    args = parser.parse_args()
    demo_dir = args.demo or Path(tempfile.mkdtemp(prefix="tfgridnet-audit-")) / "data"
    every, full_band = demo_references(demo_dir)
    rows = audit_rows("demo (eSpeak, 16 kHz)",
                      measure(conditions(every, 16000, 0, len(full_band)), 16000), 16000)
    if REAL_SOURCE.is_dir():
        real = conditions(real_references(args.real), 8000, 1, None)
        rows += audit_rows("real voice (8 kHz)", measure(real, 8000), 8000)
    else:
        print(f"{REAL_SOURCE} missing: `apt-get install asterisk-core-sounds-en-wav` adds the "
              "real-speech rows")
    header = ["set", "condition", "n", "ref SNR dB (median)", "ref SNR dB (5th pct)",
              "bandwidth Hz (median)", "speech share (median)",
              *(f"{k} ({KINDS[k]})" for k in AUDIT_KINDS), "any audit finding"]
    table = markdown_table(header, rows)
    outliers = markdown_table(["split", "condition", "pairs", "input SI-SNR dB (median)",
                               "planted found (outlier)", "others flagged (outlier)",
                               "planted found (reference audit)"], outlier_rows(demo_dir, 2))
    bandwidth = markdown_table(["demo valid + test pairs", "n", "band_limited_reference"],
                               pair_bandwidth_rows(demo_dir))
    thresholds = {k: THRESHOLDS[k] for k in ("ref_snr_error_db", "ref_snr_warning_db",
                                             "bandwidth_ratio", "bandwidth_vs_noisy_ratio",
                                             "speech_share_min", "outlier_mad",
                                             "outlier_min_db")}
    publish("reference audit (false positives and detections)",
            table + "\n\n" + outliers + "\n\n" + bandwidth,
            [f"thresholds: {thresholds}", "every row: the share of references with each finding"],
            not args.no_append)


if __name__ == "__main__":
    main()
