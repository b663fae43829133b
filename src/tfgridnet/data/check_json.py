"""The check-data JSON file (``tfgridnet check-data MANIFEST --json FILE``): the pair check's
report (``CheckReport.to_dict``), with the leakage check's (``LeakageReport.to_dict``) under its
``"leakage"`` key when ``--against`` asked for one (docs/design.md, file contract).

The path is checked before any pair is read: a folder, an unwritable place, or the manifest or
any audio it (or a manifest it is compared with) lists is refused in one line. The file is then
written whole each time a report is added, atomically.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tfgridnet.data.checks import CheckReport, read_rows
from tfgridnet.data.leakage import LeakageReport, read_split
from tfgridnet.data.manifest import ManifestError
from tfgridnet.errors import UserInputError
from tfgridnet.fileio import write_json_atomic
from tfgridnet.safety import refuse_input_overwrite

__all__ = ["CheckJson", "LEAKAGE_KEY", "leakage_splits"]

LEAKAGE_KEY = "leakage"
_WHAT = "--json"


def _manifest_audio(manifest: Path) -> list[Path]:
    try:
        _, rows = read_rows(manifest)
    except ManifestError:
        return []  # reported (and written to the JSON) by the check itself
    return [p for _, noisy, clean in rows for p in (noisy, clean) if p]


def leakage_splits(manifest: Path, against: list[Path]) -> dict[str, list[Path]]:
    """``check-data MANIFEST --against ...`` as splits, one manifest each, named by its path; a
    manifest given twice is refused (a split compared with itself would match every row)."""
    splits: dict[str, list[Path]] = {}
    seen: set[Path] = set()
    for path in (manifest, *against):
        if path.resolve() in seen:
            raise UserInputError(f"--against {path}: this manifest is given twice (a split "
                                 "compared with itself would match every row)")
        seen.add(path.resolve())
        splits[str(path)] = [path]
    return splits


class CheckJson:
    """The ``--json`` file of one check-data run: :meth:`add` a report, and the file holds every
    report added so far."""

    def __init__(self, path: Path, manifest: Path,
                 splits: dict[str, list[Path]] | None = None) -> None:
        """Refuse ``path`` when it is a folder, cannot be written, or would replace ``manifest``,
        its audio, or a manifest (or audio) of ``splits``."""
        self.path = Path(path)
        self._content: dict[str, Any] = {}
        if self.path.is_dir():
            raise UserInputError(f"{self.path}: {_WHAT} names a folder; expected a .json file path")
        parent = next(p for p in (self.path, *self.path.parents) if p.exists())
        if parent != self.path and not parent.is_dir():
            raise UserInputError(f"{self.path}: {_WHAT} cannot be written ({parent} is not a "
                                 "folder)")
        if (parent.is_dir() and not os.access(parent, os.W_OK)) or (
                self.path.exists() and not os.access(self.path, os.W_OK)):
            raise UserInputError(f"{self.path}: {_WHAT} cannot be written (permission denied)")
        inputs = [manifest, *_manifest_audio(manifest)]
        for name, paths in (splits or {}).items():
            inputs += [*paths, *read_split(name, paths).paths]
        refuse_input_overwrite([self.path], inputs, what=_WHAT)

    def add(self, report: CheckReport | LeakageReport) -> Path:
        """Write the file with ``report`` added: a pair check's report is the file's body, a
        leakage check's goes under ``"leakage"``."""
        if isinstance(report, LeakageReport):
            self._content[LEAKAGE_KEY] = report.to_dict()
        else:
            self._content = {**report.to_dict(), **{k: v for k, v in self._content.items()
                                                    if k == LEAKAGE_KEY}}
        return write_json_atomic(self.path, self._content)

    def add_unusable(self, error: Exception) -> Path:
        """The report of a manifest that could not be checked at all."""
        return self.add(CheckReport(ok=False, n_pairs=0, stats={"error": str(error)}))
