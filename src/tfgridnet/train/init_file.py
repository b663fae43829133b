"""The old import path of ``init.json``'s schema: the module ``tfgridnet.contracts.init_record`` itself under this
name, so that both paths give the same objects."""

import sys

from tfgridnet.contracts import init_record

sys.modules[__name__] = init_record
