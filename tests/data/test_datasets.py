from __future__ import annotations

import librosa
import numpy as np
import pytest
import soundfile as sf
import torch
from scipy import signal
from torch.utils.data import DataLoader

from tfgridnet.audio.filters import bandpass
from tfgridnet.audio.io import save_audio
from tfgridnet.data.augment import Augmentation
from tfgridnet.data.datasets import DynamicMixDataset, EpochSampler, PairedDataset, collate_pairs
from tfgridnet.data.manifest import Pair
from tfgridnet.metrics import si_snr_numpy

from .conftest import speech_like

SNR_DB = 5.0
RATES = [48000, 22050, 16000]


def valid_sisnr(item: dict) -> float:
    n = item["length"]
    return si_snr_numpy(item["noisy"][:n].double().numpy(), item["clean"][:n].double().numpy())


@pytest.fixture
def steady_pairs(make_steady_pair) -> list[Pair]:
    """One 3 s pair at each source rate, all with SNR_DB in every 10 ms block."""
    return [Pair(f"sr{rate}", *make_steady_pair(f"sr{rate}", 3.0, rate, SNR_DB)) for rate in RATES]


def reference_sisnr(pair: Pair, band: tuple[float, float] | None) -> float:
    """SI-SNR of the whole pair by an independent route: librosa load + scipy band-pass."""
    if band is None:
        return SNR_DB
    noisy, rate = sf.read(pair.noisy)
    clean, _ = sf.read(pair.clean)
    noisy = librosa.resample(noisy, orig_sr=rate, target_sr=16000, res_type="soxr_hq")
    clean = librosa.resample(clean, orig_sr=rate, target_sr=16000, res_type="soxr_hq")
    sos = signal.butter(8, band, btype="bandpass", fs=16000, output="sos")
    return si_snr_numpy(signal.sosfiltfilt(sos, noisy.astype(np.float64)),
                        signal.sosfiltfilt(sos, clean.astype(np.float64)))


@pytest.mark.parametrize(
    ("crop_seconds", "train", "bandpass"),
    [(1.0, True, None), (1.0, False, None), (None, False, None), (None, True, None),
     (1.0, True, (50.0, 6000.0)), (4.0, True, None), (4.0, False, None)],
)
def test_paired_dataset_preserves_alignment_for_every_crop_and_rate(
        steady_pairs, crop_seconds, train, bandpass):
    dataset = PairedDataset(steady_pairs, 16000, crop_seconds=crop_seconds, train=train,
                            bandpass=bandpass, seed=7)
    # A band-pass that cuts part of the noise band legitimately raises the SNR; the reference
    # is then the whole filtered pair, computed without our code.
    expected = [reference_sisnr(pair, bandpass) for pair in steady_pairs]
    if bandpass is not None:
        assert min(expected) > SNR_DB + 0.2  # the filter really changed something
    for epoch in range(4):
        dataset.set_epoch(epoch)
        for index in range(len(dataset)):
            item = dataset[index]
            assert valid_sisnr(item) == pytest.approx(expected[index], abs=0.1), (
                item["uttid"], epoch)
            if crop_seconds:
                assert item["noisy"].shape == item["clean"].shape == (int(crop_seconds * 16000),)


def test_short_pairs_are_zero_padded_with_their_valid_length(steady_pairs):
    item = PairedDataset(steady_pairs[2:], 16000, crop_seconds=4.0)[0]
    assert item["length"] == 48000
    assert torch.count_nonzero(item["noisy"][48000:]) == 0
    assert torch.count_nonzero(item["clean"][48000:]) == 0


def test_crops_are_reproducible_per_seed_epoch_index_and_vary_across_epochs(steady_pairs):
    first = PairedDataset(steady_pairs, 16000, crop_seconds=1.0, seed=3)
    second = PairedDataset(steady_pairs, 16000, crop_seconds=1.0, seed=3)
    first.set_epoch(2)
    second.set_epoch(2)
    assert torch.equal(first[1]["noisy"], second[1]["noisy"])
    assert torch.equal(first[(1, 5)]["clean"], second[(1, 5)]["clean"])
    assert not torch.equal(first[(1, 2)]["clean"], first[(1, 3)]["clean"])


def test_validation_centre_crop_is_deterministic(steady_pairs):
    dataset = PairedDataset(steady_pairs, 16000, crop_seconds=1.0, train=False)
    reference = dataset[0]["clean"]
    dataset.set_epoch(9)
    assert torch.equal(dataset[0]["clean"], reference)
    whole = PairedDataset(steady_pairs, 16000, train=False)[0]["clean"]
    assert torch.equal(reference, whole[16000:32000])


def test_epoch_reaches_persistent_workers(steady_pairs):
    dataset = PairedDataset(steady_pairs, 16000, crop_seconds=0.5, seed=1)
    loader = DataLoader(dataset, batch_size=3, num_workers=2, persistent_workers=True,
                        collate_fn=collate_pairs)
    for epoch in (0, 1):
        dataset.set_epoch(epoch)
        (batch,) = list(loader)
        expected = collate_pairs([dataset[(i, epoch)] for i in range(3)])
        assert torch.equal(batch["noisy"], expected["noisy"])


def test_epoch_sampler_shuffles_per_epoch_and_carries_the_epoch(steady_pairs):
    dataset = PairedDataset(steady_pairs, 16000, crop_seconds=0.5)
    sampler = EpochSampler(dataset, seed=0)
    sampler.set_epoch(4)
    keys = list(sampler)
    assert sorted(i for i, _ in keys) == [0, 1, 2] and {e for _, e in keys} == {4}
    batch = next(iter(DataLoader(dataset, sampler=sampler, batch_size=3,
                                 collate_fn=collate_pairs)))
    assert batch["noisy"].shape == (3, 8000)


def test_collate_pads_to_the_longest_and_reports_lengths():
    items = [{"uttid": "a", "noisy": torch.ones(3), "clean": torch.ones(3), "length": 3},
             {"uttid": "b", "noisy": torch.ones(5), "clean": torch.ones(5), "length": 4}]
    batch = collate_pairs(items)
    assert batch["noisy"].shape == (2, 5) and batch["uttid"] == ["a", "b"]
    assert batch["lengths"].tolist() == [3, 4] and batch["lengths"].dtype == torch.long
    assert batch["clean"][0, 3:].abs().sum() == 0


def test_rows_without_clean_are_refused():
    with pytest.raises(ValueError, match="missing for u1"):
        PairedDataset([Pair("u1", None, None)], 16000)


@pytest.fixture
def mixing_lists(tmp_path):
    clean, noise = [], []
    for k, rate in enumerate(RATES):
        path = save_audio(tmp_path / f"c{k}.wav", speech_like(1.5 + k, rate, seed=k), rate, "FLOAT")
        clean.append(Pair(f"c{k}", None, path))
    rng = np.random.default_rng(0)
    brown = np.cumsum(rng.standard_normal(8000))
    for name, audio in (("white", rng.standard_normal(16000) * 0.1), ("brown", brown / 300)):
        noise.append((name, save_audio(tmp_path / f"{name}.wav", audio, 16000, "FLOAT")))
    return clean, noise


def test_dynamic_mix_snr_label_equals_input_sisnr(mixing_lists):
    clean, noise = mixing_lists
    dataset = DynamicMixDataset(clean, noise, 16000, crop_seconds=2.0, snr_range=(-5, 15),
                                epoch_size=6, seed=2)
    seen = set()
    for epoch in range(3):
        dataset.set_epoch(epoch)
        for index in range(len(dataset)):
            item = dataset[index]
            assert -5 <= item["snr_db"] <= 15
            assert valid_sisnr(item) == pytest.approx(item["snr_db"], abs=0.1)
            assert item["noisy"].abs().max() <= 0.99 + 1e-6
            seen.add(round(item["snr_db"], 3))
    assert len(seen) == 18  # fresh SNR for every (epoch, index)


def test_dynamic_mix_is_deterministic_and_pads_short_clean(mixing_lists):
    clean, noise = mixing_lists
    first = DynamicMixDataset(clean, noise, 16000, crop_seconds=3.0, seed=5)
    second = DynamicMixDataset(clean, noise, 16000, crop_seconds=3.0, seed=5)
    assert torch.equal(first[(0, 1)]["noisy"], second[(0, 1)]["noisy"])
    index = next(i for i in range(len(first)) if first.clean_index(i, 0) == 0)
    item = first[(index, 0)]  # the 1.5 s clean file, padded to 3 s
    assert item["conditions"]["clean_id"] == "c0"
    assert item["length"] == 24000 and torch.count_nonzero(item["noisy"][24000:]) == 0


def test_augmentations_keep_pairs_aligned(steady_pairs):
    augment = Augmentation(gain_db=(-6, 6), speed=(0.9, 1.1), remix_snr_db=(0.0, 10.0),
                           remix_prob=1.0)
    dataset = PairedDataset(steady_pairs, 16000, crop_seconds=1.0, augment=augment)
    base = PairedDataset(steady_pairs, 16000, crop_seconds=1.0)
    for epoch in range(3):
        dataset.set_epoch(epoch)
        for index in range(len(dataset)):
            item = dataset[index]
            # Remixing moves the SNR into its range; the whole pipeline keeps it exact.
            assert 0.0 - 0.1 <= valid_sisnr(item) <= 10.0 + 0.1
            assert not torch.equal(item["clean"], base[(index, epoch)]["clean"])


def test_augmentation_gain_and_speed_keep_the_snr():
    clean = bandpass(speech_like(1.0, 16000), 16000, 60.0, 7000.0)
    # Band-limited noise: playing 10 % faster must not push noise past the Nyquist frequency.
    noise = bandpass(np.random.default_rng(0).standard_normal(clean.size), 16000, 60.0, 7000.0)
    noisy = clean + 0.05 * noise
    before = si_snr_numpy(noisy, clean)
    rng = np.random.default_rng(0)
    n2, c2 = Augmentation(gain_db=(3, 3), speed=(1.1,))(noisy.astype(np.float32),
                                                        clean.astype(np.float32), 16000, rng)
    assert n2.size == c2.size == pytest.approx(16000 / 1.1, abs=2)
    assert np.max(np.abs(c2)) > np.max(np.abs(clean))
    assert si_snr_numpy(n2, c2) == pytest.approx(before, abs=0.1)


def test_masking_touches_the_input_only():
    clean = speech_like(1.0, 16000).astype(np.float32)
    noisy = clean + np.float32(0.01)
    n2, c2 = Augmentation(time_masks=2, freq_masks=2)(noisy, clean, 16000,
                                                     np.random.default_rng(1))
    assert np.array_equal(c2, clean)
    assert n2.shape == noisy.shape and not np.allclose(n2, noisy, atol=1e-4)


def test_augmentation_rejects_bad_ranges():
    with pytest.raises(ValueError, match="gain_db"):
        Augmentation(gain_db=(6, -6))
    with pytest.raises(ValueError, match="speed"):
        Augmentation(speed=(0.0,))
