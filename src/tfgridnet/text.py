"""Small wording helpers shared by everything that prints counts for people."""

from __future__ import annotations

__all__ = ["plural"]


def plural(count: int, noun: str, plural_noun: str | None = None) -> str:
    """``"1 warning"``, ``"2 warnings"``, ``"0 utterances"``: never ``"1 warning(s)"``."""
    return f"{count} {noun if count == 1 else plural_noun or noun + 's'}"
