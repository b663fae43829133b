from __future__ import annotations

import csv
import functools
import json

import numpy as np
import pytest
import soundfile as sf

from tfgridnet.cli import main
from tfgridnet.data.checks import check_data
from tfgridnet.data.datasets import DynamicMixDataset, PairedDataset
from tfgridnet.data.demo import (
    NOISE_KINDS,
    STAMP_NAME,
    EspeakSynth,
    make_demo_data,
    make_noise,
)
from tfgridnet.data.manifest import read_entries, read_manifest, read_noise_manifest

SMALL = {"n_train": 8, "n_valid": 3, "n_test": 3, "noise_files": 6, "noise_seconds": 1.0,
         "progress": None}


@pytest.fixture(scope="module")
def small_demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    return out, make_demo_data(out, seed=1, **SMALL)


def test_demo_corpus_has_all_manifests_and_passes_check_data(small_demo):
    _, paths = small_demo
    assert set(paths) == {"train", "valid", "test", "train_clean", "train_noise"}
    for split, n in (("train", 8), ("valid", 3), ("test", 3)):
        pairs = read_manifest(paths[split])
        assert len(pairs) == n
        info = sf.info(str(pairs[0].clean))
        assert all(set(p.conditions) == {"noise_kind", "snr_db"} for p in pairs)
        assert all(p.conditions["noise_kind"] in NOISE_KINDS and -5.0 <= float(
            p.conditions["snr_db"]) <= 15.0 for p in pairs)
        assert info.samplerate == 16000 and info.subtype == "PCM_16" and 2.0 < info.duration < 6.0
    report = check_data(paths["train"], sample_rate=16000, workers=1)
    # No errors; the only warnings name the training references the demo low-passes by design
    # (a quarter, at 3.4-7 kHz), against their full-band noisy sides.
    assert report.ok, report.summary()
    assert {p.kind for p in report.problems} <= {"band_limited_reference"}, report.summary()
    assert -6.0 < report.stats["sisnr_db"]["min"] and report.stats["sisnr_db"]["max"] < 16.0
    assert len(read_noise_manifest(paths["train_noise"])) == 6
    kinds = [e.conditions["noise_kind"] for e in read_entries(paths["train_noise"], "noise")]
    assert kinds == [NOISE_KINDS[k % len(NOISE_KINDS)] for k in range(6)]


def test_demo_manifests_feed_both_datasets(small_demo):
    _, paths = small_demo
    paired = PairedDataset(paths["valid"], 16000, train=False)
    assert paired[0]["noisy"].shape == paired[0]["clean"].shape
    mixed = DynamicMixDataset(paths["train_clean"], paths["train_noise"], 16000, crop_seconds=1.0)
    assert len(mixed) == 8 and mixed[0]["noisy"].shape == (16000,)


def test_test_split_uses_other_voices_and_sentences(small_demo):
    out, paths = small_demo
    plan = json.loads((out / STAMP_NAME).read_text())["utterances"]
    by_split = {split: [plan[p.uttid] for p in read_manifest(paths[split])]
                for split in ("train", "valid", "test")}
    for split, pairs in (("train", 8), ("valid", 3), ("test", 3)):
        assert len(by_split[split]) == pairs
        for pair in read_manifest(paths[split]):  # each manifest lists its own split's files
            assert (pair.noisy.parent.resolve(), pair.clean.parent.resolve()) == (
                out.resolve() / split / "noisy", out.resolve() / split / "clean")
    seen = {split: ({u["voice"] for u in us}, {u["text"] for u in us})
            for split, us in by_split.items()}
    train_voices = seen["train"][0] | seen["valid"][0]
    assert seen["test"][0] and not seen["test"][0] & train_voices
    texts = [u["text"] for us in by_split.values() for u in us]
    assert len(set(texts)) == len(texts) == 14  # no sentence in two utterances, let alone splits


def test_demo_is_idempotent_and_its_plan_and_noises_are_deterministic(small_demo, tmp_path):
    out, paths = small_demo
    wav = read_manifest(paths["train"])[0].noisy
    before = wav.stat().st_mtime_ns
    assert make_demo_data(out, seed=1, **SMALL) == paths
    assert wav.stat().st_mtime_ns == before  # reused, not regenerated
    make_demo_data(tmp_path / "again", seed=1, **SMALL)
    # Same plan (texts, voices, noise kinds); eSpeak's waveform itself is not bit-exact.
    assert json.loads((out / STAMP_NAME).read_text()) == json.loads(
        (tmp_path / "again" / STAMP_NAME).read_text())
    for name in ("noise_white_000.wav", "noise_pink_001.wav", "noise_hum_003.wav"):
        assert np.array_equal(sf.read(out / "noise" / name)[0],
                              sf.read(tmp_path / "again" / "noise" / name)[0])


def test_changed_parameters_rebuild(small_demo, tmp_path):
    out = tmp_path / "d"
    make_demo_data(out, seed=1, **SMALL)
    params = {**SMALL, "n_test": 2}
    rebuilt = make_demo_data(out, seed=1, **params)
    with open(rebuilt["test"]) as handle:
        assert len(list(csv.reader(handle))) == 3  # header + 2


def test_espeak_voices_differ_and_unknown_voice_is_an_error():
    synth = EspeakSynth.shared()
    assert synth.sample_rate == 22050
    a = synth.synthesize("Seven green apples.", voice="en-us+m1")
    b = synth.synthesize("Seven green apples.", voice="en+f3", pitch=70)
    assert a.dtype == np.float32 and 0.05 < np.abs(a).max() <= 1.0
    assert a.size != b.size or not np.allclose(a, b)
    with pytest.raises(ValueError, match="no voice"):
        synth.synthesize("hello", voice="xx-nonexistent")


@pytest.mark.parametrize("kind", ["white", "pink", "brown", "hum", "babble", "bursts"])
def test_noise_kinds_are_zero_mean_unit_rms(kind):
    rng = np.random.default_rng(0)
    noise = make_noise(kind, 16000, 16000, rng, [rng.standard_normal(4000)])
    assert abs(noise.mean()) < 1e-9 and np.std(noise) == pytest.approx(1.0)
    spectrum = np.abs(np.fft.rfft(noise)) ** 2
    low, high = spectrum[10:500].mean(), spectrum[4000:7000].mean()
    if kind in ("pink", "brown", "hum"):
        assert low > 10 * high
    if kind == "white":
        assert 0.5 < low / high < 2.0


def test_cli_make_demo_data_then_check_data_exit_0(tmp_path, monkeypatch):
    # The CLI's wiring and exit codes, on a small corpus (the default size takes ~15 s).
    from tfgridnet.data import demo

    monkeypatch.setattr(demo, "make_demo_data", functools.partial(demo.make_demo_data, **SMALL))
    out = tmp_path / "demo"
    assert main(["make-demo-data", "--out", str(out), "--seed", "3"]) == 0
    for split in ("train", "valid", "test"):
        assert main(["check-data", str(out / "manifests" / f"{split}.csv"),
                     "--sample-rate", "16000"]) == 0
