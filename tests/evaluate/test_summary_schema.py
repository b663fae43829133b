"""summary.json is one schema (EvaluationSummary): the evaluator writes it, readers read it back."""

from __future__ import annotations

import json

import pytest
import torch

from tfgridnet.evaluation.evaluate import evaluate
from tfgridnet.evaluation.schema import EvaluationSummary
from tfgridnet.evaluation.scoring import METRIC_REGISTRY
from tfgridnet.inference.enhancer import Enhancer


class Halve(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * x


def test_the_evaluators_summary_reads_back_complete_with_the_flat_metric_aliases(
        pairs_manifest, tmp_path, sr):
    out = tmp_path / "eval"
    returned = evaluate(Enhancer(Halve(), sr), pairs_manifest, out, n_plots=0, progress=False,
                        save_audio=False)
    summary, missing = EvaluationSummary.read(out / "summary.json")
    assert missing == []
    assert summary.to_json() == returned.summary == json.loads((out / "summary.json").read_text())
    assert summary.n == 4 and summary.model == "Halve" and summary.sample_rate == sr
    on_disk = json.loads((out / "summary.json").read_text())
    for name, stats in summary.metrics.items():
        metric = METRIC_REGISTRY[name]
        assert on_disk[f"{metric.noisy_column}_mean"] == stats.noisy_mean
        assert on_disk[f"{metric.release_enhanced_column}_mean"] == stats.enhanced_mean
    assert on_disk["enhanced_sisnr_mean"] == summary.metrics["sisnr"].enhanced_mean


def test_summary_says_each_number_once_and_generates_the_flat_keys_from_it():
    """summary.json's figures live in ``metrics``; every flat key (``noisy_sisnr_mean``,
    ``sisnr_improvement_max``, ``pesq_wb_mean``, the identity baseline's means) is generated from
    them, so the two can never disagree."""
    from tfgridnet.contracts.evaluation import MetricSummary, aliases

    fields = {"sisnr": MetricSummary(noisy_mean=1.0, enhanced_mean=5.0, improvement_mean=4.0,
                                     improvement_std=0.5, improvement_min=3.0,
                                     improvement_max=5.5, improvement_median=4.1,
                                     share_improved=1.0),
              "pesq_wb": MetricSummary(noisy_mean=1.5, enhanced_mean=2.5)}
    summary = EvaluationSummary(n=2, n_failed=0, metrics=fields)
    assert set(EvaluationSummary.model_fields).isdisjoint(aliases(fields))
    on_disk = summary.to_json()
    assert on_disk["noisy_sisnr_mean"] == 1.0 and on_disk["enhanced_sisnr_mean"] == 5.0
    assert on_disk["sisnr_improvement_max"] == 5.5 and on_disk["share_improved"] == 1.0
    assert on_disk["pesq_wb_mean"] == 2.5 and on_disk["noisy_pesq_wb_mean"] == 1.5
    assert on_disk["baseline"]["pesq_wb_mean"] == 1.5
    assert "enhanced_pesq_wb_mean" not in on_disk  # the 0.1.0 names, not new ones


def test_an_older_summary_loads_and_names_the_contract_keys_it_lacks(tmp_path):
    path = tmp_path / "summary.json"
    path.write_text(json.dumps({"n": 3, "noisy_sisnr_mean": 4.0, "sisnr_improvement_mean": 9.0,
                                "metrics": {"stoi": {"n": 3, "noisy_mean": 0.7},
                                            "from_the_future": {"n": 3}, "pesq_wb": 2.0}}))
    summary, missing = EvaluationSummary.read(path)
    assert summary.n == 3 and summary.sisnr.enhanced_mean is None
    # the flat SI-SNR keys an older file holds fill its metrics entry
    assert summary.sisnr.noisy_mean == 4.0 and summary.sisnr.improvement_mean == 9.0
    assert set(summary.metrics) == {"sisnr", "stoi"}
    assert {"n_failed", "enhanced_sisnr_mean", "sisnr_improvement_std", "metrics.pesq_wb",
            "metrics.stoi.enhanced_mean"} <= set(missing)
    assert "n" not in missing and "metrics" not in missing
    # keys of a later evaluator: a paired evaluation headed by SI-SNR, no condition tables
    assert summary.reference and summary.headline_metric == "sisnr"
    assert summary.skipped_metrics == {} and summary.conditions == {}
    assert summary.condition_columns == []


def test_clean_less_and_condition_keys_read_back_typed(tmp_path):
    from tfgridnet.contracts.utterance import UtteranceRow
    from tfgridnet.evaluation.schema import summarize
    from tfgridnet.evaluation.scoring import METRICS, NO_REFERENCE, MetricSet

    metrics = MetricSet(reference=False, dnsmos=True)
    rows = []
    for i, (kind, gain) in enumerate([("babble", -0.2), ("babble", -0.4), ("music", 0.5)]):
        row = {"uttid": f"u{i}", "status": "ok", "noise_kind": kind}
        for m in metrics.metrics:
            row.update({m.noisy_column: 2.0, m.enhanced_column: 2.0 + gain,
                        m.delta_column: m.improvement(2.0, 2.0 + gain)})
        rows.append(UtteranceRow.from_columns(row))
    data = summarize(rows, metrics, ["noise_kind"]).to_json()
    data["conditions"]["noise_kind"][0]["metrics"]["from_the_future"] = {"n": 2}
    path = tmp_path / "summary.json"
    path.write_text(json.dumps(data))
    summary, missing = EvaluationSummary.read(path)
    assert missing == []  # a clean-less summary rightly has no SI-SNR keys
    assert not summary.reference and summary.headline_metric == "dnsmos_ovrl"
    assert summary.skipped_metrics == dict.fromkeys(METRICS, NO_REFERENCE)
    assert summary.condition_columns == ["noise_kind"]
    babble, music = summary.conditions["noise_kind"]
    assert (babble.group, babble.n, music.group, music.n) == ("babble", 2, "music", 1)
    assert set(babble.metrics) == set(metrics.names)
    assert babble.metrics["dnsmos_ovrl"].improvement_mean == pytest.approx(-0.3)
    assert summary.best.uttid == "u2" and summary.worst.uttid == "u1"
    assert data["best"]["dnsmos_ovrl_improvement"] == pytest.approx(0.5)


def test_a_summary_that_is_not_a_summary_names_the_file(tmp_path):
    path = tmp_path / "summary.json"
    path.write_text(json.dumps({"n": "many"}))
    with pytest.raises(ValueError, match=r"summary\.json: not an evaluation summary \(n:"):
        EvaluationSummary.read(path)
