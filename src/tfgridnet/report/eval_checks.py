"""The report's evaluation checks (summary.json, evaluation_results.csv), listed in ``RULES``.

A clean-less evaluation (``reference`` false) has no SI-SNR figures, so the SI-SNR checks find
nothing to judge; it is said by ``no_reference`` and judged by its headline MOS instead.
"""

from __future__ import annotations

from tfgridnet.contracts.evaluation import MetricSummary
from tfgridnet.contracts.metric_registry import METRIC_REGISTRY
from tfgridnet.report.facts import EvalStats
from tfgridnet.report.thresholds import Evidence, Facts, Thresholds

__all__ = ["failed_utterances", "high_variance", "judged_spread", "low_improvement",
           "model_worse_than_identity",
           "no_improvement", "no_reference", "noisy_sisnr_abnormal", "output_level_off",
           "snr_sisnr_disagree", "worse_than_input"]


def _metric(ev: EvalStats, name: str) -> MetricSummary | None:
    return ev.metrics.get(name)


def _headline(ev: EvalStats) -> MetricSummary | None:
    return _metric(ev, ev.headline or "")


def noisy_sisnr_abnormal(f: Facts, th: Thresholds) -> Evidence | None:
    ev = f.evaluation
    noisy = ev.noisy_mean if ev is not None else None
    if noisy is None or not th.noisy_outside(noisy):
        return None
    return {"noisy_sisnr_mean": noisy, "low_db": th.noisy_sisnr_low_db,
            "high_db": th.noisy_sisnr_high_db, "n": ev.n}


def _improvement(f: Facts) -> float | None:
    return f.evaluation.improvement_mean if f.evaluation is not None else None


def no_improvement(f: Facts, th: Thresholds) -> Evidence | None:
    imp = _improvement(f)
    if imp is None or imp >= th.no_improvement_db:
        return None
    return {"sisnr_improvement_mean": imp, "threshold_db": th.no_improvement_db}


def low_improvement(f: Facts, th: Thresholds) -> Evidence | None:
    imp = _improvement(f)
    if imp is None or not th.no_improvement_db <= imp < th.low_improvement_db:
        return None
    return {"sisnr_improvement_mean": imp, "threshold_db": th.low_improvement_db}


def judged_spread(ev: EvalStats, th: Thresholds) -> tuple[float | None, str]:
    """The SI-SNR improvement spread the variance rule judges, and its basis: what is left after
    the recorded conditions (``conditions``) when they were recorded and leave at least
    ``residual_min_dof`` degrees of freedom, else the plain std (``total``)."""
    spread = ev.spread
    if spread is not None and spread.factors and spread.dof >= th.residual_min_dof:
        return spread.std, "conditions"
    return ev.improvement_std, "total"


def high_variance(f: Facts, th: Thresholds) -> Evidence | None:
    ev = f.evaluation
    if ev is None:
        return None
    judged, basis = judged_spread(ev, th)
    if judged is None or judged <= th.high_variance_std_db:
        return None
    spread = ev.spread
    return {"sisnr_improvement_std": ev.improvement_std, "residual_std": judged,
            "basis": basis, "threshold_db": th.high_variance_std_db,
            "conditions": ", ".join(spread.factors) if spread is not None else "—",
            "explained_share": spread.explained_share if basis == "conditions" else None,
            "improvement_min": ev.improvement_min,
            "improvement_max": ev.improvement_max,
            "worst_uttids": ", ".join(w.uttid for w in ev.worst)}


def worse_than_input(f: Facts, th: Thresholds) -> Evidence | None:
    ev = f.evaluation
    share = ev.degraded_share if ev is not None else None
    if share is None or share < th.degraded_share_warning:
        return None
    return {"n_degraded": ev.n_degraded, "n": ev.n, "degraded_share": share,
            "threshold_share": th.degraded_share_warning}


def failed_utterances(f: Facts, th: Thresholds) -> Evidence | None:
    ev = f.evaluation
    if ev is None or not ev.n_failed:
        return None
    return {"n_failed": ev.n_failed, "n": ev.n}


def model_worse_than_identity(f: Facts, th: Thresholds) -> Evidence | None:
    """The evaluation's identity baseline is the stronger evidence (SI-SNR, or the headline MOS
    of a clean-less set); training's stands in."""
    ev = f.evaluation
    if ev is not None and not ev.reference:
        mos = _headline(ev)
        if mos is not None and mos.improvement_mean is not None and mos.improvement_mean < 0:
            return {"source": "mos", "metric": METRIC_REGISTRY[ev.headline].label,
                    "model_score": mos.enhanced_mean, "identity_score": mos.noisy_mean}
    noisy = ev.noisy_mean if ev is not None else None
    enhanced = ev.enhanced_mean if ev is not None else None
    if noisy is not None and enhanced is not None and enhanced < noisy:
        return {"source": "evaluation", "model_sisnr": enhanced, "identity_sisnr": noisy}
    best, baseline = f.training.valid.best, f.training.valid_noisy_median
    if best is not None and baseline is not None and best < baseline:
        return {"source": "training", "model_sisnr": best, "identity_sisnr": baseline}
    return None


def output_level_off(f: Facts, th: Thresholds) -> Evidence | None:
    """The enhanced speech's RMS level against the clean speech's: a −SI-SNR model leaves its
    output gain free."""
    level = _metric(f.evaluation, "level_error_db") if f.evaluation is not None else None
    if level is None or level.enhanced_mean is None or abs(level.enhanced_mean) <= th.output_level_off_db:
        return None
    return {"level_error_db": level.enhanced_mean, "noisy_level_error_db": level.noisy_mean,
            "threshold_db": th.output_level_off_db, "n": level.n}


def snr_sisnr_disagree(f: Facts, th: Thresholds) -> Evidence | None:
    """SNR counts a wrong output gain as error, SI-SNR ignores it: SNR falling while SI-SNR rises
    points at the level, not at worse speech."""
    ev = f.evaluation
    if ev is None:
        return None
    snr, sisnr, level = _metric(ev, "snr"), _metric(ev, "sisnr"), _metric(ev, "level_error_db")
    if (snr is None or sisnr is None or snr.improvement_mean is None
            or sisnr.improvement_mean is None
            or not snr.improvement_mean < 0.0 < sisnr.improvement_mean):
        return None
    return {"noisy_snr": snr.noisy_mean, "enhanced_snr": snr.enhanced_mean,
            "snr_improvement": snr.improvement_mean, "sisnr_improvement": sisnr.improvement_mean,
            "level_error_db": level.enhanced_mean if level is not None else None}


def no_reference(f: Facts, th: Thresholds) -> Evidence | None:
    """A clean-less evaluation: what was scored, and what was not measured."""
    ev = f.evaluation
    if ev is None or ev.reference:
        return None
    mos = _headline(ev)
    return {"skipped": ev.skipped,
            "metric": METRIC_REGISTRY[ev.headline].label if mos is not None else None,
            "noisy_mean": mos.noisy_mean if mos is not None else None,
            "enhanced_mean": mos.enhanced_mean if mos is not None else None}
