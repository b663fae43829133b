"""Experiment analysis of a run: findings from explicit rules, rendered as Markdown/HTML/JSON."""

from tfgridnet.report.analysis import Analysis, analyse
from tfgridnet.report.render import write_report
from tfgridnet.report.rules import RULES, Finding, Rule

__all__ = ["RULES", "Analysis", "Finding", "Rule", "analyse", "write_report"]
