"""Replay of the users' failed run (from their hand-written report): the tool must call it broken, for the
right reasons, in its first lines, in both languages; a healthy run must be called healthy."""

from __future__ import annotations

import json

import pytest

from tfgridnet.report.analysis import analyse
from tfgridnet.report.render import write_report

PRAISE = ("converged well", "converges well", "good convergence", "no overfitting",
          "healthy training")
PRAISE_ZH = ("收斂良好", "無明顯過擬合", "健康的訓練")


def test_replayed_statistics_match_the_users_report(users_run):
    analysis = analyse(users_run, users_run.parent / "inference_epoch_100")
    t, ev = analysis.training, analysis.evaluation
    assert t["n_epochs"] == 1496
    assert t["train_mean"] == pytest.approx(-34.27, abs=0.01)
    assert t["valid_best"] == pytest.approx(-32.34) and t["best_epoch"] == 100
    assert t["valid_worst"] == pytest.approx(-38.69)
    assert t["lr_initial"] == pytest.approx(5e-4) and t["lr_final"] == pytest.approx(6.1e-8)
    assert t["grad_max_first"] == pytest.approx(106_673) and t["grad_max_last"] == pytest.approx(168)
    assert t["total_time_h"] == pytest.approx(10.0)
    assert t["peak_mem_share"] == pytest.approx(5.79 / 32)
    assert ev["n"] == 192
    assert ev["noisy_mean"] == pytest.approx(-36.4, abs=1e-3)
    assert ev["improvement_mean"] == pytest.approx(1.1, abs=1e-3)
    assert ev["improvement_std"] == pytest.approx(12.93, abs=1e-3)
    assert ev["improvement_min"] == pytest.approx(-37.95, abs=1e-3)
    assert ev["improvement_max"] == pytest.approx(43.34, abs=1e-3)


def test_users_run_is_broken_because_the_pairs_are_broken(users_run):
    analysis = analyse(users_run, users_run.parent / "inference_epoch_100")
    assert analysis.verdict == "broken"
    # The data finding leads: it explains everything else.
    assert analysis.findings[0].code == "eval_noisy_sisnr_abnormal"
    assert analysis.findings[0].severity == "error"
    for code in ("train_not_learning", "lr_decay_too_fast", "stale_best_epoch",
                 "frequent_clipping", "memory_headroom", "eval_low_improvement",
                 "eval_high_variance", "eval_worse_than_input", "train_loss_positive"):
        assert code in analysis.codes, code
    assert "overfitting" not in analysis.codes  # train ≈ valid: the users were right about that
    stale = analysis.finding("stale_best_epoch").evidence
    assert stale["best_epoch"] == 100
    assert 9.0 < stale["saved_hours"] < 10.0  # most of the 10 h were spent after epoch 120
    assert analysis.finding("lr_decay_too_fast").evidence["lr_ratio"] == pytest.approx(8197, rel=1e-3)
    assert analysis.finding("frequent_clipping").evidence["clipped_share"] == pytest.approx(1.0)


def test_users_report_says_so_in_its_first_lines_and_never_praises(users_run):
    eval_dir = users_run.parent / "inference_epoch_100"
    write_report(users_run, eval_dir, lang="en")
    text = (users_run / "EXPERIMENT_ANALYSIS.md").read_text(encoding="utf-8")
    head = "\n".join(text.splitlines()[:6])
    assert "BROKEN" in head
    assert "eval_noisy_sisnr_abnormal" in head and "check-data" in head
    assert "-36.4 dB" in head
    lowered = text.lower()
    assert not any(phrase in lowered for phrase in PRAISE)
    assert "early stopping with patience 20 would have saved 9." in lowered
    # the worst utterances are listed because the variance is high
    assert "`00130`" in text and "-37.95" in text
    findings = json.loads((users_run / "findings.json").read_text(encoding="utf-8"))
    assert findings[0]["code"] == "eval_noisy_sisnr_abnormal"
    assert findings[0]["evidence"]["noisy_sisnr_mean"] == pytest.approx(-36.4, abs=1e-3)

    write_report(users_run, eval_dir, lang="zh-TW")
    zh = (users_run / "EXPERIMENT_ANALYSIS.zh-TW.md").read_text(encoding="utf-8")
    assert "故障" in "\n".join(zh.splitlines()[:6])
    assert not any(phrase in zh for phrase in PRAISE_ZH)


def test_recommendations_follow_the_findings(users_run, healthy_run):
    from tfgridnet.report.sections import recommendations

    broken = recommendations(analyse(users_run, users_run.parent / "inference_epoch_100"), "en")
    assert "check-data" in broken[0]
    assert any("early stopping" in r for r in broken)
    assert any("batch size" in r for r in broken)  # from memory_headroom
    healthy = recommendations(analyse(healthy_run), "en")
    assert len(healthy) == 1 and "keep the best checkpoint" in healthy[0].lower()
    assert not any("check-data" in r or "early stopping" in r for r in healthy)


def test_healthy_run_report_is_healthy(healthy_run):
    write_report(healthy_run)
    text = (healthy_run / "EXPERIMENT_ANALYSIS.md").read_text(encoding="utf-8")
    assert "HEALTHY" in "\n".join(text.splitlines()[:4])
    assert json.loads((healthy_run / "findings.json").read_text()) == []
