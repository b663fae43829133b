"""A manifest with only uttid,noisy (real recordings) is scored by non-intrusive metrics."""

from __future__ import annotations

import csv
import importlib.util
import json

import numpy as np
import pytest

from tfgridnet.data.manifest import ManifestError
from tfgridnet.evaluation.evaluate import evaluate
from tfgridnet.evaluation.schema import csv_columns
from tfgridnet.evaluation.scoring import METRIC_REGISTRY, METRICS, NO_REFERENCE, MetricSet
from tfgridnet.inference.enhancer import Enhancer
from tfgridnet.metrics import MetricError, distill_mos
from tfgridnet.report.evaluation_section import evaluation_blocks as _evaluation
from tfgridnet.report.facts import TrainingStats
from tfgridnet.report.rules import Facts, apply_rules
from tfgridnet.report.statistics import evaluation_stats

# find_spec, not import: distillmos imports torchaudio, which metrics.distill_mos deals with.
needs_mos = pytest.mark.skipif(
    not all(importlib.util.find_spec(name) for name in ("speechmos", "onnxruntime", "distillmos")),
    reason="clean-less evaluation needs tfgridnet[dnsmos] and distillmos: runs after "
           "`make install` (CI has them)")


def evaluation_rules(stats):
    """The registry's findings on an evaluation folder's statistics alone."""
    return apply_rules(Facts(TrainingStats(n_epochs=0, first_epoch=0, last_epoch=0), stats))


def _noisy_only(manifest, out_path, drop_clean_of: set[str] | None = None):
    """The same recordings, listed without their clean files (all, or those in drop_clean_of)."""
    with open(manifest) as handle:
        rows = list(csv.DictReader(handle))
    if drop_clean_of is None:
        lines = ["uttid,noisy"] + [f"{r['uttid']},{r['noisy']}" for r in rows]
    else:
        lines = ["uttid,noisy,clean"] + [
            f"{r['uttid']},{r['noisy']},{'' if r['uttid'] in drop_clean_of else r['clean']}"
            for r in rows]
    out_path.write_text("\n".join(lines) + "\n")
    return out_path


@needs_mos
@pytest.mark.slow
def test_distill_mos_is_the_shipped_model_at_16_khz(make_speech, sr):
    import torch

    from tfgridnet.audio.resample import resample

    audio = make_speech(sr, sr, seed=2) + 0.01 * np.random.default_rng(2).standard_normal(sr)
    score = distill_mos(audio, sr)["distillmos"]
    from distillmos.sqa import ConvTransformerSQAModel  # importable once distill_mos ran

    reference = ConvTransformerSQAModel().eval()  # the wheel's own model and weights
    with torch.inference_mode():
        expected = float(reference(torch.from_numpy(audio.astype(np.float32))[None]))
    assert 1.0 <= score <= 5.0 and score == pytest.approx(expected, abs=1e-5)
    at_48k = resample(audio, sr, 48000)  # other rates are brought to the model's 16 kHz first
    assert distill_mos(at_48k, 48000)["distillmos"] == pytest.approx(
        distill_mos(resample(at_48k, 48000, 16000), 16000)["distillmos"], abs=1e-6)
    with pytest.raises(MetricError, match="non-silent"):
        distill_mos(np.zeros(sr), sr)


@needs_mos
@pytest.mark.slow
def test_a_clean_less_manifest_is_scored_by_dnsmos_and_distillmos_only(
        tiny_model, make_pairs, tmp_path, sr):
    pairs = make_pairs(tmp_path / "data", n=1, seconds=1.0)  # DNSMOS: ~10 s a call here
    manifest = _noisy_only(pairs, tmp_path / "data" / "noisy_only.csv")
    out = tmp_path / "eval"
    summary = evaluate(Enhancer(tiny_model, sr), manifest, out, n_plots=1, progress=False)

    expected = MetricSet(reference=False, dnsmos=True, distillmos=True)
    with open(out / "evaluation_results.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == csv_columns(expected)
    assert not any(METRIC_REGISTRY[m].enhanced_column in rows[0] for m in METRICS)
    for row in rows:
        for name in ("dnsmos_ovrl", "distillmos"):
            m = METRIC_REGISTRY[name]
            assert 1.0 <= float(row[m.noisy_column]) <= 5.0
            assert 1.0 <= float(row[m.enhanced_column]) <= 5.0

    on_disk = json.loads((out / "summary.json").read_text())
    assert on_disk["reference"] is False and on_disk["headline_metric"] == "dnsmos_ovrl"
    assert on_disk["skipped_metrics"] == dict.fromkeys(METRICS, NO_REFERENCE)
    assert set(on_disk["metrics"]) == set(expected.names)
    assert on_disk["sisnr_improvement_mean"] is None and summary["n_failed"] == 0
    assert not (out / "clean").exists() and (out / "enhanced" / "utt00.wav").is_file()

    page = (out / "index.html").read_text()
    assert 'id="no-reference"' in page and "SI-SNR" not in page
    assert page.count('data-kind="clean"') == 0 and page.count('data-kind="enhanced"') >= 1

    stats = evaluation_stats(out, [])
    findings = {f.code: f for f in evaluation_rules(stats)}
    assert "eval_no_reference" in findings
    assert not {c for c in findings if "sisnr" in c or "improvement" in c}
    for lang in ("en", "zh-TW"):
        assert "sisnr" in findings["eval_no_reference"].message(lang)

    class _Analysis:  # what the report's evaluation section reads
        evaluation, run_dir, eval_dir = stats, tmp_path, out

        def finding(self, code):
            return findings.get(code)

    text = " ".join(str(b.text) + " ".join(" ".join(r) for r in (b.rows or []))
                    for b in _evaluation(_Analysis(), "en"))
    assert "SI-SNR" not in text and "DNSMOS OVRL" in text and "Distill-MOS" in text


def test_a_manifest_with_some_clean_files_missing_is_refused(tiny_model, make_pairs, tmp_path,
                                                              sr):
    pairs = make_pairs(tmp_path / "data", n=2, seconds=0.5)
    manifest = _noisy_only(pairs, tmp_path / "data" / "mixed.csv", drop_clean_of={"utt01"})
    with pytest.raises(ManifestError, match="utt01.*no clean file"):
        evaluate(Enhancer(tiny_model, sr), manifest, tmp_path / "eval", progress=False)
    assert not (tmp_path / "eval" / "summary.json").exists()
