"""The old import path of the condition breakdown (``summary.json``'s ``conditions``): the module ``tfgridnet.contracts.conditions`` itself under this
name, so that both paths give the same objects."""

import sys

from tfgridnet.contracts import conditions

sys.modules[__name__] = conditions
