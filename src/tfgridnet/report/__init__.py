"""Experiment analysis of a run: findings from explicit rules, rendered as Markdown/HTML/JSON.

Names are imported on first use, so the message catalogs (``report.i18n``), which the evaluation's
page and plots share, load without the analysis.
"""

from tfgridnet.lazy import lazy_exports

__all__ = ["RULES", "Analysis", "Finding", "Rule", "analyse", "write_report"]

_LAZY = {"Analysis": ".analysis", "analyse": ".analysis", "write_report": ".render",
         "RULES": ".rules", "Finding": ".rules", "Rule": ".rules"}

__getattr__ = lazy_exports(__name__, _LAZY)
