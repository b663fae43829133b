from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scipy import signal

from tfgridnet.audio.io import save_audio
from tfgridnet.audio.resample import resample
from tfgridnet.cli import main
from tfgridnet.data.checks import DETECTORS, KINDS, MEASURE_FIELDS, check_arrays, check_data
from tfgridnet.data.demo import EspeakSynth, make_noise
from tfgridnet.data.manifest import Pair, write_manifest

from .conftest import speech_like

RATE = 16000


def espeak(text: str, voice: str) -> np.ndarray:
    synth = EspeakSynth.shared()
    audio = synth.synthesize(text, voice=voice)
    return resample(audio, synth.sample_rate, RATE).astype(np.float64) * 0.5


def mix(clean: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    return clean + noise * np.sqrt(np.sum(clean ** 2) / np.sum(noise ** 2) / 10 ** (snr_db / 10))


def planted_faults(rng: np.random.Generator) -> dict[str, tuple[np.ndarray, np.ndarray, str]]:
    """uttid -> (noisy, clean, expected kind or "" for a clean pair)."""
    voices = ["en-us+m1", "en+f2", "en-gb-x-rp+m3", "en-029+f4"]
    texts = ["The old farmer carried a wooden box near the river.",
             "A quiet student measured the garden gate before sunrise.",
             "Her brother sold seven green apples at the harbour.",
             "The night nurse opened the kitchen window while it rained."]
    speech = [espeak(t, v) for t, v in zip(texts, voices)] + [speech_like(3.0, RATE, seed=9)]
    sources = speech[:3]

    def noisy_of(clean: np.ndarray, kind: str = "pink", snr: float = 5.0) -> np.ndarray:
        return mix(clean, make_noise(kind, clean.size, RATE, rng, sources), snr)

    c0, c1, c2, c3, c4 = speech
    n0 = noisy_of(c0)
    lowpass = signal.butter(8, [300, 3400], btype="bandpass", fs=RATE, output="sos")
    causal = signal.butter(4, [80, 7000], btype="bandpass", fs=RATE, output="sos")
    other = noisy_of(c1)
    wrong = other[:c0.size] if other.size >= c0.size else np.pad(other, (0, c0.size - other.size))
    narrow = resample(resample(c0, RATE, 8000), 8000, RATE)[:c0.size]  # 8 kHz material at 16 kHz
    padded = np.pad(c1, (2 * c1.size, 2 * c1.size))  # speech in a fifth of the file
    return {
        "ok_espeak_pink": (n0, c0, ""),
        "ok_espeak_babble_low": (noisy_of(c2, "babble", -5.0), c2, ""),
        "ok_espeak_white_high": (noisy_of(c3, "white", 15.0), c3, ""),
        "ok_synthetic_brown": (noisy_of(c4, "brown", 0.0), c4, ""),
        "ok_espeak_hum": (noisy_of(c1, "hum", 5.0), c1, ""),
        "shift_10ms": (np.concatenate([np.zeros(160), n0[:-160]]), c0, "misaligned"),
        "shift_1_sample": (np.concatenate([np.zeros(1), n0[:-1]]), c0, "misaligned"),
        "wrong_file": (wrong, c0, "not_a_pair"),
        "bandpassed_noisy_only": (signal.sosfiltfilt(lowpass, n0), c0, "one_sided_filtering"),
        "causal_filter_noisy_only": (signal.sosfilt(causal, n0), c0, "one_sided_filtering"),
        "clean_copied_as_noisy": (c0.copy(), c0, "identical_pair"),
        "silent_clean": (n0, c0 * 1e-5, "silent_clean"),
        "silent_noisy": (n0 * 1e-5, c0, "silent_noisy"),
        "clipped_noisy": (np.clip(n0 * 6, -1, 1), c0, "clipping"),
        "dc_noisy": (n0 + 0.05, c0, "dc_offset"),
        "scaled_separately": (n0 * 0.4, c0, "scale_mismatch"),
        "columns_swapped": (c0, n0, "swapped_sides"),
        "very_low_snr": (noisy_of(c3, "white", -20.0) * 0.2, c3 * 0.2, "very_low_snr"),
        # The reference audit: "clean" sides that are not clean speech.
        "reference_keeps_noise": (noisy_of(noisy_of(c2, "pink", 5.0)), noisy_of(c2, "pink", 5.0),
                                  "noisy_reference"),
        "reference_some_noise": (noisy_of(noisy_of(c3, "white", 13.0)), noisy_of(c3, "white", 13.0),
                                 "reference_noise"),
        "reference_8khz_material": (noisy_of(narrow, "white", 10.0), narrow,
                                    "band_limited_reference"),
        "reference_silence_padded": (noisy_of(padded), padded, "little_speech"),
    }


@pytest.fixture(scope="module")
def faulty_corpus(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("faults")
    rng = np.random.default_rng(0)
    pairs, expected = [], {}
    for uttid, (noisy, clean, kind) in planted_faults(rng).items():
        n_path = save_audio(root / "noisy" / f"{uttid}.wav", noisy, RATE)
        c_path = save_audio(root / "clean" / f"{uttid}.wav", clean, RATE)
        pairs.append(Pair(uttid, n_path, c_path))
        expected[uttid] = kind
    # file-level faults
    clean = speech_like(2.0, RATE, seed=4)
    noisy = clean + 0.05 * rng.standard_normal(clean.size)
    c_path = save_audio(root / "clean" / "base.wav", clean, RATE)
    pairs.append(Pair("missing_noisy", root / "noisy" / "does_not_exist.wav", c_path))
    expected["missing_noisy"] = "missing_file"
    corrupt = root / "noisy" / "corrupt.wav"
    corrupt.write_bytes(b"RIFF1234WAVEfmt garbage that libsndfile cannot parse")
    pairs.append(Pair("corrupt_noisy", corrupt, c_path))
    expected["corrupt_noisy"] = "unreadable_file"
    at_48k = save_audio(root / "noisy" / "rate.wav", resample(noisy, RATE, 48000), 48000)
    pairs.append(Pair("rate_mismatch", at_48k, c_path))
    expected["rate_mismatch"] = "sample_rate_mismatch"
    mislabelled = root / "noisy" / "mislabelled.wav"
    sf.write(mislabelled, resample(noisy, RATE, 48000), RATE, subtype="PCM_16")  # 48k data, 16k header
    pairs.append(Pair("rate_mislabelled", mislabelled, c_path))
    expected["rate_mislabelled"] = "not_a_pair"
    longer = save_audio(root / "noisy" / "longer.wav", np.concatenate([noisy, noisy[:8000]]), RATE)
    pairs.append(Pair("length_mismatch", longer, c_path))
    expected["length_mismatch"] = "length_mismatch"
    stereo = save_audio(root / "noisy" / "stereo.wav", np.stack([noisy, noisy]), RATE)
    pairs.append(Pair("stereo_noisy", stereo, c_path))
    expected["stereo_noisy"] = "multichannel"
    two_talkers = save_audio(root / "clean" / "two_talkers.wav",
                             np.stack([clean, speech_like(2.0, RATE, seed=8)]), RATE)
    pairs.append(Pair("clean_two_talkers", root / "noisy" / "stereo.wav", two_talkers))
    expected["clean_two_talkers"] = "unrelated_channels"  # tests/data/test_channels.py: more
    with_nan = root / "noisy" / "nan.wav"
    sf.write(with_nan, np.where(np.arange(noisy.size) == 100, np.nan, noisy), RATE, subtype="FLOAT")
    pairs.append(Pair("nan_noisy", with_nan, c_path))
    expected["nan_noisy"] = "non_finite_samples"
    manifest = write_manifest(root / "manifest.csv", pairs)
    return manifest, expected


@pytest.fixture(scope="module")
def faulty_report(faulty_corpus):
    manifest, _ = faulty_corpus
    return check_data(manifest, workers=2)


def test_every_planted_fault_is_named_with_its_kind_and_clean_pairs_are_not(faulty_corpus,
                                                                               faulty_report):
    _, expected = faulty_corpus
    found: dict[str, set[str]] = {}
    for problem in faulty_report.problems:
        found.setdefault(problem.uttid, set()).add(problem.kind)
        assert problem.severity == KINDS.get(problem.kind, problem.severity)
    for uttid, kind in expected.items():
        if kind:
            assert kind in found.get(uttid, set()), (uttid, found.get(uttid))
        else:
            assert uttid not in found, (uttid, found[uttid])
    assert not faulty_report.ok
    assert faulty_report.n_pairs == len(expected)


def test_misalignment_message_gives_the_lag_in_ms_and_samples(faulty_report):
    (problem,) = [p for p in faulty_report.problems if p.uttid == "shift_10ms"]
    assert "late by 10.00 ms" in problem.message and "160 samples at 16000 Hz" in problem.message
    (one,) = [p for p in faulty_report.problems if p.uttid == "shift_1_sample"]
    assert "1 samples" in one.message


def test_report_json_and_summary_follow_the_contract(faulty_report):
    data = json.loads(json.dumps(faulty_report.to_dict()))
    assert set(data) == {"ok", "n_pairs", "sampled", "problems", "stats", "role", "cache",
                         "pairs"}
    assert data["role"] == "pairs" and len(data["pairs"]) == data["n_pairs"]
    assert set(data["pairs"][0]) == {"uttid", *MEASURE_FIELDS}
    audited = {m["uttid"]: m for m in data["pairs"]}["reference_keeps_noise"]
    assert audited["ref_snr_db"] < 10 and audited["sisnr_db"] is not None
    assert data["sampled"] is None  # every pair was checked
    assert set(data["problems"][0]) == {"uttid", "kind", "severity", "message"}
    assert {p["severity"] for p in data["problems"]} <= {"error", "warning"}
    assert data["stats"]["sisnr_db"]["median"] == pytest.approx(5.0, abs=3.0)
    summary = faulty_report.summary()
    assert "ERRORS" in summary and "misaligned" in summary and "estimated input SI-SNR" in summary


def test_length_mismatch_of_a_few_samples_is_only_a_warning():
    clean = speech_like(2.0, RATE, seed=1)
    noisy = clean + 0.05 * np.random.default_rng(0).standard_normal(clean.size)
    problems, _ = check_arrays("u", np.concatenate([noisy, noisy[:64]]), RATE, clean, RATE)
    assert [(p.kind, p.severity) for p in problems] == [("length_mismatch", "warning")]


def test_expected_sample_rate_is_reported_when_different():
    clean = speech_like(1.0, 8000, seed=1)
    noisy = clean + 0.05 * np.random.default_rng(0).standard_normal(clean.size)
    problems, facts = check_arrays("u", noisy, 8000, clean, 8000, sample_rate=16000)
    assert {p.kind for p in problems} == {"unexpected_sample_rate"}
    assert facts["sisnr_db"] > 5


def test_sampling_checks_a_reproducible_subset(faulty_corpus):
    manifest, expected = faulty_corpus
    first = check_data(manifest, workers=1, max_pairs=5, seed=3)
    second = check_data(manifest, workers=1, max_pairs=5, seed=3)
    assert first.stats["n_checked"] == 5 and first.n_pairs == len(expected)
    assert [p.uttid for p in first.problems] == [p.uttid for p in second.problems]
    assert first.sampled == {"n": 5, "of": len(expected), "seed": 3}


def test_cli_max_pairs_marks_json_and_summary_as_sampled(faulty_corpus, tmp_path, capsys):
    manifest, expected = faulty_corpus
    report_path = tmp_path / "sampled.json"
    main(["check-data", str(manifest), "--json", str(report_path), "--workers", "1",
          "--max-pairs", "4", "--seed", "11"])
    data = json.loads(report_path.read_text())
    assert data["sampled"] == {"n": 4, "of": len(expected), "seed": 11}
    assert data["stats"]["n_checked"] == 4
    assert f"random sample of 4 of {len(expected)} pairs (seed 11)" in capsys.readouterr().out


def test_the_inspect_hint_names_the_json_it_was_given_and_suggests_one_otherwise(
        faulty_corpus, tmp_path, capsys):
    manifest, _ = faulty_corpus
    report_path = tmp_path / "mine.json"
    assert main(["check-data", str(manifest), "--json", str(report_path)]) == 1
    out = capsys.readouterr().out
    assert f"every problem is in {report_path} (offending uttids: " in out
    assert "--json report.json" not in out
    assert main(["check-data", str(manifest)]) == 1
    assert f"inspect with: tfgridnet check-data {manifest} --json report.json" in \
        capsys.readouterr().out


def test_cli_exit_codes(faulty_corpus, tmp_path, make_pair):
    manifest, _ = faulty_corpus
    report_path = tmp_path / "report.json"
    assert main(["check-data", str(manifest), "--json", str(report_path)]) == 1
    assert json.loads(report_path.read_text())["ok"] is False

    folder = tmp_path / "good"
    for k in range(3):
        make_pair(f"u{k}", seconds=1.0, seed=k, folder=folder)
    good_manifest = tmp_path / "good.csv"
    assert main(["make-manifest", "--noisy-dir", str(folder / "noisy"), "--clean-dir",
                 str(folder / "clean"), "--out", str(good_manifest)]) == 0
    assert main(["check-data", str(good_manifest), "--json", str(report_path),
                 "--sample-rate", "16000"]) == 0
    assert json.loads(report_path.read_text()) | {"stats": None, "cache": None, "pairs": None} == {
        "ok": True, "n_pairs": 3, "sampled": None, "problems": [], "stats": None,
        "role": "pairs", "cache": None, "pairs": None}

    broken = tmp_path / "broken.csv"
    broken.write_text("id,path\nx,y\n")
    assert main(["check-data", str(broken)]) == 2
    assert main(["check-data", str(tmp_path / "absent.csv")]) == 2
    assert main(["make-manifest", "--noisy-dir", str(folder / "noisy"), "--clean-dir",
                 str(tmp_path / "nowhere"), "--out", str(tmp_path / "m.csv")]) == 2


def _documented_detectors() -> list[tuple[str, dict[str, str]]]:
    """The detector table of docs/data-checks.md: name -> {kind: severity}."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "data-checks.md").read_text()
    table = text.split("## Detectors")[1].split("\n\n")[1]
    out = []
    for line in table.splitlines()[2:]:
        name, kinds = line.split("|")[1:3]
        out.append((name.strip().strip("`"),
                    dict(re.findall(r"`(\w+)` \((error|warning)\)", kinds))))
    return out


def test_docs_list_every_registered_detector_and_kind_with_its_severity():
    assert _documented_detectors() == [(d.name, d.kinds) for d in DETECTORS]
    assert KINDS == {k: s for d in DETECTORS for k, s in d.kinds.items()}


def test_every_registered_kind_has_a_planted_fault(faulty_corpus):
    _, expected = faulty_corpus
    covered = set(expected.values()) | {
        "unexpected_sample_rate",  # test_expected_sample_rate_is_reported_when_different
        "silent_noise",  # tests/data/test_reference_audit.py: a dynamic-mixing noise list
        "sisnr_outlier",  # tests/data/test_reference_audit.py: needs a corpus of 20+ pairs
    }
    for detector in DETECTORS:
        assert set(detector.kinds) <= covered, (detector.name, set(detector.kinds) - covered)
