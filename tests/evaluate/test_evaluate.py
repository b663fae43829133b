from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import soundfile as sf
import torch
from matplotlib.image import imread

from tfgridnet.cli import main
from tfgridnet.evaluation.artifacts import format_summary
from tfgridnet.evaluation.evaluate import evaluate
from tfgridnet.evaluation.plots import COLORS, plot_spectrograms, plot_waveforms
from tfgridnet.evaluation.schema import csv_columns
from tfgridnet.inference.enhancer import Enhancer

SUMMARY_KEYS = {"n", "n_failed", "noisy_sisnr_mean", "enhanced_sisnr_mean", "sisnr_improvement_mean",
                "sisnr_improvement_std", "sisnr_improvement_min", "sisnr_improvement_max",
                "sisnr_improvement_median", "share_improved", "baseline", "metrics", "warnings",
                "worse_than_input"}


class Identity(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.clone()


class Oracle(torch.nn.Module):
    """Returns the clean reference of whichever noisy input it is given."""

    def __init__(self, manifest) -> None:
        super().__init__()
        self.lookup = {}
        for row in csv.DictReader(open(manifest)):
            noisy = sf.read(manifest.parent / row["noisy"], dtype="float32")[0]
            clean = sf.read(manifest.parent / row["clean"], dtype="float32")[0]
            self.lookup[noisy.tobytes()] = clean

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([torch.from_numpy(self.lookup[row.numpy().tobytes()]) for row in x])


class Reverser(torch.nn.Module):
    """Time-reverses its input: a model far worse than doing nothing."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flip(-1)


def _rows(eval_dir):
    with open(eval_dir / "evaluation_results.csv") as handle:
        return list(csv.DictReader(handle))


def test_identity_model_writes_the_whole_contract_and_improves_by_exactly_zero(
        pairs_manifest, tmp_path, sr):
    out = tmp_path / "eval"
    summary = evaluate(Enhancer(Identity(), sr), pairs_manifest, out, n_plots=1, progress=False)
    for name in ("evaluation_results.csv", "summary.json", "highlights.txt", "index.html",
                 "visualizations/VISUALIZATION_INDEX.md", "visualizations/RECOMMENDED_SAMPLES.md"):
        assert (out / name).is_file(), name
    rows = _rows(out)
    assert list(rows[0]) == csv_columns() and [r["uttid"] for r in rows] == [
        "utt00", "utt01", "utt02", "utt03"]
    for kind in ("noisy", "enhanced", "clean"):
        info = sf.info(str(out / kind / "utt00.wav"))
        assert (info.samplerate, info.subtype) == (sr, "PCM_16")
    best, worst = summary["highlights"]["best"][0], summary["highlights"]["worst"][0]
    for uttid in (best, worst):
        for plot in ("waveform", "spectrogram"):
            assert (out / "visualizations" / f"{uttid}_{plot}.png").is_file()
    on_disk = json.loads((out / "summary.json").read_text())
    assert SUMMARY_KEYS <= set(on_disk) and on_disk["n"] == 4 and on_disk["n_failed"] == 0
    # The result reads as the summary dict evaluate() used to return, and as typed fields.
    assert json.loads(json.dumps(dict(summary))) == on_disk and summary.out_dir == out
    assert (summary.n, summary.n_failed, summary.failed) == (4, 0, [])
    assert summary.metrics["sisnr"].n == 4 and list(summary.metrics) == list(summary["metrics"])
    for metric, stats in summary["metrics"].items():
        assert stats["n"] == 4 and stats["improvement_mean"] == 0.0, metric
        assert stats["noisy_mean"] == stats["enhanced_mean"]
    assert all(float(r["sisnr_improvement"]) == 0.0 for r in rows)
    assert summary["baseline"]["sisnr_mean"] == summary["enhanced_sisnr_mean"]
    assert 4 < summary["noisy_sisnr_mean"] < 12 and not summary["warnings"]
    assert not summary["worse_than_input"]


def test_oracle_model_reaches_the_ceiling_of_every_metric(pairs_manifest, tmp_path, sr):
    # raw level: rescaling onto the noisy input would move the oracle's level by ~0.01 dB (SNR 49)
    summary = evaluate(Enhancer(Oracle(pairs_manifest), sr, level=False), pairs_manifest,
                       tmp_path / "eval", save_audio=False, n_plots=0, progress=False)
    means = {m: s["enhanced_mean"] for m, s in summary["metrics"].items()}
    assert means["sisnr"] > 60 and means["sisdr"] > 60 and means["snr"] > 60
    assert means["pesq_wb"] > 4.5 and means["stoi"] > 0.999 and means["estoi"] > 0.999
    assert summary["share_improved"] == 1.0
    assert not (tmp_path / "eval" / "enhanced").exists()


def test_missing_and_corrupt_files_are_reported_and_the_rest_evaluated(make_pairs, tmp_path, sr):
    manifest = make_pairs(tmp_path / "data", n=4)
    (tmp_path / "data" / "noisy" / "utt01.wav").unlink()
    (tmp_path / "data" / "clean" / "utt02.wav").write_bytes(b"RIFF but not really a wav")
    summary = evaluate(Enhancer(Identity(), sr), manifest, tmp_path / "eval", n_plots=0,
                       progress=False)
    assert (summary["n"], summary["n_failed"], summary["metrics"]["sisnr"]["n"]) == (4, 2, 2)
    rows = {r["uttid"]: r for r in _rows(tmp_path / "eval")}
    assert rows["utt01"]["status"] == "failed" and "utt01.wav: audio file not found" in rows[
        "utt01"]["error"]
    assert "utt02.wav: unreadable" in rows["utt02"]["error"]
    assert rows["utt00"]["status"] == rows["utt03"]["status"] == "ok"
    assert any("2 of 4 utterances could not be evaluated" in w for w in summary["warnings"])


def test_broken_pairs_are_said_to_be_the_data_not_the_model(make_pairs, tmp_path, sr):
    manifest = make_pairs(tmp_path / "data", n=3)
    # Rotate the clean side: every noisy input now faces another utterance, as in the users' run.
    text = manifest.read_text()
    for old, new in (("clean/utt00", "clean/tmp"), ("clean/utt01", "clean/utt00"),
                     ("clean/utt02", "clean/utt01"), ("clean/tmp", "clean/utt02")):
        text = text.replace(old, new)
    manifest.write_text(text)
    summary = evaluate(Enhancer(Identity(), sr), manifest, tmp_path / "eval", n_plots=0,
                       progress=False)
    assert summary["noisy_sisnr_mean"] < -10  # unrelated utterances, not a noisy version
    assert not summary["worse_than_input"]  # identity: the model is not what is wrong
    broken = [w for w in summary["warnings"] if "pairs are probably broken" in w]
    assert len(broken) == 1 and "check-data" in broken[0]
    assert broken[0] in format_summary(summary)
    assert "WARNING: The noisy inputs score" in (tmp_path / "eval" / "highlights.txt").read_text()


def test_a_model_worse_than_doing_nothing_is_said_first(make_pairs, tmp_path, sr):
    manifest = make_pairs(tmp_path / "data", n=3)
    summary = evaluate(Enhancer(Reverser(), sr), manifest, tmp_path / "eval", n_plots=0,
                       progress=False)
    assert 4 < summary["noisy_sisnr_mean"] < 12  # sound pairs: the model alone is at fault
    assert summary["worse_than_input"] and summary["sisnr_improvement_mean"] < 0
    assert not any("pairs are probably broken" in w for w in summary["warnings"])
    report = format_summary(summary)
    assert report.splitlines()[0].startswith("WARNING: the model is WORSE than doing nothing")
    assert (tmp_path / "eval" / "highlights.txt").read_text().startswith("WARNING")
    assert "WORSE than doing nothing" in (tmp_path / "eval" / "index.html").read_text()


def test_evaluate_cli_with_an_exported_model_and_no_audio(exported_dir, make_pairs, tmp_path,
                                                         capsys):
    manifest = make_pairs(tmp_path / "data", n=2, seconds=0.5)
    code = main(["evaluate", str(exported_dir), "--manifest", str(manifest), "--out",
                 str(tmp_path / "eval"), "--no-audio", "--plots", "1"])
    printed = capsys.readouterr().out
    assert code == 0 and printed.index("identity baseline") < printed.index("metric")
    assert not (tmp_path / "eval" / "enhanced").exists()
    assert len(list((tmp_path / "eval" / "visualizations").glob("*.png"))) == 4
    assert main(["evaluate", str(tmp_path / "no-model"), "--manifest", str(manifest), "--out",
                 str(tmp_path / "e2")]) == 2


@pytest.mark.slow
def test_parallel_scoring_gives_the_same_numbers(make_pairs, tmp_path, sr):
    manifest = make_pairs(tmp_path / "data", n=4, seconds=0.8)
    kwargs = dict(save_audio=False, n_plots=0, progress=False)
    serial = evaluate(Enhancer(Reverser(), sr), manifest, tmp_path / "a", workers=1, **kwargs)
    parallel = evaluate(Enhancer(Reverser(), sr), manifest, tmp_path / "b", workers=2, **kwargs)
    for metric, stats in serial["metrics"].items():  # BLAS threading may move the last digit
        assert parallel["metrics"][metric] == pytest.approx(stats, rel=1e-9), metric
    assert (tmp_path / "a" / "evaluation_results.csv").read_text() == (
        tmp_path / "b" / "evaluation_results.csv").read_text()


def _share_of_pixels_near(image: np.ndarray, hex_colour: str, tolerance: float = 0.08) -> float:
    rgb = np.array([int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)])
    return float(np.mean(np.all(np.abs(image[..., :3] - rgb) < tolerance, axis=-1)))


def test_plots_are_readable_images_of_the_expected_size_and_colours(make_speech, tmp_path, sr):
    clean = make_speech(sr, sr, seed=0)
    noisy = clean + 0.05 * np.random.default_rng(0).standard_normal(sr).astype(np.float32)
    waveform = imread(plot_waveforms(noisy, 0.8 * clean, clean, sr, tmp_path / "w.png", "t"))
    spectrogram = imread(plot_spectrograms(noisy, 0.8 * clean, clean, sr, tmp_path / "s.png"))
    assert waveform.shape[:2] == (1050, 1800) and spectrogram.shape[:2] == (1350, 1800)
    for name in ("noisy", "enhanced", "clean"):
        assert _share_of_pixels_near(waveform, COLORS[name]) > 0.002, name  # the trace itself
        assert _share_of_pixels_near(spectrogram, COLORS[name]) > 0.0005, name  # panel frame
    white = _share_of_pixels_near(waveform, "#ffffff")
    assert 0.3 < white < 0.99  # a plot, not a blank or solid image


def test_summary_std_is_the_sample_std_the_report_uses() -> None:
    from tfgridnet.evaluation.schema import _stats

    values = [0.07, 5.0, 8.76, 21.59]
    assert _stats(values)["std"] == pytest.approx(float(np.std(values, ddof=1)))
    assert _stats([3.0])["std"] == 0.0


def test_progress_is_reported_per_utterance_to_a_callable_or_as_lines_into_a_log(
        pairs_manifest, tmp_path, sr, monkeypatch, capsys):
    seen = []
    evaluate(Enhancer(Identity(), sr), pairs_manifest, tmp_path / "a", save_audio=False,
             n_plots=0, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]
    monkeypatch.setenv("TFGRIDNET_PROGRESS_SECONDS", "0")  # stdout here is not a terminal
    evaluate(Enhancer(Identity(), sr), pairs_manifest, tmp_path / "b", save_audio=False,
             n_plots=0)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("evaluate: 1/4 utterances (25 %)")
    assert lines[-1].startswith("evaluate: 4/4 utterances (100 %) in ")


class Counting(torch.nn.Module):
    """Halves its input and counts the utterances it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.utterances = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.utterances += x.shape[0]
        return 0.5 * x


@pytest.mark.parametrize("save_audio", [False, True])
def test_each_utterance_is_enhanced_once_and_the_highlights_reuse_that_output(
        pairs_manifest, tmp_path, sr, save_audio):
    """The plots and the listening page of the best and worst utterances use the outputs the
    evaluation scored (or their saved WAVs): nothing is enhanced a second time."""
    model = Counting()
    out = tmp_path / "eval"
    summary = evaluate(Enhancer(model, sr), pairs_manifest, out, n_plots=2, progress=False,
                       save_audio=save_audio)
    assert model.utterances == summary["n"] == 4
    assert len(list((out / "visualizations").glob("*_waveform.png"))) == 4


def test_the_kept_highlights_are_the_ones_select_highlights_picks() -> None:
    """The evaluation keeps only the outputs that can still be among the k best or worst, in
    select_highlights' order (ties by uttid), whatever order the scores arrive in."""
    from tfgridnet.contracts.utterance import MetricScores, UtteranceRow
    from tfgridnet.evaluation.schema import select_highlights
    from tfgridnet.evaluation.steps import HighlightKeeper

    rng = np.random.default_rng(3)
    gains = np.round(rng.normal(0.0, 3.0, 40), 0)  # rounded: many ties
    rows = [UtteranceRow(f"u{i:02d}", scores={"sisnr": MetricScores(improvement=float(g))})
            for i, g in enumerate(gains)]
    for k in (1, 3, 5):
        keeper = HighlightKeeper(k, "sisnr")
        for i in rng.permutation(len(rows)):
            keeper.offer(rows[i], np.zeros(1), np.zeros(1), None)
        chosen = {row.uttid for _, row in select_highlights(rows, k, "sisnr")}
        assert chosen <= set(keeper.signals) and len(keeper.signals) <= 2 * k
