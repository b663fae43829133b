"""The messages people read: one catalog per language (``report/locales/<lang>.yaml``).

The renderer only ever asks ``tr(key, lang, **numbers)``: every language is filled from the same
numbers with the same format specs, so a translated report cannot disagree with the English one.
A test checks that every language has every key with the same placeholders.

Any layer may import this module (the evaluation's listening page and plots, the report, the
command line): it sits below them all and imports no other tfgridnet module. The catalogs and the
plot font stay package data beside the report (``report/locales/``, ``report/fonts/``), which
holds most of the messages; ``tfgridnet.report.i18n`` is this module under its old name.
"""

from __future__ import annotations

import math
import string
from functools import cache
from importlib import resources
from typing import Any

from tfgridnet.errors import UserInputError

__all__ = ["LANGUAGES", "DEFAULT_LANGUAGE", "MISSING", "Catalog", "catalog", "fmt", "tr",
           "localized_name", "plot_fonts"]

# The package data folder of the catalogs and the font (a path: reading it imports no report code).
_REPORT_DATA = resources.files("tfgridnet") / "report"
LANGUAGES = ("en", "zh-TW")
DEFAULT_LANGUAGE = "en"
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
        import yaml  # here, so the command line can import LANGUAGES without it

        source = _REPORT_DATA / "locales" / f"{lang}.yaml"
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


def localized_name(name: str, lang: str) -> str:
    """The file name of an output in ``lang``: ``report.html`` in the default language,
    ``report.zh-TW.html`` in another, so the languages live side by side in one folder."""
    if lang not in LANGUAGES:
        raise ValueError(f"language {lang!r} not supported; choose one of {LANGUAGES}")
    if lang == DEFAULT_LANGUAGE:
        return name
    stem, dot, suffix = name.rpartition(".")
    return f"{stem}.{lang}.{suffix}" if dot else f"{name}.{lang}"


# Glyphs for the plots' CJK text: a subset of Noto Sans CJK TC (SIL Open Font License, beside it)
# holding every non-ASCII character of the plot messages, so a zh-TW plot never shows empty boxes
# whatever fonts the machine has. tools/plot_font.py rebuilds it; a test checks it covers them.
PLOT_FONT_FILE = "tfgridnet-cjk-plots.otf"
PLOT_FONT_FAMILY = "tfgridnet CJK plots"
PLOT_MESSAGE_PREFIXES = ("fig.", "signal.", "plot.", "cond.", "metric.")
# Installed CJK fonts, for plot text that no catalog holds (an utterance id in Chinese, say).
_SYSTEM_CJK_FAMILIES = ("Noto Sans CJK TC", "Noto Sans TC", "Source Han Sans TC",
                        "Microsoft JhengHei", "PingFang TC", "WenQuanYi Zen Hei")


def plot_characters() -> set[str]:
    """Every non-ASCII character of the plot messages in every language."""
    return {char for lang in LANGUAGES for key, text in catalog(lang).messages.items()
            if key.startswith(PLOT_MESSAGE_PREFIXES) for char in text if ord(char) > 127}


@cache
def plot_fonts() -> tuple[str, ...]:
    """Font families for plot text, in the order matplotlib takes each glyph from them: the
    default sans-serif, the shipped CJK subset (registered with matplotlib on first call), then
    those installed CJK fonts that exist here."""
    from matplotlib import font_manager, rcParams

    path = _REPORT_DATA / "fonts" / PLOT_FONT_FILE
    font_manager.fontManager.addfont(str(path))
    installed = {entry.name for entry in font_manager.fontManager.ttflist}
    return (rcParams["font.sans-serif"][0], PLOT_FONT_FAMILY,
            *(name for name in _SYSTEM_CJK_FAMILIES if name in installed))
