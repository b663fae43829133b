"""Experiment analysis of a run: findings from explicit rules, rendered as Markdown/HTML/JSON.

Names are imported on first use. The message catalogs, which the evaluation's page and plots
share, are :mod:`tfgridnet.i18n` (``tfgridnet.report.i18n`` is their old name).
"""

from tfgridnet.lazy import lazy_exports

_LAZY = {"Analysis": ".analysis", "analyse": ".analysis", "write_report": ".render",
         "RULES": ".rules", "Finding": ".rules", "Rule": ".rules"}
__all__ = list(_LAZY)
__getattr__ = lazy_exports(__name__, _LAZY)
