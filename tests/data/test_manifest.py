from __future__ import annotations

from pathlib import Path

import pytest

from tfgridnet.data.manifest import (
    ManifestError,
    Pair,
    make_manifest,
    read_manifest,
    read_noise_manifest,
    write_manifest,
    write_single_manifest,
)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_relative_paths_resolve_against_the_manifest_folder(tmp_path):
    manifest = write(tmp_path / "sets" / "m.csv", "uttid,noisy,clean\na,n/a.wav,/abs/c.wav\n")
    (pair,) = read_manifest(manifest)
    assert pair == Pair("a", tmp_path / "sets" / "n" / "a.wav", Path("/abs/c.wav"))


def test_clean_column_is_optional_when_not_required(tmp_path):
    manifest = write(tmp_path / "m.csv", "uttid,noisy\na,a.wav\n")
    assert read_manifest(manifest, require=("noisy",))[0].clean is None
    with pytest.raises(ManifestError, match=r"m.csv:1: missing column\(s\) clean"):
        read_manifest(manifest)


def test_clean_only_manifest_for_dynamic_mixing(tmp_path):
    manifest = write(tmp_path / "m.csv", "uttid,clean\na,a.wav\nb,b.wav\n")
    pairs = read_manifest(manifest, require=("clean",))
    assert [p.noisy for p in pairs] == [None, None]
    assert pairs[1].clean == tmp_path / "b.wav"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", r"m.csv:1: empty manifest"),
        ("uttid,noisy,clean\n", r"header but no rows"),
        ("id,noisy,clean\na,x,y\n", r"m.csv:1: missing column\(s\) uttid"),
        ("uttid,noisy,clean\na,x,y\nb,x\n", r"m.csv:3: expected 3 fields"),
        ("uttid,noisy,clean\na,x,y\nb,x,y\na,z,w\n", r"m.csv:4: duplicate uttid 'a' \(first on line 2\)"),
        ("uttid,noisy,clean\na,,y\n", r"m.csv:2: empty 'noisy' path"),
        ("uttid,noisy,clean\n,x,y\n", r"m.csv:2: empty uttid"),
    ],
)
def test_bad_manifests_give_line_numbered_errors(tmp_path, text, message):
    manifest = write(tmp_path / "m.csv", text)
    with pytest.raises(ManifestError, match=message):
        read_manifest(manifest)


def test_missing_manifest_is_a_value_error_naming_it(tmp_path):
    with pytest.raises(ValueError, match="nothere.csv: manifest not found"):
        read_manifest(tmp_path / "nothere.csv")


def test_write_then_read_round_trip_uses_relative_paths(tmp_path):
    pairs = [Pair("u1", tmp_path / "n" / "u1.wav", tmp_path / "c" / "u1.wav"),
             Pair("u2", tmp_path / "n" / "u2.wav", tmp_path / "c" / "u2.wav")]
    out = write_manifest(tmp_path / "lists" / "m.csv", pairs)
    assert out.read_text().splitlines()[1] == "u1,../n/u1.wav,../c/u1.wav"
    assert [(p.uttid, p.noisy.resolve(), p.clean.resolve()) for p in read_manifest(out)] == [
        (p.uttid, p.noisy.resolve(), p.clean.resolve()) for p in pairs
    ]


def test_noise_manifest_round_trip(tmp_path):
    out = write_single_manifest(tmp_path / "noise.csv", "noise", [("z1", tmp_path / "z1.wav")])
    assert read_noise_manifest(out) == [("z1", tmp_path / "z1.wav")]


def test_make_manifest_pairs_folders_by_relative_name(tmp_path):
    for side in ("noisy", "clean"):
        for name in ("a.wav", "sub/b.wav"):
            write(tmp_path / side / name, "x")
    assert make_manifest(tmp_path / "noisy", tmp_path / "clean", tmp_path / "m.csv") == 2
    pairs = read_manifest(tmp_path / "m.csv")
    assert [p.uttid for p in pairs] == ["a", "sub/b"]
    assert pairs[1].clean.resolve() == (tmp_path / "clean" / "sub" / "b.wav").resolve()


def test_make_manifest_lists_unmatched_files_on_each_side(tmp_path):
    for i in range(7):
        write(tmp_path / "noisy" / f"n{i}.wav", "x")
    write(tmp_path / "noisy" / "both.wav", "x")
    write(tmp_path / "clean" / "both.wav", "x")
    write(tmp_path / "clean" / "only_clean.wav", "x")
    with pytest.raises(ManifestError) as info:
        make_manifest(tmp_path / "noisy", tmp_path / "clean", tmp_path / "m.csv")
    message = str(info.value)
    assert "7 noisy file(s) without a clean partner" in message and "(+2 more)" in message
    assert "1 clean file(s) without a noisy partner" in message and "only_clean.wav" in message
    assert not (tmp_path / "m.csv").exists()
