"""Strict reading of the CSV tables tfgridnet writes (``metrics.csv``, ``evaluation_results.csv``).

A table cut off mid-write (a copy of a live run, a full disk) still parses with the csv module:
its last row silently loses fields or digits ("1051" read as "10"). Here a last line without its
newline, or any row whose field count differs from the header's, is an error naming the line.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from tfgridnet.errors import UserInputError

__all__ = ["TableError", "read_csv_table", "parse_number"]


class TableError(UserInputError):
    """A CSV table is truncated or malformed; the message says ``file:line: what``."""


def read_csv_table(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header (stripped) and ``(line number, fields)`` of every non-empty row."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TableError(f"{path}: not UTF-8 text ({exc.reason})") from None
    if not text.strip():
        raise TableError(f"{path}: empty file, expected a CSV header")
    if not text.endswith("\n"):
        last = text.count("\n") + 1
        raise TableError(f"{path}:{last}: the last line is incomplete (no line end): the file was "
                         "cut off while being written; its numbers cannot be trusted")
    reader = csv.reader(io.StringIO(text))
    header = [c.strip() for c in next(reader)]
    rows: list[tuple[int, list[str]]] = []
    for fields in reader:
        if not fields:
            continue
        if len(fields) != len(header):
            raise TableError(f"{path}:{reader.line_num}: {len(fields)} fields, the header has "
                             f"{len(header)}: the table is truncated or malformed")
        rows.append((reader.line_num, fields))
    return header, rows


def parse_number(text: str | None, path: Path, row: int, column: str) -> float:
    """A numeric cell: NaN when empty, else a float; anything else is refused naming the cell."""
    if text is None or text.strip() == "":
        return math.nan
    try:
        return float(text)
    except ValueError:
        raise UserInputError(
            f"{path}: row {row}, column '{column}': expected a number, got {text!r}"
        ) from None
