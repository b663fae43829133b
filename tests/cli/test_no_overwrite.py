"""No command writes over a file it was given as input, nor mixes two runs in one folder."""

from __future__ import annotations

import json

import pytest

from tfgridnet.safety import LEDGER_NAME


@pytest.mark.parametrize("out", ["parent", "same_folder", "dotdot", "symlink"])
def test_enhance_refuses_an_out_that_would_replace_its_inputs(cli, checksums, corpus, model_dir,
                                                              out, tmp_path):
    noisy = corpus / "noisy"
    checksums(corpus)
    if out == "parent":  # enhance MODEL in/a.wav --out in
        args = [noisy / "u0.wav", "--out", noisy]
    elif out == "same_folder":
        args = [noisy, "--out", noisy]
    elif out == "dotdot":
        args = [noisy, "--out", noisy / ".." / "noisy"]
    else:
        (tmp_path / "link").symlink_to(noisy)
        args = [noisy, "--out", tmp_path / "link"]
    result = cli("enhance", model_dir, *args)
    assert result.code == 2
    line = result.one_line_error()
    assert "input" in line and "u0.wav" in line
    checksums.assert_unchanged()


def test_evaluate_refuses_an_out_holding_its_inputs(cli, checksums, corpus, model_dir):
    checksums(corpus)
    result = cli("evaluate", model_dir, "--manifest", corpus / "m.csv", "--out", corpus)
    assert result.code == 2
    assert "holds the input" in result.one_line_error()
    checksums.assert_unchanged()
    assert not (corpus / "enhanced").exists() and not (corpus / "summary.json").exists()


def test_make_manifest_refuses_to_write_into_an_input_wav(cli, checksums, corpus):
    checksums(corpus)
    result = cli("make-manifest", "--noisy-dir", corpus / "noisy", "--clean-dir",
                 corpus / "clean", "--out", corpus / "noisy" / "u0.wav")
    assert result.code == 2
    assert "u0.wav" in result.one_line_error()
    checksums.assert_unchanged()


def test_check_data_refuses_a_json_path_that_is_its_manifest(cli, checksums, corpus):
    checksums(corpus)
    manifest = corpus / "m.csv"
    result = cli("check-data", manifest, "--json", manifest)
    assert result.code == 2
    assert "would overwrite the input file" in result.one_line_error()
    checksums.assert_unchanged()


def test_export_refuses_to_write_over_its_source(cli, checksums, model_dir):
    checksums(model_dir)
    result = cli("export", model_dir, "--out", model_dir)
    assert result.code == 2
    assert "would overwrite the input file" in result.one_line_error()
    checksums.assert_unchanged()


def test_evaluate_twice_into_one_folder_keeps_only_the_second_run(cli, checksums, corpus,
                                                                  model_dir, tmp_path):
    checksums(corpus)
    out = tmp_path / "eval"
    assert cli("evaluate", model_dir, "--manifest", corpus / "m.csv", "--out", out,
               "--plots", "1").code == 0
    assert (out / "enhanced" / "u0.wav").is_file()
    assert cli("evaluate", model_dir, "--manifest", corpus / "m.csv", "--out", out,
               "--no-audio", "--plots", "0").code == 0
    assert not (out / "enhanced").exists(), "the first run's WAVs were mixed with the second's"
    assert not list((out / "visualizations").glob("*.png"))
    written = json.loads((out / LEDGER_NAME).read_text())["written"]
    assert "summary.json" in written and not any(w.startswith("enhanced/") for w in written)
    checksums.assert_unchanged()


def test_a_folder_with_other_files_is_refused_unless_overwrite(cli, corpus, model_dir, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    result = cli("enhance", model_dir, corpus / "noisy", "--out", out)
    assert result.code == 2
    assert "--overwrite" in result.one_line_error()
    assert cli("enhance", model_dir, corpus / "noisy", "--out", out, "--overwrite").code == 0
    assert (out / "notes.txt").read_text() == "keep me" and (out / "u0.wav").is_file()


def test_enhance_into_a_subfolder_of_its_input_folder_twice(cli, checksums, corpus, model_dir):
    checksums(corpus)
    out = corpus / "noisy" / "enhanced"
    for _ in range(2):  # the second run must not take the first run's outputs as inputs
        result = cli("enhance", model_dir, corpus / "noisy", "--out", out)
        assert result.code == 0, result.err
        assert sorted(p.name for p in out.rglob("*.wav")) == ["u0.wav", "u1.wav", "u2.wav"]
    checksums.assert_unchanged()


def test_enhance_rerun_clears_the_previous_outputs(cli, corpus, model_dir, tmp_path):
    out = tmp_path / "out"
    assert cli("enhance", model_dir, corpus / "noisy", "--out", out).code == 0
    assert sorted(p.name for p in out.glob("*.wav")) == ["u0.wav", "u1.wav", "u2.wav"]
    assert cli("enhance", model_dir, corpus / "noisy" / "u1.wav", "--out", out).code == 0
    assert sorted(p.name for p in out.glob("*.wav")) == ["u1.wav"]
