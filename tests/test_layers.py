"""Dependencies point one way: the import-linter contracts in pyproject.toml hold for the package.

The contracts are docs/design.md's layer diagram in machine-checked form; the planted cases show
that the check fails for each kind of violation it is there to catch.
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
import types
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
    assert "3 kept, 0 broken" in result.stdout


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
    # the report reading a file through the stage that wrote it instead of the contracts
    ("report/loading.py", "from tfgridnet.train import summary_file",
     "tfgridnet.report is not allowed to import tfgridnet.train"),
    # a contract importing a stage that reads it
    ("contracts/names.py", "from tfgridnet.data import manifest",
     "tfgridnet.contracts is not allowed to import tfgridnet.data"),
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


def test_contracts_moved_into_the_contracts_layer_stay_importable_where_they_were() -> None:
    """Every file schema gathered in tfgridnet.contracts keeps its old import path."""
    from tfgridnet import contracts
    from tfgridnet.contracts import (
        check_data,
        conditions,
        curation,
        data_check,
        evaluation,
        metric_registry,
        metrics_csv,
        names,
        train_summary,
    )
    from tfgridnet.data import curate
    from tfgridnet.data.checks import report
    from tfgridnet.evaluation import conditions as old_conditions
    from tfgridnet.evaluation import schema, scoring
    from tfgridnet.model import io
    from tfgridnet.report import loading, tables
    from tfgridnet.train import (
        callbacks,
        data_check_file,
        init_file,
        metrics_schema,
        rundir,
        summary_file,
    )

    pairs = [(metrics_schema, metrics_csv), (summary_file, train_summary),
             (data_check_file, data_check), (old_conditions, conditions),
             (init_file, contracts.init_record), (tables, contracts.tables)]
    for old, new in pairs:
        assert old is new, (old.__name__, new.__name__)
    for name in ("Metric", "MetricSet", "METRIC_REGISTRY", "METRICS", "DEFAULT_METRICS"):
        assert getattr(scoring, name) is getattr(metric_registry, name)
    for name in ("EvaluationSummary", "MetricSummary", "csv_columns", "RESULTS_FILE",
                 "SUMMARY_FILE", "PAGE_FILE", "write_results_csv", "number_columns"):
        assert getattr(schema, name) is getattr(evaluation, name)
    assert report.Measures is check_data.Measures and curate.CurationRecord is curation.CurationRecord
    assert io.WEIGHTS_NAME == names.WEIGHTS_NAME and io.CONFIG_NAME == names.CONFIG_NAME
    assert rundir.RUN_SUBDIRS == contracts.RUN_SUBDIRS and rundir.RUN_CONFIG_NAME == names.RUN_CONFIG_NAME
    assert callbacks.MONITOR == names.MONITOR
    assert callbacks.CHECKPOINT_FILENAME == names.CHECKPOINT_FILENAME
    assert loading.read_metrics is metrics_csv.read_metrics
    from tfgridnet.train import config, config_files
    for name in config_files.__all__:  # the config-file readers moved out of train/config.py
        assert getattr(config, name) is getattr(config_files, name)
    from tfgridnet.data import manifest, pairing  # pairing two folders left data/manifest.py
    assert manifest.make_manifest is pairing.make_manifest


def test_names_load_without_the_heavy_readers() -> None:
    """A torch-free stage that needs a file name imports tfgridnet.contracts.names alone: no
    pydantic, numpy-reader or Lightning module comes with it."""
    code = ("import sys; import tfgridnet.contracts.names; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "{'pydantic', 'torch', 'lightning', 'numpy', 'yaml'} "
            "or (m.startswith('tfgridnet.contracts.') and m != 'tfgridnet.contracts.names')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONPATH": str(PACKAGE.parent)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


FACADES = ["tfgridnet", "tfgridnet.audio", "tfgridnet.data", "tfgridnet.inference",
           "tfgridnet.report", "tfgridnet.contracts"]


@pytest.mark.parametrize("package", FACADES)
def test_every_public_name_of_a_package_resolves(package: str) -> None:
    """Each package lists its public names once (the lazy map); ``__all__`` is derived from it, so
    every name in ``__all__`` must load, and a name outside it must raise AttributeError."""
    module = importlib.import_module(package)
    for name in [*module.__all__, *module.__all__]:  # twice: the first lookup may import a module
        value = getattr(module, name)
        # a submodule named like the function it holds must not shadow it (audio.resample)
        assert value is not None and not isinstance(value, types.ModuleType), (package, name)
    with pytest.raises(AttributeError, match="no_such_name"):
        module.no_such_name  # noqa: B018


def test_reading_audio_through_the_package_loads_no_scipy() -> None:
    """``from tfgridnet.audio import load_audio`` (the torch-free enhancer's path) loads the io
    module only: neither scipy (filters) nor torch comes with it."""
    code = ("import sys; from tfgridnet.audio import load_audio, resample; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'scipy', 'torch'}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONPATH": str(PACKAGE.parent)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
