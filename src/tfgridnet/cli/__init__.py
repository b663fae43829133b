"""The `tfgridnet` command line: argument parsing, printing and exit codes only."""

from tfgridnet.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
