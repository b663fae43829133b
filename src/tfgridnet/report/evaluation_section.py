"""The report's evaluation section: noisy -> enhanced for SI-SNR and every other metric, each
against what is expected with a status mark, the per-condition tables and the utterances to
listen to when the spread is high (summary.json, read as :class:`EvalStats`)."""

from __future__ import annotations

import os
from pathlib import Path

from tfgridnet.contracts.conditions import factor_label, group_cell
from tfgridnet.contracts.metric_registry import METRIC_REGISTRY
from tfgridnet.i18n import fmt, tr
from tfgridnet.marks import MARKS
from tfgridnet.report.analysis import Analysis
from tfgridnet.report.blocks import Block
from tfgridnet.report.blocks import heading as _h
from tfgridnet.report.blocks import paragraph as _p
from tfgridnet.report.blocks import table as _table
from tfgridnet.report.eval_checks import judged_spread
from tfgridnet.report.facts import EvalStats
from tfgridnet.report.finetune import baseline_blocks
from tfgridnet.report.headline import listening_page
from tfgridnet.report.rules import THRESHOLDS

__all__ = ["evaluation_blocks", "condition_blocks"]

ICONS = {key: MARKS[key].text for key in ("ok", "warn", "bad", "none")}


def _status(ok: bool | None, warn: bool = False) -> str:
    if ok is None:
        return ICONS["none"]
    if ok:
        return ICONS["ok"]
    return ICONS["warn"] if warn else ICONS["bad"]


def _eval_header(lang: str) -> list[str]:
    return [tr("col.item", lang), tr("col.value", lang), tr("col.expected", lang),
            tr("col.status", lang)]


def _metric_rows(ev: EvalStats, lang: str) -> list[list[str]]:
    """One row per evaluated metric: noisy -> enhanced (change), expected direction, status."""
    th = THRESHOLDS
    rows: list[list[str]] = []
    for name, stats in ev.metrics.items():
        metric = METRIC_REGISTRY[name]
        if stats.noisy_mean is None or stats.enhanced_mean is None:
            continue
        gain = (stats.improvement_mean if stats.improvement_mean is not None
                else metric.improvement(stats.noisy_mean, stats.enhanced_mean))
        if metric.target is not None:  # the level error: judged by eval_output_level_off's rule
            expected = tr("exp.target", lang, value=metric.target, tol=th.output_level_off_db)
            ok = abs(stats.enhanced_mean - metric.target) <= th.output_level_off_db
        else:
            expected = tr("exp.higher" if metric.higher_is_better else "exp.lower", lang)
            ok = gain > 0
        rows.append([tr("ev.other", lang, metric=metric.label_in(lang),
                        unit=f" ({metric.unit})" if metric.unit else ""),
                     f"{stats.noisy_mean:.2f} → {stats.enhanced_mean:.2f} ({gain:+.2f})",
                     expected, _status(ok, warn=metric.target is not None)])
    return rows


def _improvement_notes(ev: EvalStats, lang: str) -> list[str]:
    """What the improvement of a metric best at a target value means (the level error: how much
    closer to 0 dB), from the metric registry."""
    return [m.improvement_meaning(lang)
            for m in (METRIC_REGISTRY[n] for n in ev.metrics) if m.target is not None]


def condition_blocks(ev: EvalStats, lang: str) -> list[Block]:
    """The evaluation's per-condition tables (summary.json ``conditions``), one per factor."""
    tables = ev.conditions or {}
    if not tables:
        return []
    names = list(ev.metrics)
    blocks = [_h(tr("h.conditions", lang), 3),
              _p(" ".join([tr("cond.note", lang), *_improvement_notes(ev, lang)]))]
    for factor, groups in tables.items():
        title = factor_label(factor, lang) or f"`{factor}`"
        header = [title, "n"] + [METRIC_REGISTRY[n].label_in(lang) for n in names]
        blocks.append(_table(header, [[g.group, str(g.n)] + [group_cell(g.metrics.get(n))
                                                            for n in names] for g in groups]))
    return blocks


def evaluation_blocks(analysis: Analysis, lang: str) -> list[Block]:
    """The evaluation section: the identity baseline, each metric against what is expected, the
    baseline model, the per-condition tables and, when the spread is high, the utterances."""
    ev = analysis.evaluation
    th = THRESHOLDS
    if ev is None:
        return [_h(tr("h.evaluation", lang)), _p(tr("eval_none", lang))]
    blocks = [_h(tr("h.evaluation", lang)),
              _p(tr("ev.source", lang, n=ev.n, source=ev.source))]
    page = listening_page(analysis, lang)
    if page is not None:
        href = Path(os.path.relpath(page, analysis.run_dir)).as_posix()
        blocks.append(_p(tr("ev.link", lang, href=href)))
    failed = ev.n_failed
    failed_row = [tr("ev.failed", lang), fmt(failed, "d") if failed is not None else "—",
                  tr("exp.zero", lang),
                  _status(None if failed is None else failed == 0, warn=True)]
    if not ev.reference:  # clean-less: the metric rows only, no SI-SNR rows
        blocks.append(_table(_eval_header(lang), _metric_rows(ev, lang) + [failed_row]))
        return blocks + condition_blocks(ev, lang)
    noisy, enhanced, imp = ev.noisy_mean, ev.enhanced_mean, ev.improvement_mean
    std, share = ev.improvement_std, ev.degraded_share
    judged, basis = judged_spread(ev, th)
    spread_ok = None if judged is None else judged <= th.high_variance_std_db
    noisy_ok = None if noisy is None else th.noisy_sisnr_low_db <= noisy <= th.noisy_sisnr_high_db
    gain = None if noisy is None or enhanced is None else enhanced - noisy
    rows = [
        [tr("ev.noisy", lang), fmt(noisy),
         tr("exp.range", lang, low=th.noisy_sisnr_low_db, high=th.noisy_sisnr_high_db),
         _status(noisy_ok)],
        [tr("ev.enhanced", lang), fmt(enhanced),
         tr("exp.above_noisy", lang, value=th.low_improvement_db),
         _status(None if gain is None else gain >= th.low_improvement_db,
                 warn=gain is not None and gain >= th.no_improvement_db)],
        [tr("ev.improvement", lang), fmt(imp, "+.2f"),
         tr("exp.at_least", lang, value=th.low_improvement_db),
         _status(imp >= th.low_improvement_db, warn=imp >= th.no_improvement_db)],
        [tr("ev.std", lang), fmt(std), tr("exp.at_most", lang, value=th.high_variance_std_db),
         _status(spread_ok, warn=True) if basis == "total" else ICONS["none"]],
        *([[tr("ev.std_residual", lang, conditions=", ".join(ev.spread.factors)), fmt(judged),
            tr("exp.at_most", lang, value=th.high_variance_std_db),
            _status(spread_ok, warn=True)]] if basis == "conditions" else []),
        [tr("ev.min", lang), fmt(ev.improvement_min, "+.2f"), "—", "—"],
        [tr("ev.max", lang), fmt(ev.improvement_max, "+.2f"), "—", "—"],
        [tr("ev.degraded", lang),
         "—" if share is None else f"{ev.n_degraded} / {ev.n} ({share:.0%})",
         tr("exp.share_below", lang, value=th.degraded_share_warning),
         _status(None if share is None else share < th.degraded_share_warning,
                 warn=share is not None and share < th.degraded_share_error)],
        failed_row,
    ]
    rows += _metric_rows(ev, lang)
    blocks.append(_table(_eval_header(lang), rows))
    blocks += baseline_blocks(ev, lang)
    if _improvement_notes(ev, lang):
        blocks.append(_p(" ".join(_improvement_notes(ev, lang))))
    blocks += condition_blocks(ev, lang)
    if analysis.finding("eval_high_variance") and ev.worst:
        blocks.append(_h(tr("h.utterances", lang), 3))
        blocks.append(_p(tr("utt.why", lang, std=judged)))
        header = [tr("col.rank", lang), tr("col.uttid", lang), tr("col.improvement", lang),
                  tr("col.noisy", lang), tr("col.enhanced", lang)]
        for key, rows_ in (("utt.worst", ev.worst), ("utt.best", ev.best)):
            blocks.append(_p(f"**{tr(key, lang)}**"))
            blocks.append(_table(header, [
                [str(rank), f"`{u.uttid}`", fmt(u.improvement, "+.2f"),
                 fmt(u.noisy_sisnr), fmt(u.enhanced_sisnr)]
                for rank, u in enumerate(rows_, start=1)]))
    return blocks
