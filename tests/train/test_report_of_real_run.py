"""The report states every metric the real evaluation computed, read from the real producers.

A tiny real training run writes metrics.csv and the exported model; the real `evaluate` scores it
and the real `report` reads both. No stage's output is hand-made here.
"""

from __future__ import annotations

import json
from pathlib import Path

from tfgridnet.evaluation.evaluate import evaluate
from tfgridnet.evaluation.scoring import METRIC_REGISTRY
from tfgridnet.report.analysis import analyse
from tfgridnet.report.render import write_report
from tfgridnet.train.config import config_from_dict
from tfgridnet.train.run import train


def test_report_states_each_evaluated_metric_noisy_enhanced_and_change(
        make_config, corpus: dict[str, Path], tmp_path: Path) -> None:
    run = train(config_from_dict(make_config(trainer={"max_epochs": 1})), tmp_path / "run")
    evaluate(run, corpus["valid"], run / "eval", n_plots=1, progress=False, save_audio=False)
    summary = json.loads((run / "eval" / "summary.json").read_text(encoding="utf-8"))
    computed = {name: stats for name, stats in summary["metrics"].items() if stats["n"]}
    # PESQ-WB and STOI are the metrics the report used to drop: they must be among those scored.
    assert {"sisnr", "sisdr", "snr", "pesq_wb", "stoi", "estoi"} <= set(computed)
    # The report takes the evaluator's figures as written, not recomputed from the CSV's 4 decimals.
    evaluation = analyse(run).evaluation
    for ours, theirs in (("improvement_mean", "sisnr_improvement_mean"),
                         ("improvement_std", "sisnr_improvement_std"),
                         ("noisy_mean", "noisy_sisnr_mean"), ("enhanced_mean", "enhanced_sisnr_mean")):
        assert evaluation[ours] == summary[theirs], ours
    for lang in ("en", "zh-TW"):
        text = write_report(run, lang=lang)["markdown"].read_text(encoding="utf-8")
        for name, stats in computed.items():
            label = METRIC_REGISTRY[name].label
            lines = [line for line in text.splitlines() if label in line]
            assert lines, f"{label} missing from the {lang} report"
            # The change as measured; for the level error (best at 0 dB, its improvement being
            # the distance gained) that is enhanced minus noisy.
            change = (stats["improvement_mean"] if METRIC_REGISTRY[name].target is None
                      else stats["enhanced_mean"] - stats["noisy_mean"])
            expected = (f"{stats['noisy_mean']:.2f}", f"{stats['enhanced_mean']:.2f}",
                        f"{change:+.2f}")
            assert any(all(value in line for value in expected) for line in lines), \
                f"{label}: {expected} not on one line of the {lang} report: {lines}"
