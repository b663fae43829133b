"""The report's unit of content: one heading, paragraph, list, table or image, already in its
language. Sections produce blocks; the templates print them. Consecutive blocks of one ``section``
become one ``<section id=...>`` of the HTML page (the Markdown has no such boxes)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["Block", "heading", "paragraph", "table"]


@dataclass
class Block:
    kind: str  # h1 h2 p ul ol table img
    text: str = ""
    items: list[str] | None = None
    header: list[str] | None = None
    rows: list[list[str]] | None = None
    path: Path | None = None
    section: str = ""


def heading(text: str, level: int = 2) -> Block:
    return Block(f"h{level}", text)


def paragraph(text: str) -> Block:
    return Block("p", text)


def table(header: list[str], rows: list[list[str]]) -> Block:
    return Block("table", header=header, rows=rows)
