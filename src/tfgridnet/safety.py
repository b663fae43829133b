"""Output-path safety: no command ever writes over a file it was given as input, and an output
folder re-used by a later run never mixes two runs.

Every check runs before any work starts and resolves paths (symlinks, ``..``) so ``x/../x`` or a
link to an input is recognised. An output folder remembers what tfgridnet wrote into it in a small
ledger (:data:`LEDGER_NAME`); the next run into the same folder removes exactly those files first
and refuses a folder holding anything else unless ``overwrite=True``.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from tfgridnet.errors import UserInputError
from tfgridnet.fileio import TEMP_MARK, remove_stale_temps, write_text_atomic

__all__ = ["UnsafeOutputError", "LEDGER_NAME", "refuse_input_overwrite", "refuse_existing_file",
           "refuse_input_folder", "claim_output_dir"]

LEDGER_NAME = ".tfgridnet-outputs.json"


class UnsafeOutputError(UserInputError):
    """An output path would replace or hold an input, or mix with another run's files."""


def _resolved(path: str | os.PathLike) -> Path:
    return Path(path).expanduser().resolve()


def refuse_input_overwrite(outputs: Iterable[str | os.PathLike],
                           inputs: Iterable[str | os.PathLike], what: str = "output") -> None:
    """Refuse any output path that resolves to one of the input files."""
    taken = {_resolved(p): Path(p) for p in inputs}
    for out in outputs:
        source = taken.get(_resolved(out))
        if source is not None:
            raise UnsafeOutputError(f"{out}: {what} would overwrite the input file {source}; "
                                    "choose another path")


def refuse_existing_file(path: str | os.PathLike, what: str = "--out") -> None:
    """A folder is expected: an existing file (or anything that is not a folder) is refused."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UnsafeOutputError(f"{path}: {what} names an existing file; expected a folder")


def refuse_input_folder(out_dir: str | os.PathLike, inputs: Iterable[str | os.PathLike],
                        what: str = "--out") -> None:
    """Refuse an output folder that holds (or is) a folder an input lives in."""
    out = _resolved(out_dir)
    for source in inputs:
        resolved = _resolved(source)
        if resolved == out or out in resolved.parents:
            raise UnsafeOutputError(
                f"{out_dir}: {what} holds the input {source}; writing there could replace "
                "inputs; choose a folder outside the inputs")


def _read_ledger(out_dir: Path) -> list[str] | None:
    ledger = out_dir / LEDGER_NAME
    if not ledger.is_file():
        return None
    try:
        written = json.loads(ledger.read_text(encoding="utf-8")).get("written", [])
    except (ValueError, AttributeError, OSError):
        return None
    return [w for w in written if isinstance(w, str)]


def _files_under(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")
            if (p.is_file() or p.is_symlink()) and p.name != LEDGER_NAME
            and TEMP_MARK not in p.name}


def _write_ledger(out_dir: Path, command: str, written: Iterable[str]) -> None:
    write_text_atomic(out_dir / LEDGER_NAME, json.dumps(
        {"command": command, "written": sorted(set(written))}, indent=1) + "\n")


def _clear_previous(out_dir: Path, protected: set[Path]) -> None:
    """Remove the files a previous run recorded (only regular files inside ``out_dir``)."""
    root = out_dir.resolve()
    for name in _read_ledger(out_dir) or []:
        path = out_dir / name
        resolved = path.resolve()
        if root not in resolved.parents or resolved in protected or not path.is_file():
            continue
        path.unlink()
        for parent in path.parents:  # drop folders the previous run left empty
            if parent == out_dir or not parent.is_dir() or any(parent.iterdir()):
                break
            parent.rmdir()


@contextlib.contextmanager
def claim_output_dir(out_dir: str | os.PathLike, command: str,
                     inputs: Iterable[str | os.PathLike] = (), overwrite: bool = False,
                     planned: Iterable[str | os.PathLike] = ()) -> Iterator[Path]:
    """Make ``out_dir`` ready for one run of ``command`` and record what the run wrote.

    Refuses (before any work) an ``out_dir`` that is a file or would replace an input; removes
    the files the previous tfgridnet run recorded there; refuses a folder holding other files
    unless ``overwrite``. ``planned`` outputs (relative paths) are recorded up front, so even a
    killed run's files are cleared next time; files found new at the end are recorded too.
    """
    out_dir = Path(out_dir)
    refuse_existing_file(out_dir)
    inputs = [Path(p) for p in inputs]
    protected = {_resolved(p) for p in inputs}
    planned = [Path(p).as_posix() for p in planned]
    refuse_input_overwrite([out_dir / p for p in planned], inputs)
    if out_dir.is_dir():
        remove_stale_temps(out_dir, recursive=True)
        _clear_previous(out_dir, protected)
        foreign = sorted(_files_under(out_dir))
        if foreign and not overwrite:
            shown = ", ".join(foreign[:3]) + (f" (+{len(foreign) - 3} more)" if len(foreign) > 3
                                               else "")
            raise UnsafeOutputError(
                f"{out_dir}: output folder already holds files tfgridnet did not write ({shown}); "
                "choose an empty folder or pass --overwrite")
    out_dir.mkdir(parents=True, exist_ok=True)
    before = _files_under(out_dir)
    _write_ledger(out_dir, command, planned)
    try:
        yield out_dir
    finally:
        _write_ledger(out_dir, command, set(planned) | (_files_under(out_dir) - before))
