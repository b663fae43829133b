"""Read a run's contract files and turn them into statistics and findings.

Every finding comes from one explicit rule with a named threshold (``THRESHOLDS``); the rules are
documented in docs/report-rules.md. Only the contract files are read (DESIGN.md §4), so old or
foreign runs can be analysed: anything missing is listed in ``Analysis.missing``, never invented.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from tfgridnet.evaluation.conditions import read_breakdown
from tfgridnet.evaluation.schema import MetricSummary, number_columns, read_metric_summaries
from tfgridnet.evaluation.scoring import METRIC_REGISTRY
from tfgridnet.metrics import NOISY_SISNR_PLAUSIBLE_DB
from tfgridnet.report.tables import read_csv_table
from tfgridnet.train.metrics_schema import METRICS_COLUMNS

__all__ = ["THRESHOLDS", "Analysis", "Finding", "Thresholds", "analyse", "find_eval_dir"]

REQUIRED_COLUMNS = METRICS_COLUMNS  # the contract columns every run's metrics.csv must have
SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class Thresholds:
    """The numbers every rule compares against (docs/report-rules.md explains each one)."""

    noisy_sisnr_low_db: float = NOISY_SISNR_PLAUSIBLE_DB[0]
    noisy_sisnr_high_db: float = NOISY_SISNR_PLAUSIBLE_DB[1]
    no_improvement_db: float = 1.0
    low_improvement_db: float = 5.0
    high_variance_std_db: float = 5.0
    degraded_share_warning: float = 0.10
    degraded_share_error: float = 0.25
    not_learning_gain_db: float = 1.0
    not_learning_min_epochs: int = 3
    lr_decay_ratio: float = 1000.0
    lr_decay_min_epochs_left_share: float = 0.10
    stale_default_patience: int = 20
    stale_min_share_after_best: float = 0.25
    overfit_gap_db: float = 3.0
    overfit_valid_drop_db: float = 1.0
    overfit_window_share: float = 0.10
    clipped_share: float = 0.50
    spike_factor: float = 20.0
    nonfinite_error_share: float = 0.05
    memory_headroom_share: float = 0.50
    memory_near_limit_share: float = 0.95
    output_level_off_db: float = 3.0
    worst_utterances: int = 5
    top_epochs: int = 5


THRESHOLDS = Thresholds()


@dataclass
class Finding:
    """One rule that fired: ``evidence`` holds the numbers the message is built from."""

    code: str
    severity: str
    evidence: dict[str, Any]

    @property
    def variant(self) -> str:
        """Message key: some rules fire for different reasons (``reason``/``source`` evidence)."""
        detail = self.evidence.get("reason") or self.evidence.get("source")
        return f"{self.code}.{detail}" if detail else self.code

    def message(self, lang: str = "en") -> str:
        from tfgridnet.report.i18n import tr

        return tr(f"finding.{self.variant}", lang, **self.evidence)

    def to_json(self, lang: str = "en") -> dict[str, Any]:
        return {"code": self.code, "severity": self.severity, "message": self.message(lang),
                "evidence": _jsonable(self.evidence)}


@dataclass
class Analysis:
    """Everything the renderer needs: statistics, findings and what could not be read."""

    run_dir: Path
    eval_dir: Path | None
    eval_dir_auto: bool
    metrics: dict[str, np.ndarray]
    environment: dict[str, Any]
    config: dict[str, Any]
    checkpoints: list[str]
    training: dict[str, Any]
    evaluation: dict[str, Any] | None
    findings: list[Finding] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        """``broken`` if any error finding, ``suspicious`` if any warning, else ``healthy``."""
        severities = {f.severity for f in self.findings}
        if "error" in severities:
            return "broken"
        if "warning" in severities:
            return "suspicious"
        return "healthy"

    @property
    def codes(self) -> list[str]:
        return [f.code for f in self.findings]

    def finding(self, code: str) -> Finding | None:
        return next((f for f in self.findings if f.code == code), None)


# ----------------------------------------------------------------------------------------------
# Reading the contract files


def _parse_number(text: str | None, path: Path, row: int, column: str) -> float:
    if text is None or text.strip() == "":
        return math.nan
    try:
        return float(text)
    except ValueError:
        raise ValueError(
            f"{path}: row {row}, column '{column}': expected a number, got {text!r}"
        ) from None


def read_metrics(path: Path) -> dict[str, np.ndarray]:
    """metrics.csv -> column name -> float array (NaN where empty), one row per epoch.

    Rows are sorted by epoch; when a resumed run logged an epoch twice, the later row wins.
    """
    if not path.is_file():
        raise FileNotFoundError(f"{path}: metrics.csv not found (is this a run folder?)")
    columns, table = read_csv_table(path)
    if "epoch" not in columns:
        raise ValueError(f"{path}: no 'epoch' column (header: {','.join(columns)})")
    rows = [{c: _parse_number(v, path, number, c) for c, v in zip(columns, fields)}
            for number, fields in table]
    if not rows:
        raise ValueError(f"{path}: header only, no epoch rows")
    by_epoch: dict[float, dict[str, float]] = {}
    for row in rows:
        if math.isnan(row["epoch"]):
            raise ValueError(f"{path}: a row has an empty 'epoch'")
        by_epoch[row["epoch"]] = row
    ordered = [by_epoch[e] for e in sorted(by_epoch)]
    return {c: np.array([r.get(c, math.nan) for r in ordered], dtype=np.float64) for c in columns}


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML ({exc})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return data


def read_eval_table(path: Path) -> dict[str, list[Any]]:
    """evaluation_results.csv -> column -> list: the number columns (``number_columns``) as
    floats, a non-number there refused naming the line; uttid, conditions and notes as text."""
    columns, rows = read_csv_table(path)
    if "uttid" not in columns:
        raise ValueError(f"{path}: expected a CSV header starting with 'uttid'")
    numeric = number_columns()
    table: dict[str, list[Any]] = {c: [] for c in columns}
    for number, fields in rows:
        for column, value in zip(columns, fields):
            if column in numeric:
                table[column].append(_parse_number(value, path, number, column))
            else:
                table[column].append(value)
    return table


def find_eval_dir(run_dir: Path) -> Path | None:
    """An evaluation folder next to the run: RUN_DIR/eval, then a sibling eval/ (demo layout)."""
    for candidate in (run_dir / "eval", run_dir.parent / "eval"):
        if (candidate / "evaluation_results.csv").is_file() or (candidate / "summary.json").is_file():
            return candidate
    return None


def config_value(config: dict[str, Any], *paths: str) -> Any:
    """First value found among dotted ``paths`` in the resolved config (None if none is set)."""
    for dotted in paths:
        node: Any = config
        for key in dotted.split("."):
            if not isinstance(node, dict) or key not in node:
                node = None
                break
            node = node[key]
        if node is not None:
            return node
    return None


# ----------------------------------------------------------------------------------------------
# Statistics


def _finite(values: np.ndarray) -> np.ndarray:
    return values[np.isfinite(values)]


def _col(metrics: dict[str, np.ndarray], name: str) -> np.ndarray | None:
    """A column with at least one finite value, else None."""
    values = metrics.get(name)
    if values is None or not np.isfinite(values).any():
        return None
    return values


def _num(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def epoch_durations(metrics: dict[str, np.ndarray]) -> np.ndarray | None:
    """Seconds spent in each epoch.

    ``epoch_time_s`` if logged; otherwise ``time_s`` read as elapsed time when it never decreases
    (the trainer's convention), or as per-epoch time when it does.
    """
    per_epoch = _col(metrics, "epoch_time_s")
    if per_epoch is not None:
        return np.nan_to_num(per_epoch, nan=0.0)
    elapsed = _col(metrics, "time_s")
    if elapsed is None:
        return None
    filled = np.nan_to_num(elapsed, nan=0.0)
    if np.all(np.diff(_finite(elapsed)) >= 0):
        return np.diff(np.concatenate([[0.0], np.maximum.accumulate(filled)]))
    return filled


def steps_per_epoch(metrics: dict[str, np.ndarray]) -> np.ndarray | None:
    """Optimizer steps in each epoch: ``steps`` if logged, else differences of the global ``step``."""
    steps = _col(metrics, "steps")
    if steps is not None:
        return np.nan_to_num(steps, nan=0.0)
    step = _col(metrics, "step")
    if step is None:
        return None
    filled = np.maximum.accumulate(np.nan_to_num(step, nan=0.0))
    return np.diff(np.concatenate([[0.0], filled]))


def _phase_trend(delta: float | None) -> str:
    if delta is None:
        return "first"
    if delta >= 0.5:
        return "improving"
    if delta <= -0.5:
        return "declining"
    return "flat"


def training_stats(metrics: dict[str, np.ndarray], config: dict[str, Any],
                   environment: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    """Summary numbers of the training run (None where the columns are missing)."""
    stats: dict[str, Any] = {}
    epochs = metrics["epoch"]
    stats["n_epochs"] = int(len(epochs))
    stats["first_epoch"] = int(epochs[0])
    stats["last_epoch"] = int(epochs[-1])
    stats["planned_epochs"] = _num(config_value(config, "trainer.max_epochs", "max_epochs"))

    durations = epoch_durations(metrics)
    stats["total_time_h"] = float(durations.sum() / 3600.0) if durations is not None else None
    stats["epoch_time_s_mean"] = float(durations.mean()) if durations is not None else None
    steps = steps_per_epoch(metrics)
    stats["total_steps"] = float(steps.sum()) if steps is not None else None
    for name in ("sec_per_batch", "samples_per_sec"):
        column = _col(metrics, name)
        stats[f"{name}_mean"] = float(np.nanmean(column)) if column is not None else None
    stats["batch_size"] = _num(config_value(config, "data.batch_size", "batch_size",
                                            "trainer.batch_size"))
    stats["precision"] = environment.get("precision") or config_value(config, "trainer.precision")

    train = _col(metrics, "train_sisnr")
    if train is None and _col(metrics, "train_loss") is not None:
        train = -metrics["train_loss"]
        notes.append("train_sisnr_from_loss")
    valid = _col(metrics, "valid_sisnr")
    if valid is None and _col(metrics, "valid_loss") is not None:
        valid = -metrics["valid_loss"]
        notes.append("valid_sisnr_from_loss")
    stats["train_sisnr"] = train
    stats["valid_sisnr"] = valid
    for name, values in (("train", train), ("valid", valid)):
        if values is None:
            continue
        finite = _finite(values)
        stats[f"{name}_mean"] = float(finite.mean())
        stats[f"{name}_best"] = float(finite.max())
        stats[f"{name}_worst"] = float(finite.min())
        stats[f"{name}_first"] = float(finite[0])
        stats[f"{name}_last"] = float(finite[-1])
    if valid is not None:
        best_index = int(np.nanargmax(valid))
        stats["best_index"] = best_index
        stats["best_epoch"] = int(epochs[best_index])
        order = np.argsort(-np.nan_to_num(valid, nan=-np.inf), kind="stable")
        stats["top_epochs"] = [
            {"epoch": int(epochs[i]), "valid_sisnr": float(valid[i]),
             "train_sisnr": float(train[i]) if train is not None else None}
            for i in order[: THRESHOLDS.top_epochs] if np.isfinite(valid[i])
        ]
        if durations is not None:
            stats["time_to_best_h"] = float(durations[: best_index + 1].sum() / 3600.0)
    baseline = _col(metrics, "valid_noisy_sisnr")
    if baseline is not None:
        stats["valid_noisy_mean"] = float(np.nanmean(baseline))
        stats["valid_noisy_median"] = float(np.nanmedian(baseline))

    stats["phases"] = []
    previous = None
    for part, indices in zip(("early", "middle", "late"),
                             np.array_split(np.arange(len(epochs)), 3)):
        if len(indices) == 0:
            continue
        phase = {"name": part, "epoch_from": int(epochs[indices[0]]),
                 "epoch_to": int(epochs[indices[-1]])}
        for name, values in (("train", train), ("valid", valid)):
            part_values = _finite(values[indices]) if values is not None else np.array([])
            phase[f"{name}_mean"] = float(part_values.mean()) if len(part_values) else None
        delta = (phase["valid_mean"] - previous
                 if previous is not None and phase["valid_mean"] is not None else None)
        phase["valid_delta"] = delta
        phase["trend"] = _phase_trend(delta)
        previous = phase["valid_mean"]
        stats["phases"].append(phase)

    lr = _col(metrics, "lr")
    if lr is not None:
        finite_lr = _finite(lr)
        stats["lr_initial"] = float(finite_lr[0])
        stats["lr_final"] = float(finite_lr[-1])
        stats["lr_ratio"] = (float(finite_lr[0] / finite_lr[-1]) if finite_lr[-1] > 0
                             else math.inf)
        below = np.nonzero(lr <= finite_lr[0] / THRESHOLDS.lr_decay_ratio)[0]
        stats["lr_below_index"] = int(below[0]) if len(below) else None
        stats["lr_below_epoch"] = int(epochs[below[0]]) if len(below) else None

    grad_mean = _col(metrics, "grad_norm_mean")
    grad_max = _col(metrics, "grad_norm_max")
    if grad_mean is not None:
        stats["grad_mean_first"] = float(_finite(grad_mean)[0])
        stats["grad_mean_last"] = float(_finite(grad_mean)[-1])
        stats["grad_mean_median"] = float(np.nanmedian(grad_mean))
    if grad_max is not None:
        index = int(np.nanargmax(grad_max))
        stats["grad_max"] = float(grad_max[index])
        stats["grad_max_epoch"] = int(epochs[index])
        stats["grad_max_first"] = float(_finite(grad_max)[0])
        stats["grad_max_last"] = float(_finite(grad_max)[-1])
    clip_column = _col(metrics, "grad_clip")
    stats["grad_clip"] = (float(np.nanmedian(clip_column)) if clip_column is not None else _num(
        config_value(config, "optim.grad_clip", "optim.clip_grad_norm", "trainer.gradient_clip_val",
                     "trainer.grad_clip", "grad_clip")))
    clipped = _col(metrics, "clipped_steps")
    if clipped is not None:
        stats["clipped_total"] = float(np.nansum(clipped))
        if steps is not None and steps.sum() > 0:
            stats["clipped_share"] = float(np.nansum(clipped) / steps.sum())
    nonfinite = _col(metrics, "nonfinite_steps")
    if nonfinite is not None:
        stats["nonfinite_total"] = float(np.nansum(nonfinite))
        stats["nonfinite_epochs"] = int((np.nan_to_num(nonfinite) > 0).sum())
        if steps is not None and steps.sum() > 0:
            stats["nonfinite_share"] = float(np.nansum(nonfinite) / steps.sum())

    memory = _col(metrics, "peak_mem_mb")
    stats["device"] = environment.get("device")
    stats["device_mem_mb"] = _num(environment.get("device_mem_mb"))
    if memory is not None:
        stats["peak_mem_mb"] = float(np.nanmax(memory))
        if stats["device_mem_mb"]:
            stats["peak_mem_share"] = stats["peak_mem_mb"] / stats["device_mem_mb"]
    patience = _num(config_value(config, "trainer.early_stopping_patience", "trainer.patience",
                                 "early_stopping.patience", "trainer.early_stopping.patience"))
    stats["patience"] = int(patience) if patience else None
    stats["durations"] = durations
    return stats


# The report's SI-SNR figures -> the summary.json keys the evaluator writes them under.
_SUMMARY_SISNR_KEYS = {
    "noisy_mean": "noisy_sisnr_mean", "enhanced_mean": "enhanced_sisnr_mean",
    "improvement_mean": "sisnr_improvement_mean", "improvement_std": "sisnr_improvement_std",
    "improvement_min": "sisnr_improvement_min", "improvement_max": "sisnr_improvement_max",
}


def _metrics_from_table(table: dict[str, list[Any]]) -> dict[str, MetricSummary]:
    """Per-metric means of an evaluation_results.csv without summary.json (an older evaluator)."""
    out: dict[str, MetricSummary] = {}
    for name, metric in METRIC_REGISTRY.items():
        if metric.noisy_column not in table or metric.enhanced_column not in table:
            continue
        noisy = np.array(table[metric.noisy_column], dtype=np.float64)
        enhanced = np.array(table[metric.enhanced_column], dtype=np.float64)
        both = np.isfinite(noisy) & np.isfinite(enhanced)
        if both.any():
            out[name] = MetricSummary(
                n=int(both.sum()), n_missing=int((~both).sum()),
                noisy_mean=float(noisy[both].mean()), enhanced_mean=float(enhanced[both].mean()),
                improvement_mean=float(np.mean([metric.improvement(a, b) for a, b in
                                                zip(noisy[both], enhanced[both])])))
    return out


def evaluation_stats(eval_dir: Path, missing: list[str]) -> dict[str, Any]:
    """The evaluation's figures from summary.json; evaluation_results.csv ranks the utterances and
    stands in for what an older or foreign summary lacks (each gap is added to ``missing``)."""
    results_path = eval_dir / "evaluation_results.csv"
    summary_path = eval_dir / "summary.json"
    if not results_path.is_file() and not summary_path.is_file():
        raise FileNotFoundError(
            f"{eval_dir}: not an evaluation folder (no evaluation_results.csv or summary.json)")
    summary = _read_json(summary_path) if summary_path.is_file() else {}
    if not summary_path.is_file():
        missing.append(f"{summary_path.name}")
    stats: dict[str, Any] = {"dir": eval_dir, "summary": summary, "source": "summary.json",
                             "metrics": {}}
    if summary:
        stats["metrics"], absent = read_metric_summaries(summary)
        missing += [f"{summary_path.name}:{key}" for key in absent]
    if (eval_dir / "index.html").is_file():
        stats["index_html"] = eval_dir / "index.html"
    stats["conditions"] = read_breakdown(summary)
    if summary.get("reference") is False:  # a clean-less set: no SI-SNR to read or claim
        n, n_failed = _num(summary.get("n")), _num(summary.get("n_failed"))
        stats.update(reference=False, n=None if n is None else int(n),
                     n_failed=None if n_failed is None else int(n_failed), improvement_mean=None,
                     headline=summary.get("headline_metric"),
                     skipped=", ".join(summary.get("skipped_metrics") or {}))
        return stats
    if results_path.is_file():
        table = read_eval_table(results_path)
        expected = _num(summary.get("n"))
        if expected is not None and int(expected) != len(table["uttid"]):
            raise ValueError(f"{results_path}: {len(table['uttid'])} rows, but "
                             f"{summary_path.name} says n={int(expected)}: the table is "
                             "incomplete or from another run")
        noisy = np.array(table.get("noisy_sisnr", []), dtype=np.float64)
        enhanced = np.array(table.get("enhanced_sisnr", []), dtype=np.float64)
        if "sisnr_improvement" in table:
            improvement = np.array(table["sisnr_improvement"], dtype=np.float64)
        elif len(noisy) and len(enhanced):
            improvement = enhanced - noisy
        else:
            raise ValueError(f"{results_path}: needs 'sisnr_improvement' or both "
                             "'noisy_sisnr' and 'enhanced_sisnr' columns")
        ok = np.isfinite(improvement)
        if not ok.any():
            raise ValueError(f"{results_path}: no finite sisnr_improvement value")
        stats["source"] = results_path.name
        stats["n"] = int(len(improvement))
        stats["n_failed"] = int((~ok).sum())
        imp = improvement[ok]
        stats["improvement_mean"] = float(imp.mean())
        stats["improvement_std"] = float(imp.std(ddof=1)) if len(imp) > 1 else 0.0
        stats["improvement_min"] = float(imp.min())
        stats["improvement_max"] = float(imp.max())
        stats["n_degraded"] = int((imp < 0).sum())
        stats["degraded_share"] = float((imp < 0).mean())
        if len(noisy):
            stats["noisy_mean"] = float(np.nanmean(noisy))
        if len(enhanced):
            stats["enhanced_mean"] = float(np.nanmean(enhanced))
        uttids = table["uttid"]
        order = [i for i in np.argsort(np.nan_to_num(improvement, nan=np.inf), kind="stable")
                 if ok[i]]

        def row(i: int) -> dict[str, Any]:
            return {"uttid": uttids[i], "improvement": float(improvement[i]),
                    "noisy_sisnr": float(noisy[i]) if len(noisy) else None,
                    "enhanced_sisnr": float(enhanced[i]) if len(enhanced) else None}

        stats["worst"] = [row(i) for i in order[: THRESHOLDS.worst_utterances]]
        stats["best"] = [row(i) for i in order[::-1][: THRESHOLDS.worst_utterances]]
        if not stats["metrics"]:  # no summary.json metrics: the CSV's columns, by the registry
            stats["metrics"] = _metrics_from_table(table)
        if "n_failed" in summary and _num(summary["n_failed"]):
            stats["n_failed"] = max(stats["n_failed"], int(summary["n_failed"]))
        # The evaluator's own SI-SNR figures, at full precision: the CSV's values are rounded to
        # 4 decimals, so it only ranks utterances and stands in for keys an older summary lacks.
        for ours, theirs in _SUMMARY_SISNR_KEYS.items():
            if _num(summary.get(theirs)) is not None:
                stats[ours] = _num(summary[theirs])
                stats["source"] = summary_path.name
    else:
        missing.append(results_path.name)
        for ours, theirs in {"n": "n", "n_failed": "n_failed", **_SUMMARY_SISNR_KEYS}.items():
            stats[ours] = _num(summary.get(theirs))
            if stats[ours] is None:
                missing.append(f"{summary_path.name}:{theirs}")
        for count in ("n", "n_failed"):  # counts, printed as integers
            if stats[count] is not None:
                stats[count] = int(stats[count])
        if stats["improvement_mean"] is None:
            raise ValueError(f"{summary_path}: no 'sisnr_improvement_mean' and no "
                             "evaluation_results.csv to compute it from")
    return stats


# ----------------------------------------------------------------------------------------------
# Rules


def _add(findings: list[Finding], code: str, severity: str, **evidence: Any) -> None:
    findings.append(Finding(code, severity, evidence))


def evaluation_rules(ev: dict[str, Any], th: Thresholds = THRESHOLDS) -> list[Finding]:
    """Findings from an evaluation folder's statistics."""
    if ev.get("reference") is False:
        return _no_reference_rules(ev)
    out: list[Finding] = []
    noisy = ev.get("noisy_mean")
    if noisy is not None and not th.noisy_sisnr_low_db <= noisy <= th.noisy_sisnr_high_db:
        _add(out, "eval_noisy_sisnr_abnormal", "error", noisy_sisnr_mean=noisy,
             low_db=th.noisy_sisnr_low_db, high_db=th.noisy_sisnr_high_db, n=ev.get("n"))
    imp = ev["improvement_mean"]
    if imp < th.no_improvement_db:
        _add(out, "eval_no_improvement", "error", sisnr_improvement_mean=imp,
             threshold_db=th.no_improvement_db)
    elif imp < th.low_improvement_db:
        _add(out, "eval_low_improvement", "warning", sisnr_improvement_mean=imp,
             threshold_db=th.low_improvement_db)
    enhanced = ev.get("enhanced_mean")
    if noisy is not None and enhanced is not None and enhanced < noisy:
        _add(out, "model_worse_than_identity", "error", source="evaluation",
             model_sisnr=enhanced, identity_sisnr=noisy)
    std = ev.get("improvement_std")
    if std is not None and std > th.high_variance_std_db:
        _add(out, "eval_high_variance", "warning", sisnr_improvement_std=std,
             threshold_db=th.high_variance_std_db, improvement_min=ev.get("improvement_min"),
             improvement_max=ev.get("improvement_max"),
             worst_uttids=", ".join(w["uttid"] for w in ev.get("worst", [])))
    share = ev.get("degraded_share")
    if share is not None and share >= th.degraded_share_warning:
        _add(out, "eval_worse_than_input", "error" if share >= th.degraded_share_error else "warning",
             n_degraded=ev["n_degraded"], n=ev["n"], degraded_share=share,
             threshold_share=th.degraded_share_warning)
    if ev.get("n_failed"):
        _add(out, "eval_failed_utterances", "warning", n_failed=ev["n_failed"], n=ev.get("n"))
    out += level_rules(ev.get("metrics", {}), th)
    return out


def _no_reference_rules(ev: dict[str, Any]) -> list[Finding]:
    """A clean-less evaluation: say what was not measured; judge by the headline MOS only."""
    out: list[Finding] = []
    headline = ev["metrics"].get(ev.get("headline") or "")
    label = METRIC_REGISTRY[ev["headline"]].label if headline is not None else None
    _add(out, "eval_no_reference", "info", skipped=ev["skipped"], metric=label,
         noisy_mean=headline.noisy_mean if headline else None,
         enhanced_mean=headline.enhanced_mean if headline else None)
    if (headline is not None and headline.improvement_mean is not None
            and headline.improvement_mean < 0):
        _add(out, "model_worse_than_identity", "error", source="mos", metric=label,
             model_score=headline.enhanced_mean, identity_score=headline.noisy_mean)
    if ev.get("n_failed"):
        _add(out, "eval_failed_utterances", "warning", n_failed=ev["n_failed"], n=ev.get("n"))
    return out


def level_rules(metrics: dict[str, MetricSummary], th: Thresholds = THRESHOLDS) -> list[Finding]:
    """The output level against the clean speech, and SNR read against SI-SNR: SNR counts a
    wrong output gain as error, SI-SNR ignores it, so the two disagreeing points at the level."""
    out: list[Finding] = []
    level = metrics.get("level_error_db")
    level_mean = level.enhanced_mean if level is not None else None
    if level_mean is not None and abs(level_mean) > th.output_level_off_db:
        _add(out, "eval_output_level_off", "warning", level_error_db=level_mean,
             noisy_level_error_db=level.noisy_mean, threshold_db=th.output_level_off_db,
             n=level.n)
    snr, sisnr = metrics.get("snr"), metrics.get("sisnr")
    if (snr is not None and sisnr is not None and snr.improvement_mean is not None
            and sisnr.improvement_mean is not None and snr.improvement_mean < 0.0
            < sisnr.improvement_mean):
        _add(out, "eval_snr_sisnr_disagree", "info", noisy_snr=snr.noisy_mean,
             enhanced_snr=snr.enhanced_mean, snr_improvement=snr.improvement_mean,
             sisnr_improvement=sisnr.improvement_mean, level_error_db=level_mean)
    return out


def training_rules(tr: dict[str, Any], th: Thresholds = THRESHOLDS) -> list[Finding]:
    """Findings from the per-epoch metrics' statistics."""
    out: list[Finding] = []
    n_epochs = tr["n_epochs"]
    baseline = tr.get("valid_noisy_median")
    if baseline is not None and not th.noisy_sisnr_low_db <= baseline <= th.noisy_sisnr_high_db:
        _add(out, "noisy_baseline_abnormal", "error", valid_noisy_sisnr=baseline,
             low_db=th.noisy_sisnr_low_db, high_db=th.noisy_sisnr_high_db)

    if "valid_best" in tr:
        best, first = tr["valid_best"], tr["valid_first"]
        reason = None
        if baseline is not None and best - baseline < th.not_learning_gain_db:
            reason = "identity"
        elif baseline is None and best < 0.0:
            reason = "negative"
        elif n_epochs >= th.not_learning_min_epochs and best - first < th.not_learning_gain_db:
            reason = "flat"
        if reason:
            _add(out, "train_not_learning", "error", reason=reason, valid_best=best,
                 valid_first=first, valid_mean=tr["valid_mean"], best_epoch=tr["best_epoch"],
                 gain_db=best - (baseline if reason == "identity" else first),
                 threshold_db=th.not_learning_gain_db, n_epochs=n_epochs)
        if baseline is not None and best < baseline:
            _add(out, "model_worse_than_identity", "error", source="training",
                 model_sisnr=best, identity_sisnr=baseline)

    if "train_best" in tr and tr["train_best"] < 0.0:
        _add(out, "train_loss_positive", "warning", train_best=tr["train_best"],
             train_mean=tr["train_mean"], n_epochs=n_epochs)

    below = tr.get("lr_below_index")
    if below is not None:
        epochs_left = n_epochs - 1 - below
        if epochs_left >= th.lr_decay_min_epochs_left_share * n_epochs and epochs_left > 0:
            _add(out, "lr_decay_too_fast", "warning", lr_initial=tr["lr_initial"],
                 lr_final=tr["lr_final"], lr_ratio=tr["lr_ratio"],
                 ratio_threshold=th.lr_decay_ratio, epoch=tr["lr_below_epoch"],
                 epochs_left=epochs_left, share_left=epochs_left / n_epochs)

    if "best_index" in tr:
        patience = tr.get("patience") or th.stale_default_patience
        after_best = n_epochs - 1 - tr["best_index"]
        if after_best > patience and after_best >= th.stale_min_share_after_best * n_epochs:
            durations = tr.get("durations")
            stop_index = tr["best_index"] + patience
            saved_h = (float(durations[stop_index + 1:].sum() / 3600.0)
                       if durations is not None else None)
            _add(out, "stale_best_epoch", "warning", best_epoch=tr["best_epoch"],
                 valid_best=tr["valid_best"], epochs_after_best=after_best, patience=patience,
                 saved_hours=saved_h, total_hours=tr.get("total_time_h"))

    if "train_sisnr" in tr and tr.get("train_sisnr") is not None and tr.get("valid_sisnr") is not None:
        window = max(1, int(round(th.overfit_window_share * n_epochs)))
        train_end = float(np.nanmean(tr["train_sisnr"][-window:]))
        valid_end = float(np.nanmean(tr["valid_sisnr"][-window:]))
        gap = train_end - valid_end
        drop = tr["valid_best"] - valid_end
        if gap > th.overfit_gap_db and drop > th.overfit_valid_drop_db:
            _add(out, "overfitting", "warning", train_end=train_end, valid_end=valid_end,
                 gap_db=gap, valid_best=tr["valid_best"], best_epoch=tr["best_epoch"],
                 valid_drop_db=drop, gap_threshold_db=th.overfit_gap_db, window=window)

    share = tr.get("clipped_share")
    if share is not None and share > th.clipped_share:
        _add(out, "frequent_clipping", "warning", clipped_share=share,
             clipped_steps=tr["clipped_total"], total_steps=tr["total_steps"],
             grad_clip=tr.get("grad_clip"), grad_mean_median=tr.get("grad_mean_median"),
             threshold_share=th.clipped_share)

    if tr.get("grad_max") is not None and tr.get("grad_mean_median"):
        limit = th.spike_factor * tr["grad_mean_median"]
        if tr["grad_max"] > limit:
            _add(out, "gradient_spikes", "warning", grad_max=tr["grad_max"],
                 epoch=tr["grad_max_epoch"], grad_mean_median=tr["grad_mean_median"],
                 factor=tr["grad_max"] / tr["grad_mean_median"], factor_threshold=th.spike_factor,
                 grad_max_last=tr["grad_max_last"])

    if tr.get("nonfinite_total"):
        share = tr.get("nonfinite_share")
        severity = "error" if share is not None and share >= th.nonfinite_error_share else "warning"
        _add(out, "nonfinite_steps", severity, nonfinite_steps=tr["nonfinite_total"],
             epochs=tr["nonfinite_epochs"], share=share, error_share=th.nonfinite_error_share)

    mem_share = tr.get("peak_mem_share")
    if mem_share is not None:
        evidence = {"peak_mem_gb": tr["peak_mem_mb"] / 1024, "device_mem_gb":
                    tr["device_mem_mb"] / 1024, "share": mem_share}
        if mem_share < th.memory_headroom_share:
            _add(out, "memory_headroom", "info", threshold_share=th.memory_headroom_share,
                 **evidence)
        elif mem_share > th.memory_near_limit_share:
            _add(out, "memory_near_limit", "warning", threshold_share=th.memory_near_limit_share,
                 **evidence)
    return out


def _sort_findings(findings: list[Finding]) -> list[Finding]:
    """Errors first; among equals, data problems before model problems (they explain them)."""
    data_first = ("eval_noisy_sisnr_abnormal", "noisy_baseline_abnormal")
    return sorted(findings, key=lambda f: (SEVERITY_ORDER[f.severity], f.code not in data_first))


def analyse(run_dir: str | Path, eval_dir: str | Path | None = None) -> Analysis:
    """Read a run folder (and an evaluation folder) and apply every rule."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"{run_dir}: run folder not found")
    missing: list[str] = []
    notes: list[str] = []
    metrics = read_metrics(run_dir / "metrics.csv")
    missing += [f"metrics.csv:{c}" for c in REQUIRED_COLUMNS if _col(metrics, c) is None]

    environment: dict[str, Any] = {}
    if (run_dir / "environment.json").is_file():
        environment = _read_json(run_dir / "environment.json")
    else:
        missing.append("environment.json")
    config: dict[str, Any] = {}
    if (run_dir / "config.yaml").is_file():
        config = _read_yaml(run_dir / "config.yaml")
    else:
        missing.append("config.yaml")
    checkpoint_dir = run_dir / "checkpoints"
    checkpoints = (sorted(p.name for p in checkpoint_dir.iterdir() if p.is_file())
                   if checkpoint_dir.is_dir() else [])
    if not checkpoint_dir.is_dir():
        missing.append("checkpoints/")

    eval_auto = False
    if eval_dir is None:
        eval_dir = find_eval_dir(run_dir)
        eval_auto = eval_dir is not None
    eval_dir = Path(eval_dir) if eval_dir is not None else None
    if eval_dir is not None and not eval_dir.is_dir():
        raise FileNotFoundError(f"{eval_dir}: evaluation folder not found")

    training = training_stats(metrics, config, environment, notes)
    evaluation = evaluation_stats(eval_dir, missing) if eval_dir is not None else None
    findings = training_rules(training)
    if evaluation is not None:
        findings += evaluation_rules(evaluation)
    if evaluation is None and "valid_best" not in training:
        _add(findings, "insufficient_evidence", "warning", n_epochs=training["n_epochs"])
    # One identity-baseline finding is enough; the evaluation's is the stronger evidence.
    identity = [f for f in findings if f.code == "model_worse_than_identity"]
    if len(identity) > 1:
        findings = [f for f in findings if f is not identity[0]]
    derived = {f"metrics.csv:{n[: -len('_from_loss')]}" for n in notes if n.endswith("_from_loss")}
    informative = [m for m in missing if m not in derived]
    if informative:
        findings.append(Finding("missing_data", "info", {"missing": ", ".join(informative),
                                                         "n_missing": len(informative)}))
    return Analysis(run_dir=run_dir, eval_dir=eval_dir, eval_dir_auto=eval_auto, metrics=metrics,
                    environment=environment, config=config, checkpoints=checkpoints,
                    training=training, evaluation=evaluation, findings=_sort_findings(findings),
                    missing=missing, notes=notes)


def _jsonable(value: Any) -> Any:
    """Round floats for reading, turn NaN/inf into None, paths into text."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return float(f"{value:.6g}")
    if isinstance(value, Path):
        return str(value)
    return value
