"""Experiment analysis of a run: findings from explicit rules, rendered as Markdown/HTML/JSON."""

from tfgridnet.report.analysis import Analysis, Finding, analyse
from tfgridnet.report.render import write_report

__all__ = ["Analysis", "Finding", "analyse", "write_report"]
