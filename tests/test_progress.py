"""Progress for logs: plain lines at a steady interval with rate and ETA when stdout is not a
terminal; the rich bar stays for terminals."""

from __future__ import annotations

import io

import pytest

from tfgridnet.errors import UserInputError
from tfgridnet.progress import (
    INTERVAL_ENV,
    MIN_REPORTED,
    ProgressLines,
    format_duration,
    progress_interval,
    progress_reporter,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_lines_come_at_a_steady_interval_with_count_rate_and_eta() -> None:
    clock, out = FakeClock(), io.StringIO()
    lines = ProgressLines("evaluate", "utterances", stream=out, interval_s=10, clock=clock)
    for done in range(1, 301):  # one utterance every 0.5 s: 150 s in all
        clock.now += 0.5
        lines.update(done, 300)
    printed = out.getvalue().splitlines()
    assert len(printed) == 15  # at 10, 20, ... 140 s, then the closing line
    assert printed[0] == "evaluate: 20/300 utterances (6 %), 2 utterances/s, ETA 2m20s"
    assert printed[-1] == "evaluate: 300/300 utterances (100 %) in 2m30s, 2 utterances/s"


def test_short_runs_get_no_closing_line_unless_a_line_came_before() -> None:
    clock, out = FakeClock(), io.StringIO()
    lines = ProgressLines("check-data", "pairs", stream=out, interval_s=10, clock=clock)
    for done in range(1, MIN_REPORTED):
        clock.now += 0.01
        lines.update(done, MIN_REPORTED - 1)
    assert out.getvalue() == ""
    lines.restart()
    for done in range(1, 4):  # three slow items: a line at 10 s, so the end is said too
        clock.now += 6
        lines.update(done, 3)
    assert out.getvalue().splitlines() == ["check-data: 2/3 pairs (66 %), 6 s each, ETA 6s",
                                           "check-data: 3/3 pairs (100 %) in 18s, 6 s each"]


def test_a_note_follows_the_numbers_and_unknown_totals_count_up() -> None:
    clock, out = FakeClock(), io.StringIO()
    lines = ProgressLines("train epoch 2", "batches", stream=out, interval_s=0, clock=clock)
    clock.now += 4
    lines.update(8, 40, "loss -3.2, time budget left 1m05s")
    lines.update(9, None)
    assert out.getvalue().splitlines() == [
        "train epoch 2: 8/40 batches (20 %), 2 batches/s, ETA 16s; loss -3.2, time budget left "
        "1m05s", "train epoch 2: 9 batches, 2.25 batches/s"]


@pytest.mark.parametrize("seconds,text", [(0.4, "0s"), (45, "45s"), (185, "3m05s"),
                                          (7440, "2h04m"), (float("inf"), "?")])
def test_durations_are_short(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_the_interval_comes_from_the_environment_and_bad_values_are_refused(monkeypatch) -> None:
    monkeypatch.delenv(INTERVAL_ENV, raising=False)
    assert progress_interval() == 10.0
    monkeypatch.setenv(INTERVAL_ENV, "2.5")
    assert progress_interval() == 2.5
    for bad in ("soon", "-1", "nan"):
        monkeypatch.setenv(INTERVAL_ENV, bad)
        with pytest.raises(UserInputError, match=INTERVAL_ENV):
            progress_interval()


def test_reporter_prints_plain_lines_to_stdout_when_it_is_not_a_terminal(monkeypatch,
                                                                          capsys) -> None:
    monkeypatch.setenv(INTERVAL_ENV, "0")
    with progress_reporter("enhance", unit="files") as progress:
        for done in range(1, 4):
            progress(done, 3)
    captured = capsys.readouterr()
    assert captured.err == ""
    lines = captured.out.splitlines()
    assert len(lines) == 3 and lines[0].startswith("enhance: 1/3 files (33 %)")
    assert lines[-1].startswith("enhance: 3/3 files (100 %) in ")


def test_reporter_draws_the_rich_bar_on_a_terminal(monkeypatch) -> None:
    import rich.progress

    monkeypatch.setattr("tfgridnet.progress.stdout_is_terminal", lambda: True)
    seen = []
    monkeypatch.setattr(rich.progress.Progress, "update",
                        lambda self, task, **kw: seen.append(kw))
    with progress_reporter("check-data") as progress:
        progress(1, 2)
    assert seen == [{"completed": 1, "total": 2}]
