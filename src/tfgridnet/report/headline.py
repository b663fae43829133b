"""The report's headline: the evaluation's key numbers right under the verdict.

A reader opens the report for the test-set result; it used to sit two screens down, below the
training tables. The headline states, for each key metric the evaluation scored, the identity
baseline (the noisy input scored as the output) → the enhanced output, the mean improvement and
how many utterances improved, with a picture (plots.py, ``HEADLINE_PLOT``) and the link to the
listening page. Every figure is the evaluator's own, read from summary.json through
``EvaluationSummary`` / ``MetricSummary`` (report/statistics.py).
"""

from __future__ import annotations

import os
from pathlib import Path

from tfgridnet.contracts.evaluation import EvaluationSummary, MetricSummary
from tfgridnet.contracts.folders import EvalDir
from tfgridnet.contracts.metric_registry import METRIC_REGISTRY, Metric
from tfgridnet.i18n import fmt, tr
from tfgridnet.report.analysis import Analysis
from tfgridnet.report.blocks import Block
from tfgridnet.report.facts import EvalStats

__all__ = ["HEADLINE_PLOT", "HEADLINE_SECTION", "KEY_METRICS", "headline_blocks",
           "headline_metric", "key_metrics", "listening_page"]

HEADLINE_SECTION = "headline"  # the HTML <section> id of the block
HEADLINE_PLOT = "headline"  # plots/headline.png
# What a reader compares first, in this order; each shown when the evaluation scored it.
KEY_METRICS = ("sisnr", "pesq_wb", "stoi", "level_error_db", "dnsmos_ovrl", "distillmos")


def headline_metric(evaluation: EvalStats) -> Metric:
    """The metric the evaluation ranks its utterances by: SI-SNR, or a MOS on a clean-less set."""
    name = evaluation.headline or EvaluationSummary.model_fields["headline_metric"].default
    return METRIC_REGISTRY[name]


def key_metrics(evaluation: EvalStats) -> list[tuple[Metric, MetricSummary]]:
    """The headline metric, then the other key metrics, each with its summary, where scored."""
    scored = evaluation.metrics
    names = dict.fromkeys([headline_metric(evaluation).name, *KEY_METRICS])
    return [(METRIC_REGISTRY[name], scored[name]) for name in names
            if name in scored and scored[name].noisy_mean is not None
            and scored[name].enhanced_mean is not None]


def listening_page(analysis: Analysis, lang: str) -> Path | None:
    """The evaluation's listening page in ``lang`` when it was written in it, else the one there."""
    page = analysis.evaluation.index_html if analysis.evaluation else None
    if analysis.eval_dir is not None:
        own = EvalDir(analysis.eval_dir).page(lang)
        page = own if own.is_file() else page
    return page


def _improved(stats: MetricSummary) -> str:
    if stats.share_improved is None or not stats.n:
        return "—"
    return f"{round(stats.share_improved * stats.n)} / {stats.n} ({stats.share_improved:.0%})"


def headline_blocks(analysis: Analysis, lang: str, plot: Path | None) -> list[Block]:
    """The headline block; one line when there is no evaluation."""
    ev = analysis.evaluation
    if ev is None:
        return [Block("p", tr("headline.none", lang), section=HEADLINE_SECTION)]
    blocks = [Block("h2", tr("h.headline", lang))]
    rows = key_metrics(ev)
    link = ""
    page = listening_page(analysis, lang)
    if page:
        href = Path(os.path.relpath(page, analysis.run_dir)).as_posix()
        link = " " + tr("headline.link", lang, href=href)
    blocks.append(Block("p", tr("headline.n", lang, n=ev.n, failed=ev.n_failed)
                        + link))
    if not rows:
        blocks.append(Block("p", tr("headline.no_metrics", lang)))
    else:
        header = [tr(key, lang) for key in ("col.metric", "col.noisy_to_enhanced",
                                             "col.mean_improvement", "col.improved")]
        blocks.append(Block("table", header=header, rows=[
            [metric.label_in(lang) + (f" ({metric.unit})" if metric.unit else ""),
             f"{fmt(stats.noisy_mean)} → {fmt(stats.enhanced_mean)}",
             fmt(stats.improvement_mean, "+.2f"), _improved(stats)] for metric, stats in rows]))
        blocks += [Block("p", metric.improvement_meaning(lang))
                   for metric, _ in rows if metric.target is not None]
    if plot is not None:
        blocks.append(Block("img", text=tr("plot.headline", lang), path=plot))
    for block in blocks:
        block.section = HEADLINE_SECTION
    return blocks
