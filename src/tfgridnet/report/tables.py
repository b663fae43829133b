"""The old import path of the strict CSV reader: the module ``tfgridnet.contracts.tables`` itself under this
name, so that both paths give the same objects."""

import sys

from tfgridnet.contracts import tables

sys.modules[__name__] = tables
