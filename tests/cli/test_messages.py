"""Console wording: exit codes documented in --help, counts in words, each path said once."""

from __future__ import annotations

import pytest

from tfgridnet.cli import build_parser


def test_the_top_level_help_lists_the_exit_codes_too(capsys):
    """Each subcommand's --help is covered by tests/test_cli.py; `tfgridnet --help` as well."""
    from tfgridnet.errors import EXIT_CODES

    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    codes = capsys.readouterr().out.split("exit codes:")[1]
    for code, meaning in EXIT_CODES.items():
        assert f"{code}  {meaning}" in codes


def test_counts_are_words_not_word_s():
    from tfgridnet.text import plural

    assert [plural(n, "warning") for n in (0, 1, 2)] == ["0 warnings", "1 warning", "2 warnings"]
    assert plural(1, "utterance") == "1 utterance"


def test_check_data_summary_says_1_warning(cli, corpus):
    import numpy as np
    import soundfile as sf

    from tfgridnet.audio.resample import resample
    from tfgridnet.data.demo import EspeakSynth

    # Speech as the clean side: the corpus's steady tones are not clean speech to the reference
    # audit (no pauses, one frequency), and this test is about one warning.
    synth, rng = EspeakSynth.shared(), np.random.default_rng(0)
    for i, text in enumerate(("A quiet student found the kitchen window.",
                              "The baker sold a jar of honey.", "Her brother packed a paper boat.")):
        clean = 0.5 * resample(synth.synthesize(text), synth.sample_rate, 16000)
        noisy = clean + 0.02 * rng.standard_normal(clean.size)
        sf.write(str(corpus / "clean" / f"u{i}.wav"), clean, 16000, subtype="FLOAT")
        channels = [noisy, noisy] if i == 0 else [noisy]  # two channels: a warning, not an error
        sf.write(str(corpus / "noisy" / f"u{i}.wav"), np.stack(channels, axis=1), 16000,
                 subtype="FLOAT")
    result = cli("check-data", corpus / "m.csv", "--workers", "1")
    first = result.out.splitlines()[0]
    assert "(0 errors, 1 warning;" in first, result.out
    assert "warning(s)" not in result.out and "warnings;" not in first


def test_a_failed_file_names_its_path_once(cli, corpus, model_dir, tmp_path):
    broken = corpus / "noisy" / "u1.wav"
    broken.write_bytes(b"RIFF....not audio")
    result = cli("enhance", model_dir, corpus / "noisy", "--out", tmp_path / "o")
    assert result.code == 1
    failed = [line for line in result.err.splitlines() if line.startswith("failed:")]
    assert len(failed) == 1 and failed[0].count(str(broken)) == 1, failed


def test_report_on_an_eval_folder_without_its_table(cli, corpus, model_dir, tmp_path):
    """summary.json alone (no evaluation_results.csv): the counts print as integers."""
    from tfgridnet.report.statistics import evaluation_stats

    out = tmp_path / "eval"
    assert cli("evaluate", model_dir, "--manifest", corpus / "m.csv", "--out", out,
               "--no-audio", "--plots", "0").code == 0
    (out / "evaluation_results.csv").unlink()
    missing: list[str] = []
    stats = evaluation_stats(out, missing)
    assert stats.n == 3 and isinstance(stats.n, int) and isinstance(stats.n_failed, int)
    assert "evaluation_results.csv" in missing


def test_report_into_a_read_only_run_folder(cli, tmp_path, deny_writes):
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.csv").write_text("epoch,train_loss\n0,1.0\n")
    run.chmod(0o500)
    try:
        deny_writes(run)
        result = cli("report", run)
        assert result.code == 2
        assert "read-only" in result.one_line_error()
    finally:
        run.chmod(0o700)


def test_a_closed_output_pipe_ends_the_command_quietly(corpus):
    """`tfgridnet check-data M | head -3` where head has gone: no BrokenPipeError traceback, the
    documented exit code (128 + SIGPIPE, as a shell reports a tool that SIGPIPE ended)."""
    import subprocess
    import sys

    from tfgridnet.errors import CLOSED_PIPE

    child = subprocess.Popen([sys.executable, "-m", "tfgridnet", "check-data", corpus / "m.csv"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    child.stdout.close()  # the reader is gone before the first line is written
    err = child.stderr.read().decode()
    assert child.wait(timeout=120) == CLOSED_PIPE == 141
    assert err == ""


def test_a_broken_pipe_that_is_not_stdout_keeps_its_traceback(cli, monkeypatch):
    from tfgridnet.train import run

    def worker_pipe_broke(*args, **kwargs):
        raise BrokenPipeError(32, "Broken pipe (a worker's, not our stdout)")

    monkeypatch.setattr(run, "train", worker_pipe_broke)
    with pytest.raises(BrokenPipeError):
        cli("train", "demo")
