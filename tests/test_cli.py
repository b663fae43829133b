"""The command line maps the project's errors to documented exit codes and hides nothing else."""

from __future__ import annotations

import re

import pytest

from tfgridnet.cli import build_parser, main
from tfgridnet.errors import EXIT_CODES


def _subcommands() -> list[str]:
    action = next(a for a in build_parser()._actions if a.dest == "command")
    return sorted(action.choices)


@pytest.mark.parametrize("command", _subcommands())
def test_each_subcommand_help_documents_its_exit_codes(command: str, capsys) -> None:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = capsys.readouterr().out
    codes = text.split("exit codes:")[1]
    for code in EXIT_CODES:  # every shared code is listed, with the command's own wording or not
        assert re.search(rf"^\s+{code}  \S", codes, re.M), code


@pytest.mark.parametrize("command", _subcommands())
def test_each_subcommand_help_lists_only_codes_the_errors_map_to(command: str, capsys) -> None:
    """No exit code typed by hand in an epilog: every listed code is one of EXIT_CODES (a
    `train --help` once documented 3 for a diverged run, which exits 1)."""
    with pytest.raises(SystemExit):
        main([command, "--help"])
    listed = re.findall(r"^\s+(\d+)  \S", capsys.readouterr().out.split("exit codes:")[1], re.M)
    assert sorted(map(int, listed)) == sorted(EXIT_CODES)


def test_every_error_type_exits_with_a_documented_code() -> None:
    """Each error class of the package (DataCheckFailed, TrainingDiverged, ManifestError ...)
    exits with a code that --help documents; the epilog's texts are keyed by these classes."""
    import importlib
    import pkgutil

    import tfgridnet
    from tfgridnet.cli.main import _epilog
    from tfgridnet.errors import TfgridnetError

    for module in pkgutil.walk_packages(tfgridnet.__path__, "tfgridnet."):
        if not module.name.endswith("__main__"):
            importlib.import_module(module.name)
    found, todo = set(), [TfgridnetError]
    while todo:
        cls = todo.pop()
        found.add(cls)
        todo += cls.__subclasses__()
    names = {cls.__name__ for cls in found}
    assert {"TrainingDiverged", "DataCheckFailed", "ManifestError", "ModelLoadError"} <= names
    for cls in found:
        assert cls.exit_code in EXIT_CODES, (cls, cls.exit_code)
    with pytest.raises(ValueError, match="exit code 3"):
        _epilog({3: "training diverged"})


def test_project_errors_become_one_line_and_their_exit_code(monkeypatch, capsys) -> None:
    from tfgridnet.train import run

    assert main(["train", "no-such-recipe"]) == 2
    assert capsys.readouterr().err.count("\n") == 1

    def diverge(*args, **kwargs):
        raise run.TrainingDiverged("loss became NaN at step 3")

    monkeypatch.setattr(run, "train", diverge)
    assert main(["train", "demo"]) == 1  # problems found: the documented codes are 0/1/2/130
    assert "loss became NaN at step 3" in capsys.readouterr().err


@pytest.mark.parametrize("error", [KeyError, ValueError, TypeError])
def test_a_real_bug_keeps_its_traceback(monkeypatch, error) -> None:
    """Only the project's own user-input errors are exit 2 in one line: a ValueError from a bug
    (NumPy, a library, our own code) is not the user's mistake and must show where it came from."""
    from tfgridnet.train import run

    def bug(*args, **kwargs):
        raise error("a programming error, not a user's mistake")

    monkeypatch.setattr(run, "train", bug)
    with pytest.raises(error):
        main(["train", "demo"])


def test_user_input_errors_raised_inside_a_command_are_exit_2(monkeypatch, capsys) -> None:
    from tfgridnet.errors import UserInputError
    from tfgridnet.train import run

    def refuse(*args, **kwargs):
        raise UserInputError("data.train_manifest: no such file x.csv")

    monkeypatch.setattr(run, "train", refuse)
    assert main(["train", "demo"]) == 2
    assert capsys.readouterr().err == "tfgridnet train: error: data.train_manifest: no such file x.csv\n"
