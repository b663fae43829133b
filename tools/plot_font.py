"""Rebuild src/tfgridnet/report/fonts/: the CJK glyphs the plots need, cut from Noto Sans CJK TC.

Run after changing a plot message (``fig.*``, ``signal.*``) of a locale catalog; the test suite
fails while a plot character has no glyph (tests/report/test_plot_text.py). Needs fontTools
(installed with matplotlib) and Debian's fonts-noto-cjk:

    apt-get install fonts-noto-cjk && python tools/plot_font.py
"""

from __future__ import annotations

import sys
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTCollection

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from tfgridnet.i18n import (  # noqa: E402
    PLOT_FONT_FAMILY,
    PLOT_FONT_FILE,
    PLOT_MESSAGE_PREFIXES,
    plot_characters,
)

SOURCE = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
TRADITIONAL = "Noto Sans CJK TC"


def main() -> None:
    fonts = TTCollection(str(SOURCE)).fonts
    font = next(f for f in fonts if f["name"].getDebugName(1) == TRADITIONAL)
    options = subset.Options()
    options.name_IDs = [0, 1, 2, 3, 4, 5, 6]  # keep the copyright notice
    options.layout_features = ["*"]
    subsetter = subset.Subsetter(options)
    wanted = sorted(plot_characters())
    subsetter.populate(unicodes=[ord(c) for c in wanted])
    subsetter.subset(font)
    # A Modified Version under the OFL gets a name of its own.
    for record in font["name"].names:
        if record.nameID in (1, 3, 4, 6, 16):
            name = PLOT_FONT_FAMILY if record.nameID != 6 else PLOT_FONT_FAMILY.replace(" ", "")
            record.string = name
    out = REPO / "src" / "tfgridnet" / "report" / "fonts" / PLOT_FONT_FILE
    font.save(str(out))
    print(f"wrote {out}: {len(wanted)} characters of {', '.join(PLOT_MESSAGE_PREFIXES)} "
          f"({out.stat().st_size / 1024:.0f} KB); copyright: {font['name'].getDebugName(0)}")


if __name__ == "__main__":
    main()
