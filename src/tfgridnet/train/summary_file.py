"""The old import path of ``train_summary.json``'s schema: the module ``tfgridnet.contracts.train_summary`` itself under this
name, so that both paths give the same objects."""

import sys

from tfgridnet.contracts import train_summary

sys.modules[__name__] = train_summary
