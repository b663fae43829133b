"""The old import path of ``data_check.json``'s schema: the module ``tfgridnet.contracts.data_check`` itself under this
name, so that both paths give the same objects."""

import sys

from tfgridnet.contracts import data_check

sys.modules[__name__] = data_check
