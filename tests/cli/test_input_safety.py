"""Bad audio is said to be bad input (never blamed on the model nor silently scored); the API
takes soundfile's layout and integer PCM; files respect the umask; killed runs leave no debris."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import soundfile as sf

from .conftest import SR, tone


def _poison(path, value=np.nan) -> None:
    audio, sr = sf.read(str(path), dtype="float32")
    audio[100:110] = value
    sf.write(str(path), audio, sr, subtype="FLOAT")


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_check_data_reports_non_finite_samples_as_an_error(cli, checksums, corpus, tmp_path,
                                                           value):
    _poison(corpus / "noisy" / "u1.wav", value)
    checksums(corpus)
    report = tmp_path / "r.json"
    result = cli("check-data", corpus / "m.csv", "--json", report, "--workers", "1")
    assert result.code == 1
    problems = json.loads(report.read_text())["problems"]
    assert [(p["uttid"], p["kind"], p["severity"]) for p in problems
            if p["kind"] == "non_finite_samples"] == [("u1", "non_finite_samples", "error")]
    checksums.assert_unchanged()


def test_evaluate_blames_nan_on_the_input_not_the_model(cli, checksums, corpus, model_dir,
                                                        tmp_path):
    _poison(corpus / "clean" / "u2.wav")
    checksums(corpus)
    out = tmp_path / "eval"
    result = cli("evaluate", model_dir, "--manifest", corpus / "m.csv", "--out", out,
                 "--no-audio", "--plots", "0")
    assert result.code == 1
    summary = json.loads((out / "summary.json").read_text())
    assert summary["failed"] == [{"uttid": "u2", "error": f"{corpus / 'clean' / 'u2.wav'}: "
                                  "input audio holds NaN or inf samples"}]
    assert "enhancement" not in result.err
    checksums.assert_unchanged()


def test_enhance_says_the_input_holds_nan(cli, checksums, corpus, model_dir, tmp_path):
    _poison(corpus / "noisy" / "u0.wav")
    checksums(corpus)
    result = cli("enhance", model_dir, corpus / "noisy", "--out", tmp_path / "o")
    assert result.code == 1
    failed = [line for line in result.err.splitlines() if line.startswith("failed:")]
    assert failed == [f"failed: {corpus / 'noisy' / 'u0.wav'}: input audio holds NaN or inf "
                      "samples"]
    checksums.assert_unchanged()


def test_a_silent_reference_fails_with_its_reason_and_stays_out_of_the_means(
        cli, checksums, corpus, model_dir, tmp_path):
    sf.write(corpus / "clean" / "u1.wav", np.full(SR // 2, 1e-6, np.float32), SR,
             subtype="FLOAT")
    checksums(corpus)
    out = tmp_path / "eval"
    assert cli("evaluate", model_dir, "--manifest", corpus / "m.csv", "--out", out,
               "--no-audio", "--plots", "0").code == 1
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n"] == 3 and summary["n_failed"] == 1 and summary["n_scored"] == 2
    assert summary["failed"][0]["uttid"] == "u1"
    assert "clean reference is silent" in summary["failed"][0]["error"]
    assert summary["metrics"]["sisnr"]["n"] == 2
    checksums.assert_unchanged()


@pytest.fixture
def enhancer(model_dir):
    from tfgridnet.inference import Enhancer

    return Enhancer.from_pretrained(model_dir, device="cpu")


def test_enhancer_accepts_soundfiles_samples_by_channels_layout(enhancer):
    _, noisy = tone(4000)
    stereo = np.stack([noisy, 0.5 * noisy])  # [C, N]
    reference = enhancer.enhance(stereo, SR)
    frames_first = enhancer.enhance(np.ascontiguousarray(stereo.T), SR)  # soundfile's [N, C]
    assert frames_first.shape == (4000, 2)
    np.testing.assert_allclose(frames_first.T, reference, atol=1e-6)


@pytest.mark.parametrize("dtype,full_scale", [(np.int16, 2 ** 15), (np.int32, 2 ** 31)])
def test_enhancer_scales_integer_pcm(enhancer, dtype, full_scale):
    _, noisy = tone(4000)
    pcm = np.round(noisy * (full_scale - 1)).astype(dtype)
    out = enhancer.enhance(pcm, SR)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, enhancer.enhance(pcm / full_scale, SR), atol=1e-5)
    assert np.max(np.abs(out)) < 2.0  # unscaled int16 gave peaks in the thousands


@pytest.mark.parametrize("bad,words", [
    (np.zeros((2, 3, 4), np.float32), "shape"),
    (np.zeros(0, np.float32), "shape"),
    (np.zeros(100, np.uint8), "dtype uint8"),
    (np.zeros(100, bool), "dtype bool"),
])
def test_enhancer_refuses_what_it_cannot_read_in_one_line(enhancer, bad, words):
    with pytest.raises(ValueError, match=words):
        enhancer.enhance(bad, SR)


@pytest.mark.parametrize("n", [1, 31, 32, 256])
def test_enhancer_handles_inputs_shorter_than_a_frame(enhancer, n):
    out = enhancer.enhance(np.full(n, 0.1, np.float32), SR)
    assert out.shape == (n,) and np.all(np.isfinite(out))


@pytest.mark.parametrize("n", [1, 100, 256, 257])
def test_inputs_up_to_half_the_demo_fft_are_enhanced(n):
    """The demo's n_fft=512: a centred STFT needs more than 256 samples; shorter ones are padded."""
    from tfgridnet.inference import Enhancer
    from tfgridnet.model import TFGridNetV2

    model = TFGridNetV2(n_srcs=1, n_fft=512, stride=256, emb_dim=4, lstm_hidden_units=4,
                        n_layers=1, attn_n_head=1, attn_approx_qk_dim=4, emb_ks=1, emb_hs=1)
    audio = 0.1 * np.sin(np.arange(n, dtype=np.float32))
    out = Enhancer(model, sample_rate=SR, device="cpu").enhance(audio, SR)
    assert out.shape == (n,) and np.all(np.isfinite(out))


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o077])
def test_written_files_follow_the_umask(tmp_path, umask):
    from tfgridnet.audio import save_audio
    from tfgridnet.fileio import write_text_atomic

    previous = os.umask(umask)
    try:
        text = write_text_atomic(tmp_path / "a.txt", "x")
        wav = save_audio(tmp_path / "a.wav", np.zeros(100, np.float32), SR)
    finally:
        os.umask(previous)
    for path in (text, wav):
        assert path.stat().st_mode & 0o777 == 0o666 & ~umask, oct(path.stat().st_mode)


def test_rewriting_a_file_keeps_its_mode(tmp_path):
    from tfgridnet.fileio import write_text_atomic

    target = write_text_atomic(tmp_path / "a.txt", "x")
    target.chmod(0o640)
    write_text_atomic(target, "y")
    assert target.stat().st_mode & 0o777 == 0o640


def test_a_killed_writers_temp_file_is_removed_and_a_live_ones_kept(tmp_path):
    from tfgridnet.fileio import atomic_path

    code = textwrap.dedent(f"""
        import os, sys
        from tfgridnet.fileio import atomic_path
        with atomic_path({str(tmp_path / 'a.wav')!r}) as tmp:
            tmp.write_bytes(b"half")
            os.kill(os.getpid(), 9)
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run([sys.executable, "-c", code], env=env, check=False)
    assert proc.returncode == -9
    leftovers = [p.name for p in tmp_path.iterdir()]
    assert len(leftovers) == 1 and leftovers[0].startswith(".a.wav.tfgridnet-tmp-")
    with atomic_path(tmp_path / "b.txt") as tmp:
        tmp.write_text("ok")
        live = sorted(p.name for p in tmp_path.iterdir())
    assert leftovers[0] not in live, "the dead run's temporary file was not cleaned"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.txt"]


def test_stale_temp_files_do_not_block_a_rerun(cli, corpus, model_dir, tmp_path):
    out = tmp_path / "o"
    assert cli("enhance", model_dir, corpus / "noisy", "--out", out).code == 0
    stale = out / ".u0.wav.tfgridnet-tmp-999999999-0123abcd.wav.tmp"
    stale.write_bytes(b"half")
    assert cli("enhance", model_dir, corpus / "noisy", "--out", out).code == 0
    assert not stale.exists()
