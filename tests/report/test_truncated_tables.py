"""A metrics.csv or evaluation_results.csv cut off mid-write is said, never silently used."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tfgridnet.cli import main


def _digests(root: Path) -> dict[Path, str]:
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()}


def _report_refused(capsys, *args: str | Path) -> str:
    capsys.readouterr()
    code = main(["report", *map(str, args)])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, (code, err)
    return lines[0]


@pytest.mark.parametrize("cut", ["mid_number", "mid_row", "wrong_field_count"])
def test_a_truncated_metrics_csv_is_refused_naming_the_line(healthy_run, capsys, cut):
    path = healthy_run / "metrics.csv"
    text = path.read_text()
    lines = text.splitlines(keepends=True)
    if cut == "mid_number":  # "1051.2..." would be read as "10"
        text = text[: len(text) - len(lines[-1]) // 3]
    elif cut == "mid_row":
        text = text[: len(text) - len(lines[-1]) // 2] + "\n"
    else:
        text = "".join(lines[:10]) + lines[10].rstrip("\n") + ",7\n" + "".join(lines[11:])
    path.write_text(text)
    before = _digests(healthy_run.parent)
    line = _report_refused(capsys, healthy_run, "--eval", healthy_run.parent / "eval")
    assert "metrics.csv:" in line and ("incomplete" in line or "fields" in line)
    assert not (healthy_run / "analysis.md").exists()
    assert _digests(healthy_run.parent) == before


def test_eval_table_shorter_than_summary_n_is_said(healthy_run, capsys):
    eval_dir = healthy_run.parent / "eval"
    table = eval_dir / "evaluation_results.csv"
    table.write_text("".join(table.read_text().splitlines(keepends=True)[:18]))  # 17 rows
    n = json.loads((eval_dir / "summary.json").read_text())["n"]
    line = _report_refused(capsys, healthy_run, "--eval", eval_dir)
    assert f"17 rows, but summary.json says n={n}" in line


def test_eval_table_cut_mid_line_is_said(healthy_run, capsys):
    table = healthy_run.parent / "eval" / "evaluation_results.csv"
    table.write_text(table.read_text()[:-7])
    line = _report_refused(capsys, healthy_run, "--eval", healthy_run.parent / "eval")
    assert "evaluation_results.csv:" in line and "incomplete" in line


def test_eval_table_non_number_in_a_metric_column_is_said(healthy_run, capsys):
    table = healthy_run.parent / "eval" / "evaluation_results.csv"
    lines = table.read_text().splitlines(keepends=True)
    header = lines[0].rstrip("\n").split(",")
    fields = lines[3].rstrip("\n").split(",")
    fields[header.index("enhanced_sisnr")] = "1O.5"  # letter O: a corrupted digit
    lines[3] = ",".join(fields) + "\n"
    table.write_text("".join(lines))
    line = _report_refused(capsys, healthy_run, "--eval", healthy_run.parent / "eval")
    assert "evaluation_results.csv" in line and "enhanced_sisnr" in line and "'1O.5'" in line
