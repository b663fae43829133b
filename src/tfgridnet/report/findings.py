"""``findings.json``: one schema for the file, written by the report and read back through it.

The file is a list of ``{"code", "severity", "message", "evidence"}``; a code must be one of the
rules registry's and its severity one that rule can give, so a reader never meets a code that no
rule defines.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, TypeAdapter, model_validator

from tfgridnet.fileio import read_json_validated, write_json_atomic
from tfgridnet.report.rules import RULES_BY_CODE, Finding, Severity

__all__ = ["FindingRecord", "read_findings", "write_findings"]


class FindingRecord(BaseModel):
    """One entry of findings.json."""

    model_config = ConfigDict(extra="forbid")

    code: str
    severity: Severity
    message: str
    evidence: dict[str, Any]

    @model_validator(mode="after")
    def _known_code(self) -> FindingRecord:
        rule = RULES_BY_CODE.get(self.code)
        if rule is None:
            raise ValueError(f"unknown finding code {self.code!r}; known: "
                             f"{', '.join(RULES_BY_CODE)}")
        if self.severity not in rule.severities:
            raise ValueError(f"{self.code}: severity {self.severity!r}, the rule gives "
                             f"{' or '.join(rule.severities)}")
        return self

    @classmethod
    def of(cls, finding: Finding, lang: str = "en") -> FindingRecord:
        return cls(code=finding.code, severity=finding.severity, message=finding.message(lang),
                   evidence=_jsonable(finding.evidence))


_FILE = TypeAdapter(list[FindingRecord])


def write_findings(path: Path, findings: list[Finding], lang: str = "en") -> Path:
    """Write findings.json atomically, messages in ``lang``."""
    records = [FindingRecord.of(f, lang) for f in findings]
    return write_json_atomic(path, _FILE.dump_python(records, mode="json"))


def read_findings(path: Path) -> list[FindingRecord]:
    """Read findings.json; a malformed file or an unknown code is one ValueError naming the file."""
    return read_json_validated(path, _FILE.validate_python, "a findings file")


def _jsonable(value: Any) -> Any:
    """Round floats for reading, turn NaN/inf into None, paths into text."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return float(f"{value:.6g}") if math.isfinite(value) else None
    if isinstance(value, Path):
        return str(value)
    return value
