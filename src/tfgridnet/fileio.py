"""Atomic file writes: a reader (or a crash) never sees a half-written checkpoint, CSV or report."""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from tfgridnet.errors import UserInputError

_T = TypeVar("_T")

TEMP_MARK = ".tfgridnet-tmp"


def _umask() -> int:
    """The process umask: from /proc where it can be read, else by setting it and putting it back."""
    with contextlib.suppress(OSError, ValueError, StopIteration):
        with open("/proc/self/status", encoding="ascii") as status:
            return int(next(line for line in status if line.startswith("Umask:")).split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_TEMP_NAME = re.compile(r"^\..+" + re.escape(TEMP_MARK) + r"-(\d+)-[0-9a-f]{8}.*\.tmp$")


def is_stale_temp(path: Path) -> bool:
    """A temporary file of ours whose writer process is gone (a killed run's leftover)."""
    match = _TEMP_NAME.match(path.name)
    return bool(match) and int(match.group(1)) != os.getpid() and not _pid_alive(
        int(match.group(1)))


_SWEPT: set[Path] = set()  # folders already swept by this process (a sweep lists the folder)


def remove_stale_temps(folder: Path, recursive: bool = False) -> None:
    """Delete the leftovers of killed runs in ``folder``; live writers' temporaries stay."""
    _SWEPT.add(folder)
    with contextlib.suppress(OSError):
        for path in (folder.rglob("*") if recursive else folder.iterdir()):
            if is_stale_temp(path):
                with contextlib.suppress(OSError):
                    path.unlink()


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it replaces ``target`` in one rename.

    The temporary file, ``.<target name>.tfgridnet-tmp-<pid>-<random><suffix>`` (default suffix:
    the target's plus ``.tmp``), is recognisable: a killed run's leftovers are removed by the next
    write into the same folder.
    The result gets the target's previous mode, or 0666 less the umask for a new file. On any
    exception the temporary file is removed and ``target`` is left as it was.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.parent not in _SWEPT:  # once per folder and process: evaluate writes thousands
        remove_stale_temps(target.parent)
    tmp = target.parent / (f".{target.name}{TEMP_MARK}-{os.getpid()}-{secrets.token_hex(4)}"
                           + (suffix if suffix is not None else target.suffix + ".tmp"))
    try:
        mode = target.stat().st_mode & 0o7777
    except OSError:
        mode = 0o666 & ~_umask()
    try:
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def write_text_atomic(target: str | os.PathLike, text: str) -> Path:
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(target)


def write_bytes_atomic(target: str | os.PathLike, data: bytes) -> Path:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return Path(target)


def write_json_atomic(target: str | os.PathLike, obj: Any, indent: int | None = 2) -> Path:
    return write_text_atomic(target, json.dumps(obj, indent=indent, ensure_ascii=False,
                                                allow_nan=True) + "\n")


def read_json_validated(path: str | os.PathLike, validate: Callable[[Any], _T], what: str) -> _T:
    """Read a JSON file through a schema's validator; any defect is one ValueError naming the file.

    Every contract file read back (findings.json, data_check.json, ...) goes through here, so a
    broken file is always said the same way: ``PATH: not valid JSON (...)`` or ``PATH: not WHAT (...)``.
    """
    from pydantic import ValidationError

    try:
        return validate(json.loads(Path(path).read_text(encoding="utf-8")))
    except json.JSONDecodeError as exc:
        raise UserInputError(f"{path}: not valid JSON ({exc})") from None
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                             for e in exc.errors())
        raise UserInputError(f"{path}: not {what} ({problems})") from None
