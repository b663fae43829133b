"""Corpus scale: every file used (shuffled passes), bounded decoded-audio cache, conditions kept."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tfgridnet.cli import main
from tfgridnet.data.augment import Augmentation
from tfgridnet.data.cache import AudioCache
from tfgridnet.data.datasets import DynamicMixDataset, EpochSampler, collate_pairs
from tfgridnet.data.manifest import (
    Entry,
    ManifestError,
    Pair,
    make_manifest,
    read_conditions_csv,
    read_entries,
    read_manifest,
    write_manifest,
    write_single_manifest,
)

RATE = 8000
N_CLEAN = 300       # many more clean files than one epoch takes ...
EPOCH_SIZE = 30     # ... so one pass over them spans 10 epochs
N_NOISE = 7


def _write_wavs(folder: Path, prefix: str, count: int, seconds: float) -> list[tuple[str, Path]]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(len(prefix) + count)
    out = []
    for k in range(count):
        path = folder / f"{prefix}{k:04d}.wav"
        sf.write(path, 0.1 * rng.standard_normal(int(seconds * RATE)), RATE, subtype="FLOAT")
        out.append((f"{prefix}{k:04d}", path))
    return out


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("scale")
    clean = _write_wavs(root / "clean", "c", N_CLEAN, 0.05)
    noise = _write_wavs(root / "noise", "n", N_NOISE, 0.2)
    kinds = ("white", "hum")
    return {
        "clean": write_single_manifest(root / "clean.csv", "clean", clean),
        "noise": write_single_manifest(root / "noise.csv", "noise", [
            Entry(uttid, path, {"noise_kind": kinds[k % 2]}) for k, (uttid, path)
            in enumerate(noise)]),
    }


def _dataset(corpus: dict[str, Path], **kwargs) -> DynamicMixDataset:
    return DynamicMixDataset(corpus["clean"], corpus["noise"], sample_rate=RATE, crop_seconds=0.04,
                             snr_range=(0.0, 10.0), epoch_size=EPOCH_SIZE, seed=3, **kwargs)


def _epoch_items(dataset: DynamicMixDataset, epoch: int, replicas: int = 1, rank: int = 0):
    sampler = EpochSampler(dataset, num_replicas=replicas, rank=rank, seed=3)
    sampler.set_epoch(epoch)
    return [dataset[key] for key in sampler]


def test_one_pass_of_epochs_uses_every_clean_file_once_then_reshuffles(corpus) -> None:
    dataset = _dataset(corpus)
    passes = N_CLEAN // EPOCH_SIZE
    used = [[item["conditions"]["clean_id"] for item in _epoch_items(dataset, epoch)]
            for epoch in range(2 * passes)]
    first = [uttid for epoch in used[:passes] for uttid in epoch]
    second = [uttid for epoch in used[passes:] for uttid in epoch]
    names = {f"c{k:04d}" for k in range(N_CLEAN)}
    # Before the fix, `clean[index % len(clean)]` gave the same 30 files (10 %) in every epoch.
    assert len(first) == N_CLEAN and set(first) == names  # full coverage, no repeats
    assert len(second) == N_CLEAN and set(second) == names
    assert all(len(set(epoch)) == EPOCH_SIZE for epoch in used)
    assert used[0] != used[passes]  # a new permutation for the next pass
    noise = Counter(item["conditions"]["noise_id"] for epoch in range(passes)
                    for item in _epoch_items(dataset, epoch))
    assert set(noise) == {f"n{k:04d}" for k in range(N_NOISE)}  # noise cycles through its list
    assert max(noise.values()) - min(noise.values()) <= 1


def test_items_are_a_function_of_seed_epoch_index_and_ranks_share_disjointly(corpus) -> None:
    first, second = _dataset(corpus), _dataset(corpus)
    for key in [(0, 0), (17, 4), (29, 12)]:  # a resumed run builds a fresh dataset
        a, b = first[key], second[key]
        assert a["uttid"] == b["uttid"] and a["conditions"] == b["conditions"]
        assert np.array_equal(a["noisy"].numpy(), b["noisy"].numpy())
    whole = {item["uttid"] for item in _epoch_items(first, 5)}
    shares = [{item["uttid"] for item in _epoch_items(first, 5, 2, rank)} for rank in range(2)]
    assert not shares[0] & shares[1] and shares[0] | shares[1] == whole


def test_an_epoch_longer_than_the_list_covers_it_evenly(corpus) -> None:
    dataset = DynamicMixDataset(corpus["clean"], corpus["noise"], sample_rate=RATE,
                                crop_seconds=0.04, epoch_size=N_CLEAN * 2, seed=1)
    counts = Counter(dataset.clean_index(i, 0) for i in range(len(dataset)))
    assert set(counts.values()) == {2}


def test_cache_keeps_to_its_byte_budget_least_recently_used_out_first(tmp_path) -> None:
    files = _write_wavs(tmp_path, "f", 6, 0.1)  # 800 float32 samples = 3,200 bytes each
    per_file = int(0.1 * RATE) * 4
    cache = AudioCache(RATE, None, max_bytes=3 * per_file + 100)
    for _, path in files[:3]:
        cache.get(path)
    cache.get(files[0][1])  # touch the oldest: it becomes the most recent
    for _, path in files[3:]:
        cache.get(path)
        assert cache.nbytes <= cache.max_bytes
    kept = {path for path, _ in cache._store}  # keys: (path, rate)
    assert len(cache) == 3 and str(files[0][1]) not in kept and str(files[5][1]) in kept
    off = AudioCache(RATE, None, max_bytes=0)
    assert off.get(files[0][1]).shape == (800,) and len(off) == 0 and off.nbytes == 0


def test_dataset_cache_budget_is_respected_over_many_files(corpus) -> None:
    budget_mb = 0.01  # ~10 kB: 26 of the 1.6 kB clean crops' files at most
    dataset = _dataset(corpus, cache_mb=budget_mb)
    for epoch in range(3):
        _epoch_items(dataset, epoch)
        assert 0 < dataset._cache.nbytes <= budget_mb * 2**20
    assert len(dataset._cache) < 3 * EPOCH_SIZE


def test_items_record_their_conditions_and_collate_keeps_them(corpus) -> None:
    augment = Augmentation(gain_db=(-3.0, 3.0), remix_snr_db=(0.0, 5.0), remix_prob=1.0)
    dataset = _dataset(corpus, augment=augment)
    items = _epoch_items(dataset, 0)[:4]
    for item in items:
        cond = item["conditions"]
        assert cond["clean_id"] == item["uttid"].split("__")[0]
        assert cond["noise_id"] == item["uttid"].split("__")[1]
        assert cond["noise_kind"] == ("white", "hum")[int(cond["noise_id"][1:]) % 2]
        assert cond["snr_db"] == item["snr_db"] and 0.0 <= cond["snr_db"] <= 10.0
        assert -6.0 <= cond["gain_db"] <= 6.0
        assert set(cond["augmentations"]) == {"gain_db", "remix_snr_db"}
    batch = collate_pairs(items)
    assert batch["conditions"] == [item["conditions"] for item in items]


def test_manifest_keeps_condition_columns_through_read_and_write(tmp_path) -> None:
    manifest = tmp_path / "m.csv"
    manifest.write_text("uttid,noisy,clean,snr_db,noise_kind,room\n"
                        "a,n/a.wav,c/a.wav,5.0,babble,small\nb,n/b.wav,c/b.wav,-2.5,hum,\n")
    pairs = read_manifest(manifest)
    assert pairs[0].conditions == {"snr_db": "5.0", "noise_kind": "babble", "room": "small"}
    assert pairs[1].conditions["room"] == ""
    copy = write_manifest(tmp_path / "copy.csv", pairs)
    assert copy.read_text().splitlines()[0] == "uttid,noisy,clean,snr_db,noise_kind,room"
    again = read_manifest(copy)
    assert again == pairs and [p.conditions for p in again] == [p.conditions for p in pairs]
    assert read_manifest(tmp_path / "copy.csv")[0].noisy == tmp_path / "n" / "a.wav"
    assert read_entries(tmp_path / "copy.csv", "clean")[1].conditions["noise_kind"] == "hum"
    with pytest.raises(ValueError, match="clash"):
        write_manifest(tmp_path / "bad.csv", [Pair("x", tmp_path / "x.wav", None, {"noisy": "1"})])


def test_make_manifest_writes_conditions_from_a_side_table_and_constants(tmp_path) -> None:
    for side in ("noisy", "clean"):
        _write_wavs(tmp_path / side, "u", 3, 0.05)
    table = tmp_path / "conditions.csv"
    table.write_text("uttid,snr_db,noise_kind\nu0000,5,babble\nu0002,0,hum\n")
    out = tmp_path / "m.csv"
    args = ["make-manifest", "--noisy-dir", str(tmp_path / "noisy"), "--clean-dir",
            str(tmp_path / "clean"), "--out", str(out)]
    assert main([*args, "--conditions", str(table), "--set", "corpus=dns"]) == 0
    pairs = read_manifest(out)
    assert [p.conditions for p in pairs] == [
        {"corpus": "dns", "snr_db": "5", "noise_kind": "babble"},
        {"corpus": "dns", "snr_db": "", "noise_kind": ""},
        {"corpus": "dns", "snr_db": "0", "noise_kind": "hum"}]
    table.write_text("uttid,snr_db\nu0000,5\nwrong_name,1\n")
    with pytest.raises(ManifestError, match="wrong_name"):
        make_manifest(tmp_path / "noisy", tmp_path / "clean", tmp_path / "x.csv",
                      conditions=read_conditions_csv(table))
    assert not (tmp_path / "x.csv").exists()
    assert main([*args, "--set", "no_equals_sign"]) == 2
