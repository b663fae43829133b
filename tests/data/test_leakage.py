"""Leakage between splits: planted copies made by the demo corpus's own synthesis and manifest
writers are found by content and named; different utterances of the same voice stay clean."""

from __future__ import annotations

import io
import json
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tfgridnet.audio.io import load_audio, save_audio
from tfgridnet.audio.resample import resample
from tfgridnet.cli import main
from tfgridnet.data.demo import EspeakSynth, make_demo_data, make_noise
from tfgridnet.data.leakage import MATCH, check_leakage, fingerprint
from tfgridnet.data.leakage.index import LandmarkIndex, aligned_scores
from tfgridnet.data.leakage.report import SAME_NOISE_SHARE
from tfgridnet.data.manifest import (
    Entry,
    Pair,
    read_entries,
    read_manifest,
    write_manifest,
    write_single_manifest,
)

SMALL = {"n_train": 6, "n_valid": 3, "n_test": 2, "noise_files": 6, "noise_seconds": 2.0,
         "progress": None}
RATE = 16000
VOICE = {"voice": "en-us+m1", "rate_wpm": 160, "pitch": 50, "pitch_range": 50}


def _speech(text: str) -> np.ndarray:
    """One eSpeak NG utterance at 16 kHz, -25 dBFS RMS, as the demo corpus makes them."""
    synth = EspeakSynth.shared()
    audio = resample(synth.synthesize(text, **VOICE), synth.sample_rate, RATE).astype(np.float64)
    return audio * 10 ** (-25 / 20) / np.sqrt(np.mean(audio ** 2))


def _noisy(clean: np.ndarray, rate: int, kind: str, snr_db: float, seed: int) -> np.ndarray:
    noise = make_noise(kind, clean.size, rate, np.random.default_rng(seed), [clean[::-1]])
    gain = np.sqrt(np.sum(clean ** 2) / np.sum(noise ** 2) / 10 ** (snr_db / 10))
    mixed = clean + gain * noise
    return mixed * min(1.0, 0.9 / np.max(np.abs(mixed)))


def _pair(folder: Path, uttid: str, clean: np.ndarray, rate: int, kind: str, snr_db: float,
          seed: int, fmt: str = "wav") -> Pair:
    clean_path = save_audio(folder / f"{uttid}_clean.{fmt}", clean, rate)
    noisy_path = save_audio(folder / f"{uttid}_noisy.{fmt}", _noisy(clean, rate, kind, snr_db,
                                                                    seed), rate)
    return Pair(uttid, noisy_path, clean_path)


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The small demo corpus, and train/valid manifests with three planted leaks and a control."""
    root = tmp_path_factory.mktemp("leakage")
    paths = make_demo_data(root / "demo", seed=1, **SMALL)
    train, valid = read_manifest(paths["train"]), read_manifest(paths["valid"])
    extra = root / "extra"
    # Control: two different sentences, same voice and prosody, one in each split.
    control_train = _pair(extra, "control_train", _speech(
        "The quiet student measured two bright lamps before sunrise."), RATE, "pink", 5.0, 1)
    control_valid = _pair(extra, "control_valid", _speech(
        "A clever fox borrowed an ancient map near the river."), RATE, "pink", 5.0, 2)
    # 1. A renamed copy of a whole pair.
    renamed = Pair("renamed", shutil.copy(train[0].noisy, extra / "renamed_noisy.wav"),
                   shutil.copy(train[0].clean, extra / "renamed_clean.wav"))
    # 2. A resampled (48 kHz), gain-changed (-9 dB), FLAC-encoded copy, under other noise.
    clean_48k, _ = load_audio(train[1].clean, target_sr=48000)
    resampled = _pair(extra, "resampled", clean_48k * 10 ** (-9 / 20), 48000, "pink", 5.0, 3,
                      fmt="flac")
    # 3. The same clean file (copied) under different noise: the common leak.
    clean, _ = load_audio(train[2].clean)
    other_noise = Pair("other_noise", save_audio(extra / "other_noise_noisy.wav",
                                                 _noisy(clean, RATE, "white", 0.0, 4), RATE),
                       shutil.copy(train[2].clean, extra / "other_noise_clean.wav"))
    train_path = write_manifest(root / "train.csv", [*train, control_train])
    valid_path = write_manifest(root / "valid.csv", [*valid, renamed, resampled, other_noise,
                                                     control_valid])
    return {"root": root, "demo": paths, "train": train_path, "valid": valid_path,
            "train_rows": read_manifest(train_path)}


def test_planted_leaks_are_named_with_both_paths_and_the_control_stays_clean(planted) -> None:
    report = check_leakage({"train": [planted["train"]], "valid": [planted["valid"]]}, workers=1)
    train = planted["train_rows"]
    found = {(leak.uttid_a, leak.uttid_b): leak for leak in report.leaks}
    assert set(found) == {("train_0000", "renamed"), ("train_0001", "resampled"),
                          ("train_0002", "other_noise")}, report.summary()
    assert found[("train_0000", "renamed")].kind == "same_pair"
    assert {m.how for m in found[("train_0000", "renamed")].matches} == {"identical"}
    for uttid, how in (("resampled", "fingerprint"), ("other_noise", "identical")):
        leak = found[(train[1 if uttid == "resampled" else 2].uttid, uttid)]
        assert leak.kind == "same_clean"
        assert leak.message == "the same clean speech under different noise in both splits"
        clean_match = next(m for m in leak.matches if (m.side_a, m.side_b) == ("clean", "clean"))
        assert clean_match.how == how
        assert clean_match.path_a == str(train[1 if uttid == "resampled" else 2].clean)
        assert clean_match.path_b.endswith(f"{uttid}_clean.{'flac' if how != 'identical' else 'wav'}")
        # The noisy files share the speech, not the noise: they match less well than the cleans.
        noisy = [m.share for m in leak.matches if (m.side_a, m.side_b) == ("noisy", "noisy")]
        assert all(share < SAME_NOISE_SHARE * clean_match.share for share in noisy)
    text = report.summary()
    assert "control" not in text and "ERRORS: 3 pairs" in text
    assert "same_clean             2" in text and "resampled_clean.flac" in text


def test_clean_demo_splits_share_nothing(planted) -> None:
    demo = planted["demo"]
    report = check_leakage({"train": [demo["train_clean"], demo["train_noise"]],
                            "valid": [demo["valid"]], "test": [demo["test"]]}, workers=2)
    assert report.ok, report.summary()
    assert report.stats["n_files"] == 6 + 6 + 2 * 3 + 2 * 2 and report.stats["landmarks_indexed"]


def test_noise_lists_sharing_a_recording_are_named(planted, tmp_path: Path) -> None:
    # Separate noise lists per split (DNS-style); the valid list holds a 22.05 kHz, -6 dB copy
    # of a training noise file among new noise.
    demo = planted["demo"]
    train_noise = [entry.path for entry in read_entries(demo["train_noise"], "noise")]
    rng = np.random.default_rng(7)
    entries = [Entry(f"new_{kind}", save_audio(tmp_path / f"new_{kind}.wav",
                                               0.3 * make_noise(kind, 2 * RATE, RATE, rng), RATE))
               for kind in ("white", "pink", "hum")]
    copied, rate = load_audio(train_noise[4], target_sr=22050)
    entries.append(Entry("copied", save_audio(tmp_path / "copied.wav", 0.5 * copied, rate)))
    valid_noise = write_single_manifest(tmp_path / "valid_noise.csv", "noise", entries)
    report = check_leakage({"train": [demo["train_noise"]], "valid": [valid_noise]}, workers=1)
    assert [(leak.kind, leak.uttid_b) for leak in report.leaks] == [("same_noise", "copied")], \
        report.summary()
    match = report.leaks[0].matches[0]
    assert (match.side_a, match.path_a, match.side_b, match.how) == (
        "noise", str(train_noise[4]), "noise", "fingerprint")


def test_valid_and_test_are_compared_too(planted, tmp_path: Path) -> None:
    demo = planted["demo"]
    valid = read_manifest(demo["valid"])
    # Not sample-identical (6 dB quieter): the index's own join of valid and test finds it.
    copy = Pair("copy_of_valid", *(save_audio(tmp_path / f"{side}.wav",
                                              0.5 * load_audio(path)[0], RATE)
                                   for side, path in (("n", valid[1].noisy),
                                                      ("c", valid[1].clean))))
    test = write_manifest(tmp_path / "test.csv", [*read_manifest(demo["test"]), copy])
    report = check_leakage({"train": [demo["train"]], "valid": [demo["valid"]],
                            "test": [test]}, workers=1)
    assert [(leak.split_a, leak.uttid_a, leak.split_b, leak.uttid_b, leak.kind)
            for leak in report.leaks] == [("valid", valid[1].uttid, "test", "copy_of_valid",
                                           "same_pair")]


def test_fingerprint_survives_gain_rate_and_codecs_but_not_another_sentence() -> None:
    text = "The night nurse collected seven green apples at the harbour."
    speech = _speech(text)
    original = fingerprint(speech, RATE)
    other = fingerprint(_speech("Her brother ordered a jar of honey in the crowded market."), RATE)

    def encoded(audio: np.ndarray, rate: int, fmt: str, subtype: str) -> tuple[np.ndarray, int]:
        buffer = io.BytesIO()
        sf.write(buffer, audio, rate, format=fmt, subtype=subtype)
        buffer.seek(0)
        data, rate = sf.read(buffer, dtype="float32")
        return data, rate

    copies = {"gain -20 dB": (speech * 0.1, RATE), "8 kHz": (resample(speech, RATE, 8000), 8000),
              "22.05 kHz x2": (2 * resample(speech, RATE, 22050), 22050),
              "FLAC": encoded(speech, RATE, "FLAC", "PCM_16"),
              "u-law": encoded(speech, RATE, "WAV", "ULAW"),
              "Ogg Vorbis": encoded(speech, RATE, "OGG", "VORBIS")}
    if "MP3" in sf.available_formats():
        copies["MP3"] = encoded(speech, RATE, "MP3", "MPEG_LAYER_III")
    for name, (audio, rate) in copies.items():
        score, share = _brute_force_score(fingerprint(audio.T, rate), original)
        assert score >= MATCH.min_landmarks and share >= MATCH.min_share, (name, score, share)
    assert fingerprint(speech * 0.5, RATE).digest != original.digest
    pcm = np.round(speech * 32767).astype(np.int16)  # one 16-bit recording in two containers
    flac, wav = encoded(pcm, RATE, "FLAC", "PCM_16")[0], encoded(pcm, RATE, "WAV", "PCM_16")[0]
    assert fingerprint(flac, RATE).digest == fingerprint(wav, RATE).digest
    assert fingerprint(np.zeros(RATE), RATE).digest is None
    score, share = _brute_force_score(other, original)
    assert score < MATCH.min_landmarks, (score, share)


def _brute_force_score(a, b) -> tuple[int, float]:
    """Reference: count equal hashes per time offset with dicts, one frame of tolerance."""
    times_of: dict[int, list[int]] = {}
    for h, t in zip(b.hashes.tolist(), b.times.tolist()):
        times_of.setdefault(h, []).append(t)
    offsets = Counter(tb - ta for h, ta in zip(a.hashes.tolist(), a.times.tolist())
                      for tb in times_of.get(h, ()))
    best = max((offsets[d - 1] + offsets[d] + offsets[d + 1] for d in offsets), default=0)
    return best, best / max(1, min(a.hashes.size, b.hashes.size))


def test_index_join_equals_brute_force_on_planted_landmarks() -> None:
    rng = np.random.default_rng(0)

    class Fp:
        def __init__(self, hashes, times):
            self.hashes, self.times = hashes.astype(np.uint32), times.astype(np.int32)

    base = [Fp(rng.integers(0, 2**32, 300), np.sort(rng.integers(0, 400, 300)))
            for _ in range(6)]
    # Queries: copies of some base files (a share of landmarks, shifted, jittered by one frame)
    # and unrelated files, plus landmarks shared by chance at scattered offsets.
    queries = []
    for k in range(8):
        source = base[k % 6]
        keep = rng.random(300) < (0.8 if k < 4 else 0.0)
        shift = int(rng.integers(-50, 50))
        jitter = rng.integers(-1, 2, keep.sum())
        hashes = np.concatenate([source.hashes[keep], rng.integers(0, 2**32, 200),
                                 base[(k + 1) % 6].hashes[:7]])
        times = np.concatenate([source.times[keep] + shift + jitter, rng.integers(0, 400, 200),
                                rng.integers(0, 400, 7)])
        queries.append(Fp(hashes, times))
    index = LandmarkIndex(np.concatenate([f.hashes for f in base]),
                          np.repeat(np.arange(6), 300), np.concatenate([f.times for f in base]),
                          file_split=np.zeros(6 + 8, dtype=int))
    found = index.query(np.concatenate([q.hashes for q in queries]),
                        np.repeat(np.arange(6, 14), [q.hashes.size for q in queries]),
                        np.concatenate([q.times for q in queries]))
    a, b, score, _ = aligned_scores(found)
    ours = {(int(x) - 6, int(y)): int(s) for x, y, s in zip(a, b, score)}
    for qi, query in enumerate(queries):
        for bi, ref in enumerate(base):
            # The reference counts offsets t_base - t_query, like the index.
            expected = _brute_force_score(query, ref)[0]
            assert ours.get((qi, bi), 0) == expected, (qi, bi)
    assert all(ours[(k, k % 6)] > 150 for k in range(4))


def test_cli_check_data_against_names_leaks_and_writes_json(planted, tmp_path: Path,
                                                           capsys) -> None:
    out = tmp_path / "check.json"
    code = main(["check-data", str(planted["train"]), "--against", str(planted["valid"]),
                 "--json", str(out), "--workers", "1"])
    captured = capsys.readouterr()
    assert code == 1, captured
    assert "renamed" in captured.out and "same clean speech under different noise" in captured.out
    written = json.loads(out.read_text(encoding="utf-8"))
    assert written["ok"] is True and written["n_pairs"] == 7  # the pairs themselves are fine
    assert written["leakage"]["ok"] is False and len(written["leakage"]["leaks"]) == 3
    demo = planted["demo"]
    assert main(["check-data", str(demo["train_clean"]), "--against", str(demo["valid"]),
                 str(demo["test"]), "--workers", "1"]) == 0
    assert "leakage: OK" in capsys.readouterr().out


def test_cli_unreadable_file_in_against_is_one_line_exit_2(planted, tmp_path: Path,
                                                         capsys) -> None:
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" * 4)
    valid = write_manifest(tmp_path / "valid.csv",
                           [*read_manifest(planted["demo"]["valid"]),
                            Pair("broken", read_manifest(planted["demo"]["valid"])[0].noisy,
                                 broken)])
    code = main(["check-data", str(planted["demo"]["train"]), "--against", str(valid),
                 "--workers", "1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert str(broken) in err[0] and "'broken'" in err[0] and "clean side" in err[0]


def test_cli_manifest_without_clean_column_is_one_line_exit_2(planted, tmp_path: Path,
                                                            capsys) -> None:
    noisy_only = tmp_path / "noisy_only.csv"
    noisy_only.write_text("uttid,noisy\na,x.wav\n", encoding="utf-8")
    code = main(["check-data", str(planted["demo"]["train"]), "--against", str(noisy_only)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert str(noisy_only) in err[0] and "no clean column" in err[0]


def test_docs_list_every_leak_kind_and_the_thresholds() -> None:
    import re

    from tfgridnet.data.leakage import LEAK_KINDS
    from tfgridnet.data.leakage.index import STOP_COUNT

    text = (Path(__file__).resolve().parents[2] / "docs" / "data-checks.md").read_text()
    section = text.split("## Leakage between splits")[1]
    table = section.split("| kind | when |")[1].split("\n\n")[0]
    assert sorted(re.findall(r"^\| `(\w+)` \|", table, flags=re.M)) == sorted(LEAK_KINDS)
    assert f"**{MATCH.min_landmarks} landmarks**" in section
    assert f"**{MATCH.min_share:.0%}**".replace("%", " %") in section
    assert f"more than {STOP_COUNT} indexed" in section
    assert f"at least {SAME_NOISE_SHARE} of the cleans' share" in section


def test_cli_json_over_an_against_audio_file_is_refused_before_anything_is_written(
        planted, capsys) -> None:
    target = read_manifest(planted["valid"])[-1].clean
    before = target.read_bytes()
    code = main(["check-data", str(planted["train"]), "--against", str(planted["valid"]),
                 "--json", str(target)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "would overwrite the input file" in err[0], err
    assert target.read_bytes() == before
