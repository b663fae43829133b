"""A sample-rate-independent (V3) model enhances every file at the file's own rate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from tests.tiny import tiny_args

from tfgridnet.cli import main
from tfgridnet.inference.enhancer import Enhancer
from tfgridnet.model.io import save_exported
from tfgridnet.model.tfgridnetv3 import TFGridNetV3

TINY_V3 = tiny_args("v3")


@pytest.fixture
def v3_model() -> TFGridNetV3:
    torch.manual_seed(0)
    return TFGridNetV3(**TINY_V3).eval()


def _no_resampling(*args, **kwargs):
    raise AssertionError("a V3 model must not resample its input")


def _same_rate_only(audio, in_rate, out_rate):
    assert in_rate == out_rate, f"resampled {in_rate} -> {out_rate}"
    return audio


def test_48khz_file_is_enhanced_at_48khz_without_resampling(v3_model, tmp_path: Path,
                                                            monkeypatch) -> None:
    monkeypatch.setattr("tfgridnet.inference.enhancer.resample", _same_rate_only)
    monkeypatch.setattr("tfgridnet.inference.streaming.soxr.ResampleStream", _no_resampling)
    rate = 48000
    noisy = (0.1 * np.random.default_rng(0).standard_normal(int(0.7 * rate))).astype(np.float32)
    sf.write(tmp_path / "in.wav", noisy, rate, subtype="FLOAT")
    # raw level and fp32: the comparison is with the model called directly (level: test_level.py)
    enhancer = Enhancer(v3_model, chunk_seconds=30, level=False,
                        precision="fp32")  # one pass over the whole file
    enhancer.enhance_file(tmp_path / "in.wav", tmp_path / "out.wav")
    out, out_rate = sf.read(tmp_path / "out.wav", dtype="float32")
    assert out_rate == rate and out.shape == noisy.shape
    with torch.no_grad():
        direct = v3_model(torch.from_numpy(noisy)[None], sample_rate=rate)[0].numpy()
    np.testing.assert_allclose(out, direct, atol=1e-6)
    # The same signal in memory, and the model's default rate untouched by the file's.
    np.testing.assert_allclose(enhancer.enhance(noisy, rate), direct, atol=1e-6)
    assert enhancer.sample_rate == v3_model.default_fs


def test_chunking_at_the_file_rate_uses_that_rates_samples(v3_model) -> None:
    enhancer = Enhancer(v3_model, chunk_seconds=0.5, overlap_seconds=0.1, precision="fp32")
    at_48k = enhancer.at_rate(48000)
    assert (at_48k.chunk, at_48k.overlap) == (24000, 4800)
    assert (enhancer.chunk, enhancer.overlap) == (4000, 800)
    noisy = (0.1 * np.random.default_rng(1).standard_normal(48000)).astype(np.float32)
    assert enhancer.enhance(noisy, 48000).shape == noisy.shape


def test_cli_enhances_44k_and_16k_files_at_their_own_rates(v3_model, tmp_path: Path) -> None:
    export = save_exported(v3_model, 16000, tmp_path / "export")
    inputs = tmp_path / "in"
    inputs.mkdir()
    rng = np.random.default_rng(2)
    for rate in (44100, 16000):
        sf.write(inputs / f"r{rate}.wav", 0.1 * rng.standard_normal(rate // 2), rate)
    assert main(["enhance", str(export), str(inputs), "--out", str(tmp_path / "out")]) == 0
    for rate in (44100, 16000):
        info = sf.info(str(tmp_path / "out" / f"r{rate}.wav"))
        assert info.samplerate == rate and info.frames == rate // 2


def test_evaluate_scores_a_48khz_set_at_48khz(v3_model, make_pairs, tmp_path: Path,
                                              monkeypatch) -> None:
    from tfgridnet.evaluation.evaluate import evaluate

    manifest = make_pairs(tmp_path / "data", n=2, seconds=0.4, sr=48000)
    monkeypatch.setattr("tfgridnet.inference.enhancer.resample", _same_rate_only)
    summary = evaluate(v3_model, manifest, tmp_path / "eval", n_plots=0, progress=False)
    assert summary["sample_rate"] == 48000 and summary["n_failed"] == 0
    assert sf.info(str(tmp_path / "eval" / "enhanced" / "utt00.wav")).samplerate == 48000


def test_level_correction_works_at_the_file_rate_and_counts_once(v3_model) -> None:
    enhancer = Enhancer(v3_model, chunk_seconds=0.5, overlap_seconds=0.1)
    at_48k = enhancer.at_rate(48000)
    # the projection's STFT frames and the limiter's window are sized in samples of that rate
    assert at_48k.level.sample_rate == 48000 and enhancer.level.sample_rate == 8000
    loud = np.full((1, 4800), 2.0, dtype=np.float32)  # over full scale: the limiter acts
    at_48k.level.limit(loud)
    assert enhancer.level.limited_samples == at_48k.level.limited_samples > 0
