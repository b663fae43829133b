"""``<stem>.curation.json``, written by ``tfgridnet curate`` beside the curated manifest and kept
by ``train`` in ``data_check.json``: what was dropped from which manifest, and by which rule."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

from tfgridnet.fileio import read_json_validated, write_json_atomic

__all__ = ["CurationRecord", "DroppedRow", "RECORD_SUFFIX"]

RECORD_SUFFIX = ".curation.json"


class DroppedRow(BaseModel):
    """One row left out: its id, the kinds of finding that dropped it, the first message."""

    model_config = ConfigDict(extra="ignore")

    uttid: str
    kinds: list[str]
    reason: str


class CurationRecord(BaseModel):
    """``<stem>.curation.json``: what curate dropped from which manifest, and by which rule."""

    model_config = ConfigDict(extra="ignore")

    source: str
    manifest: str
    manifest_sha256: str
    role: str
    n_rows: int
    n_kept: int
    drop_kinds: list[str]
    min_mos: float | None = None
    reference_snr_error_db: float | None = None
    dropped_by_kind: dict[str, int] = {}
    dropped: list[DroppedRow] = []
    measures_csv: str | None = None
    plot: str | None = None
    created: str = ""

    def write(self, path: Path) -> Path:
        return write_json_atomic(path, self.model_dump(mode="json"))

    @classmethod
    def read(cls, path: Path) -> CurationRecord:
        return read_json_validated(path, cls.model_validate, "a curation record")
