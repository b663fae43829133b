"""The old import path of :mod:`tfgridnet.i18n`: the same module object under this name.

The message catalogs moved below every stage, so that the evaluation (and any other layer) can
use them without importing the report; import them from ``tfgridnet.i18n``.
"""

import sys

from tfgridnet import i18n

sys.modules[__name__] = i18n
