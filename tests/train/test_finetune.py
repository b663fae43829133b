"""Fine-tuning from a trained model, end to end with the real producers: a tiny model trained on one
noise domain (white noise) is fine-tuned on another (mains hum); the step-0 row, the evaluation
against the source, the report's "fine-tuned from" line and its harm rule, freezing, the learning
rate of the pretrained parameters, resume, ESPnet V2/V3 sources and every refusal."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
import yaml
from safetensors.torch import load_file

from tfgridnet.contracts.init_record import InitRecord
from tfgridnet.contracts.metrics_csv import INITIAL_EPOCH, VALID_EXTRA_COLUMNS
from tfgridnet.evaluation.evaluate import evaluate
from tfgridnet.evaluation.scoring import METRIC_REGISTRY
from tfgridnet.model.sources import load_source
from tfgridnet.report.analysis import analyse
from tfgridnet.report.render import write_report
from tfgridnet.train.config_files import config_from_dict, load_config
from tfgridnet.train.finetune import matches
from tfgridnet.train.run import train

from .conftest import TINY_TRAINED

RATE = 8000
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TINY_MODEL = TINY_TRAINED


def _speech_like(rng: np.random.Generator, n: int) -> np.ndarray:
    t = np.arange(n) / RATE
    f0 = rng.uniform(110, 220)
    tone = sum(np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 2 * np.pi)) / k for k in range(1, 6))
    return (0.13 * tone * (1 + np.sin(2 * np.pi * rng.uniform(3, 6) * t))).astype(np.float32)


def _noise(kind: str, rng: np.random.Generator, n: int) -> np.ndarray:
    if kind == "white":
        return rng.standard_normal(n)
    t, mains = np.arange(n) / RATE, rng.uniform(50, 60)  # hum: odd harmonics of the mains
    return sum(rng.uniform(0.3, 1.0) * np.sin(2 * np.pi * k * mains * t + rng.uniform(0, 6.3))
               for k in range(1, 12, 2))


def _domain(root: Path, kind: str, snr_db: tuple[float, float], seed: int) -> dict[str, Path]:
    """Paired train (8) / valid (4) manifests of 0.5 s utterances in one noise domain."""
    rng = np.random.default_rng(seed)
    for sub in ("clean", "noisy"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    manifests = {}
    for split, count in (("train", 8), ("valid", 4)):
        rows = []
        for i in range(count):
            uttid, n = f"{kind}_{split}{i}", RATE // 2
            clean = _speech_like(rng, n)
            noise = _noise(kind, rng, n).astype(np.float32)
            noise *= np.sqrt(np.sum(clean**2) / np.sum(noise**2) / 10 ** (rng.uniform(*snr_db) / 10))
            sf.write(root / "clean" / f"{uttid}.wav", clean, RATE, subtype="FLOAT")
            sf.write(root / "noisy" / f"{uttid}.wav", clean + noise, RATE, subtype="FLOAT")
            rows.append([uttid, f"noisy/{uttid}.wav", f"clean/{uttid}.wav"])
        manifests[split] = root / f"{split}.csv"
        with open(manifests[split], "w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerows([["uttid", "noisy", "clean"], *rows])
    return manifests


def _raw(domain: dict[str, Path], *, model: bool = True, epochs: int = 4, **sections: dict) -> dict:
    raw = {"name": "tiny",
           "data": {"sample_rate": RATE, "train_manifest": str(domain["train"]),
                    "valid_manifest": str(domain["valid"]), "crop_seconds": 0.25,
                    "batch_size": 4, "num_workers": 0, "check_pairs": 0},
           "optim": {"name": "adam", "lr": 3e-3}, "scheduler": {"name": "none"},
           "trainer": {"max_epochs": epochs, "accelerator": "cpu", "devices": 1,
                       "progress_bar": "none", "seed": 7, "num_threads": 1},
           "checkpoint": {"save_top_k": 1}, "early_stopping": {"patience": None}}
    if model:
        raw["model"] = dict(TINY_MODEL)
    for section, values in sections.items():
        raw[section] = {**raw.get(section, {}), **values}
    return raw


def _rows(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / "metrics.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def domains(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Path]]:
    root = tmp_path_factory.mktemp("domains")
    return {"white": _domain(root / "white", "white", (0.0, 5.0), 1),
            "hum": _domain(root / "hum", "hum", (-5.0, 0.0), 2)}


@pytest.fixture(scope="module")
def source_run(domains, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The model to start from: trained on the white-noise domain only."""
    return train(config_from_dict(_raw(domains["white"])),
                 tmp_path_factory.mktemp("source") / "run").run_dir


@pytest.fixture(scope="module")
def finetuned(domains, source_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The source fine-tuned on the hum domain, the white one kept as the second valid set."""
    raw = _raw(domains["hum"], model=False, init={"from": str(source_run)},
               data={"valid_extra": str(domains["white"]["valid"])})
    return train(config_from_dict(raw), tmp_path_factory.mktemp("ft") / "run").run_dir


def test_step0_row_is_the_source_as_a_separate_evaluation_scores_it(
        domains, source_run: Path, finetuned: Path, tmp_path: Path) -> None:
    rows = _rows(finetuned)
    first = rows[0]
    assert int(first["epoch"]) == INITIAL_EPOCH and int(first["step"]) == 0
    assert first["train_loss"] == first["lr"] == first["grad_norm_mean"] == ""
    assert [int(r["epoch"]) for r in rows[1:]] == [0, 1, 2, 3]
    source_eval = evaluate(source_run, domains["hum"]["valid"], tmp_path / "eval",
                           save_audio=False, n_plots=0, progress=False)
    assert float(first["valid_sisnr"]) == pytest.approx(source_eval["enhanced_sisnr_mean"],
                                                        abs=0.01)
    assert float(first["valid_noisy_sisnr"]) == pytest.approx(source_eval["noisy_sisnr_mean"],
                                                              abs=0.01)
    # The second validation set (the source's own domain) is scored at the start and every epoch.
    for row in rows:
        assert all(row[c] != "" for c in VALID_EXTRA_COLUMNS), row
    white_eval = evaluate(source_run, domains["white"]["valid"], tmp_path / "eval_white",
                          save_audio=False, n_plots=0, progress=False)
    assert float(first["valid_extra_sisnr"]) == pytest.approx(white_eval["enhanced_sisnr_mean"],
                                                              abs=0.01)
    # The model section came from the source, and init.json says what trained.
    assert yaml.safe_load((finetuned / "config.yaml").read_text())["model"]["emb_dim"] == 8
    record = InitRecord.read(finetuned / "init.json")
    assert record.source == str(source_run) and record.source_kind == "run"
    assert record.n_frozen == 0 and record.n_trainable == record.n_parameters > 0


def test_finetuned_model_beats_its_source_on_the_new_domain_and_the_report_says_so(
        domains, source_run: Path, finetuned: Path, tmp_path: Path, capsys) -> None:
    from tfgridnet.cli.main import main

    out = tmp_path / "eval"
    assert main(["evaluate", str(finetuned), "--manifest", str(domains["hum"]["valid"]), "--out",
                 str(out), "--no-audio", "--plots", "1", "--baseline", str(source_run)]) == 0
    assert f"against the baseline model {source_run}" in capsys.readouterr().out
    result = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    sisnr = METRIC_REGISTRY["sisnr"]
    versus = result["baseline_model"]["metrics"]["sisnr"]
    assert versus["gain_mean"] > 0.5 and versus["share_better"] == 1.0
    with open(out / "evaluation_results.csv", newline="", encoding="utf-8") as handle:
        table = list(csv.DictReader(handle))
    for row in table:  # per utterance: noisy -> source -> fine-tuned, gain = fine-tuned - source
        gain = float(row[sisnr.enhanced_column]) - float(row[sisnr.baseline_column])
        assert float(row[sisnr.over_baseline_column]) == pytest.approx(gain, abs=2e-4)
    assert "Against the baseline model" in (out / "index.html").read_text(encoding="utf-8")

    analysis = analyse(finetuned, out)
    t = analysis.training
    assert t.n_epochs == 4 and t.first_epoch == 0  # the step-0 row is not an epoch
    assert "finetune_harmed" not in analysis.codes
    start, best = t.initial_valid_sisnr, t.valid.best
    for lang, words in (("en", "Fine-tuned from"), ("zh-TW", "微調")):
        text = write_report(finetuned, eval_dir=out, lang=lang)["markdown"].read_text(
            encoding="utf-8")
        head = text.split("\n## ")[0]  # the first section: title and verdict
        line = next(x for x in head.splitlines() if words in x)
        assert str(source_run) in line and f"{start:.2f} → {best:.2f}" in line
        assert f"{versus['mean']:.2f}" in text  # the evaluation's noisy -> source -> fine-tuned
    assert (finetuned / "plots" / "sisnr.png").is_file()


def test_absurd_pretrained_learning_rate_makes_the_harm_rule_fire(
        domains, source_run: Path, tmp_path: Path) -> None:
    raw = _raw(domains["hum"], model=False, epochs=2, init={"from": str(source_run)},
               optim={"lr_pretrained": 1.0})
    run = train(config_from_dict(raw), tmp_path / "run").run_dir
    analysis = analyse(run)
    finding = analysis.finding("finetune_harmed")
    assert finding is not None and finding.severity == "warning"
    assert finding.evidence["gain_db"] <= 0.1 and finding.evidence["lr_pretrained"] == 1.0
    text = write_report(run)["markdown"].read_text(encoding="utf-8")
    assert "lower optim.lr_pretrained (now 1;" in text


def test_frozen_parameters_are_bit_identical_after_training_and_resume(
        domains, source_run: Path, tmp_path: Path) -> None:
    freeze = ["conv", "blocks.0.intra_rnn"]
    raw = _raw(domains["hum"], model=False, epochs=1, init={"from": str(source_run),
                                                            "freeze": freeze})
    run = train(config_from_dict(raw), tmp_path / "run").run_dir
    # Continue the same fine-tune from its own config.yaml: nothing is re-initialised.
    resumed = load_config(run / "config.yaml", ["trainer.max_epochs=3"])
    train(resumed, run, resume="auto")
    source = load_file(str(source_run / "model" / "model.safetensors"))
    final = {k.removeprefix("model."): v for k, v in torch.load(
        run / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"].items()}
    frozen = [n for n in source if matches(n, freeze)]
    assert frozen and all(torch.equal(final[n], source[n]) for n in frozen)
    trained = [n for n in source if not matches(n, freeze) and n != "stft.window"]
    assert all(not torch.equal(final[n], source[n]) for n in trained)
    record = InitRecord.read(run / "init.json")
    assert record.n_frozen == sum(source[n].numel() for n in frozen)
    assert sorted(record.frozen_tensors) == sorted(frozen)
    rows = _rows(run)
    assert [int(r["epoch"]) for r in rows] == [INITIAL_EPOCH, 0, 1, 2]


def test_resumed_finetune_equals_an_uninterrupted_one(domains, source_run: Path,
                                                      tmp_path: Path) -> None:
    raw = _raw(domains["hum"], model=False, epochs=2, init={"from": str(source_run)})
    straight = train(config_from_dict(raw), tmp_path / "straight").run_dir
    raw["trainer"]["max_epochs"] = 1
    split = train(config_from_dict(raw), tmp_path / "split").run_dir
    train(load_config(split / "config.yaml", ["trainer.max_epochs=2"]), split, resume="auto")

    def weights(run: Path) -> dict[str, torch.Tensor]:
        return torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]

    a, b = weights(straight), weights(split)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [r["epoch"] for r in _rows(split)] == [r["epoch"] for r in _rows(straight)]


def test_pretrained_and_reinitialised_parameters_train_at_their_own_rates(
        domains, source_run: Path, tmp_path: Path) -> None:
    raw = _raw(domains["hum"], model=False, epochs=1, init={"from": str(source_run),
                                                            "reinit": ["deconv"]},
               optim={"lr_pretrained": 1e-4})
    run = train(config_from_dict(raw), tmp_path / "run").run_dir
    groups = torch.load(run / "checkpoints" / "last.ckpt",
                        weights_only=True)["optimizer_states"][0]["param_groups"]
    assert [(g["name"], g["lr"], len(g["params"])) for g in groups] == [
        ("pretrained", 1e-4, len(groups[0]["params"])), ("reinit", 3e-3, 2)]
    assert InitRecord.read(run / "init.json").n_reinitialised == sum(
        v.numel() for k, v in load_file(str(source_run / "model" / "model.safetensors")).items()
        if k.startswith("deconv."))


def _espnet_v2(tmp_path: Path) -> Path:
    from safetensors import safe_open

    with safe_open(FIXTURES / "espnet_v2_linear.safetensors", framework="pt") as handle:
        conf = json.loads(handle.metadata()["separator_conf"])
        state = {k: handle.get_tensor(k) for k in handle.keys() if not k.startswith("__")}
    torch.save({"separator." + k: v for k, v in state.items()}, tmp_path / "valid.loss.best.pth")
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(
        {"encoder": "same", "decoder": "same", "separator": "tfgridnetv2", "separator_conf": conf,
         "fs": "8k"}))
    return tmp_path / "valid.loss.best.pth"


def _espnet_v3(tmp_path: Path) -> Path:
    from safetensors import safe_open

    with safe_open(FIXTURES / "espnet_v3_sfi.safetensors", framework="pt") as handle:
        meta = handle.metadata()
        state = {k: handle.get_tensor(k) for k in handle.keys() if not k.startswith("__")}
    stft = json.loads(meta["encoder_conf"])
    torch.save({"separator." + k: v for k, v in state.items()}, tmp_path / "model.pth")
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(
        {"encoder": "stft", "encoder_conf": stft, "decoder": "stft", "decoder_conf": stft,
         "separator": "tfgridnetv3", "separator_conf": json.loads(meta["separator_conf"]),
         "model_conf": {"normalize_variance": True}}))
    return tmp_path / "model.pth"


@pytest.mark.parametrize("make", [_espnet_v2, _espnet_v3], ids=["v2", "v3"])
def test_finetune_from_an_espnet_checkpoint(make, domains, tmp_path: Path) -> None:
    checkpoint = make(tmp_path)
    source = load_source(checkpoint)
    raw = _raw(domains["hum"], model=False, epochs=1, init={"from": str(checkpoint)})
    run = train(config_from_dict(raw), tmp_path / "run").run_dir
    model = yaml.safe_load((run / "config.yaml").read_text())["model"]
    assert {k: model[k] for k in source.model_section} == source.model_section
    # The run started from the ESPnet weights: its step-0 row is that model's evaluation.
    reference = evaluate(source.model, domains["hum"]["valid"], tmp_path / "eval",
                         save_audio=False, n_plots=0, progress=False)
    first = _rows(run)[0]
    assert int(first["epoch"]) == INITIAL_EPOCH
    assert float(first["valid_sisnr"]) == pytest.approx(reference["enhanced_sisnr_mean"],
                                                        abs=0.01)
    record = InitRecord.read(run / "init.json")
    assert record.source_kind == "espnet" and record.espnet_config == str(
        checkpoint.parent / "config.yaml")
    assert record.architecture == source.model_section["version"]


def test_patterns_match_parameter_and_module_names() -> None:
    assert matches("conv.0.weight", ["conv"]) and matches("blocks.1.intra_rnn.weight_ih_l0",
                                                          ["blocks.*.intra_rnn"])
    assert not matches("deconv.weight", ["conv"]) and not matches("blocks.10.x", ["blocks.1"])


def test_second_validation_set_goes_through_the_startup_data_check(domains, tmp_path: Path) -> None:
    from tfgridnet.train.preflight import DataCheckFailed

    broken = tmp_path / "extra.csv"
    broken.write_text("uttid,noisy,clean\nx,missing_noisy.wav,missing_clean.wav\n")
    raw = _raw(domains["white"], epochs=1, data={"valid_extra": str(broken), "check_pairs": 4})
    with pytest.raises(DataCheckFailed, match="data.valid_extra"):
        train(config_from_dict(raw), tmp_path / "run")
    assert not (tmp_path / "run").exists()
