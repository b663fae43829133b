"""The report's sections about the experiment itself: the model architecture (from config.yaml),
the audio pipeline with its start-up data check (data_check.json) and the files the run kept.

Each section reads only what the run wrote; a file an older or foreign run lacks is said, not
guessed. The parameter count is that of the model built from the run's ``model`` section (on the
meta device: no memory, no weights), so it cannot disagree with the model code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tfgridnet.contracts.data_check import DataCheckFile
from tfgridnet.contracts.folders import RunDir
from tfgridnet.contracts.names import RUN_CONFIG_NAME
from tfgridnet.i18n import fmt, tr
from tfgridnet.model.architectures import ARCHITECTURES
from tfgridnet.model.config import ModelConfig, validate_model_args
from tfgridnet.report.analysis import Analysis
from tfgridnet.report.blocks import Block

__all__ = ["audio_blocks", "files_blocks", "model_blocks", "model_facts", "parameter_count",
           "data_check_notice"]


def parameter_count(config: ModelConfig) -> int:
    """Trainable parameters of the model ``config`` selects, built on the meta device."""
    import torch

    from tfgridnet.model.architectures import build_model

    with torch.device("meta"):
        model = build_model(config.version, config.model_kwargs())
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def model_facts(config: dict[str, Any]) -> dict[str, Any]:
    """The architecture of the run's ``model`` section: ``{"config": ModelConfig, "params": n}``,
    ``{"error": text}`` when it is not a TF-GridNetV2 configuration, ``{}`` when absent."""
    section = config.get("model")
    if not isinstance(section, dict):
        return {}
    try:
        model_config = validate_model_args(f"{RUN_CONFIG_NAME} model", **section)
    except ValueError as exc:
        return {"error": str(exc)}
    return {"config": model_config, "params": parameter_count(model_config)}


def _table(lang: str, rows: list[tuple[str, str]]) -> Block:
    return Block("table", header=[tr("col.item", lang), tr("col.value", lang)],
                 rows=[[tr(key, lang), value] for key, value in rows])


# The model table's sizes: catalog key -> ModelConfig field.
_MODEL_SIZES = {"model.blocks": "n_layers", "model.lstm": "lstm_hidden_units",
                "model.heads": "attn_n_head", "model.qk_dim": "attn_approx_qk_dim",
                "model.emb_dim": "emb_dim"}


def model_blocks(analysis: Analysis, lang: str) -> list[Block]:
    blocks = [Block("h2", tr("h.model", lang))]
    facts = model_facts(analysis.config)
    if not facts:
        return blocks + [Block("p", tr("model.none", lang))]
    if "error" in facts:
        return blocks + [Block("p", tr("model.invalid", lang, error=facts["error"]))]
    m: ModelConfig = facts["config"]
    blocks.append(Block("p", tr("model.source", lang)))
    yes_no = {True: tr("word.on", lang), False: tr("word.off", lang)}
    return blocks + [_table(lang, [
        ("model.version", ARCHITECTURES[m.version].__name__),
        *((key, fmt(getattr(m, name), "d")) for key, name in _MODEL_SIZES.items()),
        ("model.unfold", f"{m.emb_ks} / {m.emb_hs}"),
        ("model.stft", f"{m.win_length or m.n_fft} / {m.stride} / {m.window}" + (
            f" @ {m.default_fs:,d} Hz" if m.rate_independent else "")),
        ("model.activation", m.activation),
        ("model.checkpointing", yes_no[m.gradient_checkpointing]),
        ("model.params", fmt(facts["params"], ",d")),
    ])]


def audio_blocks(analysis: Analysis, lang: str) -> list[Block]:
    blocks = [Block("h2", tr("h.audio", lang))]
    record = analysis.data_check
    if record is None:
        return blocks + [Block("p", tr("audio.none", lang,
                                       file=RunDir(analysis.run_dir).data_check.name))]
    p = record.pipeline
    band = (tr("audio.band", lang, low=fmt(p.bandpass_hz[0], ",.0f"),
               high=fmt(p.bandpass_hz[1], ",.0f"), filter=p.filter)
            if p.bandpass_hz else tr("audio.no_band", lang))
    blocks.append(_table(lang, [
        ("audio.rate", f"{p.sample_rate:,d} Hz" if p.sample_rate else tr("audio.native", lang)),
        ("audio.loader", p.loader),
        ("audio.resampler", tr("audio.resample_on" if p.resample_on_load else "audio.resample_off",
                               lang, resampler=p.resampler)),
        ("audio.filter", band),
    ]))
    if record.check_pairs == 0 or not record.checks:
        return blocks + [Block("p", tr("audio.skipped", lang))]
    blocks.append(Block("p", tr("audio.check_note_all", lang) if record.check_pairs == "all"
                        else tr("audio.check_note", lang, n=record.check_pairs)))
    header = [tr(k, lang) for k in ("col.manifest", "col.checked", "col.errors", "col.warnings",
                                    "col.input_sisnr", "col.duration", "col.rates")]
    rows = []
    for c in record.checks:
        snr = c.sisnr_db
        rows.append([f"`{c.key}`", f"{c.n_checked} / {c.n_pairs}", str(c.n_errors),
                     str(c.n_warnings),
                     " / ".join(fmt(snr.get(k), ".1f") for k in ("p10", "median", "p90")),
                     fmt(c.duration_s.get("median"), ".2f"),
                     ", ".join(f"{rate} Hz × {n}" for rate, n in c.sample_rates.items()) or "—"])
    blocks.append(Block("table", header=header, rows=rows))
    blocks += _audit_blocks(record, lang)
    kinds = sorted({k for c in record.checks for k in c.problems_by_kind})
    if kinds:
        blocks.append(Block("p", tr("audio.kinds", lang, kinds=", ".join(
            f"`{k}` × {sum(c.problems_by_kind.get(k, 0) for c in record.checks)}" for k in kinds))))
    if record.errors_ignored:
        blocks.append(Block("p", tr("audio.ignored", lang)))
    blocks += _curation_blocks(record, lang)
    return blocks


def _audit_blocks(record: DataCheckFile, lang: str) -> list[Block]:
    """The reference audit per manifest: the references' own SNR, bandwidth and speech share."""
    audited = [c for c in record.checks if c.ref_snr_db]
    if not audited:
        return []
    threshold = record.reference_snr_error_db
    blocks = [Block("p", tr("audio.audit_note", lang, threshold=fmt(threshold, "g"))
                    if threshold is not None else tr("audio.audit_note_off", lang))]
    header = [tr(k, lang) for k in ("col.manifest", "col.ref_snr", "col.ref_bandwidth",
                                    "col.ref_speech", "col.cached")]
    rows = [[f"`{c.key}`",
             " / ".join(fmt(c.ref_snr_db.get(k), ".1f") for k in ("p10", "median")),
             fmt(c.ref_bandwidth_hz.get("median"), ",.0f"),
             fmt(c.ref_speech_share.get("median"), ".2f"),
             "—" if c.n_cached is None else f"{c.n_cached} / {c.n_checked}"] for c in audited]
    return blocks + [Block("table", header=header, rows=rows)]


def _curation_blocks(record: DataCheckFile, lang: str) -> list[Block]:
    """One table: per curated manifest, what ``tfgridnet curate`` dropped and why."""
    blocks = [Block("p", tr("audio.curation_stale", lang, note=c.curation_note))
              for c in record.checks if c.curation_note]
    curated = [c for c in record.checks if c.curation is not None]
    if not curated:
        return blocks
    header = [tr(k, lang) for k in ("col.manifest", "col.curated_from", "col.kept",
                                    "col.dropped_by")]
    rows = []
    for c in curated:
        cur = c.curation
        assert cur is not None
        rows.append([f"`{c.key}`", f"`{cur.source}`", f"{cur.n_kept} / {cur.n_rows}",
                     ", ".join(f"`{kind}` × {n}" for kind, n in cur.dropped_by_kind.items())
                     or "—"])
    return blocks + [Block("p", tr("audio.curation_note", lang)),
                     Block("table", header=header, rows=rows)]


def data_check_notice(analysis: Analysis, lang: str) -> list[Block]:
    """For the report's first section: a start-up data check that checked only a sample (or
    nothing) says so there, not only in the audio-pipeline section."""
    record = analysis.data_check
    if record is None:
        return []
    if record.check_pairs == 0:
        return [Block("p", tr("notice.check_skipped", lang))]
    return [Block("p", tr("notice.check_sampled" if c.role == "pairs" else
                          "notice.check_sampled_files", lang, manifest=c.key, n=c.sampled["n"],
                          total=c.sampled["of"]))
            for c in record.checks if c.sampled]


def _size(path: Path) -> str:
    if path.is_dir():
        size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    else:
        size = path.stat().st_size
    return f"{size / 2**20:,.1f} MB" if size >= 2**20 else f"{size / 1024:,.1f} KB"


def files_blocks(analysis: Analysis, lang: str) -> list[Block]:
    run = RunDir(analysis.run_dir)
    summary = analysis.summary
    rows: list[list[str]] = []
    for path, key in ((run.config, "files.config"), (run.environment, "files.environment"),
                      (run.metrics, "files.metrics"), (run.data_check, "files.data_check"),
                      (run.train_summary, "files.summary"), (run.logs, "files.logs"),
                      (run.checkpoints, "files.checkpoints"), (run.model, "files.model")):
        folder = path in (run.logs, run.checkpoints, run.model)
        shown = f"`{path.name}/`" if folder else f"`{path.name}`"
        status = _size(path) if path.exists() else tr("files.missing", lang)
        rows.append([shown, tr(key, lang), status])
    blocks = [Block("h2", tr("h.files", lang)),
              Block("table", header=[tr("col.file", lang), tr("col.contents", lang),
                                     tr("col.status", lang)], rows=rows)]
    if analysis.checkpoints:
        blocks.append(Block("p", tr("files.kept", lang, n=len(analysis.checkpoints), names=", ".join(
            f"`{name}`" for name in analysis.checkpoints))))
    if run.logs.is_dir():
        entries = sorted(p.name + ("/" if p.is_dir() else "") for p in run.logs.iterdir())
        blocks.append(Block("p", tr("files.log_list", lang,
                                    names=", ".join(f"`{n}`" for n in entries) or "—")))
    best_checkpoint = summary.best_checkpoint if summary is not None else None
    exported = run.model_weights.is_file()
    if best_checkpoint or exported:
        blocks.append(Block("p", tr(
            "files.best", lang, epoch=summary.best_epoch if summary is not None else None,
            sisnr=summary.best_valid_sisnr if summary is not None else None,
            checkpoint=f"`{best_checkpoint}`" if best_checkpoint else "—",
            export=f"`{run.model.name}/`" if exported else "—")))
    return blocks
