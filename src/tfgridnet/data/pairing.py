"""Pairing a folder of noisy files with a folder of clean files by relative file name into a
manifest (``tfgridnet make-manifest``): every file must have its partner, and unmatched files on
either side are listed in the one error.
"""

from __future__ import annotations

import os
from pathlib import Path

from tfgridnet.audio.io import AUDIO_SUFFIXES
from tfgridnet.data.manifest import ManifestError, Pair, write_manifest

__all__ = ["make_manifest"]


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
                  out: str | os.PathLike | Path,
                  conditions: dict[str, dict[str, str]] | None = None,
                  constants: dict[str, str] | None = None) -> int:
    """Pair two folders by relative file name and write the manifest; returns the pair count.

    Every file must have a partner: unmatched files on either side are an error that lists them.
    ``conditions`` ({uttid: {column: value}}, see :func:`read_conditions_csv`) and ``constants``
    ({column: value}, the same on every row) become condition columns; a ``conditions`` uttid
    that names no pair is an error (a naming mismatch), a pair it omits gets empty cells.
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
        pairs.append(Pair(uttid, noisy[name], clean[name],
                          {**(constants or {}), **(conditions or {}).get(uttid, {})}))
    unknown = sorted(set(conditions or {}) - set(seen))
    if unknown:
        raise ManifestError(f"conditions table: {len(unknown)} uttid(s) match no pair in "
                            f"{noisy_dir}: {_preview(unknown)}")
    write_manifest(out, pairs)
    return len(pairs)
