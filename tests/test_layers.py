"""Dependencies point one way: the import-linter contracts in pyproject.toml hold for the package.

The contracts are docs/design.md's layer diagram in machine-checked form; the planted cases show
that the check fails for each kind of violation it is there to catch.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import tfgridnet

REPO = Path(__file__).resolve().parents[1]
PACKAGE = Path(tfgridnet.__file__).resolve().parent  # the code under test (src/tfgridnet)
LINT = ("from importlinter.cli import lint_imports; "
        "raise SystemExit(lint_imports(config_filenames=('pyproject.toml',), no_cache=True, "
        "no_logo=True))")


def lint(src: Path, config_dir: Path) -> subprocess.CompletedProcess:
    """``lint-imports`` over the ``tfgridnet`` package found in ``src``, with ``config_dir``'s
    pyproject.toml; no cache is written."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    return subprocess.run([sys.executable, "-c", LINT], cwd=config_dir, env=env,
                           capture_output=True, text=True, timeout=120)


def test_package_keeps_the_layer_contracts() -> None:
    result = lint(PACKAGE.parent, REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


def _python_files_only(folder: str, names: list[str]) -> list[str]:
    return [n for n in names if n == "__pycache__"
            or (not n.endswith(".py") and not os.path.isdir(os.path.join(folder, n)))]


@pytest.mark.parametrize(("module", "planted", "expected"), [
    # a stage importing one above it
    ("audio/levels.py", "from tfgridnet.report import rules",
     "tfgridnet.audio is not allowed to import tfgridnet.report"),
    # the same through an old name kept for compatibility (the catalogs' report.i18n)
    ("evaluation/schema.py", "from tfgridnet.report.i18n import tr",
     "tfgridnet.evaluation is not allowed to import tfgridnet.report"),
    # one of two independent stages importing the other
    ("model/io.py", "from tfgridnet.data import manifest",
     "tfgridnet.model is not allowed to import tfgridnet.data"),
    # a module every layer may import, importing a stage
    ("fileio.py", "from tfgridnet.model import config",
     "tfgridnet.fileio is not allowed to import tfgridnet.model"),
    # a cycle inside a package
    ("inference/chunking.py", "from tfgridnet.inference import enhancer",
     "No cycles are allowed in tfgridnet.inference"),
    # a new top-level module nobody placed in the diagram
    ("newstage.py", "from tfgridnet import errors",
     "tfgridnet.newstage"),
])
def test_planted_violation_breaks_the_check(tmp_path: Path, module: str, planted: str,
                                            expected: str) -> None:
    src = tmp_path / "src"
    shutil.copytree(PACKAGE, src / "tfgridnet", ignore=_python_files_only)
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    target = src / "tfgridnet" / module
    with open(target, "a", encoding="utf-8") as handle:
        handle.write(f"\n{planted}  # planted\n")
    result = lint(src, tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert expected in result.stdout, result.stdout


def test_moved_names_stay_importable_where_they_were() -> None:
    """Constants moved below the layers that share them keep their old import paths."""
    from tfgridnet import i18n, onnx_contract
    from tfgridnet.audio.io import AUDIO_SUFFIXES
    from tfgridnet.data import manifest
    from tfgridnet.inference import onnx_backend
    from tfgridnet.report import i18n as old_i18n
    from tfgridnet.report.i18n import tr

    assert manifest.AUDIO_SUFFIXES is AUDIO_SUFFIXES
    assert old_i18n is i18n and tr is i18n.tr
    for name in onnx_contract.__all__:
        assert getattr(onnx_backend, name) == getattr(onnx_contract, name)
