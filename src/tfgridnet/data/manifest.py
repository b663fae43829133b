"""Manifests: which noisy file goes with which clean file (docs/design.md, file contract).

A manifest is a CSV with header ``uttid,noisy,clean`` (``clean`` optional for enhance-only sets);
dynamic-mixing sets use ``uttid,clean`` plus a noise manifest ``uttid,noise``. Relative paths are
relative to the manifest's own folder, so a corpus can be moved as a whole. Any other column
(e.g. ``snr_db``, ``noise_kind``) is a *condition*: kept per row as text in ``conditions`` so
training records it and evaluation can break results down by it.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType

from tfgridnet.audio.io import AUDIO_SUFFIXES
from tfgridnet.contracts.names import CLEAN, NOISE, NOISE_KIND_COLUMN, NOISY, SNR_COLUMN, UTTID
from tfgridnet.errors import UserInputError
from tfgridnet.fileio import write_text_atomic
from tfgridnet.lazy import lazy_exports

__all__ = [
    "Pair", "Entry", "ManifestError", "read_manifest", "read_entries", "read_noise_manifest",
    "manifest_columns",
    "write_manifest", "write_single_manifest", "read_conditions_csv",
    "AUDIO_SUFFIXES", "CONDITION_COLUMNS", "NOISE_KIND_COLUMN", "SNR_COLUMN",
]

_KNOWN_COLUMNS = (UTTID, NOISY, CLEAN, NOISE)
# Condition columns this package writes itself (demo corpus, dynamic mixing); any other extra
# column of a manifest is kept too.
CONDITION_COLUMNS = (NOISE_KIND_COLUMN, SNR_COLUMN)


class ManifestError(UserInputError):
    """A manifest cannot be used as it is; the message says ``file:line: what was expected``."""


_NO_CONDITIONS: Mapping[str, str] = MappingProxyType({})  # shared by every row without any


def _text(path: str | os.PathLike | None) -> str | None:
    return None if path is None else os.fspath(path)


class _Row:
    """Immutable manifest row. Paths are kept as text and handed out as ``Path`` on access:
    100,000 rows then read in a fraction of the time and memory that ``Path`` objects take."""

    __slots__ = ()
    _fields: tuple[str, ...] = ()

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def _key(self) -> tuple:
        return tuple(getattr(self, name) for name in self._fields)

    def __eq__(self, other: object) -> bool:  # conditions are annotations, not identity
        return type(other) is type(self) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        extra = f", conditions={dict(self.conditions)!r}" if self.conditions else ""
        return f"{type(self).__name__}({fields}{extra})"


class Pair(_Row):
    """One utterance: its id, the noisy/clean files (either may be None in one-sided sets) and
    its ``conditions`` (the manifest's extra columns, e.g. ``snr_db``, ``noise_kind``, as text;
    empty when it has none)."""

    __slots__ = (UTTID, "_noisy", "_clean", "conditions")  # attributes named after the columns
    _fields = (UTTID, NOISY, CLEAN)

    def __init__(self, uttid: str, noisy: str | os.PathLike | None,
                 clean: str | os.PathLike | None,
                 conditions: Mapping[str, str] | None = None) -> None:
        for name, value in ((UTTID, uttid), ("_noisy", _text(noisy)), ("_clean", _text(clean)),
                            ("conditions", conditions or _NO_CONDITIONS)):
            object.__setattr__(self, name, value)

    def __reduce__(self) -> tuple:
        return Pair, (self.uttid, self._noisy, self._clean, dict(self.conditions) or None)

    @property
    def noisy(self) -> Path | None:
        return None if self._noisy is None else Path(self._noisy)

    @property
    def clean(self) -> Path | None:
        return None if self._clean is None else Path(self._clean)

    @property
    def clean_text(self) -> str | None:
        """The clean path as text (no ``Path`` object: cheap for 100,000-row lists)."""
        return self._clean


class Entry(_Row):
    """One row of a one-path manifest (``uttid,noise`` or ``uttid,clean``) with its conditions."""

    __slots__ = (UTTID, "_path", "conditions")
    _fields = (UTTID, "path")

    def __init__(self, uttid: str, path: str | os.PathLike,
                 conditions: Mapping[str, str] | None = None) -> None:
        for name, value in ((UTTID, uttid), ("_path", os.fspath(path)),
                            ("conditions", conditions or _NO_CONDITIONS)):
            object.__setattr__(self, name, value)

    def __reduce__(self) -> tuple:
        return Entry, (self.uttid, self._path, dict(self.conditions) or None)

    @property
    def path(self) -> Path:
        return Path(self._path)

    @property
    def path_text(self) -> str:
        return self._path


def _resolve(prefix: str, value: str) -> str:
    """Path text of a manifest cell; relative cells are relative to the manifest's folder, given
    as ``prefix`` (``os.path.join(folder, "")``: plain concatenation is 3x faster than join)."""
    if value.startswith("~"):
        value = os.path.expanduser(value)
    return value if os.path.isabs(value) else prefix + value


def _conditions(row: list[str], extra: list[tuple[int, str]]) -> Mapping[str, str]:
    return {name: row[i] for i, name in extra} if extra else _NO_CONDITIONS


def _read_rows(path: Path, required: Iterable[str]) -> tuple[list[str], list[tuple[int, list]]]:
    """Parse the CSV; return its header and (line number, stripped cells) rows, checking columns."""
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
    missing = [name for name in (UTTID, *required) if name not in header]
    if missing:
        raise ManifestError(
            f"{path}:{header_line}: missing column(s) {', '.join(missing)}; got header "
            f"{','.join(header)!r}, expected 'uttid,{','.join(required)}'"
        )
    duplicates = {name for name in header if header.count(name) > 1}
    if duplicates:
        raise ManifestError(f"{path}:{header_line}: repeated column(s) {', '.join(sorted(duplicates))}")
    rows: list[tuple[int, list]] = []
    width = len(header)
    for row in reader:
        line = reader.line_num
        row = [cell.strip() for cell in row]
        if not any(row) or row[0].startswith("#"):
            continue
        if len(row) != width:
            raise ManifestError(
                f"{path}:{line}: expected {width} fields ({','.join(header)}), got {len(row)}"
            )
        rows.append((line, row))
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
                  require: tuple[str, ...] = (NOISY, CLEAN)) -> list[Pair]:
    """Read a paired (or one-sided) manifest into :class:`Pair` rows.

    ``require`` names the path columns that must exist and be non-empty on every row, e.g.
    ``("noisy",)`` for enhance-only sets or ``("clean",)`` for a dynamic-mixing clean list.
    """
    path = Path(path)
    for name in require:
        if name not in (NOISY, CLEAN):
            raise ValueError(f"read_manifest: require must name 'noisy'/'clean', got {name!r}")
    header, rows = _read_rows(path, require)
    base = os.path.join(path.parent, "")
    extra = _extra_columns(header, ())
    sides = [(side, header.index(side) if side in header else None, side in require)
             for side in (NOISY, CLEAN)]
    id_col = header.index(UTTID)
    seen: dict[str, int] = {}
    pairs: list[Pair] = []
    for line, row in rows:
        uttid = row[id_col]
        _check_uttid(path, line, uttid, seen)
        values: list[str | None] = []
        for side, column, required in sides:
            value = row[column] if column is not None else ""
            if required and not value:
                raise ManifestError(f"{path}:{line}: empty '{side}' path for uttid {uttid!r}")
            values.append(_resolve(base, value) if value else None)
        pairs.append(Pair(uttid, values[0], values[1], _conditions(row, extra)))
    return pairs


def manifest_columns(path: str | os.PathLike | Path) -> list[str]:
    """The header of a manifest (lower-cased), after the same checks as :func:`read_manifest`."""
    return _read_rows(Path(path), ())[0]


def _extra_columns(header: list[str], used: tuple[str, ...]) -> list[tuple[int, str]]:
    return [(i, name) for i, name in enumerate(header)
            if name not in _KNOWN_COLUMNS and name not in used]


def read_entries(path: str | os.PathLike | Path, column: str) -> list[Entry]:
    """Read a one-path manifest (``uttid,<column>``, e.g. ``noise``) with its condition columns."""
    path = Path(path)
    header, rows = _read_rows(path, (column,))
    base = os.path.join(path.parent, "")
    id_col, path_col = header.index(UTTID), header.index(column)
    extra = _extra_columns(header, (column,))
    seen: dict[str, int] = {}
    out: list[Entry] = []
    for line, row in rows:
        uttid = row[id_col]
        _check_uttid(path, line, uttid, seen)
        if not row[path_col]:
            raise ManifestError(f"{path}:{line}: empty '{column}' path for uttid {uttid!r}")
        out.append(Entry(uttid, _resolve(base, row[path_col]), _conditions(row, extra)))
    return out


def read_noise_manifest(path: str | os.PathLike | Path,
                        column: str = NOISE) -> list[tuple[str, Path]]:
    """Read a ``uttid,noise`` manifest for dynamic mixing as ``(uttid, path)`` rows
    (``column="rir"``: a ``uttid,rir`` one)."""
    return [(entry.uttid, entry.path) for entry in read_entries(path, column)]


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


def _condition_columns(conditions: Iterable[dict[str, str]]) -> list[str]:
    """Union of the condition keys, in first-seen order (rows lacking one get an empty cell)."""
    columns: dict[str, None] = {}
    for row in conditions:
        columns.update(dict.fromkeys(row))
    clash = [name for name in columns if name in _KNOWN_COLUMNS]
    if clash:
        raise ManifestError(f"condition column(s) {', '.join(clash)} clash with the manifest's own "
                         f"columns {', '.join(_KNOWN_COLUMNS)}")
    return list(columns)


def write_manifest(path: str | os.PathLike | Path, pairs: list[Pair]) -> Path:
    """Write ``uttid,noisy,clean`` (+ condition columns) atomically, paths relative to its folder.

    The ``clean`` column is left out only when no pair has a clean side.
    """
    path = Path(path)
    base = path.parent.resolve()
    with_clean = any(pair.clean is not None for pair in pairs)
    extra = _condition_columns(pair.conditions for pair in pairs)
    header = ([UTTID, NOISY, CLEAN] if with_clean else [UTTID, NOISY]) + extra
    rows = []
    for pair in pairs:
        row = [pair.uttid, _relative(pair.noisy, base)]
        if with_clean:
            row.append(_relative(pair.clean, base))
        rows.append(row + [str(pair.conditions.get(name, "")) for name in extra])
    return _write_csv(path, header, rows)


def write_single_manifest(path: str | os.PathLike | Path, column: str,
                          entries: list[tuple[str, Path]] | list[Entry]) -> Path:
    """Write a one-path manifest (``uttid,clean`` or ``uttid,noise``, + the entries' conditions)."""
    path = Path(path)
    base = path.parent.resolve()
    rows = [e if isinstance(e, Entry) else Entry(e[0], e[1]) for e in entries]
    extra = _condition_columns(e.conditions for e in rows)
    return _write_csv(path, [UTTID, column, *extra], (
        [e.uttid, _relative(e.path, base), *(str(e.conditions.get(k, "")) for k in extra)]
        for e in rows))


def read_conditions_csv(path: str | os.PathLike | Path) -> dict[str, dict[str, str]]:
    """A side table ``uttid,<condition>,...`` -> {uttid: {condition: value}} (for make-manifest)."""
    path = Path(path)
    header, rows = _read_rows(path, ())
    _condition_columns([dict.fromkeys(h for h in header if h != UTTID)])
    id_col = header.index(UTTID)
    extra = [(i, name) for i, name in enumerate(header) if i != id_col]
    seen: dict[str, int] = {}
    out: dict[str, dict[str, str]] = {}
    for line, row in rows:
        _check_uttid(path, line, row[id_col], seen)
        out[row[id_col]] = {name: row[i] for i, name in extra}
    return out


# Pairing two folders into a manifest (the make-manifest command) lives in data/pairing.py; its
# function stays importable from here.
__getattr__ = lazy_exports("tfgridnet.data", {"make_manifest": ".pairing"})
