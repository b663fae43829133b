"""Leakage between splits: the thresholds' measurements and the cost at 100k x 10k files.

    python bench/leakage.py thresholds [--root /tmp/tfgridnet_leakage] [--copies 60]
    python bench/leakage.py scale [--train 100000 --against 10000] [--real-files 300]

``thresholds`` (the demo corpus, built under ``--root``; ~2 CPU-minutes):
* false matches: every cross-split file pair of the demo corpus (train noisy/clean and noise
  files, valid, test: real eSpeak NG speech) scored through the production index; the most
  landmarks and the largest share any two different files reach, overall and for pairs of
  utterances spoken by the same voice; plus sentences sharing their first words, same voice
  and prosody (a text-to-speech engine speaks them the same way: the same audio, found or not);
* detection: ``--copies`` valid/test utterances copied with another gain, rate, codec, extra
  silence, a crop, or noise of each demo kind at 20 ... -5 dB, scored against the original;
* same pair or same clean: how well two noisy files match, against how well their cleans match,
  when they hold the same clean under different noise and when they are one pair re-encoded.

``scale`` (~3 CPU-minutes at the default size):
* extraction: decode + fingerprint of ``--real-files`` demo files in this process, CPU seconds
  per file and per audio second (process time, so other jobs on the machine do not count);
* join: the production ``SplitJoin`` on synthetic fingerprints of the real size distribution
  (landmark counts drawn from the real files; random hashes and times): ``--against`` x 2 files
  (noisy + clean) indexed, ``--train`` x 2 streamed, 100 planted copies among them (60 % of an
  indexed file's landmarks, shifted, one frame of jitter); wall time, peak RSS (VmHWM), whether
  exactly the planted pairs come back;
* the estimate for the whole check: extraction of every file on N cores plus the join.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf
from _common import markdown_table, peak_rss_mb, publish, reset_peak_rss

from tfgridnet.audio.io import load_audio
from tfgridnet.audio.resample import resample
from tfgridnet.data.demo import NOISE_KINDS, EspeakSynth, make_demo_data, make_noise
from tfgridnet.data.leakage import FINGERPRINT, MATCH, Fingerprint, fingerprint
from tfgridnet.data.leakage.check import SplitJoin
from tfgridnet.data.leakage.index import LandmarkIndex, aligned_scores, pair_score
from tfgridnet.data.leakage.report import SAME_NOISE_SHARE
from tfgridnet.data.manifest import read_entries, read_manifest

RATE = 16000


def _score(a: Fingerprint, b: Fingerprint) -> tuple[int, float]:
    return pair_score(a.hashes, a.times, b.hashes, b.times)


def _detected(score: int, share: float) -> bool:
    return score >= MATCH.min_landmarks and share >= MATCH.min_share


def _encode(audio: np.ndarray, rate: int, fmt: str, subtype: str) -> tuple[np.ndarray, int]:
    buffer = io.BytesIO()
    sf.write(buffer, audio, rate, format=fmt, subtype=subtype)
    buffer.seek(0)
    data, rate = sf.read(buffer, dtype="float32")
    return data, rate


def _mix(clean: np.ndarray, kind: str, snr_db: float, seed: int) -> np.ndarray:
    noise = make_noise(kind, clean.size, RATE, np.random.default_rng(seed), [clean[::-1]])
    gain = np.sqrt(np.sum(clean.astype(np.float64) ** 2) / np.sum(noise ** 2) / 10 ** (snr_db / 10))
    return (clean + gain * noise).astype(np.float32)


def _copies() -> dict:
    """Name -> f(audio, rate) -> (copy, rate)."""
    pcm16 = lambda x, r: _encode(x, r, "WAV", "PCM_16")  # noqa: E731
    copies = {
        "gain -20 dB": lambda x, r: (x * 0.1, r),
        "gain +6 dB": lambda x, r: (x * 2.0, r),
        "8 kHz, 16-bit": lambda x, r: pcm16(resample(x, r, 8000), 8000),
        "22.05 kHz, 16-bit": lambda x, r: pcm16(resample(x, r, 22050), 22050),
        "48 kHz, 16-bit": lambda x, r: pcm16(resample(x, r, 48000), 48000),
        "8 kHz, -12 dB, 16-bit": lambda x, r: pcm16(resample(x * 0.25, r, 8000), 8000),
        "FLAC": lambda x, r: _encode(x, r, "FLAC", "PCM_16"),
        "u-law 8-bit": lambda x, r: _encode(x, r, "WAV", "ULAW"),
        "Ogg Vorbis": lambda x, r: _encode(x, r, "OGG", "VORBIS"),
        "Opus (48 kHz)": lambda x, r: _encode(resample(x, r, 48000), 48000, "OGG", "OPUS"),
        "0.37 s of silence first": lambda x, r: (np.concatenate([np.zeros(int(0.37 * r),
                                                                          np.float32), x]), r),
        "crop: from 0.25 s": lambda x, r: (x[int(0.25 * r):], r),
        "crop: middle 60 %": lambda x, r: (x[int(0.2 * x.size):int(0.8 * x.size)], r),
    }
    if "MP3" in sf.available_formats():
        copies["MP3"] = lambda x, r: _encode(x, r, "MP3", "MPEG_LAYER_III")
    for snr in (20, 10, 5, 0, -5):
        for k, kind in enumerate(NOISE_KINDS):
            copies[f"+ {kind} noise at {snr:+d} dB"] = (
                lambda x, r, kind=kind, snr=snr, k=k: (_mix(x, kind, snr, 1000 * k + snr + 100), r))
    return copies


def _false_matches(paths: dict[str, Path], root: Path) -> tuple[list[list[str]], list[str]]:
    stamp = json.loads((root / "demo_stamp.json").read_text(encoding="utf-8"))["utterances"]
    files: list[tuple[int, str, str]] = []  # split, uttid, path
    for split, name in enumerate(("train", "valid", "test")):
        for pair in read_manifest(paths[name]):
            files += [(split, pair.uttid, str(pair.noisy)), (split, pair.uttid, str(pair.clean))]
    files += [(0, e.uttid, e.path_text) for e in read_entries(paths["train_noise"], "noise")]
    fps = [fingerprint(*load_audio(path, mono="keep")) for _, _, path in files]
    split_of = np.array([s for s, _, _ in files])
    index = LandmarkIndex(np.concatenate([f.hashes for f in fps]),
                          np.repeat(np.arange(len(fps)), [f.hashes.size for f in fps]),
                          np.concatenate([f.times for f in fps]), file_split=split_of)
    a, b, score, _ = aligned_scores(index.self_candidates())
    counts = np.array([f.hashes.size for f in fps])
    share = score / np.maximum(1, np.minimum(counts[a], counts[b]))
    sizes = np.bincount(split_of)
    n_pairs = int(sizes[0] * sizes[1] + sizes[0] * sizes[2] + sizes[1] * sizes[2])
    voice = [stamp.get(uttid, {}).get("voice") for _, uttid, _ in files]
    same_voice = np.array([voice[x] is not None and voice[x] == voice[y] for x, y in zip(a, b)],
                          dtype=bool)
    n_same_voice = sum(1 for x in range(len(files)) for y in range(x + 1, len(files))
                       if split_of[x] != split_of[y] and voice[x] is not None
                       and voice[x] == voice[y])
    rows = []
    for label, mask, total in (("every cross-split file pair", np.ones(a.size, bool), n_pairs),
                               ("same voice, different sentence", same_voice, n_same_voice)):
        sub_s, sub_r = score[mask], share[mask]
        rows.append([label, f"{total:,}", f"{int(mask.sum()):,}",
                     str(int(sub_s.max()) if sub_s.size else 0),
                     f"{float(sub_r[sub_s >= 3].max()) if (sub_s >= 3).any() else 0:.3f}",
                     str(int(np.sum(sub_s >= 5))),
                     str(int(np.sum((sub_s >= MATCH.min_landmarks)
                                    & (sub_r >= MATCH.min_share))))])
    # Sentences that share their first words, same voice and prosody.
    synth = EspeakSynth.shared()
    shared_scores = []
    for k, (subject, verb) in enumerate([("the old farmer", "carried"), ("a young doctor", "sold"),
                                         ("the tired pilot", "found"), ("our teacher", "opened"),
                                         ("the baker", "painted"), ("her brother", "watched")]):
        texts = [f"{subject.capitalize()} {verb} a wooden box near the river.",
                 f"{subject.capitalize()} {verb} three silver coins after the long storm."]
        voice_args = {"voice": ["en-us+m1", "en+f2", "en-gb-x-rp+m3"][k % 3], "rate_wpm": 160,
                      "pitch": 50, "pitch_range": 50}
        audio = [resample(synth.synthesize(t, **voice_args), synth.sample_rate, RATE)
                 for t in texts]
        shared_scores.append(_score(fingerprint(audio[0], RATE), fingerprint(audio[1], RATE)))
    s = np.array([x for x, _ in shared_scores])
    r = np.array([y for _, y in shared_scores])
    rows.append(["first words shared, same voice and prosody", str(len(s)), str(len(s)),
                 str(int(s.max())), f"{float(r.max()):.3f}", str(int(np.sum(s >= 5))),
                 str(int(sum(_detected(x, y) for x, y in shared_scores))) + " (same audio)"])
    notes = [f"false matches: {len(files)} files of the demo corpus (train noisy/clean + "
             f"noise, valid, test); a pair is a match at >= {MATCH.min_landmarks} landmarks "
             f"and >= {MATCH.min_share:.0%} of the smaller file's"]
    return rows, notes


def thresholds(args: argparse.Namespace) -> None:
    root = args.root / "demo"
    paths = make_demo_data(root, seed=0, progress=None)
    fp_rows, notes = _false_matches(paths, root)
    fp_table = markdown_table(["file pairs", "pairs", "sharing a landmark", "most landmarks",
                               "largest share (>= 3 landmarks)", ">= 5 landmarks",
                               "matches at the thresholds"], fp_rows)
    utterances = [pair for name in ("valid", "test") for pair in read_manifest(paths[name])]
    utterances = utterances[:args.copies]
    originals = [load_audio(pair.clean)[0] for pair in utterances]
    base = [fingerprint(x, RATE) for x in originals]
    rows = []
    for name, make in _copies().items():
        scores = [_score(fingerprint(*make(x, RATE)), f) for x, f in zip(originals, base)]
        s = np.array([x for x, _ in scores])
        r = np.array([y for _, y in scores])
        found = sum(_detected(x, y) for x, y in scores)
        rows.append([name, str(len(scores)), f"{found}/{len(scores)}", f"{np.median(s):.0f}",
                     str(int(s.min())), f"{np.median(r):.2f}", f"{np.percentile(r, 10):.2f}"])
        print(rows[-1], flush=True)
    pcm = [np.round(x * 32767).astype(np.int16) for x in originals]
    identical = sum(fingerprint(_encode(p, RATE, "FLAC", "PCM_16")[0], RATE).digest
                    == fingerprint(_encode(p, RATE, "WAV", "PCM_16")[0], RATE).digest
                    for p in pcm)
    rows.insert(0, ["renamed copy, WAV -> FLAC (same samples)", str(len(pcm)),
                    f"{identical}/{len(pcm)} identical", "", "", "", ""])
    copy_table = markdown_table(["copy of the clean utterance", "n", "found", "landmarks (median)",
                                 "landmarks (min)", "share (median)", "share (p10)"], rows)
    ratio_rows = _same_pair_or_same_clean(paths, args.copies)
    ratio_table = markdown_table(["two rows whose cleans match", "n", "noisy share / clean share: "
                                  "min", "median", "max", f"named same_pair (>= {SAME_NOISE_SHARE})"],
                                 ratio_rows)
    publish("leakage thresholds (demo corpus)", "\n\n".join([fp_table, copy_table, ratio_table]),
            notes, append=not args.no_append)


def _same_pair_or_same_clean(paths: dict[str, Path], n: int) -> list[list[str]]:
    rows = []
    pairs = read_manifest(paths["train"])[:n]
    cases = {
        "same clean file, other demo noise kind, new SNR": lambda c, z, k: (c, None),
        "same clean resampled 48 kHz -9 dB, other noise": lambda c, z, k: (
            resample(resample(c, RATE, 48000) * 10 ** (-9 / 20), 48000, RATE), None),
        "whole pair re-encoded (Ogg Vorbis)": lambda c, z, k: (
            _encode(c, RATE, "OGG", "VORBIS")[0], _encode(z, RATE, "OGG", "VORBIS")[0]),
        "whole pair resampled 22.05 kHz, -6 dB": lambda c, z, k: (
            resample(resample(c, RATE, 22050) * 0.5, 22050, RATE),
            resample(resample(z, RATE, 22050) * 0.5, 22050, RATE)),
    }
    for name, make in cases.items():
        ratios = []
        for k, pair in enumerate(pairs):
            clean, noisy = load_audio(pair.clean)[0], load_audio(pair.noisy)[0]
            kind = NOISE_KINDS[(NOISE_KINDS.index(pair.conditions["noise_kind"]) + 1 + k % 5)
                               % len(NOISE_KINDS)]
            snr = float(np.random.default_rng(k).uniform(-5, 15))
            new_clean, new_noisy = make(clean, noisy, k)
            if new_noisy is None:
                new_noisy = _mix(new_clean.astype(np.float32), kind, snr, k)
            same = np.array_equal(new_clean, clean)
            clean_share = 1.0 if same else _score(fingerprint(new_clean, RATE),
                                                  fingerprint(clean, RATE))[1]
            noisy_share = _score(fingerprint(new_noisy, RATE), fingerprint(noisy, RATE))[1]
            ratios.append(noisy_share / clean_share)
        r = np.array(ratios)
        rows.append([name, str(r.size), f"{r.min():.2f}", f"{np.median(r):.2f}",
                     f"{r.max():.2f}", f"{int(np.sum(r >= SAME_NOISE_SHARE))}/{r.size}"])
        print(rows[-1], flush=True)
    return rows


def scale(args: argparse.Namespace) -> None:
    paths = make_demo_data(args.root / "demo", seed=0, progress=None)
    files = [str(p) for pair in read_manifest(paths["train"]) for p in (pair.noisy, pair.clean)]
    files = files[:args.real_files]
    fps, seconds = [], 0.0
    start = time.process_time()
    for path in files:
        audio, rate = load_audio(path, mono="keep")
        fps.append(fingerprint(audio, rate))
        seconds += audio.shape[-1] / rate
    cpu = time.process_time() - start
    per_file = cpu / len(files)
    counts = np.array([f.hashes.size for f in fps])
    durations = np.array([f.seconds for f in fps])
    frames_per_s = 1 / FINGERPRINT.frame_seconds
    rng = np.random.default_rng(0)

    n_index, n_stream = 2 * args.against, 2 * args.train
    file_split = np.concatenate([np.zeros(n_index, np.int64), np.ones(n_stream, np.int64)])
    baseline = reset_peak_rss()
    join = SplitJoin(file_split, MATCH)

    def synthetic(n_landmarks: int, seconds: float) -> Fingerprint:
        frames = max(1, int(seconds * frames_per_s))
        return Fingerprint(int(rng.integers(1, 2**63)),
                           rng.integers(0, 2**32, n_landmarks, dtype=np.uint32),
                           np.sort(rng.integers(0, frames, n_landmarks)).astype(np.int32), seconds)

    draw = rng.integers(0, counts.size, n_index + n_stream)
    indexed = {}
    planted_from = set(rng.choice(n_index, 100, replace=False).tolist())
    gen = 0.0
    start = time.perf_counter()
    for file_id in range(n_index):
        t0 = time.perf_counter()
        fp = synthetic(int(counts[draw[file_id]]), float(durations[draw[file_id]]))
        gen += time.perf_counter() - t0
        if file_id in planted_from:
            indexed[file_id] = fp
        join.add_indexed(file_id, fp)
    index = join.build_index()
    build_s = time.perf_counter() - start - gen
    planted_at = dict(zip(rng.choice(np.arange(n_index, n_index + n_stream), 100, replace=False)
                          .tolist(), sorted(planted_from)))
    gen = 0.0
    start = time.perf_counter()
    for file_id in range(n_index, n_index + n_stream):
        t0 = time.perf_counter()
        source = planted_at.get(file_id)
        if source is None:
            fp = synthetic(int(counts[draw[file_id]]), float(durations[draw[file_id]]))
        else:  # a copy: 60 % of the landmarks, shifted, one frame of jitter
            original = indexed[source]
            keep = rng.random(original.hashes.size) < 0.6
            times = original.times[keep] + int(rng.integers(-100, 100)) \
                + rng.integers(-1, 2, int(keep.sum()))
            fp = Fingerprint(None, original.hashes[keep], times.astype(np.int32), 4.0)
        gen += time.perf_counter() - t0
        join.add_streamed(file_id, fp)
    found = join.finish()
    stream_s = time.perf_counter() - start - gen
    peak = peak_rss_mb()
    expected = {(source, at) for at, source in planted_at.items()}
    recovered = set(found) == expected
    total_files = n_index + n_stream
    extraction_core_s = total_files * per_file * np.mean(durations) / (seconds / len(files))
    rows = [
        ["extraction (decode + fingerprint), real demo files",
         f"{len(files)} files, {seconds / len(files):.2f} s each",
         f"{per_file * 1000:.2f} ms CPU a file ({1 / per_file:.0f} files/s per core, "
         f"{seconds / cpu:.0f}x real time)", f"{np.median(counts / durations):.0f} landmarks/s"],
        ["index build (synthetic, real landmark counts)", f"{n_index:,} files",
         f"{build_s:.1f} s", f"{len(index):,} landmarks, {index.nbytes / 2**20:.0f} MB"],
        ["stream + join (synthetic, real landmark counts)", f"{n_stream:,} files",
         f"{stream_s:.1f} s ({n_stream / stream_s:,.0f} files/s)",
         f"{'the 100 planted copies and nothing else' if recovered else 'MISMATCH'} "
         f"({len(found)} matches)"],
        ["peak RSS of the join (VmHWM)", "", f"{peak - baseline:.0f} MB above the "
         f"process's {baseline:.0f} MB before it", "includes the synthetic generation"],
    ]
    for cores in (2, 16):
        rows.append([f"estimate, whole check on {cores} cores",
                     f"{args.train:,} x {args.against:,} pairs ({total_files:,} files)",
                     f"{(extraction_core_s / cores + build_s + stream_s) / 60:.1f} min",
                     f"extraction {extraction_core_s / cores / 60:.1f} min + join "
                     f"{(build_s + stream_s) / 60:.1f} min"])
    notes = [f"synthetic files: landmark counts and durations drawn from the {len(files)} real "
             "files; random hashes and times; 100 planted copies",
             "extraction estimate assumes files as long as the demo's; it scales with audio "
             "duration (CPU time per audio second above)"]
    publish("leakage check at scale", markdown_table(["step", "size", "time", "notes"], rows),
            notes, append=not args.no_append)
    if not recovered:
        sys.exit("the join did not return exactly the planted copies")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=["thresholds", "scale"])
    parser.add_argument("--root", type=Path, default=Path("/tmp/tfgridnet_leakage"))
    parser.add_argument("--copies", type=int, default=60)
    parser.add_argument("--train", type=int, default=100_000, help="train pairs (scale)")
    parser.add_argument("--against", type=int, default=10_000, help="valid pairs (scale)")
    parser.add_argument("--real-files", type=int, default=300)
    parser.add_argument("--no-append", action="store_true")
    args = parser.parse_args()
    (thresholds if args.mode == "thresholds" else scale)(args)


if __name__ == "__main__":
    main()
