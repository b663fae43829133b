"""Manifests: which noisy file goes with which clean file (DESIGN.md §4).

A manifest is a CSV with header ``uttid,noisy,clean`` (``clean`` optional for enhance-only sets);
dynamic-mixing sets use ``uttid,clean`` plus a noise manifest ``uttid,noise``. Relative paths are
relative to the manifest's own folder, so a corpus can be moved as a whole.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from tfgridnet.errors import UserInputError
from tfgridnet.fileio import write_text_atomic

__all__ = [
    "Pair", "ManifestError", "read_manifest", "read_noise_manifest", "write_manifest",
    "write_single_manifest", "make_manifest", "AUDIO_SUFFIXES",
]

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".aiff", ".aif", ".mp3", ".opus", ".w64", ".caf", ".au")
_KNOWN_COLUMNS = ("uttid", "noisy", "clean", "noise")


class ManifestError(UserInputError):
    """A manifest cannot be used as it is; the message says ``file:line: what was expected``."""


@dataclass(frozen=True)
class Pair:
    """One utterance: its id and the noisy/clean files (either may be None in one-sided sets)."""

    uttid: str
    noisy: Path | None
    clean: Path | None


def _resolve(base: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


def _read_rows(path: Path, required: Iterable[str]) -> tuple[list[str], list[tuple[int, dict]]]:
    """Parse the CSV; return its header and (line number, row) pairs, checking columns."""
    if not path.is_file():
        raise ManifestError(f"{path}: manifest not found")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{path}: cannot read manifest as UTF-8 text ({exc})") from exc
    if not text.strip():
        raise ManifestError(f"{path}:1: empty manifest; expected a header like 'uttid,noisy,clean'")
    reader = csv.reader(io.StringIO(text))
    header_line = None
    header: list[str] = []
    for row in reader:
        if row and any(cell.strip() for cell in row):
            header = [cell.strip().lower() for cell in row]
            header_line = reader.line_num
            break
    missing = [name for name in ("uttid", *required) if name not in header]
    if missing:
        raise ManifestError(
            f"{path}:{header_line}: missing column(s) {', '.join(missing)}; got header "
            f"{','.join(header)!r}, expected 'uttid,{','.join(required)}'"
        )
    duplicates = {name for name in header if header.count(name) > 1}
    if duplicates:
        raise ManifestError(f"{path}:{header_line}: repeated column(s) {', '.join(sorted(duplicates))}")
    rows: list[tuple[int, dict]] = []
    for row in reader:
        line = reader.line_num
        if not row or not any(cell.strip() for cell in row) or row[0].lstrip().startswith("#"):
            continue
        if len(row) != len(header):
            raise ManifestError(
                f"{path}:{line}: expected {len(header)} fields ({','.join(header)}), got {len(row)}"
            )
        rows.append((line, {name: cell.strip() for name, cell in zip(header, row)}))
    if not rows:
        raise ManifestError(f"{path}: manifest has a header but no rows")
    return header, rows


def _check_uttid(path: Path, line: int, uttid: str, seen: dict[str, int]) -> None:
    if not uttid:
        raise ManifestError(f"{path}:{line}: empty uttid; expected a unique utterance id")
    if uttid in seen:
        raise ManifestError(f"{path}:{line}: duplicate uttid {uttid!r} (first on line {seen[uttid]})")
    seen[uttid] = line


def read_manifest(path: str | os.PathLike | Path,
                  require: tuple[str, ...] = ("noisy", "clean")) -> list[Pair]:
    """Read a paired (or one-sided) manifest into :class:`Pair` rows.

    ``require`` names the path columns that must exist and be non-empty on every row, e.g.
    ``("noisy",)`` for enhance-only sets or ``("clean",)`` for a dynamic-mixing clean list.
    """
    path = Path(path)
    for name in require:
        if name not in ("noisy", "clean"):
            raise ValueError(f"read_manifest: require must name 'noisy'/'clean', got {name!r}")
    header, rows = _read_rows(path, require)
    base = path.parent
    seen: dict[str, int] = {}
    pairs: list[Pair] = []
    for line, row in rows:
        uttid = row["uttid"]
        _check_uttid(path, line, uttid, seen)
        sides: dict[str, Path | None] = {}
        for side in ("noisy", "clean"):
            value = row.get(side, "")
            if side in require and not value:
                raise ManifestError(f"{path}:{line}: empty '{side}' path for uttid {uttid!r}")
            sides[side] = _resolve(base, value) if value else None
        pairs.append(Pair(uttid, sides["noisy"], sides["clean"]))
    return pairs


def read_noise_manifest(path: str | os.PathLike | Path) -> list[tuple[str, Path]]:
    """Read a ``uttid,noise`` manifest for dynamic mixing."""
    path = Path(path)
    _, rows = _read_rows(path, ("noise",))
    seen: dict[str, int] = {}
    out: list[tuple[str, Path]] = []
    for line, row in rows:
        _check_uttid(path, line, row["uttid"], seen)
        if not row["noise"]:
            raise ManifestError(f"{path}:{line}: empty 'noise' path for uttid {row['uttid']!r}")
        out.append((row["uttid"], _resolve(path.parent, row["noise"])))
    return out


def _relative(path: Path | None, base: Path) -> str:
    if path is None:
        return ""
    try:
        return Path(os.path.relpath(Path(path).resolve(), base.resolve())).as_posix()
    except ValueError:  # another drive on Windows
        return str(Path(path).resolve())


def _write_csv(path: Path, header: list[str], rows: Iterable[list[str]]) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return write_text_atomic(path, buffer.getvalue())


def write_manifest(path: str | os.PathLike | Path, pairs: list[Pair]) -> Path:
    """Write ``uttid,noisy,clean`` atomically with paths relative to the manifest's folder.

    The ``clean`` column is left out only when no pair has a clean side.
    """
    path = Path(path)
    base = path.parent.resolve()
    with_clean = any(pair.clean is not None for pair in pairs)
    header = ["uttid", "noisy", "clean"] if with_clean else ["uttid", "noisy"]
    rows = []
    for pair in pairs:
        row = [pair.uttid, _relative(pair.noisy, base)]
        if with_clean:
            row.append(_relative(pair.clean, base))
        rows.append(row)
    return _write_csv(path, header, rows)


def write_single_manifest(path: str | os.PathLike | Path, column: str,
                          entries: list[tuple[str, Path]]) -> Path:
    """Write a one-path manifest (``uttid,clean`` or ``uttid,noise``) for dynamic mixing."""
    path = Path(path)
    base = path.parent.resolve()
    return _write_csv(path, ["uttid", column], ([u, _relative(p, base)] for u, p in entries))


def _audio_files(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        raise ManifestError(f"{folder}: not a directory")
    return {
        p.relative_to(folder).as_posix(): p
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES
    }


def _preview(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(names[:limit])
    return f"{shown} (+{len(names) - limit} more)" if len(names) > limit else shown


def make_manifest(noisy_dir: str | os.PathLike | Path, clean_dir: str | os.PathLike | Path,
                  out: str | os.PathLike | Path) -> int:
    """Pair two folders by relative file name and write the manifest; returns the pair count.

    Every file must have a partner: unmatched files on either side are an error that lists them.
    """
    from tfgridnet.safety import refuse_input_overwrite

    noisy_dir, clean_dir, out = Path(noisy_dir), Path(clean_dir), Path(out)
    if noisy_dir.resolve() == clean_dir.resolve():
        raise ManifestError(f"{noisy_dir}: the same folder was given for noisy and clean; every "
                            "file would be paired with itself")
    if out.is_dir():
        raise ManifestError(f"{out}: --out is a folder; expected the manifest CSV file to write")
    if out.suffix.lower() in AUDIO_SUFFIXES:
        raise ManifestError(f"{out}: --out names an audio file; expected a .csv manifest path")
    noisy = _audio_files(noisy_dir)
    clean = _audio_files(clean_dir)
    refuse_input_overwrite([out], [*noisy.values(), *clean.values()])
    if not noisy:
        raise ManifestError(f"{noisy_dir}: no audio files ({', '.join(AUDIO_SUFFIXES[:3])}, ...)")
    if not clean:
        raise ManifestError(f"{clean_dir}: no audio files ({', '.join(AUDIO_SUFFIXES[:3])}, ...)")
    only_noisy = sorted(set(noisy) - set(clean))
    only_clean = sorted(set(clean) - set(noisy))
    if only_noisy or only_clean:
        parts = []
        if only_noisy:
            parts.append(f"{len(only_noisy)} noisy file(s) without a clean partner in {clean_dir}: "
                         f"{_preview(only_noisy)}")
        if only_clean:
            parts.append(f"{len(only_clean)} clean file(s) without a noisy partner in {noisy_dir}: "
                         f"{_preview(only_clean)}")
        raise ManifestError("cannot pair by file name; " + "; ".join(parts))
    pairs = []
    seen: dict[str, str] = {}
    for name in sorted(noisy):
        uttid = name.rsplit(".", 1)[0]
        if uttid in seen:
            raise ManifestError(f"{noisy_dir}: {name} and {seen[uttid]} give the same uttid {uttid!r}")
        seen[uttid] = name
        pairs.append(Pair(uttid, noisy[name], clean[name]))
    write_manifest(out, pairs)
    return len(pairs)
