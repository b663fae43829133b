"""Breakdown by condition: per-condition tables from a manifest that carries conditions."""

from __future__ import annotations

import csv
import json
import statistics

import pytest
import soundfile as sf

from tfgridnet.contracts.conditions import DURATION_FACTOR, read_breakdown
from tfgridnet.data.manifest import NOISE_KIND_COLUMN, SNR_COLUMN
from tfgridnet.data.pairing import make_manifest
from tfgridnet.evaluation.evaluate import evaluate
from tfgridnet.evaluation.scoring import METRIC_REGISTRY
from tfgridnet.inference.enhancer import Enhancer
from tfgridnet.report.evaluation_section import condition_blocks as _conditions
from tfgridnet.report.statistics import evaluation_stats

KINDS = {"utt00": "white", "utt01": "babble", "utt02": "white", "utt03": "babble",
         "utt04": "white"}


def _corpus(make_pairs, make_speech, root, sr):
    """Five pairs (1 s at input SNR 5, 7, 9, 11 dB, and one of 3.5 s) listed by make_manifest
    with their noise kind and SNR as condition columns."""
    make_pairs(root, n=4, seconds=1.0)
    long_ = make_speech(int(3.5 * sr), sr, seed=9)
    sf.write(root / "clean" / "utt04.wav", long_, sr, subtype="PCM_16")
    sf.write(root / "noisy" / "utt04.wav", long_ + 0.05 * make_speech(long_.size, sr, seed=10),
             sr, subtype="PCM_16")
    snr = {"utt00": "5", "utt01": "7", "utt02": "9", "utt03": "11", "utt04": "12.5"}
    conditions = {u: {NOISE_KIND_COLUMN: KINDS[u], SNR_COLUMN: snr[u]} for u in KINDS}
    make_manifest(root / "noisy", root / "clean", root / "manifest.csv", conditions)
    return root / "manifest.csv"


@pytest.mark.slow
def test_breakdown_tables_from_a_manifest_with_conditions(tiny_model, make_pairs, make_speech,
                                                          tmp_path, sr):
    manifest = _corpus(make_pairs, make_speech, tmp_path / "data", sr)
    out = tmp_path / "eval"
    evaluate(Enhancer(tiny_model, sr), manifest, out, save_audio=False, n_plots=0,
             progress=False)

    with open(out / "evaluation_results.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0])[:3] == ["uttid", NOISE_KIND_COLUMN, SNR_COLUMN]
    assert {r["uttid"]: r[NOISE_KIND_COLUMN] for r in rows} == KINDS

    tables = read_breakdown(json.loads((out / "summary.json").read_text()))
    assert list(tables) == [NOISE_KIND_COLUMN, SNR_COLUMN, DURATION_FACTOR]
    by_kind = {g.group: g for g in tables[NOISE_KIND_COLUMN]}
    assert {k: g.n for k, g in by_kind.items()} == {"babble": 2, "white": 3}
    for kind, group in by_kind.items():  # the CSV's own values, averaged independently
        members = [r for r in rows if r[NOISE_KIND_COLUMN] == kind]
        for name in ("sisnr", "pesq_wb", "level_error_db"):
            m = METRIC_REGISTRY[name]
            stats = group.metrics[name]
            assert stats.enhanced_mean == pytest.approx(
                statistics.fmean(float(r[m.enhanced_column]) for r in members), abs=1e-3)
            assert stats.improvement_mean == pytest.approx(
                statistics.fmean(float(r[m.delta_column]) for r in members), abs=1e-3)
    assert [(g.group, g.n) for g in tables[SNR_COLUMN]] == [("[5, 10) dB", 3),
                                                            ("[10, 15) dB", 2)]
    assert [(g.group, g.n) for g in tables[DURATION_FACTOR]] == [("< 3 s", 4), ("3–6 s", 1)]

    page = (out / "index.html").read_text()
    for factor in tables:
        assert f"id='by-{factor}'" in page
    assert "babble" in page and "[5, 10) dB" in page

    blocks = _conditions(evaluation_stats(out, []), "zh-TW")  # the report's section
    assert [b.kind for b in blocks].count("table") == 3
    assert blocks[2].header[0] == "噪音種類" and blocks[2].rows[0][:2] == ["babble", "2"]


def test_no_breakdown_without_conditions_or_with_a_single_group(pairs_manifest, tmp_path, sr,
                                                                tiny_model):
    summary = evaluate(Enhancer(tiny_model, sr), pairs_manifest, tmp_path / "eval",
                       save_audio=False, n_plots=0, progress=False)
    assert summary["conditions"] == {}  # one duration group, no condition column
    assert "By condition" not in (tmp_path / "eval" / "index.html").read_text()
