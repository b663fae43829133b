"""The reference audit, the corpus outlier rule, dynamic-mixing lists and the result cache of
check-data: planted faults made with the real data code, and clean controls that stay clean."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from scipy import signal

from tfgridnet.audio.filters import bandpass
from tfgridnet.audio.io import save_audio
from tfgridnet.cli import main
from tfgridnet.data.checks import ResultCache, check_data
from tfgridnet.data.checks.reference import _wada_table, effective_bandwidth, wada_snr
from tfgridnet.data.demo import make_noise
from tfgridnet.data.manifest import Entry, Pair, write_manifest, write_single_manifest

from .conftest import mix_at_snr
from .test_checks import RATE, espeak, mix

AUDIT_KINDS = {"noisy_reference", "reference_noise", "band_limited_reference", "little_speech"}


def test_wada_table_tends_to_the_gaussian_limit_at_low_snr():
    # For Gaussian noise alone, log E|n| - E log|n| = log sqrt(2/pi) + (Euler's gamma + ln 2) / 2.
    snr_db, g = _wada_table()
    gaussian = np.log(np.sqrt(2 / np.pi)) + (np.euler_gamma + np.log(2)) / 2
    assert snr_db[0] == -20 and g[0] == pytest.approx(gaussian, abs=0.01)
    assert np.all(np.diff(g) >= 0)


@pytest.mark.parametrize("snr_db", [0.0, 10.0, 20.0])
def test_wada_snr_recovers_the_snr_of_gamma_speech_in_gaussian_noise(snr_db):
    rng = np.random.default_rng(int(snr_db))
    speech = rng.gamma(0.4, 1.0, 160_000) * rng.choice((-1.0, 1.0), 160_000)
    noise = rng.standard_normal(speech.size)
    noise *= np.sqrt(np.sum(speech ** 2) / np.sum(noise ** 2) / 10 ** (snr_db / 10))
    assert wada_snr(speech + noise) == pytest.approx(snr_db, abs=1.0)


@pytest.mark.parametrize("cutoff", [2000.0, 4000.0, 6000.0])
def test_effective_bandwidth_matches_a_welch_reference(cutoff):
    audio = bandpass(np.random.default_rng(0).standard_normal(4 * RATE), RATE, None, cutoff)
    freqs, power = signal.welch(audio, RATE, nperseg=1024)  # independent spectrum estimate
    reference = freqs[np.flatnonzero(power > power.max() * 1e-5)[-1]]
    ours_spectrum = signal.welch(audio, RATE, nperseg=512)[1]
    ours = effective_bandwidth(ours_spectrum, RATE)
    assert cutoff <= ours <= 1.4 * cutoff and abs(ours - reference) < 100


@pytest.fixture(scope="module")
def references(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """A dynamic-mixing clean list: eSpeak references, three of them not clean."""
    root = tmp_path_factory.mktemp("references")
    rng = np.random.default_rng(3)
    texts = [("The baker noticed a paper boat under the bridge.", "en-us+m3"),
             ("Our teacher repaired the broken clock before sunrise.", "en+f3"),
             ("A clever fox collected three silver coins.", "en-gb-x-rp+m1")]
    speech = [espeak(text, voice) for text, voice in texts]
    planted = {
        "clean_a": (speech[0], ""), "clean_b": (speech[1], ""), "clean_c": (speech[2], ""),
        "keeps_pink_noise": (mix(speech[0], make_noise("pink", speech[0].size, RATE, rng), 3.0),
                             "noisy_reference"),
        "keeps_some_hiss": (mix(speech[1], make_noise("white", speech[1].size, RATE, rng), 13.0),
                            "reference_noise"),
        "mostly_silence": (np.pad(speech[2], (3 * speech[2].size, 0)), "little_speech"),
        "telephone_band": (bandpass(speech[1], RATE, None, 3400.0), "band_limited_reference"),
    }
    entries = [Entry(uttid, save_audio(root / f"{uttid}.wav", audio, RATE))
               for uttid, (audio, _) in planted.items()]
    return write_single_manifest(root / "clean.csv", "clean", entries), {
        uttid: kind for uttid, (_, kind) in planted.items()}


def test_a_clean_list_names_each_unclean_reference_and_keeps_every_measurement(references):
    manifest, expected = references
    report = check_data(manifest, workers=1, cache=False)
    assert report.role == "clean" and len(report.measures) == len(expected)
    found: dict[str, set[str]] = {}
    for problem in report.problems:
        found.setdefault(problem.uttid, set()).add(problem.kind)
    for uttid, kind in expected.items():
        assert (found.get(uttid, set()) & AUDIT_KINDS) == ({kind} if kind else set()), uttid
    assert not report.ok  # noisy_reference is an error
    measures = {m.uttid: m for m in report.measures}
    assert measures["keeps_pink_noise"].ref_snr_db < 10 < measures["clean_a"].ref_snr_db
    assert measures["telephone_band"].ref_bandwidth_hz < 4000 < measures["clean_b"].ref_bandwidth_hz
    assert measures["mostly_silence"].ref_speech_share < 0.5 < measures["clean_c"].ref_speech_share
    assert all(m.sisnr_db is None for m in report.measures)  # no pairs, no input SI-SNR


def test_the_error_threshold_is_a_setting_and_cached_measurements_are_judged_again(references,
                                                                                tmp_path):
    manifest, expected = references
    cache = ResultCache(tmp_path / "cache")
    first = check_data(manifest, workers=1, cache=cache)
    relaxed = check_data(manifest, workers=1, cache=ResultCache(tmp_path / "cache"),
                         snr_error_db=None)
    assert first.cache == {"path": str(cache.path), "hits": 0, "checked": len(expected),
                           "note": None}
    assert relaxed.cache["hits"] == len(expected) and relaxed.cache["checked"] == 0
    assert relaxed.ok and {p.kind for p in relaxed.problems if p.uttid == "keeps_pink_noise"} \
        == {"reference_noise"}
    assert relaxed.stats["reference_snr_error_db"] is None


def test_a_noise_list_is_checked_for_silence_and_not_audited_as_speech(tmp_path):
    rng = np.random.default_rng(0)
    entries = [Entry(f"n_{kind}", save_audio(tmp_path / f"{kind}.wav",
                                            0.1 * make_noise(kind, RATE, RATE, rng), RATE))
               for kind in ("white", "brown", "hum")]
    entries.append(Entry("n_silent", save_audio(tmp_path / "silent.wav", np.zeros(RATE), RATE)))
    manifest = write_single_manifest(tmp_path / "noise.csv", "noise", entries)
    report = check_data(manifest, role="noise", workers=1, cache=False)
    assert report.role == "noise"
    assert [(p.uttid, p.kind) for p in report.problems] == [("n_silent", "silent_noise")]
    assert all(m.ref_snr_db is None for m in report.measures)


SENTENCES = [("The tired pilot painted the yellow kite after the long storm.", "en-us+m1"),
             ("His grandmother packed a jar of honey near the river.", "en+f2"),
             ("The new driver found an ancient map behind the station.", "en-gb-x-rp+m2"),
             ("A young doctor ordered two bright lamps late on Friday.", "en-us+f1"),
             ("My neighbour cleaned the village bell in the quiet library.", "en+m3"),
             ("The captain borrowed a heavy suitcase during the concert.", "en-us+m2")]


@pytest.fixture(scope="module")
def sentences() -> list[np.ndarray]:
    return [espeak(text, voice) for text, voice in SENTENCES]


def _paired_corpus(folder: Path, speech: list[np.ndarray], planted: int | None) -> Path:
    """24 pairs (6 sentences x 4 noises) at 4-6 dB input SNR; pair ``planted``'s clean side
    keeps 95 % of the noise."""
    pairs = []
    for k in range(24):
        clean = speech[k % len(speech)]
        noise = make_noise(("white", "pink", "brown", "hum")[k // 6], clean.size, RATE,
                           np.random.default_rng(100 + k))
        noisy = mix_at_snr(clean, noise, 4.0 + 2.0 * (k % 5) / 4)
        if k == planted:
            clean = clean + 0.95 * (noisy - clean)
        pairs.append(Pair(f"u{k:03d}", save_audio(folder / "noisy" / f"u{k:03d}.wav", noisy, RATE),
                          save_audio(folder / "clean" / f"u{k:03d}.wav", clean, RATE)))
    return write_manifest(folder / "pairs.csv", pairs)


def test_a_pair_far_from_its_corpus_is_named_with_its_figure_and_the_median(tmp_path,
                                                                            sentences):
    report = check_data(_paired_corpus(tmp_path / "planted", sentences, planted=17), workers=2,
                        cache=False)
    outliers = [p for p in report.problems if p.kind == "sisnr_outlier"]
    assert [p.uttid for p in outliers] == ["u017"] and outliers[0].severity == "warning"
    assert "input SI-SNR 3" in outliers[0].message and "corpus median 5." in outliers[0].message
    control = check_data(_paired_corpus(tmp_path / "control", sentences, planted=None),
                         workers=2, cache=False)
    assert control.ok and not control.problems, control.problems


def test_the_cache_rechecks_only_changed_files_and_survives_damage(tmp_path, make_pair):
    pairs = [Pair(f"p{k}", *make_pair(f"p{k}", seconds=1.0, seed=k)[:2]) for k in range(4)]
    manifest = write_manifest(tmp_path / "m.csv", pairs)
    folder = tmp_path / "cache"
    assert check_data(manifest, workers=1, cache=ResultCache(folder)).cache["checked"] == 4
    again = check_data(manifest, workers=1, cache=ResultCache(folder))
    assert (again.cache["hits"], again.cache["checked"]) == (4, 0)
    stat = os.stat(pairs[2].noisy)
    os.utime(pairs[2].noisy, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    touched = check_data(manifest, workers=1, cache=ResultCache(folder))
    assert (touched.cache["hits"], touched.cache["checked"]) == (3, 1)
    assert [m.uttid for m in touched.measures] == ["p0", "p1", "p2", "p3"]

    (folder / "data-check-cache.sqlite3").write_bytes(b"this is not a database" * 100)
    damaged = check_data(manifest, workers=1, cache=ResultCache(folder))
    assert damaged.ok and damaged.cache["checked"] == 4 and "unreadable" in damaged.cache["note"]
    assert list(folder.glob("data-check-cache.sqlite3.corrupt-*"))
    assert check_data(manifest, workers=1, cache=ResultCache(folder)).cache["hits"] == 4

    blocked = tmp_path / "a_file"
    blocked.write_text("not a folder")
    unusable = check_data(manifest, workers=1, cache=ResultCache(blocked / "cache"))
    assert unusable.ok and "checking without it" in unusable.cache["note"]


def test_cli_reference_list_exit_codes_and_a_manifest_without_clean_column(references, tmp_path,
                                                                           capsys):
    manifest, _ = references
    assert main(["check-data", str(manifest), "--workers", "1"]) == 1
    out = capsys.readouterr().out
    assert "ERRORS in 1 of 7 checked clean references" in out and "noisy_reference" in out
    noisy_only = tmp_path / "noisy_only.csv"
    noisy_only.write_text("uttid,noisy\nx,x.wav\n")
    assert main(["check-data", str(noisy_only)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no 'clean' column" in err[0] and str(noisy_only) in err[0]


@pytest.mark.slow  # loads the Distill-MOS model: ~15 s on 2 busy cores
def test_mos_scores_every_reference_when_asked(references):
    manifest, _ = references
    report = check_data(manifest, workers=1, cache=False, mos=True, max_pairs=2, seed=1)
    assert all(1.0 <= m.ref_distillmos <= 5.0 for m in report.measures)
