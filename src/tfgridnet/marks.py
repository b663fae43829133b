"""Status marks (ok, warning, failure, information) shared by the report and the listening page.

Each mark is one text character for Markdown and terminals, chosen from symbols that common
fonts carry and that have no emoji presentation (✓ U+2713, ✗ U+2717, ⚠ U+26A0, ℹ U+2139, never
followed by the emoji selector U+FE0F): the emoji ✅ ❌ need a colour-emoji font that many
servers and fresh Linux installs lack, and render there as empty boxes. In HTML each mark is an inline SVG
badge, which needs no font at all, with its character kept (visually hidden) for copying and
screen readers.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

__all__ = ["MARKS", "MARK_CHARACTERS", "MARK_CSS", "SEVERITY_MARKS", "Mark", "mark_html",
           "marks_to_html"]


@dataclass(frozen=True)
class Mark:
    key: str
    text: str  # the character in plain text and Markdown
    label: str  # what the badge means, shown as its tooltip
    svg: str  # the badge's drawing on a 16 x 16 view box ("" for a mark that is only text)


_STROKE = 'fill="none" stroke="#fff" stroke-width="2.2" stroke-linecap="round"'
MARKS: dict[str, Mark] = {m.key: m for m in (
    Mark("ok", "✓", "ok", '<circle cx="8" cy="8" r="8" fill="#2e7d32"/>'
         f'<path d="M4.4 8.4l2.4 2.4 4.8-5.2" {_STROKE} stroke-linejoin="round"/>'),
    Mark("bad", "✗", "failed", '<circle cx="8" cy="8" r="8" fill="#c62828"/>'
         f'<path d="M5.3 5.3l5.4 5.4M10.7 5.3l-5.4 5.4" {_STROKE}/>'),
    Mark("warn", "⚠", "warning", '<path d="M8 .8l7.6 14H.4z" fill="#e8a500"/>'
         '<path d="M8 5.6v4.4" fill="none" stroke="#222" stroke-width="2" stroke-linecap="round"/>'
         '<circle cx="8" cy="12.4" r="1.1" fill="#222"/>'),
    Mark("info", "ℹ", "information", '<circle cx="8" cy="8" r="8" fill="#1565c0"/>'
         f'<circle cx="8" cy="4.4" r="1.2" fill="#fff"/><path d="M8 7.4v5" {_STROKE}/>'),
    Mark("none", "—", "not judged", ""),
)}
# findings.json severities -> their marks
SEVERITY_MARKS: dict[str, Mark] = {"error": MARKS["bad"], "warning": MARKS["warn"],
                                   "info": MARKS["info"]}
# The characters that stand for a badge in HTML (the dash of "not judged" stays text).
MARK_CHARACTERS: dict[str, Mark] = {m.text: m for m in MARKS.values() if m.svg}

# Styles a page that shows badges needs (both pages include them in their <style>).
MARK_CSS = (".mark{display:inline-block;width:1.05em;height:1.05em;vertical-align:-.17em;"
            "position:relative}.mark svg{width:100%;height:100%;display:block}"
            ".mark-text{position:absolute;left:0;top:0;width:1px;height:1px;overflow:hidden;"
            "clip:rect(0 0 0 0);white-space:nowrap}")


def mark_html(mark: Mark) -> str:
    """The badge of ``mark``: inline SVG, its character kept for copy and screen readers."""
    if not mark.svg:
        return html.escape(mark.text)
    return (f'<span class="mark mark-{mark.key}" title="{html.escape(mark.label)}">'
            f'<svg viewBox="0 0 16 16" aria-hidden="true" focusable="false">{mark.svg}</svg>'
            f'<span class="mark-text">{mark.text}</span></span>')


def marks_to_html(escaped_text: str) -> str:
    """Already HTML-escaped text with every mark character replaced by its badge."""
    if not any(character in escaped_text for character in MARK_CHARACTERS):
        return escaped_text
    return "".join(mark_html(MARK_CHARACTERS[c]) if c in MARK_CHARACTERS else c
                   for c in escaped_text)
