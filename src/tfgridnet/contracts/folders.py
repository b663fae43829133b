"""The run folder and the evaluation folder as typed paths: every file a stage writes or reads
there is a property of :class:`RunDir` or :class:`EvalDir`, never a name typed at the call site.

Pure ``pathlib``: nothing is read or created on construction (``RunDir.lay_out`` creates the
sub-folders).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from tfgridnet.contracts import names
from tfgridnet.i18n import DEFAULT_LANGUAGE, localized_name

__all__ = ["RunDir", "EvalDir", "RUN_SUBDIRS", "find_eval_dir", "checkpoint_epoch",
           "checkpoint_score"]

# Created by `train` in every run folder.
RUN_SUBDIRS = (names.CHECKPOINTS_DIR, names.MODEL_DIR, names.LOGS_DIR, names.PLOTS_DIR)
# What CHECKPOINT_FILENAME writes, read back: "epoch007-valid_sisnr=12.345.ckpt".
_CHECKPOINT_SCORE = re.compile(re.escape(names.MONITOR) + r"=(-?\d+(?:\.\d+)?)")
_CHECKPOINT_EPOCH = re.compile(r"epoch(\d+)")


def checkpoint_score(name: str) -> float | None:
    """The monitored score in a checkpoint's file name (``valid_sisnr=12.345``), if any."""
    match = _CHECKPOINT_SCORE.search(name)
    return float(match.group(1)) if match else None


def checkpoint_epoch(name: str) -> int | None:
    """The epoch in a training checkpoint's file name (``epoch007-...``), if any."""
    match = _CHECKPOINT_EPOCH.match(name)
    return int(match.group(1)) if match else None


@dataclass(frozen=True)
class _Folder:
    """A folder the pipeline writes, built from any path-like and usable as one."""

    path: Path

    def __init__(self, path: str | os.PathLike) -> None:
        object.__setattr__(self, "path", Path(path))

    def __fspath__(self) -> str:
        return os.fspath(self.path)


def _file(*parts: str, doc: str | None = None) -> property:
    """A fixed path below the folder (``parts`` joined), as a read-only property."""
    return property(lambda self: self.path.joinpath(*parts), doc=doc or "/".join(parts))


class RunDir(_Folder):
    """A run folder (docs/design.md, file contract: "Run dir")."""

    def lay_out(self) -> None:
        """Create the sub-folders ``train`` writes into (``RUN_SUBDIRS``)."""
        for sub in RUN_SUBDIRS:
            (self.path / sub).mkdir(parents=True, exist_ok=True)

    # -- what train writes ------------------------------------------------------------------------
    config = _file(names.RUN_CONFIG_NAME)
    environment = _file(names.ENVIRONMENT_FILE)
    metrics = _file(names.METRICS_FILE)
    train_summary = _file(names.TRAIN_SUMMARY_FILE)
    data_check = _file(names.DATA_CHECK_FILE)
    init = _file(names.INIT_FILE)
    checkpoints = _file(names.CHECKPOINTS_DIR)
    last_checkpoint = _file(names.CHECKPOINTS_DIR, names.LAST_CHECKPOINT)

    def checkpoint_files(self) -> list[Path]:
        """The ``*.ckpt`` files of ``checkpoints/``, sorted by name (none: empty)."""
        if not self.checkpoints.is_dir():
            return []
        return sorted(self.checkpoints.glob("*" + names.CHECKPOINT_SUFFIX))

    model = _file(names.MODEL_DIR, doc="``model/``: the export of the best epoch.")
    model_weights = _file(names.MODEL_DIR, names.WEIGHTS_NAME)
    logs = _file(names.LOGS_DIR)
    train_log = _file(names.LOGS_DIR, names.TRAIN_LOG)

    # -- what report writes -----------------------------------------------------------------------
    plots = _file(names.PLOTS_DIR)
    findings = _file(names.FINDINGS_FILE,
                     doc="``findings.json``: language-neutral, one file for every language.")

    def analysis(self, lang: str = DEFAULT_LANGUAGE) -> Path:
        """``EXPERIMENT_ANALYSIS.md`` (``EXPERIMENT_ANALYSIS.<lang>.md`` in another language)."""
        return self.path / localized_name(names.ANALYSIS_FILE, lang)

    def report_page(self, lang: str = DEFAULT_LANGUAGE) -> Path:
        return self.path / localized_name(names.REPORT_PAGE, lang)

    def plot(self, name: str, lang: str = DEFAULT_LANGUAGE) -> Path:
        return self.plots / localized_name(name, lang)


class EvalDir(_Folder):
    """An evaluation folder (docs/design.md, file contract: "Evaluation dir")."""

    results = _file(names.RESULTS_FILE, doc="``evaluation_results.csv``: one row per utterance.")
    summary = _file(names.SUMMARY_FILE)
    highlights = _file(names.HIGHLIGHTS_FILE)
    visualizations = _file(names.VISUALIZATIONS_DIR)
    visualization_index = _file(names.VISUALIZATIONS_DIR, names.VISUALIZATION_INDEX)
    recommended_samples = _file(names.VISUALIZATIONS_DIR, names.RECOMMENDED_SAMPLES)

    def page(self, lang: str = DEFAULT_LANGUAGE) -> Path:
        """The listening page, ``index.html`` (``index.<lang>.html`` in another language)."""
        return self.path / localized_name(names.PAGE_FILE, lang)

    def audio(self, kind: str, uttid: str) -> Path:
        """``<kind>/<uttid>.wav``, ``kind`` one of ``AUDIO_KINDS`` (noisy, enhanced, clean)."""
        return self.path / kind / f"{uttid}.wav"

    def plot(self, uttid: str, kind: str, lang: str = DEFAULT_LANGUAGE) -> Path:
        """``visualizations/<uttid>_<kind>.png`` (waveform, spectrogram), localized."""
        return self.visualizations / localized_name(f"{uttid}_{kind}.png", lang)

    def is_evaluation(self) -> bool:
        """Holds an evaluation's table or summary."""
        return self.results.is_file() or self.summary.is_file()


def find_eval_dir(run_dir: str | os.PathLike) -> EvalDir | None:
    """An evaluation folder next to a run: RUN_DIR/eval, then a sibling eval/ (demo layout)."""
    run = Path(run_dir)
    for candidate in (EvalDir(run / names.EVAL_DIR_NAME), EvalDir(run.parent / names.EVAL_DIR_NAME)):
        if candidate.is_evaluation():
            return candidate
    return None
