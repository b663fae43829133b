"""metrics.csv's writer: a resumed run rewrites the epochs it replays and keeps the earlier ones,
whatever order rows arrive in, one at a time or many at once."""

from __future__ import annotations

from tfgridnet.contracts.metrics_csv import EPOCH, INITIAL_EPOCH, EpochRow, MetricsLog, read_metrics


def _kept(epochs: list[int]) -> list[int]:
    """Independent rule: each row drops the rows of its epoch or later, then comes last."""
    out: list[int] = []
    for epoch in epochs:
        out = [e for e in out if e < epoch] + [epoch]
    return out


def test_replayed_epochs_replace_the_later_rows_in_one_call_or_many(tmp_path):
    epochs = [INITIAL_EPOCH, 0, 1, 2, 3, 1, 2, 0, 1, 4]  # a crash at 3, resumes from 1 then 0
    one_by_one, at_once = MetricsLog(tmp_path / "a.csv"), MetricsLog(tmp_path / "b.csv")
    for i, epoch in enumerate(epochs):
        one_by_one.append(EpochRow(epoch=epoch, step=10 * i, valid_sisnr=float(i)))
    at_once.extend(EpochRow(epoch=e, step=10 * i, valid_sisnr=float(i))
                   for i, e in enumerate(epochs))
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    table = read_metrics(tmp_path / "a.csv")
    assert list(table[EPOCH]) == _kept(epochs) == [INITIAL_EPOCH, 0, 1, 4]
    assert list(table["valid_sisnr"]) == [0.0, 7.0, 8.0, 9.0]


def test_a_resumed_process_reads_the_file_and_drops_a_foreign_rows_bad_epoch(tmp_path):
    path = tmp_path / "metrics.csv"
    MetricsLog(path).extend(EpochRow(epoch=e, step=e) for e in range(4))
    path.write_text(path.read_text() + "x" + ",0" * 13 + "\n")  # a row without an epoch number
    MetricsLog(path).append(EpochRow(epoch=2, step=99))  # a new process, resuming at 2
    assert list(read_metrics(path)[EPOCH]) == [0, 1, 2]
