"""The old import path of ``metrics.csv``'s contract: the module ``tfgridnet.contracts.metrics_csv`` itself under this
name, so that both paths give the same objects."""

import sys

from tfgridnet.contracts import metrics_csv

sys.modules[__name__] = metrics_csv
