"""tfgridnet curate: the manifest without the flagged rows, the side CSV, the picture, the record."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from tfgridnet.audio.io import save_audio
from tfgridnet.cli import main
from tfgridnet.data.checks import MEASURE_FIELDS
from tfgridnet.data.curate import curate, read_curation
from tfgridnet.data.demo import make_noise
from tfgridnet.data.manifest import Pair, read_entries, read_manifest, write_manifest

from .test_checks import RATE, espeak, mix


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Six eSpeak pairs; two clean sides still carry noise (one plainly, one audibly)."""
    root = tmp_path_factory.mktemp("curate")
    rng = np.random.default_rng(5)
    texts = [("The small child sold seven green apples at the harbour.", "en-us+m2"),
             ("A painter opened the garden gate while it rained.", "en+f1"),
             ("The night nurse carried a bag of rice beside the school.", "en-gb-x-rp+f2")]
    speech = [espeak(text, voice) for text, voice in texts]
    cleans = {"good_0": speech[0], "good_1": speech[1], "good_2": speech[2],
              "good_3": speech[0][::-1].copy(),
              "noisy_clean": mix(speech[1], make_noise("pink", speech[1].size, RATE, rng), 4.0),
              "hissy_clean": mix(speech[2], make_noise("white", speech[2].size, RATE, rng), 13.0)}
    pairs = []
    for uttid, clean in cleans.items():
        noisy = mix(clean, make_noise("white", clean.size, RATE, rng), 5.0)
        pairs.append(Pair(uttid, save_audio(root / "noisy" / f"{uttid}.wav", noisy, RATE),
                          save_audio(root / "clean" / f"{uttid}.wav", clean, RATE),
                          {"noise_kind": "white"}))
    return write_manifest(root / "train.csv", pairs)


def test_curate_drops_the_flagged_rows_and_writes_measures_picture_and_record(corpus, tmp_path):
    out = tmp_path / "out" / "curated.csv"
    result = curate(corpus, out, workers=1)
    kept = read_manifest(out)
    assert [p.uttid for p in kept] == ["good_0", "good_1", "good_2", "good_3"]
    assert kept[0].conditions == {"noise_kind": "white"} and kept[0].clean.is_file()
    with open(result.measures_csv, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["uttid"] for r in rows] == ["good_0", "good_1", "good_2", "good_3", "noisy_clean",
                                          "hissy_clean"]
    assert set(rows[0]) == {"uttid", "dropped", "kinds", *MEASURE_FIELDS}
    by_id = {r["uttid"]: r for r in rows}
    assert by_id["noisy_clean"]["dropped"] == "1" and by_id["noisy_clean"]["kinds"] == \
        "noisy_reference"
    assert by_id["hissy_clean"]["kinds"] == "reference_noise" and by_id["good_0"]["dropped"] == "0"
    assert float(by_id["noisy_clean"]["ref_snr_db"]) < 10 < float(by_id["good_0"]["ref_snr_db"])
    assert result.plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    record = json.loads(result.record_path.read_text())
    assert record["n_rows"] == 6 and record["n_kept"] == 4
    assert record["dropped_by_kind"] == {"noisy_reference": 1, "reference_noise": 1}
    assert {d["uttid"] for d in record["dropped"]} == {"noisy_clean", "hissy_clean"}
    assert read_curation(out)[0].n_kept == 4


def test_keep_leaves_a_warning_kind_in_and_an_edited_manifest_loses_its_record(corpus, tmp_path):
    out = tmp_path / "curated.csv"
    curate(corpus, out, workers=1, keep=("reference_noise",))
    assert "hissy_clean" in {p.uttid for p in read_manifest(out)}
    out.write_text(out.read_text() + "\n")  # edited after curation
    record, note = read_curation(out)
    assert record is None and "changed after curation" in note


def test_curate_a_clean_list_for_dynamic_mixing(corpus, tmp_path):
    listing = tmp_path / "clean.csv"
    listing.write_text("uttid,clean\n" + "".join(f"{p.uttid},{p.clean}\n"
                                                  for p in read_manifest(corpus)))
    curate(listing, tmp_path / "curated_clean.csv", workers=1)
    kept = read_entries(tmp_path / "curated_clean.csv", "clean")
    assert [e.uttid for e in kept] == ["good_0", "good_1", "good_2", "good_3"]


def test_cli_curate_prints_what_it_kept_and_refuses_to_write_over_its_input(corpus, tmp_path,
                                                                          capsys):
    out = tmp_path / "c.csv"
    assert main(["curate", str(corpus), "--out", str(out), "--workers", "1"]) == 0
    printed = capsys.readouterr().out
    assert "curate: kept 4 of 6 rows, dropped 2 (noisy_reference 1, reference_noise 1)" in printed
    assert f"wrote {tmp_path / 'c.png'}" in printed
    before = corpus.read_bytes()
    assert main(["curate", str(corpus), "--out", str(corpus)]) == 2
    assert "would overwrite the input file" in capsys.readouterr().err
    assert corpus.read_bytes() == before
    assert main(["curate", str(corpus), "--out", str(tmp_path / "d.csv"), "--keep", "nonsense"]) == 2
    assert main(["curate", str(corpus), "--out", str(tmp_path / "d.csv"), "--min-mos", "3"]) == 2


def test_cli_curate_can_turn_the_reference_snr_error_off_for_reverberant_targets(corpus, tmp_path,
                                                                                capsys):
    """``--reference-snr-error-db off`` is ``data.reference_snr_error_db: null``: a noisy
    reference is no error, only the reference_noise warning (which curate drops unless
    ``--keep reference_noise``); a word that is neither a number nor ``off`` is one clear line."""
    out = tmp_path / "off.csv"
    assert main(["curate", str(corpus), "--out", str(out), "--workers", "1",
                 "--reference-snr-error-db", "off"]) == 0
    assert "dropped 2 (reference_noise 2)" in capsys.readouterr().out
    kept = tmp_path / "off_kept.csv"
    assert main(["curate", str(corpus), "--out", str(kept), "--workers", "1",
                 "--reference-snr-error-db", "off", "--keep", "reference_noise"]) == 0
    assert {"noisy_clean", "hissy_clean"} <= {p.uttid for p in read_manifest(kept)}
    with pytest.raises(SystemExit) as refused:
        main(["curate", str(corpus), "--out", str(out), "--reference-snr-error-db", "never"])
    assert refused.value.code == 2
    assert "--reference-snr-error-db: expected a number of dB or 'off', got 'never'" in \
        capsys.readouterr().err
