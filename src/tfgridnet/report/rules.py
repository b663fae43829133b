"""The report's rules: one registry of ``Rule(code, severity, check)`` and the thresholds they use.

Everything that names a finding iterates ``RULES``: ``analyse`` applies them, the renderer asks a
rule whether it is about the data, the message catalogs hold ``finding.<code>`` and
``rec.<code>`` for each, ``findings.json`` accepts only their codes and severities, and the tests
check docs/report-rules.md against this table. Every number a rule compares against is a field of
``Thresholds`` (report/thresholds.py); the evaluation checks live in report/eval_checks.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from tfgridnet.contracts.names import METRICS_FILE
from tfgridnet.contracts.train_summary import STOP_NONFINITE
from tfgridnet.report import eval_checks as ev
from tfgridnet.report import run_checks as run
from tfgridnet.report.facts import FROM_LOSS, TrainingStats, missing_item
from tfgridnet.report.finetune_checks import finetune_harmed
from tfgridnet.report.thresholds import THRESHOLDS, Evidence, Facts, Thresholds

__all__ = ["RULES", "RULES_BY_CODE", "SEVERITIES", "THRESHOLDS", "VERDICTS", "Facts", "Finding",
           "Rule", "Severity", "Thresholds", "apply_rules", "verdict"]

Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")  # most severe first
Check = Callable[[Facts, Thresholds], Evidence | None]


@dataclass(frozen=True)
class Rule:
    """One diagnosis: ``check`` returns the evidence when the rule fires, else None.

    ``escalate`` (optional) turns a firing into ``escalated_severity`` when the evidence is
    worse; ``variant_key`` names the evidence entry that selects the message variant (some rules
    fire for different reasons); ``about_data`` rules explain the others and are listed first;
    ``judges_learning`` rules judge what the model learned, which a run too short to judge
    (``too_short_to_judge``) cannot show: there they are withheld, not reported.
    """

    code: str
    severity: Severity
    check: Check
    escalated_severity: Severity | None = None
    escalate: Callable[[Evidence, Thresholds], bool] | None = None
    variant_key: str | None = None
    variants: tuple[str, ...] = ()
    about_data: bool = False
    judges_learning: bool = False

    @property
    def severities(self) -> tuple[Severity, ...]:
        """Every severity a finding of this rule can have."""
        return (self.severity,) + ((self.escalated_severity,) if self.escalated_severity else ())

    @property
    def message_keys(self) -> tuple[str, ...]:
        """The catalog keys of its finding messages (one per variant)."""
        if self.variants:
            return tuple(f"{self.code}.{v}" for v in self.variants)
        return (self.code,)

    def apply(self, facts: Facts, th: Thresholds = THRESHOLDS) -> Finding | None:
        evidence = self.check(facts, th)
        if evidence is None:
            return None
        severity = self.severity
        if self.escalate is not None and self.escalate(evidence, th):
            severity = self.escalated_severity or severity
        return Finding(self.code, severity, evidence)


@dataclass
class Finding:
    """One rule that fired: ``evidence`` holds the numbers its message is built from."""

    code: str
    severity: Severity
    evidence: Evidence

    @property
    def rule(self) -> Rule:
        return RULES_BY_CODE[self.code]

    @property
    def message_key(self) -> str:
        key = self.rule.variant_key
        return f"{self.code}.{self.evidence[key]}" if key else self.code

    def message(self, lang: str = "en") -> str:
        from tfgridnet.i18n import tr

        return tr(f"finding.{self.message_key}", lang, **self.evidence)


# ----------------------------------------------------------------------------------------------
# Training checks (statistics of metrics.csv)


def _noisy_baseline_abnormal(f: Facts, th: Thresholds) -> Evidence | None:
    baseline = f.training.valid_noisy_median
    if baseline is None or not th.noisy_outside(baseline):
        return None
    return {"valid_noisy_sisnr": baseline, "low_db": th.noisy_sisnr_low_db,
            "high_db": th.noisy_sisnr_high_db}


def _train_not_learning(f: Facts, th: Thresholds) -> Evidence | None:
    t = f.training
    if t.valid.best is None:
        return None
    best, first, baseline = t.valid.best, t.valid.first, t.valid_noisy_median
    if baseline is not None and best - baseline < th.not_learning_gain_db:
        reason = "identity"
    elif baseline is None and best < 0.0:
        reason = "negative"
    elif t.n_epochs >= th.not_learning_min_epochs and best - first < th.not_learning_gain_db:
        reason = "flat"
    else:
        return None
    return {"reason": reason, "valid_best": best, "valid_first": first,
            "valid_mean": t.valid.mean, "best_epoch": t.best_epoch,
            "gain_db": best - (baseline if reason == "identity" else first),
            "threshold_db": th.not_learning_gain_db, "n_epochs": t.n_epochs}


def _train_loss_positive(f: Facts, th: Thresholds) -> Evidence | None:
    t = f.training
    if t.train.best is None or t.train.best >= 0.0:
        return None
    return {"train_best": t.train.best, "train_mean": t.train.mean, "n_epochs": t.n_epochs}


def _lr_decay_too_fast(f: Facts, th: Thresholds) -> Evidence | None:
    t = f.training
    below = t.lr_below_index
    if below is None:
        return None
    n_epochs = t.n_epochs
    left = n_epochs - 1 - below
    if left <= 0 or left < th.lr_decay_min_epochs_left_share * n_epochs:
        return None
    return {"lr_initial": t.lr_initial, "lr_final": t.lr_final, "lr_ratio": t.lr_ratio,
            "ratio_threshold": th.lr_decay_ratio, "epoch": t.lr_below_epoch,
            "epochs_left": left, "share_left": left / n_epochs}


def _stale_best_epoch(f: Facts, th: Thresholds) -> Evidence | None:
    t = f.training
    if t.best_index is None:
        return None
    n_epochs, patience = t.n_epochs, t.patience or th.stale_default_patience
    after_best = n_epochs - 1 - t.best_index
    if after_best <= patience or after_best < th.stale_min_share_after_best * n_epochs:
        return None
    durations = t.durations
    stop_index = t.best_index + patience
    saved = float(durations[stop_index + 1:].sum() / 3600.0) if durations is not None else None
    return {"best_epoch": t.best_epoch, "valid_best": t.valid.best,
            "epochs_after_best": after_best, "patience": patience, "saved_hours": saved,
            "total_hours": t.total_time_h}


def _overfitting(f: Facts, th: Thresholds) -> Evidence | None:
    t = f.training
    if t.train_sisnr is None or t.valid_sisnr is None:
        return None
    window = max(1, int(round(th.overfit_window_share * t.n_epochs)))
    train_end = float(np.nanmean(t.train_sisnr[-window:]))
    valid_end = float(np.nanmean(t.valid_sisnr[-window:]))
    gap, drop = train_end - valid_end, t.valid.best - valid_end
    if gap <= th.overfit_gap_db or drop <= th.overfit_valid_drop_db:
        return None
    return {"train_end": train_end, "valid_end": valid_end, "gap_db": gap,
            "valid_best": t.valid.best, "best_epoch": t.best_epoch, "valid_drop_db": drop,
            "gap_threshold_db": th.overfit_gap_db, "window": window}


# Optimisers whose step is the learning rate times a normalised gradient: a clip that fires on
# every step rescales their input, not their step (the demo recipe clips every step on purpose).
ADAPTIVE_OPTIMIZERS = frozenset({"adam", "adamw", "nadam", "radam", "adamax", "adagrad", "adadelta",
                                 "rmsprop", "lamb", "adafactor"})


def _frequent_clipping(f: Facts, th: Thresholds) -> Evidence | None:
    t = f.training
    share = t.clipped_share
    if share is None or share <= th.clipped_share:
        return None
    optimizer = t.optimizer
    return {"clipped_share": share, "clipped_steps": t.clipped_total,
            "total_steps": t.total_steps, "grad_clip": t.grad_clip,
            "grad_mean_median": t.grad_mean_median, "threshold_share": th.clipped_share,
            "optimizer": optimizer or "unknown",
            "optimizer_kind": "adaptive" if optimizer in ADAPTIVE_OPTIMIZERS else "other"}


def _recovered_after(t: TrainingStats, index: int, th: Thresholds) -> tuple[float, float] | None:
    """(best valid SI-SNR before epoch ``index``, best from it on) when validation after that
    epoch's spike (the spike epoch's own validation comes after the spike) came back to its
    earlier best, within epoch-to-epoch noise (``valid_flat_db``); None when it did not or
    cannot be told."""
    valid = t.valid_sisnr
    if valid is None:
        return None
    before, after = valid[:index], valid[index:]
    if index == 0:  # nothing before: the first validation is the reference
        before, after = valid[:1], valid[1:]
    before, after = before[np.isfinite(before)], after[np.isfinite(after)]
    if not len(before) or not len(after) or after.max() < before.max() - th.valid_flat_db:
        return None
    return float(before.max()), float(after.max())


def _gradient_spikes(f: Facts, th: Thresholds) -> Evidence | None:
    t = f.training
    if t.grad_max is None or not t.grad_mean_median:
        return None
    if t.grad_max <= th.spike_factor * t.grad_mean_median:
        return None
    clip = t.grad_clip
    recovered = _recovered_after(t, t.grad_max_index, th)
    absorbed = clip is not None and clip < t.grad_max and recovered is not None
    return {"grad_max": t.grad_max, "epoch": t.grad_max_epoch,
            "grad_mean_median": t.grad_mean_median,
            "factor": t.grad_max / t.grad_mean_median, "factor_threshold": th.spike_factor,
            "grad_max_last": t.grad_max_last, "grad_clip": clip,
            "outcome": "absorbed" if absorbed else "unabsorbed",
            "valid_before": recovered[0] if recovered else None,
            "valid_after": recovered[1] if recovered else None}


def _nonfinite_steps(f: Facts, th: Thresholds) -> Evidence | None:
    t = f.training
    diverged = t.stop_reason == STOP_NONFINITE  # the guard stopped the run
    if not t.nonfinite_total and not diverged:
        return None
    return {"nonfinite_steps": t.nonfinite_total, "epochs": t.nonfinite_epochs,
            "share": t.nonfinite_share, "error_share": th.nonfinite_error_share,
            "diverged": diverged}


def _memory(f: Facts) -> Evidence | None:
    t = f.training
    if t.peak_mem_share is None:
        return None
    return {"peak_mem_gb": t.peak_mem_mb / 1024, "device_mem_gb": t.device_mem_mb / 1024,
            "share": t.peak_mem_share}


def _memory_headroom(f: Facts, th: Thresholds) -> Evidence | None:
    evidence = _memory(f)
    if evidence is None or evidence["share"] >= th.memory_headroom_share:
        return None
    return {**evidence, "threshold_share": th.memory_headroom_share}


def _memory_near_limit(f: Facts, th: Thresholds) -> Evidence | None:
    evidence = _memory(f)
    if evidence is None or evidence["share"] <= th.memory_near_limit_share:
        return None
    return {**evidence, "threshold_share": th.memory_near_limit_share}


# ----------------------------------------------------------------------------------------------
# Whole-run checks


def _insufficient_evidence(f: Facts, th: Thresholds) -> Evidence | None:
    if f.evaluation is not None or f.training.valid.best is not None:
        return None
    return {"n_epochs": f.training.n_epochs}


def _missing_data(f: Facts, th: Thresholds) -> Evidence | None:
    # A column derived from its loss twin (said in the notes) is not missing information.
    derived = {missing_item(METRICS_FILE, n.removesuffix(FROM_LOSS)) for n in f.notes
               if n.endswith(FROM_LOSS)}
    informative = [m for m in f.missing if m not in derived]
    if not informative:
        return None
    return {"missing": ", ".join(informative), "n_missing": len(informative)}


RULES: tuple[Rule, ...] = (
    Rule("noisy_baseline_abnormal", "error", _noisy_baseline_abnormal, about_data=True),
    Rule("data_check_failed", "error", run.data_check_failed, about_data=True),
    Rule("too_short_to_judge", "warning", run.too_short_to_judge),
    Rule("train_not_learning", "error", _train_not_learning, variant_key="reason",
         variants=("identity", "negative", "flat"), judges_learning=True),
    Rule("train_loss_positive", "warning", _train_loss_positive, judges_learning=True),
    Rule("lr_decay_too_fast", "warning", _lr_decay_too_fast),
    Rule("stale_best_epoch", "warning", _stale_best_epoch, judges_learning=True),
    Rule("overfitting", "warning", _overfitting, judges_learning=True),
    Rule("stopped_while_improving", "info", run.stopped_while_improving, judges_learning=True),
    Rule("frequent_clipping", "info", _frequent_clipping, escalated_severity="warning",
         escalate=lambda e, th: e["optimizer_kind"] != "adaptive", variant_key="optimizer_kind",
         variants=("adaptive", "other")),
    Rule("gradient_spikes", "info", _gradient_spikes, escalated_severity="warning",
         escalate=lambda e, th: e["outcome"] != "absorbed", variant_key="outcome",
         variants=("absorbed", "unabsorbed")),
    Rule("nonfinite_steps", "warning", _nonfinite_steps, escalated_severity="error",
         escalate=lambda e, th: e["diverged"] or (
             e["share"] is not None and e["share"] >= th.nonfinite_error_share)),
    Rule("memory_headroom", "info", _memory_headroom),
    Rule("memory_near_limit", "warning", _memory_near_limit),
    Rule("finetune_harmed", "warning", finetune_harmed),
    Rule("eval_noisy_sisnr_abnormal", "error", ev.noisy_sisnr_abnormal, about_data=True),
    Rule("eval_no_improvement", "error", ev.no_improvement, judges_learning=True),
    Rule("eval_low_improvement", "warning", ev.low_improvement, judges_learning=True),
    Rule("model_worse_than_identity", "error", ev.model_worse_than_identity, variant_key="source",
         variants=("evaluation", "mos", "training"), judges_learning=True),
    Rule("eval_high_variance", "warning", ev.high_variance, variant_key="basis",
         variants=("conditions", "total"), judges_learning=True),
    Rule("eval_worse_than_input", "warning", ev.worse_than_input, escalated_severity="error",
         escalate=lambda e, th: e["degraded_share"] >= th.degraded_share_error,
         judges_learning=True),
    Rule("eval_failed_utterances", "warning", ev.failed_utterances),
    Rule("eval_output_level_off", "warning", ev.output_level_off),
    Rule("eval_snr_sisnr_disagree", "info", ev.snr_sisnr_disagree),
    Rule("eval_no_reference", "info", ev.no_reference),
    Rule("insufficient_evidence", "warning", _insufficient_evidence),
    Rule("missing_data", "info", _missing_data),
)
RULES_BY_CODE: dict[str, Rule] = {rule.code: rule for rule in RULES}


def apply_rules(facts: Facts, th: Thresholds = THRESHOLDS) -> list[Finding]:
    """Every rule that fires, errors first; among equals, data rules first (they explain the rest).

    When ``too_short_to_judge`` fires, the rules that judge learning are withheld: their codes
    (those that would have warned or erred) go into its evidence instead of the findings.
    """
    findings = [f for f in (rule.apply(facts, th) for rule in RULES) if f is not None]
    short = next((f for f in findings if f.code == "too_short_to_judge"), None)
    if short is not None:
        withheld = [f for f in findings if f.rule.judges_learning]
        short.evidence["withheld"] = ", ".join(
            f"`{f.code}`" for f in withheld if f.severity != "info") or "—"
        findings = [f for f in findings if not f.rule.judges_learning]
    return sorted(findings, key=lambda f: (SEVERITIES.index(f.severity), not f.rule.about_data))


def verdict(findings: list[Finding]) -> str:
    """``broken`` for any error (a run too short to judge learning is still broken when its data
    or its arithmetic is), ``inconclusive`` when too short to judge, ``suspicious`` for any
    warning, else ``healthy``."""
    severities = {f.severity for f in findings}
    if "error" in severities:
        return "broken"
    if any(f.code == "too_short_to_judge" for f in findings):
        return "inconclusive"
    return "suspicious" if "warning" in severities else "healthy"


VERDICTS = ("broken", "inconclusive", "suspicious", "healthy")
