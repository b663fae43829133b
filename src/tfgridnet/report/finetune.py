"""The report's fine-tuning statements: where the run started and what it gained, in its first
section, and the evaluation's comparison with the model it started from (``evaluate --baseline``).

Every number comes from ``report.finetune_checks`` (the step-0 row, ``init.json``) or from the
evaluation's ``summary.json`` (``baseline_model``); every sentence from the message catalogs.
"""

from __future__ import annotations

from tfgridnet.contracts.metric_registry import METRIC_REGISTRY
from tfgridnet.i18n import fmt, tr
from tfgridnet.report.analysis import Analysis
from tfgridnet.report.blocks import Block
from tfgridnet.report.facts import EvalStats

__all__ = ["baseline_blocks", "finetune_blocks"]


def finetune_blocks(analysis: Analysis, lang: str) -> list[Block]:
    """"Fine-tuned from SOURCE: valid SI-SNR A → B dB", what trained, and the second set."""
    t = analysis.training
    initial = t.initial_valid_sisnr
    if initial is None:
        return []
    source = t.init_source
    items = [tr("ft.from", lang, source=f"`{source}`" if source else tr("ft.unknown", lang),
                initial=initial, best=t.valid.best, gain=(
                    t.valid.best - initial if t.valid.best is not None else None),
                epoch=t.best_epoch, noisy=t.initial_valid_noisy_sisnr)]
    record = t.init_record
    if record is not None:
        key = "ft.params_frozen" if record.n_frozen else "ft.params"
        items.append(tr(key, lang, trainable=record.n_trainable, total=record.n_parameters,
                        frozen=record.n_frozen, patterns=", ".join(f"`{p}`" for p in record.freeze),
                        lr=record.lr_pretrained))
    extra_start = t.initial_valid_extra_sisnr
    if t.valid_extra_last is not None:
        at_best = t.valid_extra_at_best
        items.append(tr("ft.extra", lang, initial=extra_start, at_best=at_best,
                        change=(at_best - extra_start if at_best is not None
                                and extra_start is not None else None),
                        last=t.valid_extra_last))
    return [Block("ul", items=items)]


def baseline_blocks(evaluation: EvalStats | None, lang: str) -> list[Block]:
    """noisy → the --baseline model → this model, per metric, when the evaluation scored one."""
    baseline = evaluation.baseline_model if evaluation is not None else None
    if evaluation is None or baseline is None:
        return []
    rows = []
    for name, stats in baseline.metrics.items():
        own = evaluation.metrics.get(name)
        if own is None or stats.mean is None:
            continue
        metric = METRIC_REGISTRY[name]
        rows.append([metric.label_in(lang) + (f" ({metric.unit})" if metric.unit else ""),
                     fmt(own.noisy_mean), fmt(stats.mean), fmt(own.enhanced_mean),
                     fmt(stats.gain_mean, "+.2f"),
                     "—" if stats.share_better is None else f"{stats.share_better:.0%}"])
    header = [tr(k, lang) for k in ("bl.metric", "bl.noisy", "bl.baseline", "bl.this",
                                    "bl.gain", "bl.share")]
    return [Block("h3", tr("h.baseline", lang)),
            Block("p", tr("bl.note", lang, model=f"`{baseline.model}`", n=baseline.n)),
            Block("table", header=header, rows=rows)]
