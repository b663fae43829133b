from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from tfgridnet.cli import main
from tfgridnet.inference.chunking import crossfade_weights
from tfgridnet.inference.enhancer import Enhancer
from tfgridnet.inference.streaming import expand_inputs
from tfgridnet.metrics import snr


class LocalFilter(torch.nn.Module):
    """A stand-in whose output at t depends only on nearby input: chunking must not change it."""

    def __init__(self) -> None:
        super().__init__()
        self.taps = torch.tensor([[[0.25, 0.5, 0.25]]])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.conv1d(x[:, None], self.taps, padding=1)[:, 0] * 0.5


def test_crossfade_ramps_of_neighbouring_chunks_sum_to_one():
    overlap = 100
    fade_out = crossfade_weights(400, 0, overlap)[-overlap:]
    fade_in = crossfade_weights(400, overlap, 0)[:overlap]
    np.testing.assert_allclose(fade_out + fade_in, 1.0, atol=1e-12)
    assert np.all(fade_in > 0) and np.all(fade_out > 0)


@pytest.mark.parametrize("chunk,overlap,min_snr", [(0.5, 0.1, 80), (0.7, 0.25, 80), (0.3, 0.0, 40)])
def test_overlap_add_reproduces_a_local_model_exactly(chunk, overlap, min_snr, sr):
    x = np.random.default_rng(0).standard_normal(int(2.37 * sr)).astype(np.float32)
    # raw level: the running level gain is re-estimated per chunk (tests/evaluate/test_level.py)
    whole = Enhancer(LocalFilter(), sr, chunk_seconds=10, level=False).enhance(x, sr)
    chunked = Enhancer(LocalFilter(), sr, chunk_seconds=chunk, overlap_seconds=overlap,
                       chunks_per_batch=3, level=False).enhance(x, sr)
    # Without overlap the filter's edge samples differ at each cut; cross-fading hides them.
    assert float(snr(chunked, whole)) > min_snr


@pytest.mark.slow
def test_default_chunking_of_the_real_model_agrees_with_one_pass(tiny_model, make_speech, sr):
    x = make_speech(10 * sr, sr, seed=0) + 0.03 * np.random.default_rng(0).standard_normal(10 * sr)
    whole = Enhancer(tiny_model, sr, chunk_seconds=60).enhance(x, sr)
    chunked = Enhancer(tiny_model, sr).enhance(x, sr)  # DEFAULT_CHUNK/OVERLAP_SECONDS
    # Each chunk has its own input std, attention span and level gain, so no model's chunked
    # output equals its one-pass output exactly (this one: ~25 dB at 4 s / 0.25 s); a seam or a
    # misplaced chunk would fall far below 20 dB. Whether chunking costs quality is a question for
    # a trained model against the clean speech: bench/chunking.py (RESULTS §10: 4 s chunks score
    # 0.4 dB *above* one pass for the demo model).
    assert float(snr(chunked, whole)) > 20


def test_any_rate_and_channel_count_comes_back_unchanged(tiny_model, sr):
    enhancer = Enhancer(tiny_model, sr)
    stereo = np.random.default_rng(1).standard_normal((2, 8000)).astype(np.float32) * 0.1
    for rate in (8000, 44100):
        out = enhancer.enhance(stereo, rate)
        assert out.shape == stereo.shape and out.dtype == np.float32
    out = enhancer.enhance(stereo, sr)
    np.testing.assert_allclose(out[1], enhancer.enhance(stereo[1], sr), atol=1e-6)
    assert not np.allclose(out[0], out[1])


def test_enhance_file_keeps_rate_channels_and_subtype(exported_dir, tmp_path):
    source = tmp_path / "in.flac"
    sf.write(source, np.random.default_rng(2).standard_normal((6615, 2)) * 0.1, 22050,
             subtype="PCM_24")
    out = Enhancer.from_pretrained(exported_dir).enhance_file(source, tmp_path / "out.flac")
    info = sf.info(str(out))
    assert (info.samplerate, info.channels, info.frames, info.subtype) == (22050, 2, 6615, "PCM_24")


def test_enhance_cli_takes_files_folders_and_globs(exported_dir, tmp_path, capsys):
    inputs = tmp_path / "in"
    (inputs / "sub").mkdir(parents=True)
    for name in ("a.wav", "sub/b.wav"):
        sf.write(inputs / name, np.random.default_rng(3).standard_normal(4000) * 0.1, 16000)
    assert main(["enhance", str(exported_dir), str(inputs), "--out", str(tmp_path / "o1")]) == 0
    assert (tmp_path / "o1" / "a.wav").is_file() and (tmp_path / "o1" / "sub" / "b.wav").is_file()
    code = main(["enhance", str(exported_dir), str(inputs / "*.wav"), "--out", str(tmp_path / "o2"),
                 "--chunk-seconds", "0.1", "--overlap-seconds", "0.02"])
    assert code == 0 and sf.info(str(tmp_path / "o2" / "a.wav")).frames == 4000
    assert main(["enhance", str(exported_dir), str(tmp_path / "missing.wav"), "--out",
                 str(tmp_path / "o3")]) == 2
    assert "missing.wav: no such file" in capsys.readouterr().err


def test_enhance_cli_workers_run_and_are_reported_and_a_bad_count_is_one_line(
        exported_dir, tmp_path, capsys):
    sf.write(tmp_path / "a.wav", np.random.default_rng(4).standard_normal(8000) * 0.1, 16000)
    base = ["enhance", str(exported_dir), str(tmp_path / "a.wav"), "--chunk-seconds", "0.1",
            "--overlap-seconds", "0.02"]
    assert main(base + ["--out", str(tmp_path / "o1"), "--workers", "2"]) == 0
    assert "2 pass(es) at a time" in capsys.readouterr().out
    assert main(base + ["--out", str(tmp_path / "o2"), "--workers", "1"]) == 0
    one, _ = sf.read(tmp_path / "o2" / "a.wav")
    two, _ = sf.read(tmp_path / "o1" / "a.wav")
    assert np.array_equal(one, two)
    assert main(base + ["--out", str(tmp_path / "o3"), "--workers", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert "workers=0" in err and "positive integer" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("native", [True, False])
def test_enhance_cli_says_when_bf16_is_emulated(exported_dir, tmp_path, capsys, monkeypatch,
                                                native):
    from tfgridnet import hardware

    monkeypatch.setattr(hardware, "cpu_has_bf16", lambda *_: native)
    sf.write(tmp_path / "a.wav", np.random.default_rng(5).standard_normal(4000) * 0.1, 16000)
    assert main(["enhance", str(exported_dir), str(tmp_path / "a.wav"), "--out",
                 str(tmp_path / "o"), "--precision", "bf16"]) == 0
    captured = capsys.readouterr()
    assert "precision bf16" in captured.out
    assert ("emulated" in captured.err) is (not native)


def test_two_inputs_with_one_output_name_are_refused(tmp_path):
    for folder in ("x", "y"):
        (tmp_path / folder).mkdir()
        sf.write(tmp_path / folder / "same.wav", np.zeros(100), 16000)
    with pytest.raises(ValueError, match="would both be written"):
        expand_inputs([str(tmp_path / "x" / "same.wav"), str(tmp_path / "y" / "same.wav")])


def test_bad_chunking_is_refused(tiny_model, sr):
    with pytest.raises(ValueError, match="chunk_seconds > overlap_seconds"):
        Enhancer(tiny_model, sr, chunk_seconds=1.0, overlap_seconds=1.0)


def test_enhance_files_lists_what_it_wrote_and_each_failure_with_its_file(tmp_path, sr):
    from tfgridnet.inference.batch import enhance_files

    folder = tmp_path / "in"
    folder.mkdir()
    audio = np.random.default_rng(2).standard_normal(sr // 2).astype(np.float32) * 0.1
    sf.write(folder / "good.wav", audio, sr)
    (folder / "broken.wav").write_bytes(b"RIFF but not really a wav")
    calls = []
    result = enhance_files(Enhancer(LocalFilter(), sr), [str(folder)], tmp_path / "out",
                           on_file=lambda done, total: calls.append((done, total)))
    assert result.written == [tmp_path / "out" / "good.wav"] and result.n_inputs == 2
    assert [(p.name, "broken.wav" in reason) for p, reason in result.failed] == [
        ("broken.wav", True)]
    assert calls == [(1, 2), (2, 2)] and result.sample_rate == sr
    enhanced, rate = sf.read(tmp_path / "out" / "good.wav", dtype="float32")
    assert rate == sr and enhanced.shape == audio.shape
