"""The project's error types and the exit code each maps to on the command line.

Library code raises these; only ``tfgridnet.cli`` turns them into a printed line and an exit code,
so a real bug (any other exception) still shows its traceback. ``UserInputError`` also derives from
``ValueError`` so callers that caught ``ValueError`` before keep working.
"""

from __future__ import annotations

__all__ = ["TfgridnetError", "UserInputError", "ProblemsFound", "Interrupted", "CLOSED_PIPE",
           "SUCCESS", "EXIT_CODES", "EXTRA_MODULES", "missing_extra"]


class TfgridnetError(Exception):
    """Base of every error tfgridnet raises on purpose."""

    exit_code = 1


class UserInputError(TfgridnetError, ValueError):
    """Bad input from the user (a file, argument or config value): one line naming it, exit 2."""

    exit_code = 2


class ProblemsFound(TfgridnetError):
    """The command ran but found problems or partly failed (broken pairs, files not enhanced): exit 1."""

    exit_code = 1


class Interrupted(TfgridnetError):
    """Stopped by the user (Ctrl-C / SIGTERM) after saving what could be saved: exit 130."""

    exit_code = 130


# A reader closed our standard output early (`tfgridnet check-data M | head -3`): the command stops
# quietly with the code a shell gives a program that SIGPIPE ended (128 + 13), as `git` and C tools
# do, so `set -o pipefail` scripts still see that the output was cut.
CLOSED_PIPE = 141

SUCCESS = 0

# Shown in each subcommand's --help epilog, so the codes are documented where they are mapped:
# every code is an error type's own (or success, or the closed pipe), never a number typed again.
EXIT_CODES = {SUCCESS: "success", ProblemsFound.exit_code: "problems found or partial failure",
              UserInputError.exit_code: "bad input (file, argument, config)",
              Interrupted.exit_code: "interrupted",
              CLOSED_PIPE: "output closed early by its reader (e.g. `| head`): stopped quietly"}


# Top-level modules of pyproject's extras (import names), for the one line a torch-free install
# (the base, or `tfgridnet[onnx]`) prints when a command needs more.
EXTRA_MODULES = {
    "onnx": ("onnxruntime",),
    "torch": ("torch", "lightning", "torchmetrics", "scipy", "matplotlib", "yaml", "pydantic",
              "safetensors", "pesq", "pystoi", "tensorboard", "espeakng_loader", "jinja2",
              "markdown_it", "onnx", "onnxscript"),
}


def missing_extra(exc: ModuleNotFoundError) -> str | None:
    """The extra whose module ``exc`` did not find, or None when it is not one of theirs."""
    top = (exc.name or "").split(".")[0]
    return next((extra for extra, modules in EXTRA_MODULES.items() if top in modules), None)
