"""Native-rate (V3) training: items at their own rate, one rate per batch, validation per rate."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from tests.tiny import tiny_section

from tfgridnet.contracts.metrics_csv import RATE_METRIC_FORMAT
from tfgridnet.data.datasets import DynamicMixDataset, PairedDataset, collate_pairs
from tfgridnet.data.rate_sampler import RateBatchSampler
from tfgridnet.model.io import load_model
from tfgridnet.model.tfgridnetv3 import TFGridNetV3
from tfgridnet.train.config_files import config_from_dict
from tfgridnet.train.run import train

RATES = (8000, 16000)
TINY_V3 = tiny_section("v3", emb_ks=2, emb_hs=2)


def _tone(rng: np.random.Generator, n: int, rate: int) -> np.ndarray:
    t = np.arange(n) / rate
    f0 = rng.uniform(110, 220)
    tone = sum(np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 6)) / k for k in range(1, 6))
    return (0.1 * tone * (1 + np.sin(2 * np.pi * 4 * t))).astype(np.float32)


@pytest.fixture(scope="module")
def mixed_corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Paired 8 and 16 kHz utterances (0.5 s), and clean/noise manifests for dynamic mixing."""
    root = tmp_path_factory.mktemp("mixed")
    rng = np.random.default_rng(5)
    rows: dict[str, list[str]] = {"train": [], "valid": []}
    for split, count in (("train", 6), ("valid", 4)):
        for i in range(count):
            rate = RATES[i % 2]
            clean = _tone(rng, rate // 2, rate)
            noisy = clean + 0.05 * rng.standard_normal(clean.size).astype(np.float32)
            uttid = f"{split}{i}"
            sf.write(root / f"{uttid}_clean.wav", clean, rate, subtype="FLOAT")
            sf.write(root / f"{uttid}_noisy.wav", noisy, rate, subtype="FLOAT")
            rows[split].append(f"{uttid},{uttid}_noisy.wav,{uttid}_clean.wav")
    sf.write(root / "noise.wav", 0.1 * rng.standard_normal(24000), 48000, subtype="FLOAT")
    for split, lines in rows.items():
        (root / f"{split}.csv").write_text("uttid,noisy,clean\n" + "\n".join(lines) + "\n")
    (root / "clean.csv").write_text("uttid,clean\n" + "\n".join(
        f"{r.split(',')[0]},{r.split(',')[2]}" for r in rows["train"]) + "\n")
    (root / "noise.csv").write_text("uttid,noise\nn0,noise.wav\n")
    return {"root": root, **{k: root / f"{k}.csv" for k in ("train", "valid", "clean", "noise")}}


def test_native_paired_items_keep_their_rate_and_crop_in_seconds(mixed_corpus) -> None:
    dataset = PairedDataset(mixed_corpus["train"], None, crop_seconds=0.25, train=True)
    for index in range(len(dataset)):
        item = dataset[index]
        assert item["sample_rate"] == RATES[index % 2] == dataset.item_rate(index)
        assert item["noisy"].shape[-1] == RATES[index % 2] // 4
    with pytest.raises(ValueError, match="mixes sample rates"):
        collate_pairs([dataset[0], dataset[1]])


def test_native_dynamic_mixing_resamples_noise_to_the_speech_rate(mixed_corpus) -> None:
    dataset = DynamicMixDataset(mixed_corpus["clean"], mixed_corpus["noise"], None,
                                crop_seconds=0.25, snr_range=(5.0, 5.0))
    for index in range(len(dataset)):
        item = dataset[index]
        rate = sf.info(str(dataset.clean[dataset.clean_index(index, 0)][1])).samplerate
        assert item["sample_rate"] == rate == dataset.item_rate(index)
        assert item["noisy"].shape[-1] == rate // 4
    assert {dataset[i]["sample_rate"] for i in range(len(dataset))} == set(RATES)


def test_native_dynamic_mixing_batches_hold_one_rate_in_every_epoch(mixed_corpus) -> None:
    # Each epoch takes its clean files from a shuffled pass over the list, so the rate of item i
    # changes with the epoch: the sampler must group the items again for every epoch.
    dataset = DynamicMixDataset(mixed_corpus["clean"], mixed_corpus["noise"], None,
                                crop_seconds=0.1, epoch_size=4, seed=1)
    sampler = RateBatchSampler(dataset, batch_size=2, seed=1)
    first = [dataset.item_rate(i, 0) for i in range(len(dataset))]
    changed = False
    for epoch in range(4):
        sampler.set_epoch(epoch)
        batches = list(sampler)
        assert len(batches) == len(sampler)
        for batch in batches:
            out = collate_pairs([dataset[key] for key in batch])  # raises on mixed rates
            assert out["sample_rate"] == dataset.item_rate(batch[0][0], epoch)
        changed |= [dataset.item_rate(i, epoch) for i in range(len(dataset))] != first
    assert changed


@pytest.mark.parametrize("num_replicas", [1, 2])
def test_rate_batches_hold_one_rate_and_cover_every_item(mixed_corpus, num_replicas: int) -> None:
    dataset = PairedDataset(mixed_corpus["train"], None)
    seen: list[int] = []
    for rank in range(num_replicas):
        sampler = RateBatchSampler(dataset, batch_size=2, num_replicas=num_replicas, rank=rank,
                                   seed=3)
        sampler.set_epoch(4)
        batches = list(sampler)
        assert len(batches) == len(sampler)
        for batch in batches:
            assert len({dataset.item_rate(i) for i, _ in batch}) == 1
            assert all(epoch == 4 for _, epoch in batch)
            seen += [i for i, _ in batch]
        assert sampler.rates == list(RATES)
    assert set(seen) == set(range(len(dataset)))
    again = RateBatchSampler(dataset, batch_size=2, seed=3)
    again.set_epoch(4)
    other = RateBatchSampler(dataset, batch_size=2, seed=3)
    other.set_epoch(5)
    assert list(again) == list(again) and list(again) != list(other)


def test_multi_rate_training_smoke(mixed_corpus, tmp_path: Path) -> None:
    raw = {
        "name": "native",
        "model": TINY_V3,
        "data": {"sample_rate": 16000, "train_manifest": str(mixed_corpus["train"]),
                 "valid_manifest": str(mixed_corpus["valid"]), "crop_seconds": 0.25,
                 "batch_size": 2, "num_workers": 0, "check_pairs": 4},
        "trainer": {"max_epochs": 1, "accelerator": "cpu", "devices": 1, "progress_bar": "none",
                    "num_threads": 1},
        "early_stopping": {"patience": None},
    }
    run = train(config_from_dict(raw), tmp_path / "run").run_dir
    with open(run / "metrics.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 1 and int(rows[0]["step"]) == 4  # 3 + 3 items: 2 + 2 one-rate batches
    assert np.isfinite(float(rows[0]["train_loss"]))
    per_rate = {rate: float(rows[0][RATE_METRIC_FORMAT.format(rate=rate)]) for rate in RATES}
    assert all(np.isfinite(v) for v in per_rate.values())
    # The overall mean is the mean of the two equally sized rate groups.
    assert float(rows[0]["valid_sisnr"]) == pytest.approx(np.mean(list(per_rate.values())),
                                                          abs=1e-3)
    model = load_model(run / "model")
    assert isinstance(model, TFGridNetV3)
    assert json.loads((run / "model" / "config.json").read_text())["architecture"] == "v3"
    with torch.no_grad():
        assert model(torch.randn(1, 4800), sample_rate=48000).shape == (1, 4800)
