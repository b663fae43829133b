"""The start-up data check of `train`: every pair (and every clean and noise file of dynamic
mixing) by default, from the cache the second time, sampling only when asked and then said
everywhere, and a curated manifest's record kept in the run."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml

from tfgridnet.cli import main
from tfgridnet.contracts.data_check import DataCheckFile
from tfgridnet.data.curate import curate
from tfgridnet.data.manifest import Pair, read_manifest, write_manifest
from tfgridnet.report.render import write_report
from tfgridnet.train.config_files import config_from_dict
from tfgridnet.train.run import DataCheckFailed, train

from .conftest import SAMPLE_RATE, _speech_like, tiny_config_dict

N_PAIRS = 300
LATE, WRONG = 250, 280  # far beyond any sample of 64


@pytest.fixture(scope="module")
def big_corpus(tmp_path_factory) -> Path:
    """300 pairs of 0.5 s; pair 250's noisy side is 100 ms late, pair 280's clean is another
    utterance."""
    root = tmp_path_factory.mktemp("big")
    rng = np.random.default_rng(7)
    n = SAMPLE_RATE // 2
    cleans = [_speech_like(rng, n, SAMPLE_RATE) for _ in range(N_PAIRS)]
    pairs = []
    for k, clean in enumerate(cleans):
        noise = rng.standard_normal(n).astype(np.float32)
        noisy = clean + noise * np.sqrt(np.sum(clean ** 2) / np.sum(noise ** 2) / 10 ** 0.3)
        if k == LATE:
            noisy = np.concatenate([np.zeros(SAMPLE_RATE // 10, np.float32), noisy])[:n]
        reference = cleans[(k + 7) % N_PAIRS] if k == WRONG else clean
        uttid = f"p{k:03d}"
        sf.write(root / f"{uttid}_noisy.wav", noisy, SAMPLE_RATE, subtype="FLOAT")
        sf.write(root / f"{uttid}_clean.wav", reference, SAMPLE_RATE, subtype="FLOAT")
        pairs.append(Pair(uttid, root / f"{uttid}_noisy.wav", root / f"{uttid}_clean.wav"))
    return write_manifest(root / "train.csv", pairs)


def _config_file(folder: Path, corpus: dict[str, Path], **sections) -> Path:
    raw = tiny_config_dict(corpus, **sections)
    del raw["data"]["check_pairs"]  # the default: every pair
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _check_line(text: str, key: str) -> re.Match:
    match = re.search(rf"data check {re.escape(key)}: checked all (\d+) pairs in ([\d.]+) s; "
                      r"(\d+) from the cache, (\d+) read now", text)
    assert match, text
    return match


def test_train_checks_every_pair_names_both_broken_ones_and_reuses_the_cache(
        big_corpus, corpus, tmp_path, capsys):
    config = _config_file(tmp_path, {**corpus, "train": big_corpus})
    assert main(["train", str(config), "--out", str(tmp_path / "run")]) == 1
    first = capsys.readouterr()
    for uttid, kind in ((f"p{LATE:03d}", "misaligned"), (f"p{WRONG:03d}", "not_a_pair")):
        assert f"{uttid}: {kind}" in first.err
    line = _check_line(first.out, "data.train_manifest")
    assert line.group(1, 3, 4) == (str(N_PAIRS), "0", str(N_PAIRS))
    assert not (tmp_path / "run").exists()

    assert main(["train", str(config), "--out", str(tmp_path / "run")]) == 1
    second = capsys.readouterr()
    again = _check_line(second.out, "data.train_manifest")
    assert again.group(1, 3, 4) == (str(N_PAIRS), str(N_PAIRS), "0")
    assert float(again.group(2)) < float(line.group(2))
    assert f"p{LATE:03d}: misaligned" in second.err and f"p{WRONG:03d}: not_a_pair" in second.err


def test_dynamic_mixing_checks_every_clean_and_noise_file(corpus, tmp_path):
    noise_list = tmp_path / "noise.csv"
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(SAMPLE_RATE // 2, np.float32), SAMPLE_RATE, subtype="FLOAT")
    noise_list.write_text(corpus["noise"].read_text().replace(
        "noise/n", str(corpus["root"] / "noise" / "n")) + f"n_silent,{silent}\n")
    raw = tiny_config_dict(corpus, data={"train_manifest": None, "check_pairs": "all",
                                         "train_clean_manifest": str(corpus["clean"]),
                                         "train_noise_manifest": str(noise_list),
                                         "epoch_size": 8})
    with pytest.raises(DataCheckFailed) as info:
        train(config_from_dict(raw), tmp_path / "run")
    assert "data.train_noise_manifest" in str(info.value)
    assert "n_silent: silent_noise" in str(info.value)


def test_a_sampled_check_says_so_on_the_console_in_data_check_json_and_first_in_the_report(
        make_config, tmp_path, capsys):
    raw = make_config(data={"check_pairs": 4}, trainer={"max_epochs": 1})
    run = train(config_from_dict(raw), tmp_path / "run").run_dir
    out = capsys.readouterr().out
    assert ("data check data.train_manifest: checked 4 of 8 pairs (random sample, seed 0); "
            "the rest are unchecked") in out
    record = DataCheckFile.read(run / "data_check.json")
    train_check = record.checks[0]
    assert record.check_pairs == 4 and train_check.sampled == {"n": 4, "of": 8, "seed": 0}
    assert len(train_check.pairs) == 4 and train_check.pairs[0].ref_bandwidth_hz is not None
    text = write_report(run)["markdown"].read_text()
    first_section = text.split("\n## ")[0]
    assert "checked 4 of 8 pairs of `data.train_manifest`; the rest are unchecked" in first_section


def test_a_run_on_a_curated_manifest_records_what_was_dropped_and_why(corpus, make_config,
                                                                      tmp_path):
    pairs = read_manifest(corpus["train"])
    clean, rate = sf.read(pairs[0].clean)
    rng = np.random.default_rng(1)
    noise = rng.standard_normal(clean.size)
    dirty = clean + noise * np.sqrt(np.sum(clean ** 2) / np.sum(noise ** 2) / 10 ** 0.2)
    sf.write(tmp_path / "dirty_clean.wav", dirty, rate, subtype="FLOAT")
    sf.write(tmp_path / "dirty_noisy.wav", dirty + 0.5 * noise, rate, subtype="FLOAT")
    with_dirty = write_manifest(tmp_path / "train.csv", [
        *pairs, Pair("dirty", tmp_path / "dirty_noisy.wav", tmp_path / "dirty_clean.wav")])
    # The tiny corpus's tones are band-limited by construction: keep those, drop the rest.
    curated = curate(with_dirty, tmp_path / "curated.csv", workers=1,
                     keep=("band_limited_reference",)).manifest
    raw = make_config(data={"train_manifest": str(curated), "check_pairs": "all"},
                      trainer={"max_epochs": 1})
    run = train(config_from_dict(raw), tmp_path / "run").run_dir
    record = json.loads((run / "data_check.json").read_text())
    curation = record["checks"][0]["curation"]
    assert curation["n_rows"] == 9 and curation["n_kept"] == 8
    assert [d["uttid"] for d in curation["dropped"]] == ["dirty"]
    assert "noisy_reference" in curation["dropped"][0]["kinds"]
    for lang, heading in (("en", "Curated manifests"), ("zh-TW", "經整理的資料清單")):
        text = write_report(run, lang=lang)["markdown"].read_text()
        assert heading in text and "`noisy_reference` × 1" in text and "8 / 9" in text
