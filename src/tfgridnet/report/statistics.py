"""Statistics of a run for the report: per-epoch training figures and the evaluation's figures.

Training statistics come from metrics.csv; the evaluation's from summary.json as the evaluator
wrote it, with evaluation_results.csv ranking the utterances and standing in for what an older or
foreign summary lacks. Nothing here judges: the rules (report/rules.py) do.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from tfgridnet.contracts import metrics_csv as mc
from tfgridnet.contracts.conditions import residual_spread
from tfgridnet.contracts.data_check import DataCheckFile
from tfgridnet.contracts.environment import RunEnvironment
from tfgridnet.contracts.evaluation import (
    EvaluationSummary,
    MetricSummary,
    read_results_csv,
    table_rows,
)
from tfgridnet.contracts.folders import EvalDir
from tfgridnet.contracts.metric_registry import METRIC_REGISTRY
from tfgridnet.contracts.names import UTTID
from tfgridnet.contracts.train_summary import TrainSummary
from tfgridnet.errors import UserInputError
from tfgridnet.report.facts import (
    DataCheckStats,
    EvalStats,
    Phase,
    RankedEpoch,
    RankedUtterance,
    SeriesStats,
    TrainingStats,
    from_loss_note,
    missing_item,
)
from tfgridnet.report.loading import config_value
from tfgridnet.report.rules import THRESHOLDS

__all__ = ["epoch_durations", "evaluation_stats", "run_end_stats", "steps_per_epoch",
           "training_stats"]


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
    per_epoch = _col(metrics, mc.EPOCH_TIME_S)
    if per_epoch is not None:
        return np.nan_to_num(per_epoch, nan=0.0)
    elapsed = _col(metrics, mc.TIME_S)
    if elapsed is None:
        return None
    filled = np.nan_to_num(elapsed, nan=0.0)
    if np.all(np.diff(_finite(elapsed)) >= 0):
        return np.diff(np.concatenate([[0.0], np.maximum.accumulate(filled)]))
    return filled


def steps_per_epoch(metrics: dict[str, np.ndarray]) -> np.ndarray | None:
    """Optimizer steps in each epoch: the differences of the global ``step`` at each epoch's end."""
    step = _col(metrics, mc.STEP)
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
                   environment: RunEnvironment, notes: list[str]) -> TrainingStats:
    """Summary numbers of the training run (None where the columns are missing)."""
    epochs = metrics[mc.EPOCH]
    stats = TrainingStats(n_epochs=int(len(epochs)), first_epoch=int(epochs[0]),
                          last_epoch=int(epochs[-1]))
    stats.planned_epochs = _num(config_value(config, "trainer.max_epochs", "max_epochs"))

    durations = epoch_durations(metrics)
    stats.total_time_h = float(durations.sum() / 3600.0) if durations is not None else None
    stats.epoch_time_s_mean = float(durations.mean()) if durations is not None else None
    steps = steps_per_epoch(metrics)
    stats.total_steps = float(steps.sum()) if steps is not None else None
    for name in (mc.SEC_PER_BATCH, mc.SAMPLES_PER_SEC):
        column = _col(metrics, name)
        setattr(stats, f"{name}_mean", float(np.nanmean(column)) if column is not None else None)
    stats.batch_size = _num(config_value(config, "data.batch_size", "batch_size",
                                            "trainer.batch_size"))
    stats.precision = environment.precision or config_value(config, "trainer.precision")

    # The loss is -SI-SNR only without the spectral term; then (and only then) a run that logged
    # no SI-SNR column has it as -loss.
    spectral_weight = _num(config_value(config, "loss.spectral_weight")) or 0.0
    stats.loss_spectral_weight = spectral_weight
    loss_is_neg_sisnr = spectral_weight == 0.0
    series: dict[str, np.ndarray | None] = {}
    for column, loss in mc.LOSS_OF_SISNR.items():
        series[column] = _col(metrics, column)
        if series[column] is None and loss_is_neg_sisnr and _col(metrics, loss) is not None:
            series[column] = -metrics[loss]
            notes.append(from_loss_note(column))
    train, valid = series[mc.TRAIN_SISNR], series[mc.VALID_SISNR]
    stats.train_sisnr = train
    stats.valid_sisnr = valid
    if train is not None:
        stats.train = SeriesStats.of(train)
    if valid is not None:
        stats.valid = SeriesStats.of(valid)
    stats.n_validations = int(np.isfinite(valid).sum()) if valid is not None else 0
    if valid is not None:
        finite = np.isfinite(valid)
        window = THRESHOLDS.improving_window
        if finite.sum() >= window:  # the trend at the end: least-squares slope, dB per epoch
            recent_epochs, recent = epochs[finite][-window:], valid[finite][-window:]
            stats.valid_recent_slope = float(np.polyfit(recent_epochs, recent, 1)[0])
            stats.valid_recent_from_epoch = int(recent_epochs[0])
            stats.valid_recent_gain = float(recent[-1] - recent[0])
        best_index = int(np.nanargmax(valid))
        stats.best_index = best_index
        stats.best_epoch = int(epochs[best_index])
        order = np.argsort(-np.nan_to_num(valid, nan=-np.inf), kind="stable")
        stats.top_epochs = [
            RankedEpoch(epoch=int(epochs[i]), valid_sisnr=float(valid[i]),
                        train_sisnr=float(train[i]) if train is not None else None)
            for i in order[: THRESHOLDS.top_epochs] if np.isfinite(valid[i])
        ]
        if durations is not None:
            stats.time_to_best_h = float(durations[: best_index + 1].sum() / 3600.0)
    baseline = _col(metrics, mc.VALID_NOISY_SISNR)
    if baseline is not None:
        stats.valid_noisy_mean = float(np.nanmean(baseline))
        stats.valid_noisy_median = float(np.nanmedian(baseline))

    previous = None
    for part, indices in zip(("early", "middle", "late"),
                             np.array_split(np.arange(len(epochs)), 3)):
        if len(indices) == 0:
            continue
        means = {}
        for name, values in (("train", train), ("valid", valid)):
            part_values = _finite(values[indices]) if values is not None else np.array([])
            means[name] = float(part_values.mean()) if len(part_values) else None
        delta = (means["valid"] - previous
                 if previous is not None and means["valid"] is not None else None)
        stats.phases.append(Phase(name=part, epoch_from=int(epochs[indices[0]]),
                                  epoch_to=int(epochs[indices[-1]]), train_mean=means["train"],
                                  valid_mean=means["valid"], valid_delta=delta,
                                  trend=_phase_trend(delta)))
        previous = means["valid"]

    lr = _col(metrics, mc.LR)
    if lr is not None:
        finite_lr = _finite(lr)
        stats.lr_initial = float(finite_lr[0])
        stats.lr_final = float(finite_lr[-1])
        stats.lr_ratio = (float(finite_lr[0] / finite_lr[-1]) if finite_lr[-1] > 0
                             else math.inf)
        below = np.nonzero(lr <= finite_lr[0] / THRESHOLDS.lr_decay_ratio)[0]
        stats.lr_below_index = int(below[0]) if len(below) else None
        stats.lr_below_epoch = int(epochs[below[0]]) if len(below) else None

    grad_mean = _col(metrics, mc.GRAD_NORM_MEAN)
    grad_max = _col(metrics, mc.GRAD_NORM_MAX)
    if grad_mean is not None:
        stats.grad_mean_first = float(_finite(grad_mean)[0])
        stats.grad_mean_last = float(_finite(grad_mean)[-1])
        stats.grad_mean_median = float(np.nanmedian(grad_mean))
    if grad_max is not None:
        index = int(np.nanargmax(grad_max))
        stats.grad_max_index = index
        stats.grad_max = float(grad_max[index])
        stats.grad_max_epoch = int(epochs[index])
        stats.grad_max_first = float(_finite(grad_max)[0])
        stats.grad_max_last = float(_finite(grad_max)[-1])
    clip_column = _col(metrics, mc.GRAD_CLIP)
    stats.grad_clip = (float(np.nanmedian(clip_column)) if clip_column is not None else _num(
        config_value(config, "optim.grad_clip", "optim.clip_grad_norm", "trainer.gradient_clip_val",
                     "trainer.grad_clip", "grad_clip")))
    optimizer = config_value(config, "optim.name", "optimizer.name", "optimizer", "optim.type")
    stats.optimizer = str(optimizer).lower() if isinstance(optimizer, str) else None
    clipped = _col(metrics, mc.CLIPPED_STEPS)
    if clipped is not None:
        stats.clipped_total = float(np.nansum(clipped))
        if steps is not None and steps.sum() > 0:
            stats.clipped_share = float(np.nansum(clipped) / steps.sum())
    nonfinite = _col(metrics, mc.NONFINITE_STEPS)
    if nonfinite is not None:
        stats.nonfinite_total = float(np.nansum(nonfinite))
        stats.nonfinite_epochs = int((np.nan_to_num(nonfinite) > 0).sum())
        if steps is not None and steps.sum() > 0:
            stats.nonfinite_share = float(np.nansum(nonfinite) / steps.sum())

    memory = _col(metrics, mc.PEAK_MEM_MB)
    stats.device = environment.device
    stats.device_mem_mb = _num(environment.device_mem_mb)
    if memory is not None:
        stats.peak_mem_mb = float(np.nanmax(memory))
        if stats.device_mem_mb:
            stats.peak_mem_share = stats.peak_mem_mb / stats.device_mem_mb
    patience = _num(config_value(config, "trainer.early_stopping_patience", "trainer.patience",
                                 "early_stopping.patience", "trainer.early_stopping.patience"))
    stats.patience = int(patience) if patience else None
    stats.durations = durations
    return stats


def run_end_stats(summary: TrainSummary | None, data_check: DataCheckFile | None,
                  run_dir: Path) -> dict[str, Any]:
    """How the run ended (train_summary.json) and what its start-up data check found
    (data_check.json): :class:`TrainingStats` fields, None when the files are absent."""
    stats: dict[str, Any] = {"run_dir": str(run_dir)}
    if summary is not None:
        stats.update(stop_reason=summary.stop_reason, ended_on_budget=summary.ended_on_budget,
                     global_step=summary.global_step, wall_time_s=summary.wall_time_s or None,
                     nonfinite_diagnostic=summary.nonfinite_diagnostic)
    if data_check is not None and data_check.checks:
        failed = [c for c in data_check.checks if c.n_errors]
        stats["data_check"] = DataCheckStats(
            errors_ignored=data_check.errors_ignored,
            n_errors=sum(c.n_errors for c in data_check.checks),
            n_checked=sum(c.n_checked for c in data_check.checks),
            manifests=", ".join(f"`{c.key}`" for c in failed) or "—",
            kinds=", ".join(sorted({k for c in failed for k in c.problems_by_kind})) or "—")
    return stats


# The report's SI-SNR figures: MetricSummary fields of summary.json's metrics.sisnr.
_SUMMARY_SISNR_FIELDS = ("noisy_mean", "enhanced_mean", "improvement_mean", "improvement_std",
                         "improvement_min", "improvement_max")
_SISNR = METRIC_REGISTRY["sisnr"]


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


def _table_stats(table: dict[str, list[Any]], path: Path) -> dict[str, Any]:
    """SI-SNR figures and the utterance ranking of an evaluation_results.csv."""
    noisy = np.array(table.get(_SISNR.noisy_column, []), dtype=np.float64)
    enhanced = np.array(table.get(_SISNR.enhanced_column, []), dtype=np.float64)
    if _SISNR.delta_column in table:
        improvement = np.array(table[_SISNR.delta_column], dtype=np.float64)
    elif len(noisy) and len(enhanced):
        improvement = enhanced - noisy
    else:
        raise UserInputError(f"{path}: needs '{_SISNR.delta_column}' or both "
                         f"'{_SISNR.noisy_column}' and '{_SISNR.enhanced_column}' columns")
    ok = np.isfinite(improvement)
    if not ok.any():
        raise UserInputError(f"{path}: no finite {_SISNR.delta_column} value")
    imp = improvement[ok]
    stats: dict[str, Any] = {
        "source": path.name, "n": int(len(improvement)), "n_failed": int((~ok).sum()),
        "improvement_mean": float(imp.mean()),
        "improvement_std": float(imp.std(ddof=1)) if len(imp) > 1 else 0.0,
        "improvement_min": float(imp.min()), "improvement_max": float(imp.max()),
        "n_degraded": int((imp < 0).sum()), "degraded_share": float((imp < 0).mean()),
        "metrics": _metrics_from_table(table)}
    if len(noisy):
        stats["noisy_mean"] = float(np.nanmean(noisy))
    if len(enhanced):
        stats["enhanced_mean"] = float(np.nanmean(enhanced))
    uttids = table[UTTID]
    order = [i for i in np.argsort(np.nan_to_num(improvement, nan=np.inf), kind="stable") if ok[i]]

    def row(i: int) -> RankedUtterance:
        return RankedUtterance(uttid=uttids[i], improvement=float(improvement[i]),
                               noisy_sisnr=float(noisy[i]) if len(noisy) else None,
                               enhanced_sisnr=float(enhanced[i]) if len(enhanced) else None)

    stats["worst"] = [row(i) for i in order[: THRESHOLDS.worst_utterances]]
    stats["best"] = [row(i) for i in order[::-1][: THRESHOLDS.worst_utterances]]
    return stats


def evaluation_stats(eval_dir: Path, missing: list[str]) -> EvalStats:
    """The evaluation's figures from summary.json (read through ``EvaluationSummary``);
    evaluation_results.csv ranks the utterances and stands in for what an older or foreign
    summary lacks. Each gap is added to ``missing`` as ``file`` or ``file:key``."""
    folder = EvalDir(eval_dir)
    results_path, summary_path = folder.results, folder.summary
    if not folder.is_evaluation():
        raise FileNotFoundError(f"{eval_dir}: not an evaluation folder (no {results_path.name} "
                                f"or {summary_path.name})")
    summary, absent = (EvaluationSummary.read(summary_path) if summary_path.is_file()
                       else (EvaluationSummary(), []))
    if summary_path.is_file():
        missing += [missing_item(summary_path.name, key) for key in absent]
    else:
        missing.append(summary_path.name)
    stats = EvalStats(dir=Path(eval_dir), source=summary_path.name, conditions=summary.conditions,
                      reference=summary.reference, baseline_model=summary.baseline_model,
                      index_html=folder.page() if folder.page().is_file() else None)
    if not summary.reference:  # a clean-less set: no SI-SNR to read or claim
        stats.n, stats.n_failed, stats.metrics = summary.n, summary.n_failed, summary.metrics
        stats.headline, stats.skipped = summary.headline_metric, ", ".join(summary.skipped_metrics)
        return stats
    if results_path.is_file():
        table = read_results_csv(results_path)
        if summary.n is not None and summary.n != len(table[UTTID]):
            raise UserInputError(f"{results_path}: {len(table[UTTID])} rows, but "
                                 f"{summary_path.name} says n={summary.n}: the table is "
                                 "incomplete or from another run")
        for name, value in _table_stats(table, results_path).items():
            setattr(stats, name, value)
        stats.spread = residual_spread(table_rows(table), _SISNR.name, summary.condition_columns)
        if summary.n_failed:
            stats.n_failed = max(stats.n_failed or 0, summary.n_failed)
    else:
        missing.append(results_path.name)
        stats.n, stats.n_failed = summary.n, summary.n_failed
        if summary.sisnr.improvement_mean is None:
            raise UserInputError(f"{summary_path}: no SI-SNR improvement (metrics.sisnr) and no "
                                 f"{results_path.name} to compute it from")
    # The evaluator's own figures, at full precision: the CSV's values are rounded to 4 decimals,
    # so it only ranks utterances and stands in for what an older or foreign summary lacks (a
    # metric, or a figure of one: flat keys give means but no improvement).
    for name, from_file in summary.metrics.items():
        from_table = stats.metrics.get(name)
        stats.metrics[name] = (from_file if from_table is None else from_table.model_copy(
            update=from_file.model_dump(exclude_none=True, exclude_defaults=True)))
    for name in _SUMMARY_SISNR_FIELDS:
        value = getattr(summary.sisnr, name)
        if value is not None:
            setattr(stats, name, value)
            stats.source = summary_path.name
    return stats
