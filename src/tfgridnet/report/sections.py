"""The report's content as language-resolved blocks (heading, paragraph, list, table, image).

Each section is a function of an :class:`Analysis`; every sentence comes from the message catalogs
(tfgridnet/i18n.py), so the languages cannot drift apart. The templates (report/templates/) print the
blocks as Markdown, and the HTML page is that Markdown rendered by markdown-it-py.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from tfgridnet.contracts import metrics_csv as mc
from tfgridnet.contracts.folders import RunDir
from tfgridnet.contracts.names import METRICS_FILE
from tfgridnet.i18n import catalog, fmt, tr
from tfgridnet.marks import SEVERITY_MARKS
from tfgridnet.report.analysis import Analysis
from tfgridnet.report.blocks import Block
from tfgridnet.report.blocks import heading as _h
from tfgridnet.report.blocks import paragraph as _p
from tfgridnet.report.blocks import table as _table
from tfgridnet.report.evaluation_section import evaluation_blocks
from tfgridnet.report.experiment import audio_blocks, data_check_notice, files_blocks, model_blocks
from tfgridnet.report.facts import FROM_LOSS, SeriesStats, missing_item
from tfgridnet.report.finetune import finetune_blocks
from tfgridnet.report.headline import HEADLINE_PLOT, headline_blocks
from tfgridnet.report.rules import THRESHOLDS, Finding

__all__ = ["Block", "build_blocks", "recommendations"]

SEVERITY_ICONS = {severity: mark.text for severity, mark in SEVERITY_MARKS.items()}


# ----------------------------------------------------------------------------------------------
# Sections


def _verdict(analysis: Analysis, lang: str) -> list[Block]:
    verdict = analysis.verdict
    blocks = [_p(tr("verdict_line", lang, word=tr(f"verdict.{verdict}", lang)) + " — "
                 + tr(f"verdict_why.{verdict}", lang))]
    reasons = [f for f in analysis.findings if f.severity == ("error" if verdict == "broken"
                                                              else "warning")]
    items = [f"{SEVERITY_ICONS[f.severity]} `{f.code}`: {f.message(lang)}" for f in reasons]
    short = analysis.finding("too_short_to_judge")
    if verdict == "inconclusive" and short is not None:  # how long it ran, why it stopped, next
        items = [items[reasons.index(short)], "→ " + tr("rec.too_short_to_judge", lang,
                                                       **short.evidence)] + [
            item for f, item in zip(reasons, items) if f is not short]
    if items:
        blocks.append(Block("ul", items=items))
    return blocks


def _training(analysis: Analysis, lang: str) -> list[Block]:
    t, env = analysis.training, analysis.environment
    samples = (t.total_steps * t.batch_size
               if t.total_steps is not None and t.batch_size else None)
    rows = [
        ("row.run_dir", f"`{analysis.run_dir}`"),
        ("row.device", fmt(env.device, "")),
        ("row.torch", fmt(env.torch, "")),
        ("row.precision", fmt(t.precision, "")),
        ("row.world_size", fmt(env.world_size, "")),
        ("row.epochs", fmt(t.n_epochs, ",d")),
        ("row.epoch_range", f"{t.first_epoch}–{t.last_epoch}"),
        ("row.planned", fmt(t.planned_epochs, ",.0f")),
        ("row.time", fmt(t.total_time_h, ".2f")),
        ("row.time_min", fmt(None if t.total_time_h is None else t.total_time_h * 60,
                             ",.1f")),
        ("row.time_to_best", fmt(t.time_to_best_h, ".2f")),
        ("row.epoch_time", fmt(t.epoch_time_s_mean, ".1f")),
        ("row.steps", fmt(t.total_steps, ",.0f")),
        ("row.batch_size", fmt(t.batch_size, ".0f")),
        ("row.samples", fmt(samples, ",.0f")),
        ("row.sec_per_batch", fmt(t.sec_per_batch_mean, ".3f")),
        ("row.samples_per_sec", fmt(t.samples_per_sec_mean, ",.1f")),
        ("row.checkpoints", fmt(len(analysis.checkpoints), "d")),
    ]
    return [_h(tr("h.training", lang)),
            _table([tr("col.item", lang), tr("col.value", lang)],
                   [[tr(key, lang), value] for key, value in rows])]


def _sisnr(analysis: Analysis, lang: str) -> list[Block]:
    t = analysis.training
    weight = t.loss_spectral_weight  # the loss is -SI-SNR only without the spectral term
    loss = tr("sisnr_note_spectral", lang, weight=weight) if weight else tr("sisnr_note", lang)
    blocks = [_h(tr("h.sisnr", lang)), _p(loss)]
    for note in analysis.notes:
        column = note.removesuffix(FROM_LOSS)
        blocks.append(_p(tr("from_loss_note", lang, column=column,
                            loss=mc.LOSS_OF_SISNR[column])))
    if t.valid.best is None and t.train.best is None:
        return blocks + [_p(tr("no_valid", lang))]
    rows = [[tr(f"stat.{stat.name}", lang), fmt(getattr(t.train, stat.name)),
             fmt(getattr(t.valid, stat.name))] for stat in dataclasses.fields(SeriesStats)]
    blocks.append(_table([tr("col.statistic", lang), tr("col.train", lang),
                          tr("col.valid", lang)], rows))
    if t.valid_noisy_mean is not None:
        blocks.append(_p(tr("identity_note", lang, mean=t.valid_noisy_mean)))
    return blocks


def _phases(analysis: Analysis, lang: str) -> list[Block]:
    rows = [[tr(f"phase.{p.name}", lang), f"{p.epoch_from}–{p.epoch_to}",
             fmt(p.train_mean), fmt(p.valid_mean), fmt(p.valid_delta, "+.2f"),
             tr(f"trend.{p.trend}", lang)]
            for p in analysis.training.phases]
    header = [tr(k, lang) for k in ("col.phase", "col.epochs", "col.train", "col.valid",
                                    "col.delta", "col.trend")]
    return [_h(tr("h.phases", lang)), _table(header, rows)]


def _findings(analysis: Analysis, lang: str) -> list[Block]:
    rows = [[SEVERITY_ICONS[f.severity] + "\u00a0" + tr(f"severity.{f.severity}", lang),
             f"`{f.code}`", f.message(lang)] for f in analysis.findings]
    if not rows:
        return [_h(tr("h.findings", lang)), _p(tr("verdict_why.healthy", lang))]
    return [_h(tr("h.findings", lang)),
            _table([tr("col.severity", lang), tr("col.code", lang), tr("col.message", lang)], rows)]


def _top_epochs(analysis: Analysis, lang: str) -> list[Block]:
    top = analysis.training.top_epochs
    if not top:
        return []
    rows = [[str(rank), str(e.epoch), fmt(e.valid_sisnr), fmt(e.train_sisnr)]
            for rank, e in enumerate(top, start=1)]
    return [_h(tr("h.top", lang)),
            _table([tr("col.rank", lang), tr("col.epoch", lang), tr("col.valid", lang),
                    tr("col.train", lang)], rows)]


def _lr(analysis: Analysis, lang: str) -> list[Block]:
    t = analysis.training
    if t.lr_initial is None:
        return [_h(tr("h.lr", lang)), _p(tr("lr.missing", lang))]
    items = [tr("lr.initial", lang, value=t.lr_initial),
             tr("lr.final", lang, value=t.lr_final),
             tr("lr.ratio", lang, value=t.lr_ratio)]
    if t.lr_below_epoch is not None:
        items.append(tr("lr.below", lang, ratio=THRESHOLDS.lr_decay_ratio,
                        epoch=t.lr_below_epoch))
    else:
        items.append(tr("lr.never_below", lang, ratio=THRESHOLDS.lr_decay_ratio))
    return [_h(tr("h.lr", lang)), Block("ul", items=items)]


def _stability(analysis: Analysis, lang: str) -> list[Block]:
    t = analysis.training
    items = []
    if t.grad_mean_first is not None:
        items.append(tr("grad.mean", lang, first=t.grad_mean_first, last=t.grad_mean_last,
                        median=t.grad_mean_median))
    if t.grad_max is not None:
        items.append(tr("grad.max", lang, first=t.grad_max_first, last=t.grad_max_last,
                        value=t.grad_max, epoch=t.grad_max_epoch))
    items.append(tr("grad.clip", lang, value=t.grad_clip) if t.grad_clip
                 else tr("grad.clip_unknown", lang))
    if t.clipped_share is not None:
        items.append(tr("grad.clipped", lang, clipped=t.clipped_total, steps=t.total_steps,
                        share=t.clipped_share))
    elif t.clipped_total is not None:
        items.append(tr("grad.clipped_no_steps", lang, clipped=t.clipped_total))
    if t.nonfinite_total is not None:
        items.append(tr("grad.nonfinite", lang, value=t.nonfinite_total))
    absent = [c for c in mc.GRADIENT_COLUMNS if missing_item(METRICS_FILE, c) in analysis.missing]
    if absent:
        items.append(tr("grad.missing", lang, columns=", ".join(f"`{c}`" for c in absent)))
    return [_h(tr("h.stability", lang)), Block("ul", items=items)]


def _memory(analysis: Analysis, lang: str) -> list[Block]:
    t = analysis.training
    items = []
    if t.peak_mem_mb is None:
        items.append(tr("mem.missing", lang))
    elif t.peak_mem_share is not None:
        items.append(tr("mem.peak", lang, peak=t.peak_mem_mb / 1024,
                        device=t.device_mem_mb / 1024, name=t.device or "—",
                        share=t.peak_mem_share))
    else:
        items.append(tr("mem.peak_only", lang, peak=t.peak_mem_mb / 1024))
    items.append(tr("mem.precision", lang, value=t.precision))
    return [_h(tr("h.memory", lang)), Block("ul", items=items)]


def _codes(findings: list[Finding]) -> str:
    return ", ".join(f"`{f.code}`" for f in findings) or "—"


def _diagnosis(analysis: Analysis, lang: str) -> list[Block]:
    t, ev = analysis.training, analysis.evaluation
    blocks = [_h(tr("h.diagnosis", lang))]
    data = [f for f in analysis.findings if f.rule.about_data]
    problems = [f for f in analysis.findings if f.severity != "info"]
    if data:
        scored = next((f for f in data if f.code in ("eval_noisy_sisnr_abnormal",
                                                      "noisy_baseline_abnormal")), None)
        if scored is None:  # only the start-up data check says so
            blocks.append(_p(tr("diag.data_check_failed", lang, **data[0].evidence)))
        else:
            noisy = (scored.evidence.get("noisy_sisnr_mean")
                     if scored.code == "eval_noisy_sisnr_abnormal"
                     else scored.evidence.get("valid_noisy_sisnr"))
            blocks.append(_p(tr("diag.data_broken", lang, noisy=noisy,
                                low=THRESHOLDS.noisy_sisnr_low_db,
                                high=THRESHOLDS.noisy_sisnr_high_db)))
        rest = [f for f in problems if not f.rule.about_data]
        if rest:
            blocks.append(_p(tr("diag.consequences", lang, codes=_codes(rest))))
    elif analysis.verdict == "broken":
        blocks.append(_p(tr("diag.not_learning", lang, codes=_codes(problems))))
    elif analysis.verdict == "inconclusive":
        blocks.append(_p(tr("diag.inconclusive", lang, **analysis.finding(
            "too_short_to_judge").evidence)))
    elif analysis.verdict == "suspicious":
        blocks.append(_p(tr("diag.suspicious", lang, codes=_codes(problems))))
    else:
        blocks.append(_p(tr("diag.healthy", lang)))
    if t.best_epoch is not None:
        blocks.append(_p(tr("diag.best", lang, valid=t.valid.best, epoch=t.best_epoch)))
    if ev is not None and ev.improvement_mean is not None:
        blocks.append(_p(tr("diag.eval", lang, imp=ev.improvement_mean, n=ev.n)))
    if ev is None and t.valid_noisy_mean is None:
        blocks.append(_p(tr("diag.no_identity", lang)))
    return blocks


def recommendations(analysis: Analysis, lang: str) -> list[str]:
    """One recommendation per finding, data fixes first; nothing fired -> keep the best epoch."""
    data_broken = any(f.rule.about_data for f in analysis.findings)
    out: list[str] = []
    seen: set[str] = set()
    for finding in analysis.findings:
        if finding.code in seen:
            continue
        seen.add(finding.code)
        key = f"rec.{finding.message_key}"  # a variant's own advice, else the rule's
        text = tr(key if key in catalog(lang).messages else f"rec.{finding.code}", lang,
                  **finding.evidence)
        if data_broken and not finding.rule.about_data and finding.severity != "info":
            text = tr("rec.after_data", lang, text=text)
        out.append(f"`{finding.code}` — {text}")
    if not any(f.severity != "info" for f in analysis.findings):
        out.insert(0, tr("rec.none", lang, epoch=analysis.training.best_epoch))
    return out


def _plots(analysis: Analysis, lang: str, plots: dict[str, Path]) -> list[Block]:
    blocks = [_h(tr("h.plots", lang))]
    plots = {name: path for name, path in plots.items() if name != HEADLINE_PLOT}  # shown above
    if not plots:
        return blocks + [_p(tr("plots.none", lang))]
    for name, path in plots.items():
        blocks.append(Block("img", text=tr(f"plot.{name}", lang), path=path))
    return blocks


def build_blocks(analysis: Analysis, lang: str, plots: dict[str, Path]) -> list[Block]:
    """The whole report, verdict first, as language-resolved blocks."""
    run = RunDir(analysis.run_dir)
    files = ", ".join(path.name for path in (run.metrics, run.environment, run.config)
                      if path.is_file())
    run_name = analysis.run_dir.resolve().name
    config_name = analysis.config.get("name") if isinstance(analysis.config, dict) else None
    if isinstance(config_name, str) and config_name and config_name != run_name:
        run_name = f"{config_name} ({run_name})"
    blocks = [_h(tr("title", lang, run=run_name), 1)]
    blocks += _verdict(analysis, lang)
    blocks += data_check_notice(analysis, lang)
    blocks += finetune_blocks(analysis, lang)  # "fine-tuned from SOURCE: A → B dB", first section
    blocks += headline_blocks(analysis, lang, plots.get(HEADLINE_PLOT))
    blocks.append(_p(tr("generated", lang, files=files)))
    if analysis.eval_dir is not None:
        key = "eval_auto" if analysis.eval_dir_auto else "eval_given"
        blocks.append(_p(tr(key, lang, path=analysis.eval_dir)))
    blocks += _training(analysis, lang)
    blocks += model_blocks(analysis, lang)
    blocks += audio_blocks(analysis, lang)
    blocks += _sisnr(analysis, lang)
    if analysis.training.phases:
        blocks += _phases(analysis, lang)
    blocks += _findings(analysis, lang)
    blocks += _top_epochs(analysis, lang)
    blocks += _lr(analysis, lang)
    blocks += _stability(analysis, lang)
    blocks += _memory(analysis, lang)
    blocks += evaluation_blocks(analysis, lang)
    blocks += _diagnosis(analysis, lang)
    blocks += [_h(tr("h.recommendations", lang)),
               Block("ol", items=recommendations(analysis, lang))]
    blocks += files_blocks(analysis, lang)
    blocks += _plots(analysis, lang, plots)
    if analysis.missing:
        blocks += [_h(tr("h.missing", lang)),
                   _p(tr("missing.note", lang, items=", ".join(f"`{m}`"
                                                               for m in analysis.missing)))]
    return blocks
