"""`Enhancer.enhance_file` streams: same result as the in-memory path, bounded blocks, atomic."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from tests.tiny import tiny_args

from tfgridnet.inference.chunking import ChunkScheduler
from tfgridnet.inference.enhancer import Enhancer
from tfgridnet.metrics import si_snr_numpy, snr

CHUNK, OVERLAP = 0.25, 0.05  # 4000 / 800 samples at the 16 kHz model rate


def _write(path, seconds, rate, channels, seed=0):
    data = 0.1 * np.random.default_rng(seed).standard_normal((int(seconds * rate), channels))
    sf.write(path, data, rate, subtype="FLOAT")
    return data.T.astype(np.float32)


@pytest.mark.parametrize("rate,channels", [(22050, 2), (22050, 1), (16000, 2), (8000, 1)])
def test_streamed_file_equals_in_memory_enhance(tiny_model, sr, tmp_path, rate, channels):
    enhancer = Enhancer(tiny_model, sr, chunk_seconds=CHUNK, overlap_seconds=OVERLAP)
    audio = _write(tmp_path / "in.wav", 1.37, rate, channels)
    out = enhancer.enhance_file(tmp_path / "in.wav", tmp_path / "out.wav")
    streamed, out_rate = sf.read(out, dtype="float32", always_2d=True)
    expected = enhancer.enhance(audio, rate)
    assert out_rate == rate and streamed.T.shape == expected.shape
    for got, want in zip(streamed.T, expected):
        assert float(snr(got, want)) > 40


@pytest.mark.parametrize("workers", [1, 2])
def test_streaming_holds_a_few_chunks_whatever_the_length(tiny_model, sr, tmp_path, monkeypatch,
                                                          workers):
    enhancer = Enhancer(tiny_model, sr, chunk_seconds=CHUNK, overlap_seconds=OVERLAP,
                        workers=workers)
    rate = 22050
    reads, rows, buffered = [], [], []
    real_read, real_forward, real_push = sf.SoundFile.read, Enhancer.forward_batch, ChunkScheduler.push

    def spy_read(self, frames=-1, *args, **kwargs):
        data = real_read(self, frames, *args, **kwargs)
        reads.append(len(data))
        return data

    def spy_forward(self, batch):
        rows.append(batch.shape)
        return real_forward(self, batch)

    def spy_push(self, block):
        out = real_push(self, block)
        buffered.append(max(self.inputs.shape[-1], self.acc.shape[-1]))
        return out

    monkeypatch.setattr(sf.SoundFile, "read", spy_read)
    monkeypatch.setattr(Enhancer, "forward_batch", spy_forward)
    monkeypatch.setattr(ChunkScheduler, "push", spy_push)
    peaks = []
    for seconds in (1.0, 6.0):
        reads.clear(), rows.clear(), buffered.clear()
        _write(tmp_path / "in.wav", seconds, rate, 2)
        out = enhancer.enhance_file(tmp_path / "in.wav", tmp_path / "out.wav")
        assert sf.info(str(out)).frames == int(seconds * rate)
        assert max(reads) <= workers * (enhancer.chunk - enhancer.overlap) * rate / sr + 1
        assert all(n <= enhancer.chunks_per_batch and length == enhancer.chunk
                   for n, length in rows)
        assert len(rows) >= 4 * seconds  # many chunks, each seen alone
        peaks.append(max(buffered))
    # independent of the file's length: a block of one hop per worker on top of one chunk
    assert peaks[0] == peaks[1] <= (workers + 1) * enhancer.chunk


def test_failure_midway_leaves_no_output_and_no_temp_file(tiny_model, sr, tmp_path, monkeypatch):
    enhancer = Enhancer(tiny_model, sr, chunk_seconds=CHUNK, overlap_seconds=OVERLAP)
    _write(tmp_path / "in.wav", 2.0, 22050, 2)
    real_forward, calls = enhancer.forward_batch, []

    def failing_forward(batch):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("model failed")
        return real_forward(batch)

    monkeypatch.setattr(enhancer, "forward_batch", failing_forward)
    out_dir = tmp_path / "out"
    with pytest.raises(RuntimeError, match="model failed"):
        enhancer.enhance_file(tmp_path / "in.wav", out_dir / "new.wav")
    assert list(out_dir.iterdir()) == []
    (out_dir / "old.wav").write_bytes(b"previous")
    calls.clear()
    with pytest.raises(RuntimeError, match="model failed"):
        enhancer.enhance_file(tmp_path / "in.wav", out_dir / "old.wav")
    assert [p.name for p in out_dir.iterdir()] == ["old.wav"]
    assert (out_dir / "old.wav").read_bytes() == b"previous"


def test_bf16_precision_is_close_to_fp32_and_unknown_precision_is_refused() -> None:
    import torch

    from tfgridnet.model import TFGridNetV2

    torch.manual_seed(0)
    model = TFGridNetV2(**tiny_args())
    noisy = np.random.default_rng(0).standard_normal(8000).astype(np.float32) * 0.1
    fp32 = Enhancer(model, sample_rate=8000, precision="fp32").enhance(noisy, 8000)
    bf16 = Enhancer(model, sample_rate=8000, precision="bf16").enhance(noisy, 8000)
    assert bf16.dtype == np.float32 and bf16.shape == fp32.shape
    assert si_snr_numpy(bf16, fp32) > 20.0
    with pytest.raises(ValueError, match="precision='fp16'"):
        Enhancer(model, sample_rate=8000, precision="fp16")
