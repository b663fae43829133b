"""The metric registry: each evaluation metric's name, label, direction, scorer and the names of
its columns in ``evaluation_results.csv`` and its entry in ``summary.json``.

Every column name of an evaluation derives from here (docs/design.md, file contract), for the
evaluator that writes them and every reader. The scorers look ``tfgridnet.metrics`` up on call, so
the table imports no torch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from tfgridnet.audio.levels import level_error_db
from tfgridnet.errors import UserInputError
from tfgridnet.i18n import catalog, tr

__all__ = ["Metric", "MetricSet", "METRIC_REGISTRY", "METRICS", "DNSMOS_METRICS", "NO_REFERENCE",
           "DEFAULT_METRICS", "improvement_legend", "Scorer", "COLUMN_ALIASES"]

Scorer = Callable[[np.ndarray, np.ndarray, int], float]  # (estimate, reference, sample_rate)
NO_REFERENCE = "no clean reference in the manifest"  # why an intrusive metric was not scored


def _column(pattern: str, doc: str | None = None) -> property:
    """A column name made of the metric's name by ``pattern`` ("noisy_{}"), as a property."""
    return property(lambda metric: pattern.format(metric.name), doc=doc or pattern)


@dataclass(frozen=True)
class Metric:
    """One evaluation metric: how it is named in files and reports, and how it is computed.

    Each metric gets three CSV columns, ``noisy_<name>``, ``enhanced_<name>`` and
    ``<name>_improvement``, and one entry of ``summary.json``'s ``metrics`` (docs/design.md, file
    contract). Release 0.1.0 named the enhanced column of the perceptual metrics by the bare name
    (``pesq_wb``: ``bare_before``); readers still take that name (``column_aliases``).
    The improvement is positive when the enhanced signal is better: ``enhanced - noisy`` for a
    higher-is-better metric, the reduction of the distance to ``target`` for a metric that is
    best at one value (the level error is best at 0 dB).
    """

    name: str
    label: str
    unit: str
    higher_is_better: bool
    compute: Scorer | None  # None: scored as a group without a reference (``group``)
    bare_before: bool = False  # 0.1.0 wrote the enhanced column as ``<name>``
    target: float | None = None
    group: str | None = None  # non-intrusive scorer that yields several metrics at once

    # The column names, each a pattern of the metric's name (docs/design.md, file contract).
    noisy_column = _column("noisy_{}")
    enhanced_column = _column("enhanced_{}")
    delta_column = _column("{}_improvement")
    baseline_column = _column("baseline_{}", "The score of ``evaluate --baseline``'s model "
                                             "(e.g. the model a fine-tune started from).")
    over_baseline_column = _column("{}_over_baseline", "How much better the evaluated model is "
                                                       "than the baseline model (positive: better).")

    @property
    def release_enhanced_column(self) -> str:
        """The enhanced column's name in release 0.1.0 (the bare name for ``bare_before``)."""
        return self.name if self.bare_before else self.enhanced_column

    @property
    def column_aliases(self) -> dict[str, str]:
        """Old column name -> current name, for readers of files an older release wrote."""
        old = self.release_enhanced_column
        return {old: self.enhanced_column} if old != self.enhanced_column else {}

    @property
    def needs_reference(self) -> bool:
        return self.compute is not None

    def label_in(self, lang: str) -> str:
        """The label for readers of ``lang``: the catalog's ``metric.<name>`` for a label with
        words in it (``label`` is its English text), else ``label`` (an acronym such as SI-SNR)."""
        key = f"metric.{self.name}"
        return tr(key, lang) if key in catalog(lang).messages else self.label

    def improvement(self, noisy: float, enhanced: float) -> float:
        """How much better ``enhanced`` is than ``noisy`` (positive: better)."""
        if self.target is not None:
            return abs(noisy - self.target) - abs(enhanced - self.target)
        return enhanced - noisy if self.higher_is_better else noisy - enhanced

    def improvement_meaning(self, lang: str = "en") -> str:
        """What ``improvement`` measures, in words in ``lang`` (catalog ``imp.*``): every output
        that shows an improvement column (console summary, listening page, report) says it with
        this, so the level error's "how much closer to 0 dB" has one meaning everywhere."""
        if self.target is not None:
            return tr("imp.target", lang, metric=self.label_in(lang), target=self.target,
                      unit=self.unit)
        return tr("imp.higher" if self.higher_is_better else "imp.lower", lang)


def _metric_fn(name: str, as_float64: bool = False) -> Scorer:
    """``tfgridnet.metrics.<name>`` as a ``(estimate, reference, sample_rate)`` scorer, looked up
    on call so the registry stays a plain table of names."""

    def score(est: np.ndarray, ref: np.ndarray, sample_rate: int) -> float:
        from tfgridnet import metrics

        fn = getattr(metrics, name)
        if as_float64:
            return float(fn(est.astype(np.float64), ref.astype(np.float64)))
        if name == "si_snr_numpy":
            return float(fn(est, ref))
        return float(fn(est, ref, sample_rate))

    return score


def _level_error(est: np.ndarray, ref: np.ndarray, sample_rate: int) -> float:
    return level_error_db(est, ref)


_REGISTRY = (
    Metric("sisnr", "SI-SNR", "dB", True, _metric_fn("si_snr_numpy")),
    Metric("sisdr", "SI-SDR", "dB", True, _metric_fn("si_sdr", as_float64=True)),
    Metric("snr", "SNR", "dB", True, _metric_fn("snr", as_float64=True)),
    Metric("pesq_wb", "PESQ-WB", "MOS-LQO", True, _metric_fn("pesq_wb"), bare_before=True),
    Metric("stoi", "STOI", "", True, _metric_fn("stoi"), bare_before=True),
    Metric("estoi", "ESTOI", "", True, _metric_fn("estoi"), bare_before=True),
    Metric("level_error_db", tr("metric.level_error_db"), "dB", False, _level_error, target=0.0,
           bare_before=True),
    Metric("dnsmos_sig", "DNSMOS SIG", "MOS", True, None, group="dnsmos", bare_before=True),
    Metric("dnsmos_bak", "DNSMOS BAK", "MOS", True, None, group="dnsmos", bare_before=True),
    Metric("dnsmos_ovrl", "DNSMOS OVRL", "MOS", True, None, group="dnsmos", bare_before=True),
    Metric("dnsmos_p808", "DNSMOS P.808", "MOS", True, None, group="dnsmos", bare_before=True),
    Metric("distillmos", "Distill-MOS", "MOS", True, None, group="distillmos",
           bare_before=True),
)
METRIC_REGISTRY: dict[str, Metric] = {m.name: m for m in _REGISTRY}
# Every column name an older release wrote and this one writes differently: old -> current.
COLUMN_ALIASES: dict[str, str] = {old: new for m in _REGISTRY
                                  for old, new in m.column_aliases.items()}
METRICS = tuple(m.name for m in _REGISTRY if m.needs_reference)
DNSMOS_METRICS = tuple(m.name for m in _REGISTRY if m.group == "dnsmos")


def improvement_legend(names: Iterable[str], lang: str = "en") -> str:
    """One line saying what the improvement column means for the metrics ``names``: the metric
    registry's own definition (``Metric.improvement_meaning``), so every output says the same."""
    metrics = [METRIC_REGISTRY[n] for n in names if n in METRIC_REGISTRY]
    plain = sorted({m.improvement_meaning(lang) for m in metrics if m.target is None})
    parts = [tr("imp.plain", lang, meanings=tr("imp.or", lang).join(plain))] if plain else []
    parts += [m.improvement_meaning(lang) for m in metrics if m.target is not None]
    return " ".join(parts)


@dataclass(frozen=True)
class MetricSet:
    """Which metrics an evaluation scores: the intrusive ones need clean references; DNSMOS and
    Distill-MOS judge a signal alone (a clean-less manifest gets only these)."""

    reference: bool = True
    dnsmos: bool = False
    distillmos: bool = False

    @property
    def names(self) -> tuple[str, ...]:
        groups = {g for g, on in (("dnsmos", self.dnsmos), ("distillmos", self.distillmos)) if on}
        return tuple(m.name for m in _REGISTRY
                     if (m.needs_reference and self.reference) or m.group in groups)

    @property
    def metrics(self) -> tuple[Metric, ...]:
        """The selected metrics themselves, in registry order."""
        return tuple(METRIC_REGISTRY[n] for n in self.names)

    @property
    def groups(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(METRIC_REGISTRY[n].group for n in self.names
                                   if METRIC_REGISTRY[n].group))

    @property
    def skipped(self) -> dict[str, str]:
        """Intrusive metrics left out, with the reason (empty when references exist)."""
        return {} if self.reference else dict.fromkeys(METRICS, NO_REFERENCE)

    @property
    def headline(self) -> str:
        """The metric the verdict, highlights and ranking use: SI-SNR, else a MOS."""
        for name in ("sisnr", "dnsmos_ovrl", "distillmos"):
            if name in self.names:
                return name
        raise UserInputError("MetricSet: no metric selected; a clean-less manifest needs DNSMOS or "
                         "Distill-MOS")


DEFAULT_METRICS = MetricSet()  # a paired manifest without the optional MOS predictors
