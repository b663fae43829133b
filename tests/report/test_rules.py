"""Each rule: a synthetic run that triggers it, and the healthy run that triggers nothing."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tfgridnet.contracts.metric_registry import METRIC_REGISTRY
from tfgridnet.contracts.utterance import UtteranceRow
from tfgridnet.report.analysis import analyse
from tfgridnet.report.facts import EvalStats, TrainingStats
from tfgridnet.report.loading import read_metrics
from tfgridnet.report.rules import RULES_BY_CODE, THRESHOLDS, Facts
from tfgridnet.report.statistics import epoch_durations

# The finding codes of the file contract (docs/design.md): the registry may add, never drop.
CONTRACT_CODES = (
    "eval_noisy_sisnr_abnormal", "eval_no_improvement", "eval_low_improvement",
    "eval_high_variance", "eval_worse_than_input", "train_not_learning", "lr_decay_too_fast",
    "stale_best_epoch", "overfitting", "frequent_clipping", "gradient_spikes", "nonfinite_steps",
    "memory_headroom",
)


def _eval_with(s, tmp: Path, noisy_mean: float, improvement: np.ndarray) -> Path:
    rng = np.random.default_rng(3)
    noisy = noisy_mean + rng.standard_normal(len(improvement))
    return s.write_eval(tmp / "eval", [f"u{i}" for i in range(len(improvement))], noisy,
                      noisy + improvement)


def _normal(mean: float, std: float, n: int = 60, seed: int = 4) -> np.ndarray:
    values = np.random.default_rng(seed).standard_normal(n)
    return mean + std * (values - values.mean()) / values.std(ddof=1)


def _metrics_case(change: Callable[[dict], None], env: dict | None = None):
    def build(s, tmp: Path) -> tuple[Path, Path | None]:
        metrics = s.healthy_metrics()
        environment = dict(s.HEALTHY_ENV)
        environment.update(env or {})
        change(metrics)
        return s.write_run(tmp / "run", metrics, environment, s.HEALTHY_CONFIG), None
    return build


def _eval_case(noisy_mean: float, improvement: np.ndarray):
    def build(s, tmp: Path) -> tuple[Path, Path | None]:
        run = s.write_run(tmp / "run", s.healthy_metrics(), s.HEALTHY_ENV, s.HEALTHY_CONFIG)
        return run, _eval_with(s, tmp, noisy_mean, improvement)
    return build


def _set(name: str, values) -> Callable[[dict], None]:
    def change(metrics: dict) -> None:
        metrics[name] = np.broadcast_to(np.asarray(values, dtype=float),
                                        metrics["epoch"].shape).copy()
    return change


def _flat_valid(metrics: dict) -> None:
    metrics["valid_sisnr"] = 5.2 + 0.05 * np.sin(metrics["epoch"])
    metrics["train_sisnr"] = metrics["valid_sisnr"] + 0.5


def _negative(metrics: dict) -> None:
    metrics["train_sisnr"] = metrics["train_sisnr"] - 30.0
    metrics["valid_sisnr"] = metrics["valid_sisnr"] - 30.0
    metrics["train_loss"] = -metrics["train_sisnr"]


def _fast_lr(metrics: dict) -> None:
    metrics["lr"] = 1e-3 * (1e-8 / 1e-3) ** (metrics["epoch"] / metrics["epoch"][-1])


def _stale(metrics: dict) -> None:
    epoch = metrics["epoch"]
    metrics["valid_sisnr"] = np.where(epoch <= 10, 3.0 + epoch, 13.0 - 0.01 * (epoch - 10))
    metrics["train_sisnr"] = metrics["valid_sisnr"] + 1.0


def _overfit(metrics: dict) -> None:
    epoch = metrics["epoch"]
    metrics["train_sisnr"] = 3.0 + 0.4 * epoch
    metrics["valid_sisnr"] = np.where(epoch <= 40, 3.0 + 0.25 * epoch, 13.0 - 0.15 * (epoch - 40))


def _spike(metrics: dict) -> None:
    """A spike that no clip bounded (no clip recorded): a warning."""
    metrics["grad_norm_max"][30] = 100.0
    del metrics["grad_clip"]


def _short(metrics: dict) -> None:
    """The first 2 epochs of 5 steps each: far fewer than a run needs to be judged."""
    for name in list(metrics):
        metrics[name] = metrics[name][:2].copy()
    metrics["steps"] = np.full(2, 5.0)
    metrics["step"] = np.cumsum(metrics["steps"])
    metrics["valid_sisnr"] = np.array([-20.0, -12.0])  # far below the input: not learning yet


def _nonfinite(metrics: dict) -> None:
    metrics["nonfinite_steps"][5] = 3.0


def _worse_than_identity(metrics: dict) -> None:
    metrics["valid_noisy_sisnr"] = np.full(len(metrics["epoch"]), 20.0)


def _drop(*names: str) -> Callable[[dict], None]:
    def change(metrics: dict) -> None:
        for name in names:
            del metrics[name]
    return change


def _started_above_its_best(metrics: dict) -> None:
    """A fine-tune's step-0 row (epoch -1) that scores above every trained epoch."""
    from tfgridnet.contracts.metrics_csv import INITIAL_EPOCH

    start = {name: np.nan for name in metrics}
    start.update(epoch=INITIAL_EPOCH, step=0.0, valid_sisnr=float(np.max(metrics["valid_sisnr"]))
                 + 0.5, valid_noisy_sisnr=5.0)
    for name in metrics:
        metrics[name] = np.concatenate([[start[name]], metrics[name]])


def _failed_utterance(s, tmp: Path) -> tuple[Path, Path | None]:
    run = s.write_run(tmp / "run", s.healthy_metrics(), s.HEALTHY_ENV, s.HEALTHY_CONFIG)
    noisy = np.full(10, 5.0)
    enhanced = noisy + 10.0 + np.linspace(0.0, 1.0, 10)
    enhanced[3] = np.nan  # this utterance could not be scored
    return run, s.write_eval(tmp / "eval", [f"u{i}" for i in range(10)], noisy, enhanced)


def _eval_extra_case(extra: Callable[[np.ndarray], dict[str, np.ndarray]]):
    """A healthy SI-SNR evaluation with more metric columns (from the noisy SI-SNR values)."""
    def build(s, tmp: Path) -> tuple[Path, Path | None]:
        run = s.write_run(tmp / "run", s.healthy_metrics(), s.HEALTHY_ENV, s.HEALTHY_CONFIG)
        noisy = np.full(20, 5.0)
        enhanced = noisy + _normal(10.0, 1.0, n=20)
        return run, s.write_eval(tmp / "eval", [f"u{i}" for i in range(20)], noisy, enhanced,
                                 extra=extra(noisy))
    return build


def _level_off(noisy: np.ndarray) -> dict[str, np.ndarray]:
    level = METRIC_REGISTRY["level_error_db"]
    return {level.noisy_column: np.full(len(noisy), 0.5),
            level.enhanced_column: np.full(len(noisy), -11.0)}


def _snr_falls(noisy: np.ndarray) -> dict[str, np.ndarray]:
    snr = METRIC_REGISTRY["snr"]
    return {snr.noisy_column: noisy, snr.enhanced_column: noisy - 2.8}


def _cleanless(mos_gain: float):
    """A clean-less evaluation (DNSMOS only) written by the evaluator's own writers."""
    def build(s, tmp: Path) -> tuple[Path, Path | None]:
        from tfgridnet.evaluation.schema import summarize, write_results_csv
        from tfgridnet.evaluation.scoring import MetricSet

        run = s.write_run(tmp / "run", s.healthy_metrics(), s.HEALTHY_ENV, s.HEALTHY_CONFIG)
        metrics = MetricSet(reference=False, dnsmos=True)
        rows = []
        for i in range(8):
            row = {"uttid": f"u{i}", "status": "ok", "error": "", "notes": ""}
            for m in metrics.metrics:
                row.update({m.noisy_column: 2.5, m.enhanced_column: 2.5 + mos_gain})
                row[m.delta_column] = m.improvement(2.5, 2.5 + mos_gain)
            rows.append(UtteranceRow.from_columns(row))
        eval_dir = tmp / "eval"
        eval_dir.mkdir()
        write_results_csv(eval_dir / "evaluation_results.csv", rows, metrics)
        (eval_dir / "summary.json").write_text(json.dumps(summarize(rows, metrics).to_json()))
        return run, eval_dir
    return build


def _cut_while_improving(s, tmp: Path) -> tuple[Path, Path | None]:
    """The healthy run's first 20 of 20 planned epochs: valid still rises ~0.2 dB an epoch."""
    metrics = {name: values[:20].copy() for name, values in s.healthy_metrics().items()}
    config = {**s.HEALTHY_CONFIG, "trainer": {"max_epochs": 20}}
    return s.write_run(tmp / "run", metrics, s.HEALTHY_ENV, config), None


def _ignored_data_errors(s, tmp: Path) -> tuple[Path, Path | None]:
    """A run whose start-up data check found swapped pairs, trained with --ignore-data-errors."""
    from tfgridnet.contracts.data_check import AudioPipeline, DataCheckFile, ManifestCheck

    run = s.write_run(tmp / "run", s.healthy_metrics(), s.HEALTHY_ENV, s.HEALTHY_CONFIG)
    check = ManifestCheck(key="data.valid_manifest", manifest="valid.csv", ok=False, n_pairs=4,
                          n_checked=4, n_errors=4, n_warnings=0,
                          problems_by_kind={"not_a_pair": 4})
    DataCheckFile(pipeline=AudioPipeline.of(8000, True, None), check_pairs=4, checks=[check],
                  errors_ignored=True).write(run)
    return run, None


degraded = np.concatenate([np.full(48, 10.0), np.full(12, -3.0)])
CASES: dict[str, tuple[Callable, str]] = {
    "eval_noisy_sisnr_abnormal": (_eval_case(-36.0, _normal(10.0, 1.0)), "error"),
    "eval_no_improvement": (_eval_case(5.0, _normal(0.3, 0.2)), "error"),
    "eval_low_improvement": (_eval_case(5.0, _normal(3.0, 0.5)), "warning"),
    "eval_high_variance": (_eval_case(5.0, _normal(12.0, 6.0)), "warning"),
    "eval_worse_than_input": (_eval_case(5.0, degraded), "warning"),
    "eval_failed_utterances": (_failed_utterance, "warning"),
    "eval_output_level_off": (_eval_extra_case(_level_off), "warning"),
    "eval_snr_sisnr_disagree": (_eval_extra_case(_snr_falls), "info"),
    "eval_no_reference": (_cleanless(0.6), "info"),
    "model_worse_than_identity": (_eval_case(5.0, _normal(-2.0, 0.5)), "error"),
    "train_not_learning": (_metrics_case(_flat_valid), "error"),
    "train_loss_positive": (_metrics_case(_negative), "warning"),
    "noisy_baseline_abnormal": (_metrics_case(_set("valid_noisy_sisnr", -35.0)), "error"),
    "lr_decay_too_fast": (_metrics_case(_fast_lr), "warning"),
    "stale_best_epoch": (_metrics_case(_stale), "warning"),
    "overfitting": (_metrics_case(_overfit), "warning"),
    "frequent_clipping": (_metrics_case(_set("clipped_steps", 80.0)), "warning"),
    "gradient_spikes": (_metrics_case(_spike), "warning"),
    "nonfinite_steps": (_metrics_case(_nonfinite), "warning"),
    "memory_headroom": (_metrics_case(_set("peak_mem_mb", 4_000.0)), "info"),
    "memory_near_limit": (_metrics_case(_set("peak_mem_mb", 31_000.0)), "warning"),
    "missing_data": (_metrics_case(_drop("grad_norm_max", "peak_mem_mb")), "info"),
    "insufficient_evidence": (_metrics_case(_drop("valid_sisnr", "valid_noisy_sisnr")), "warning"),
    "finetune_harmed": (_metrics_case(_started_above_its_best), "warning"),
    "too_short_to_judge": (_metrics_case(_short), "warning"),
    "stopped_while_improving": (_cut_while_improving, "info"),
    "data_check_failed": (_ignored_data_errors, "error"),
}


def test_the_registry_keeps_every_contract_code():
    assert set(CONTRACT_CODES) <= set(RULES_BY_CODE)


def test_every_rule_of_the_registry_has_a_triggering_case():
    assert set(CASES) == set(RULES_BY_CODE)


def test_docs_table_lists_every_rule_with_its_severities():
    """docs/report-rules.md describes exactly the registry's rules, with the severities they give."""
    text = (Path(__file__).parents[2] / "docs" / "report-rules.md").read_text(encoding="utf-8")
    documented: dict[str, set[str]] = {}
    for code, severities in re.findall(r"^\| `([a-z_]+)` \| ([a-z /]+) \|", text, re.M):
        documented.setdefault(code, set()).update(s.strip() for s in severities.split("/"))
    assert documented == {code: set(rule.severities) for code, rule in RULES_BY_CODE.items()}


def _fired(codes: tuple[str, ...], evaluation: dict) -> set[str]:
    """Which of ``codes`` fire on an evaluation with these figures (and no training)."""
    stats = EvalStats(dir=Path("eval"), source="summary.json", **evaluation)
    facts = Facts(training=TrainingStats(n_epochs=0, first_epoch=0, last_epoch=0),
                  evaluation=stats)
    return {code for code in codes if RULES_BY_CODE[code].apply(facts) is not None}


def test_healthy_run_triggers_no_rule_and_is_called_healthy(healthy_run):
    analysis = analyse(healthy_run)
    assert analysis.eval_dir_auto and analysis.evaluation is not None
    assert analysis.findings == []
    assert analysis.verdict == "healthy"


@pytest.mark.parametrize("code", sorted(CASES))
def test_rule_fires_on_its_synthetic_run(code, tmp_path, synth):
    build, severity = CASES[code]
    run_dir, eval_dir = build(synth, tmp_path)
    analysis = analyse(run_dir, eval_dir)
    finding = analysis.finding(code)
    assert finding is not None, f"{code} not raised; got {analysis.codes}"
    assert finding.severity == severity and severity in RULES_BY_CODE[code].severities
    assert finding.evidence, "a finding must carry its numbers"
    expected_verdict = {"error": "broken", "warning": "suspicious"}.get(severity)
    if code == "too_short_to_judge":
        assert analysis.verdict == "inconclusive"
    elif expected_verdict:
        assert analysis.verdict in ("broken", expected_verdict)
    else:
        assert analysis.verdict == "healthy"


def test_stale_best_epoch_counts_the_hours_early_stopping_would_save(tmp_path, synth):
    run_dir, _ = CASES["stale_best_epoch"][0](synth, tmp_path)
    evidence = analyse(run_dir).finding("stale_best_epoch").evidence
    patience = THRESHOLDS.stale_default_patience
    assert evidence["best_epoch"] == 10 and evidence["patience"] == patience
    assert evidence["epochs_after_best"] == synth.HEALTHY_EPOCHS - 1 - 10
    # Stopping after epoch 10 + patience skips the remaining epochs of 60 s each.
    expected_hours = (synth.HEALTHY_EPOCHS - (10 + patience + 1)) * 60.0 / 3600.0
    assert evidence["saved_hours"] == pytest.approx(expected_hours)


def test_stale_best_epoch_uses_the_configured_patience(tmp_path, synth):
    metrics = synth.healthy_metrics()
    _stale(metrics)
    config = {**synth.HEALTHY_CONFIG, "trainer": {"max_epochs": 60, "early_stopping_patience": 50}}
    run_dir = synth.write_run(tmp_path / "run", metrics, synth.HEALTHY_ENV, config)
    assert analyse(run_dir).finding("stale_best_epoch") is None  # 49 epochs after best < 50
    config["trainer"]["early_stopping_patience"] = 5
    synth.write_run(run_dir, metrics, synth.HEALTHY_ENV, config)
    assert analyse(run_dir).finding("stale_best_epoch").evidence["patience"] == 5


def test_not_learning_without_identity_baseline_uses_negative_or_flat_valid(tmp_path, synth):
    metrics = synth.healthy_metrics()
    _negative(metrics)
    del metrics["valid_noisy_sisnr"]
    run_dir = synth.write_run(tmp_path / "neg", metrics, synth.HEALTHY_ENV, synth.HEALTHY_CONFIG)
    assert analyse(run_dir).finding("train_not_learning").evidence["reason"] == "negative"

    metrics = synth.healthy_metrics()
    _flat_valid(metrics)
    del metrics["valid_noisy_sisnr"]
    run_dir = synth.write_run(tmp_path / "flat", metrics, synth.HEALTHY_ENV, synth.HEALTHY_CONFIG)
    evidence = analyse(run_dir).finding("train_not_learning").evidence
    assert evidence["reason"] == "flat" and evidence["gain_db"] < 1.0


def test_low_snr_data_with_real_gain_is_not_called_not_learning(tmp_path, synth):
    """Valid below 0 dB is fine when the noisy inputs are lower still (identity baseline known)."""
    metrics = synth.healthy_metrics()
    metrics["valid_sisnr"] = metrics["valid_sisnr"] - 15.0   # -12 .. -1 dB
    metrics["train_sisnr"] = metrics["valid_sisnr"] + 1.0
    metrics["valid_noisy_sisnr"] = np.full(synth.HEALTHY_EPOCHS, -8.0)
    run_dir = synth.write_run(tmp_path / "run", metrics, synth.HEALTHY_ENV, synth.HEALTHY_CONFIG)
    analysis = analyse(run_dir)
    assert analysis.finding("train_not_learning") is None
    assert analysis.finding("train_loss_positive") is not None


def test_training_variant_of_model_worse_than_identity(tmp_path, synth):
    run_dir, _ = _metrics_case(_worse_than_identity)(synth, tmp_path)
    finding = analyse(run_dir).finding("model_worse_than_identity")
    assert finding.evidence["source"] == "training"
    assert finding.evidence["identity_sisnr"] == pytest.approx(20.0)


def test_cleanless_evaluation_applies_no_sisnr_rule_and_judges_by_the_mos(tmp_path, synth):
    analysis = analyse(*_cleanless(-0.4)(synth, tmp_path))
    finding = analysis.finding("model_worse_than_identity")
    assert finding.evidence["source"] == "mos" and finding.evidence["metric"] == "DNSMOS OVRL"
    assert finding.evidence["model_score"] == pytest.approx(2.1)
    assert finding.evidence["identity_score"] == pytest.approx(2.5)
    assert not [c for c in analysis.codes if c.startswith("eval_") and c not in (
        "eval_no_reference",)]
    for lang in ("en", "zh-TW"):
        assert "2.10" in finding.message(lang)


def test_nonfinite_steps_become_an_error_above_the_share(tmp_path, synth):
    run_dir, _ = _metrics_case(_set("nonfinite_steps", 10.0))(synth, tmp_path)  # 10 % of steps
    assert analyse(run_dir).finding("nonfinite_steps").severity == "error"


def test_degraded_share_escalates_to_error(tmp_path, synth):
    run_dir, eval_dir = _eval_case(5.0, np.concatenate([np.full(40, 10.0),
                                                        np.full(20, -3.0)]))(synth, tmp_path)
    assert analyse(run_dir, eval_dir).finding("eval_worse_than_input").severity == "error"


@pytest.mark.parametrize(("noisy", "fires"), [(-11.0, True), (-9.0, False), (29.0, False),
                                              (31.0, True)])
def test_noisy_sisnr_range_boundaries(noisy, fires):
    stats = {"noisy_mean": noisy, "enhanced_mean": noisy + 10, "improvement_mean": 10.0, "n": 5}
    assert bool(_fired(("eval_noisy_sisnr_abnormal",), stats)) is fires


@pytest.mark.parametrize(("improvement", "code"), [(0.9, "eval_no_improvement"),
                                                   (1.1, "eval_low_improvement"),
                                                   (4.9, "eval_low_improvement"), (5.1, None)])
def test_improvement_thresholds(improvement, code):
    fired = _fired(("eval_no_improvement", "eval_low_improvement"), {"improvement_mean": improvement})
    assert fired == ({code} if code else set())


def test_elapsed_and_per_epoch_time_are_both_understood(tmp_path):
    assert epoch_durations({"time_s": np.array([10.0, 25.0, 45.0])}).tolist() == [10, 15, 20]
    assert epoch_durations({"time_s": np.array([10.0, 8.0, 12.0])}).tolist() == [10, 8, 12]
    both = {"time_s": np.array([10.0, 25.0]), "epoch_time_s": np.array([9.0, 9.0])}
    assert epoch_durations(both).tolist() == [9, 9]


def test_resumed_run_keeps_the_last_row_of_a_repeated_epoch(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text("epoch,valid_sisnr\n0,1.0\n1,2.0\n1,3.0\n2,4.0\n")
    metrics = read_metrics(path)
    assert metrics["epoch"].tolist() == [0, 1, 2]
    assert metrics["valid_sisnr"].tolist() == [1.0, 3.0, 4.0]


def test_bad_value_error_names_file_row_and_column(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text("epoch,valid_sisnr\n0,1.0\n1,oops\n")
    with pytest.raises(ValueError, match=r"metrics\.csv: row 3, column 'valid_sisnr'.*'oops'"):
        read_metrics(path)


def test_missing_metrics_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="metrics.csv not found"):
        analyse(tmp_path)


def test_foreign_run_with_only_loss_columns_is_analysed_and_says_what_is_missing(tmp_path):
    (tmp_path / "metrics.csv").write_text(
        "epoch,train_loss,valid_loss\n" + "".join(f"{e},{-2.0 - e},{-1.0 - e}\n" for e in range(8)))
    analysis = analyse(tmp_path)
    assert analysis.training.valid.best == pytest.approx(8.0)
    assert "train_sisnr_from_loss" in analysis.notes and "valid_sisnr_from_loss" in analysis.notes
    missing = analysis.finding("missing_data").evidence["missing"]
    assert "metrics.csv:lr" in missing and "environment.json" in missing
    assert "metrics.csv:valid_sisnr" not in missing  # derived from valid_loss, said in the notes
    assert analysis.verdict == "healthy"


def test_summary_only_evaluation_is_used_and_the_csv_is_reported_missing(tmp_path, synth):
    run = synth.write_run(tmp_path / "run", synth.healthy_metrics(), synth.HEALTHY_ENV,
                          synth.HEALTHY_CONFIG)
    eval_dir = synth.healthy_eval(tmp_path / "ev")
    (eval_dir / "evaluation_results.csv").unlink()
    analysis = analyse(run, eval_dir)
    assert analysis.evaluation.source == "summary.json"
    assert analysis.evaluation.improvement_mean > 5
    assert "evaluation_results.csv" in analysis.missing


def test_summary_lacking_contract_keys_is_read_and_the_report_names_what_is_missing(tmp_path,
                                                                                  synth):
    run = synth.write_run(tmp_path / "run", synth.healthy_metrics(), synth.HEALTHY_ENV,
                          synth.HEALTHY_CONFIG)
    eval_dir = synth.healthy_eval(tmp_path / "ev")
    summary = json.loads((eval_dir / "summary.json").read_text())
    for key in ("sisnr_improvement_std", "metrics"):
        del summary[key]
    (eval_dir / "summary.json").write_text(json.dumps(summary))
    analysis = analyse(run, eval_dir)
    assert {"summary.json:sisnr_improvement_std", "summary.json:metrics"} <= set(analysis.missing)
    assert "summary.json:sisnr_improvement_std" in analysis.finding("missing_data").evidence[
        "missing"]
    # The CSV stands in: the spread and the per-metric means are still reported.
    assert analysis.evaluation.improvement_std > 0
    assert analysis.evaluation.metrics["pesq_wb"].enhanced_mean == pytest.approx(2.6)


def test_a_spike_the_clip_absorbed_before_validation_rose_is_information(tmp_path, synth):
    metrics = synth.healthy_metrics()
    metrics["grad_norm_max"][30] = 2554.0  # the demo's spike, clipped at 5 here
    run = synth.write_run(tmp_path / "run", metrics, synth.HEALTHY_ENV, synth.HEALTHY_CONFIG)
    analysis = analyse(run)
    finding = analysis.finding("gradient_spikes")
    assert (finding.severity, finding.evidence["outcome"]) == ("info", "absorbed")
    # metrics.csv holds 6 significant digits (the trainer's writer)
    assert finding.evidence["valid_before"] == pytest.approx(metrics["valid_sisnr"][:30].max(),
                                                             abs=1e-4)
    assert finding.evidence["valid_after"] == pytest.approx(metrics["valid_sisnr"][30:].max(),
                                                            abs=1e-4)
    assert analysis.verdict == "healthy"
    for lang in ("en", "zh-TW"):
        assert "2,554.0" in finding.message(lang)

    # Back within epoch-to-epoch noise of the earlier best (the plateau): still absorbed.
    best = metrics["valid_sisnr"][:30].max()
    metrics["valid_sisnr"][30:] = best - 0.5 * THRESHOLDS.valid_flat_db
    synth.write_run(run, metrics, synth.HEALTHY_ENV, synth.HEALTHY_CONFIG)
    assert analyse(run).finding("gradient_spikes").severity == "info"

    # Validation never came back to its earlier best after the spike: a warning, clip or not.
    metrics["valid_sisnr"][30:] = best - 1.0
    synth.write_run(run, metrics, synth.HEALTHY_ENV, synth.HEALTHY_CONFIG)
    finding = analyse(run).finding("gradient_spikes")
    assert (finding.severity, finding.evidence["outcome"]) == ("warning", "unabsorbed")


def test_too_short_withholds_the_learning_rules_and_says_what_it_withheld(tmp_path, synth):
    run, _ = CASES["too_short_to_judge"][0](synth, tmp_path)
    analysis = analyse(run)
    short = analysis.finding("too_short_to_judge")
    assert short.evidence["steps"] == 10 and short.evidence["validations"] == 2
    assert "`train_not_learning`" in short.evidence["withheld"]
    assert not [f for f in analysis.findings if f.rule.judges_learning]
    # No train_summary.json: the epoch budget is what can be given more, scaled from 2 epochs of
    # 10 steps to the steps a judgement needs.
    epochs = math.ceil(2 * THRESHOLDS.min_steps_to_judge / 10)
    assert short.evidence["next"].endswith(f"--resume -o trainer.max_epochs={epochs}")

    # The same metrics with enough steps are judged, and not learning is an error again.
    rows = synth.healthy_metrics()
    _short(rows)
    rows["steps"] = np.full(2, 500.0)
    rows["step"] = np.cumsum(rows["steps"])
    synth.write_run(run, rows, synth.HEALTHY_ENV, synth.HEALTHY_CONFIG)
    assert analyse(run).verdict == "broken"


def test_spread_explained_by_the_recorded_conditions_is_not_high_variance(tmp_path, synth):
    """A test set built to span -5..10 dB gains more at low SNR and per noise kind (the demo:
    std 6.0 dB overall); only the spread within conditions counts."""
    from tfgridnet.data.manifest import NOISE_KIND_COLUMN, SNR_COLUMN
    from tfgridnet.evaluation.schema import summarize, write_results_csv
    from tfgridnet.evaluation.scoring import METRIC_REGISTRY

    sisnr = METRIC_REGISTRY["sisnr"]
    rng = np.random.default_rng(5)
    kinds = ["babble", "brown", "hum", "white"]
    offset = {"babble": 0.4, "brown": 16.3, "hum": 14.5, "white": 7.3}

    def evaluation(folder: str, noise_db: float) -> Path:
        rows = []
        for i in range(48):
            kind, snr = kinds[i % 4], -5.0 + 15.0 * (i // 4) / 11
            noisy = snr + rng.normal(0.0, 0.5)
            gain = offset[kind] - 0.3 * snr + rng.normal(0.0, noise_db)
            rows.append(UtteranceRow.from_columns({
                "uttid": f"u{i:02d}", NOISE_KIND_COLUMN: kind, SNR_COLUMN: f"{snr:.1f}",
                "status": "ok", sisnr.noisy_column: noisy, sisnr.enhanced_column: noisy + gain,
                sisnr.delta_column: gain}))
        out = tmp_path / folder
        out.mkdir()
        columns = [NOISE_KIND_COLUMN, SNR_COLUMN]
        write_results_csv(out / "evaluation_results.csv", rows, conditions=columns)
        (out / "summary.json").write_text(json.dumps(summarize(rows, conditions=columns).to_json()))
        return out

    run = synth.write_run(tmp_path / "run", synth.healthy_metrics(), synth.HEALTHY_ENV,
                          synth.HEALTHY_CONFIG)
    analysis = analyse(run, evaluation("explained", 1.0))
    spread = analysis.evaluation.spread
    assert analysis.evaluation.improvement_std > THRESHOLDS.high_variance_std_db
    assert set(spread.factors) == {NOISE_KIND_COLUMN, SNR_COLUMN} and spread.std < 1.5
    assert analysis.finding("eval_high_variance") is None

    finding = analyse(run, evaluation("unexplained", 7.0)).finding("eval_high_variance")
    assert finding.evidence["basis"] == "conditions"
    assert finding.evidence["residual_std"] > THRESHOLDS.high_variance_std_db
    for lang in ("en", "zh-TW"):
        assert f"{finding.evidence['residual_std']:.2f}" in finding.message(lang)


def test_a_run_on_pairs_the_data_check_refused_is_diagnosed_as_the_data(tmp_path, synth):
    from tfgridnet.report.render import write_report

    run, _ = _ignored_data_errors(synth, tmp_path)
    analysis = analyse(run)
    assert analysis.findings[0].code == "data_check_failed" and analysis.verdict == "broken"
    for lang, phrase in (("en", "The data is broken, not the model"), ("zh-TW", "問題在資料")):
        text = write_report(run, lang=lang)["markdown"].read_text(encoding="utf-8")
        diagnosis = next(line for line in text.splitlines() if phrase in line)
        assert "4" in diagnosis and "not_a_pair" in diagnosis and "—" not in diagnosis


def test_a_summary_with_only_the_flat_keys_keeps_every_metric_of_the_csv(tmp_path, synth):
    """A foreign or older summary.json without ``metrics`` (flat SI-SNR keys only): the report's
    per-metric table still has the CSV's other metrics, and SI-SNR's figures come from the file."""
    from tfgridnet.report.statistics import evaluation_stats

    rng = np.random.default_rng(4)
    noisy = rng.normal(5.0, 2.0, 12)
    pesq = {"noisy_pesq_wb": np.full(12, 1.4), "enhanced_pesq_wb": np.full(12, 1.9)}
    eval_dir = synth.write_eval(tmp_path / "eval", [f"u{i}" for i in range(12)], noisy,
                                noisy + 6.0, extra=pesq)
    summary = json.loads((eval_dir / "summary.json").read_text())
    flat = {k: v for k, v in summary.items() if k != "metrics"}
    (eval_dir / "summary.json").write_text(json.dumps(flat))
    stats = evaluation_stats(eval_dir, [])
    assert set(stats.metrics) == {"sisnr", "pesq_wb"}
    assert stats.metrics["pesq_wb"].improvement_mean == pytest.approx(0.5)
    assert stats.metrics["sisnr"].improvement_mean == summary["sisnr_improvement_mean"]


def test_a_foreign_environment_value_of_the_wrong_type_is_missing_not_fatal(tmp_path, synth):
    """environment.json from another trainer (``"device_mem_mb": "32 GB"``): the report goes on,
    says which key it could not read, and keeps the others."""
    run = synth.write_run(tmp_path / "run", synth.healthy_metrics(), synth.HEALTHY_ENV,
                          synth.HEALTHY_CONFIG)
    (run / "environment.json").write_text(json.dumps(
        {**synth.HEALTHY_ENV, "device_mem_mb": "32 GB", "world_size": "two"}))
    analysis = analyse(run)
    missing = analysis.finding("missing_data").evidence["missing"]
    assert "environment.json:device_mem_mb" in missing and "environment.json:world_size" in missing
    assert analysis.training.device == synth.HEALTHY_ENV["device"]
    (run / "environment.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match=r"environment\.json: not a run environment"):
        analyse(run)
