"""The report's messages: one catalog per language (``report/locales/<lang>.yaml``).

The renderer only ever asks ``tr(key, lang, **numbers)``: every language is filled from the same
numbers with the same format specs, so a translated report cannot disagree with the English one.
A test checks that every language has every key with the same placeholders.
"""

from __future__ import annotations

import math
import string
from functools import cache
from importlib import resources
from typing import Any

import yaml

from tfgridnet.errors import UserInputError

__all__ = ["LANGUAGES", "MISSING", "Catalog", "catalog", "fmt", "tr"]

LANGUAGES = ("en", "zh-TW")
MISSING = "—"


class _Formatter(string.Formatter):
    """str.format that writes a dash for missing numbers instead of failing on None/NaN."""

    def format_field(self, value: Any, format_spec: str) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return MISSING
        if isinstance(value, str) and format_spec and format_spec[-1] in "efgd%,":
            return value
        return super().format_field(value, format_spec)


_FORMATTER = _Formatter()


class Catalog:
    """The messages of one language, read once from its YAML file (shipped as package data)."""

    def __init__(self, lang: str, messages: dict[str, str]) -> None:
        self.lang = lang
        self.messages = messages

    @classmethod
    def load(cls, lang: str) -> Catalog:
        if lang not in LANGUAGES:
            raise UserInputError(f"report language {lang!r} not supported; choose one of {LANGUAGES}")
        source = resources.files("tfgridnet.report") / "locales" / f"{lang}.yaml"
        messages = yaml.safe_load(source.read_text(encoding="utf-8"))
        if not isinstance(messages, dict) or not all(isinstance(v, str)
                                                     for v in messages.values()):
            raise ValueError(f"{source}: expected a mapping of message keys to text")
        return cls(lang, messages)

    def placeholders(self, key: str) -> set[str]:
        """The names a message fills in (``{name:spec}`` -> ``name``)."""
        return {name for _, name, _, _ in _FORMATTER.parse(self.messages[key]) if name}

    def __call__(self, key: str, **values: Any) -> str:
        try:
            text = self.messages[key]
        except KeyError:
            raise KeyError(f"report message {key!r} missing from locales/{self.lang}.yaml") from None
        return _FORMATTER.format(text, **values)


@cache
def catalog(lang: str) -> Catalog:
    """The catalog of ``lang``, loaded on first use."""
    return Catalog.load(lang)


def tr(key: str, lang: str = "en", **values: Any) -> str:
    """The message ``key`` in ``lang`` with ``values`` filled in."""
    return catalog(lang)(key, **values)


def fmt(value: Any, spec: str = ".2f") -> str:
    """One number for a table cell, the same in every language."""
    return _FORMATTER.format_field(value, spec)
