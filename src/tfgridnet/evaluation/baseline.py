"""``evaluate --baseline MODEL``: score a second model on the same utterances, with the same code.

The usual use is a fine-tune against the model it started from: every utterance then reads
noisy → baseline model → evaluated model. Per utterance, each scored metric gets two more columns
(``Metric.baseline_column``, ``Metric.over_baseline_column``: positive when the evaluated model is
better); ``summary.json`` gets ``baseline_model`` (``schema.BaselineModelSummary``).
"""

from __future__ import annotations

import html
import statistics
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from tfgridnet.contracts.evaluation import BaselineMetricSummary, BaselineModelSummary
from tfgridnet.contracts.metric_registry import METRIC_REGISTRY, MetricSet
from tfgridnet.contracts.utterance import UtteranceRow
from tfgridnet.errors import UserInputError
from tfgridnet.evaluation.scoring import Scores, same_signal, score_pair

if TYPE_CHECKING:  # torch and the model code stay out of the page writer's and workers' imports
    from tfgridnet.inference.enhancer import Enhancer

__all__ = ["baseline_enhancer", "baseline_html", "baseline_lines", "score_with_baseline",
           "summarize_baseline"]


def baseline_enhancer(baseline: Any, like: Enhancer, chunk_seconds: float, level: bool
                      ) -> tuple[Enhancer, str]:
    """The baseline as an Enhancer that runs like ``like`` (device, precision fp32, level) at its
    rate, and its name. ``baseline``: an Enhancer, a model, or any MODEL path (ESPnet too)."""
    import torch

    from tfgridnet.inference.enhancer import Enhancer

    if isinstance(baseline, Enhancer):
        enhancer, name = baseline, type(baseline.model).__name__
    else:
        if isinstance(baseline, torch.nn.Module):
            model, name = baseline, type(baseline).__name__
        else:
            from tfgridnet.model.sources import load_source

            model, name = load_source(baseline).model, str(baseline)
        if getattr(model, "sample_rate", None) is None and not like.rate_independent:
            model.sample_rate = like.sample_rate  # an ESPnet V2 config without fs
        enhancer = Enhancer(model, device=like.device, chunk_seconds=chunk_seconds,
                            precision="fp32", level=level)
    if enhancer.rate_independent:
        enhancer = enhancer.at_rate(like.sample_rate)
    if enhancer.sample_rate != like.sample_rate:
        raise UserInputError(f"--baseline {name}: a {enhancer.sample_rate} Hz model, but the "
                             f"evaluated model runs at {like.sample_rate} Hz; compare models of "
                             "the same rate")
    return enhancer, name


def score_with_baseline(noisy: np.ndarray, enhanced: np.ndarray, clean: np.ndarray | None,
                        sample_rate: int, metrics: MetricSet, baseline: np.ndarray
                        ) -> tuple[Scores, list[str]]:
    """``score_pair`` of the evaluated output, plus the baseline model's scores and the gain over
    them (a top-level function: it runs in the scoring worker processes)."""
    scores, errors = score_pair(noisy, enhanced, clean, sample_rate, metrics)
    if same_signal(baseline, enhanced):  # an identical model: no "gain" from rounding noise
        theirs = scores
    else:
        theirs, their_errors = score_pair(noisy, baseline, clean, sample_rate, metrics)
        errors += [f"baseline: {e}" for e in their_errors]
    for name, own in scores.items():
        value = theirs[name].enhanced if name in theirs else None
        own.baseline = value
        own.over_baseline = (METRIC_REGISTRY[name].improvement(value, own.enhanced)
                             if value is not None and own.enhanced is not None else None)
    return scores, errors


def summarize_baseline(rows: Sequence[UtteranceRow], metrics: MetricSet, model: str
                       ) -> BaselineModelSummary:
    """Per metric: the baseline model's mean and the evaluated model's gain over it."""
    scored = [r for r in rows if r.ok]
    out: dict[str, BaselineMetricSummary] = {}
    for m in metrics.metrics:
        both = [s for s in (r.score(m.name) for r in scored) if s.over_baseline is not None]
        gains = [s.over_baseline for s in both]
        out[m.name] = BaselineMetricSummary(
            n=len(both),
            mean=statistics.fmean(s.baseline for s in both) if both else None,
            gain_mean=statistics.fmean(gains) if gains else None,
            gain_std=statistics.stdev(gains) if len(gains) > 1 else (0.0 if gains else None),
            share_better=sum(g > 0 for g in gains) / len(gains) if gains else None)
    return BaselineModelSummary(model=model, n=len(scored), metrics=out)


def _triples(summary: dict[str, Any]) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    baseline = summary.get("baseline_model") or {}
    return [(name, summary["metrics"][name], stats)
            for name, stats in (baseline.get("metrics") or {}).items()
            if stats.get("mean") is not None and name in summary.get("metrics", {})]


def baseline_lines(summary: dict[str, Any]) -> list[str]:
    """The CLI's lines: noisy → baseline → this model per metric."""
    triples = _triples(summary)
    if not triples:
        return []
    lines = [f"against the baseline model {summary['baseline_model']['model']} (same utterances):",
             f"{'metric':<12} {'noisy':>9} {'baseline':>9} {'this':>9} {'gain':>8} {'better':>7}"]
    for name, own, theirs in triples:
        lines.append(f"{name:<12} {own['noisy_mean']:>9.3f} {theirs['mean']:>9.3f} "
                     f"{own['enhanced_mean']:>9.3f} {theirs['gain_mean']:>+8.3f} "
                     f"{100 * theirs['share_better']:>6.0f}%")
    return lines


def baseline_html(summary: dict[str, Any], lang: str = "en") -> str:
    """The listening page's table: noisy → baseline model → this model, in the words of the
    report's own table (the catalogs' ``h.baseline`` and ``bl.*``)."""
    from tfgridnet.i18n import tr

    triples = _triples(summary)
    if not triples:
        return ""
    baseline = summary["baseline_model"]
    head = "".join(f"<th>{html.escape(tr(key, lang))}</th>" for key in (
        "bl.metric", "bl.noisy", "bl.baseline", "bl.this", "bl.gain", "bl.share"))
    rows = "".join(
        f"<tr><td>{html.escape(METRIC_REGISTRY[name].label_in(lang))}</td><td>{own['noisy_mean']:.3f}</td>"
        f"<td>{theirs['mean']:.3f}</td><td>{own['enhanced_mean']:.3f}</td>"
        f"<td>{theirs['gain_mean']:+.3f}</td><td>{100 * theirs['share_better']:.0f}%</td></tr>"
        for name, own, theirs in triples)
    note = tr("bl.note", lang, model=baseline["model"], n=baseline["n"])
    return (f"<h2>{html.escape(tr('h.baseline', lang))}</h2><p class='muted'>"
            f"{html.escape(note)}</p><table id='baseline'><thead><tr>{head}</tr></thead>"
            f"<tbody>{rows}</tbody></table>")
