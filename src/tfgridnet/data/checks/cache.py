"""Results of ``check-data`` kept between runs, keyed by file identity, so a second check of the
same corpus re-reads only the files that changed.

Key: the check version (:data:`CHECK_VERSION` and the thresholds the examination uses), what was
checked (a pair, a clean reference or a noise file; the expected sample rate; MOS or not) and, for
each file, its absolute path, size and modification time in nanoseconds. A file edited in place,
replaced or touched gets a new key. Value: the examination's problems and measurements (the
judgements made from measurements, such as the reference audit's, are made afresh every time).
Entries unused for 90 days are dropped.

Where: ``$TFGRIDNET_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/tfgridnet`` (``~/.cache/tfgridnet``),
file ``data-check-cache.sqlite3``; one cache serves every manifest and every run. SQLite commits
each batch atomically, so a check that is killed keeps what it finished. A cache that cannot be
opened or read (corrupt, read-only, a full disk) never stops a check: it is set aside or skipped,
with a note in the summary.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tfgridnet.data.checks.thresholds import THRESHOLDS

__all__ = ["ResultCache", "default_cache_dir", "CHECK_VERSION", "CACHE_FILE", "file_identity"]

CHECK_VERSION = 2  # raise when a detector changes what it measures or reports
CACHE_FILE = "data-check-cache.sqlite3"
_KEEP_DAYS = 90  # entries not used for this long are dropped when the cache is opened
_VERSION = f"{CHECK_VERSION}:" + hashlib.sha1(
    json.dumps(THRESHOLDS, sort_keys=True).encode()).hexdigest()[:12]


def default_cache_dir() -> Path:
    """``$TFGRIDNET_CACHE_DIR``, else ``$XDG_CACHE_HOME/tfgridnet``, else ``~/.cache/tfgridnet``."""
    explicit = os.environ.get("TFGRIDNET_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "tfgridnet"


def file_identity(path: str | os.PathLike | None) -> list | None:
    """``[absolute path, size, mtime_ns]``; None when the file cannot be stat'ed (never cached)."""
    if path is None:
        return None
    absolute = os.path.abspath(os.fspath(path))
    try:
        stat = os.stat(absolute)
    except OSError:
        return None
    return [absolute, stat.st_size, stat.st_mtime_ns]


class ResultCache:
    """A key -> JSON store in SQLite; every failure degrades to "not cached" with a note."""

    def __init__(self, folder: str | os.PathLike | None = None) -> None:
        self.path = Path(folder) if folder is not None else default_cache_dir()
        self.path = self.path / CACHE_FILE
        self.note: str | None = None
        self._db: sqlite3.Connection | None = None
        self._opened = False

    @staticmethod
    def key(what: str, sample_rate: int | None, mos: bool, files: Iterable[list | None]
            ) -> str | None:
        """The key of one examination; None when a file has no identity (missing: not cached)."""
        identities = list(files)
        if any(identity is None for identity in identities):
            return None
        text = json.dumps([_VERSION, what, sample_rate, mos, identities], separators=(",", ":"))
        return hashlib.sha1(text.encode()).hexdigest()

    def _connect(self) -> sqlite3.Connection | None:
        if self._opened:
            return self._db
        self._opened = True
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = self._open()
        except sqlite3.DatabaseError as exc:  # not a database, or a damaged one: set it aside
            aside = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}")
            try:
                os.replace(self.path, aside)
                self._db = self._open()
                self.note = f"the cache was unreadable ({exc}); moved to {aside}, starting afresh"
            except (OSError, sqlite3.Error) as again:
                self.note = f"cache unusable ({exc}; {again}); checking without it"
                self._db = None
        except OSError as exc:
            self.note = f"cache folder {self.path.parent} unusable ({exc}); checking without it"
        return self._db

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=60)
        db.execute("CREATE TABLE IF NOT EXISTS results (key TEXT PRIMARY KEY, value TEXT NOT NULL,"
                   " used REAL NOT NULL)")
        db.execute("SELECT count(*) FROM results").fetchone()  # reads a page: fails if damaged
        db.execute("DELETE FROM results WHERE used < ?", (time.time() - _KEEP_DAYS * 86400,))
        db.commit()
        return db

    def _failed(self, exc: Exception) -> None:
        self.note = f"cache disabled after an error ({exc})"
        if self._db is not None:
            try:
                self._db.close()
            except sqlite3.Error:
                pass
        self._db = None

    def get_many(self, keys: list[str]) -> dict[str, Any]:
        """The stored values of ``keys`` (missing keys are absent); marks them used."""
        db = self._connect()
        if db is None or not keys:
            return {}
        found: dict[str, Any] = {}
        try:
            for start in range(0, len(keys), 500):
                chunk = keys[start:start + 500]
                rows = db.execute(f"SELECT key, value FROM results WHERE key IN "
                                  f"({','.join('?' * len(chunk))})", chunk).fetchall()
                for key, value in rows:
                    try:
                        found[key] = json.loads(value)
                    except ValueError:
                        continue  # one damaged entry: re-checked, then rewritten
            if found:
                now = time.time()
                db.executemany("UPDATE results SET used = ? WHERE key = ?",
                               ((now, key) for key in found))
                db.commit()
        except sqlite3.Error as exc:
            self._failed(exc)
            return {}
        return found

    def put_many(self, items: list[tuple[str, Any]]) -> None:
        """Store ``(key, JSON-able value)`` items in one transaction."""
        db = self._connect()
        if db is None or not items:
            return
        now = time.time()
        try:
            with db:
                db.executemany("INSERT OR REPLACE INTO results (key, value, used) VALUES (?, ?, ?)",
                               ((key, json.dumps(value, separators=(",", ":")), now)
                                for key, value in items))
        except sqlite3.Error as exc:
            self._failed(exc)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
