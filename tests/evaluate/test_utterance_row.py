"""evaluation_results.csv's line as a type: what ``evaluate`` writes reads back into the same
``UtteranceRow`` values, and writing those rows again gives the same file."""

from __future__ import annotations

import pytest

from tfgridnet.contracts.evaluation import (
    csv_columns,
    read_results_csv,
    table_rows,
    write_results_csv,
)
from tfgridnet.contracts.metric_registry import METRIC_REGISTRY, MetricSet
from tfgridnet.contracts.names import NOISE_KIND_COLUMN, STATUS_FAILED
from tfgridnet.contracts.utterance import METRIC_COLUMNS, MetricScores, UtteranceRow
from tfgridnet.evaluation.evaluate import evaluate


def test_the_evaluators_file_reads_back_into_rows_that_write_the_same_file(
        exported_dir, pairs_manifest, tmp_path):
    """The real producer (with --baseline and a condition column: every kind of column) against
    the contract's reader and writer."""
    lines = pairs_manifest.read_text().splitlines()
    manifest = pairs_manifest.with_name("with_kind.csv")
    manifest.write_text("\n".join([f"{lines[0]},{NOISE_KIND_COLUMN}"]
                                  + [f"{line},{'white' if i % 2 else 'pink'}"
                                     for i, line in enumerate(lines[1:])]) + "\n")
    evaluate(exported_dir, manifest, tmp_path / "eval", save_audio=False, n_plots=0,
             progress=False, baseline=exported_dir)
    written = tmp_path / "eval" / "evaluation_results.csv"
    header = written.read_text(encoding="utf-8").splitlines()[0].split(",")
    assert header == csv_columns(MetricSet(), [NOISE_KIND_COLUMN], baseline=True)

    rows = table_rows(read_results_csv(written))
    assert [r.conditions for r in rows] == [{NOISE_KIND_COLUMN: k}
                                            for k in ("pink", "white", "pink", "white")]
    sisnr = rows[0].score("sisnr")
    assert sisnr.improvement == pytest.approx(sisnr.enhanced - sisnr.noisy, abs=2e-4)
    assert sisnr.over_baseline == 0.0 and sisnr.baseline == sisnr.enhanced
    assert all(r.ok and r.duration_s == 1.0 and r.enhanced_peak > 0 for r in rows)

    again = write_results_csv(tmp_path / "again.csv", rows, MetricSet(), [NOISE_KIND_COLUMN],
                              baseline=True)
    assert again.read_text(encoding="utf-8") == written.read_text(encoding="utf-8")


def test_every_metric_column_names_one_field_and_a_misspelt_one_is_a_condition():
    """``cell`` and ``from_columns`` are inverse for every column of every metric; a name that is
    no column of the contract is kept as the manifest's condition, never read as a score."""
    row = UtteranceRow("u1")
    for i, (column, (metric, field)) in enumerate(METRIC_COLUMNS.items()):
        setattr(row.scores.setdefault(metric, MetricScores()), field, float(i))
        assert row.cell(column) == float(i)
    assert len(METRIC_COLUMNS) == 5 * len(METRIC_REGISTRY)
    cells = {column: row.cell(column) for column in METRIC_COLUMNS} | {"uttid": "u1"}
    assert UtteranceRow.from_columns(cells) == row

    typo = UtteranceRow.from_columns({"uttid": "u2", "sisnr_improvment": "3.0"})
    assert typo.improvement("sisnr") is None and typo.conditions == {"sisnr_improvment": "3.0"}


def test_a_failed_utterance_keeps_its_error_and_counts_nowhere():
    row = UtteranceRow("u3", notes="length mismatch")
    row.fail("enhancement produced NaN/inf samples")
    row.add_note("", "pesq: no speech")
    assert (row.status, row.ok, row.notes) == (STATUS_FAILED, False,
                                               "length mismatch; pesq: no speech")
    assert row.score("sisnr") == MetricScores() and row.cell("error").startswith("enhancement")


def test_every_field_of_a_row_has_its_column():
    """A field added to UtteranceRow without a column would never reach the file."""
    from dataclasses import fields

    row = UtteranceRow("u4", conditions={"room": "a"}, duration_s=2.5, enhanced_peak=0.9,
                       status=STATUS_FAILED, error="e", notes="n",
                       scores={"sisnr": MetricScores(1.0, 2.0, 1.0)})
    columns = csv_columns(MetricSet(), ["room"])
    assert UtteranceRow.from_columns({c: row.cell(c) for c in columns}) == row
    held = {f.name for f in fields(UtteranceRow)}
    assert {f.name for f in fields(UtteranceRow) if getattr(row, f.name) not in (None, {})} == held
