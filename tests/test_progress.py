"""Progress a person can follow in a log without a bar (issue 30): each finished task's line says k/N, the time
elapsed and an estimate of the time left, and the shared caches say when they are being made ready."""
from __future__ import annotations

import re

from benchmark.execution import base
from benchmark.execution.base import Tally, clock


def test_clock_reads_minutes_and_hours():
    assert [clock(s) for s in (0, 9.6, 61, 3599.4, 3600, 7322)] == ["0:00", "0:10", "1:01", "59:59", "1:00:00",
                                                                       "2:02:02"]


def test_a_tally_counts_and_estimates_the_time_left_from_the_mean_so_far(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(base.time, "monotonic", lambda: now[0])
    tally = Tally(4)
    now[0] = 130.0  # the first task took 30 s: 3 more, ~90 s
    assert tally.step() == "[1/4, 0:30 elapsed, ~1:30 left]"
    now[0] = 140.0  # two in 40 s: 20 s each, 2 more
    assert tally.step() == "[2/4, 0:40 elapsed, ~0:40 left]"
    tally.step()
    now[0] = 200.0
    assert tally.step() == "[4/4, 1:40 elapsed]"


def test_a_grid_log_says_k_of_n_and_the_caches(tiny, cli):
    config, results = tiny
    result = cli("run", "--config", config, "--results", results, "--quiet")
    assert result.returncode == 0, result.stderr
    log = result.stdout + result.stderr
    done = [line for line in log.splitlines() if line.startswith("done   ")]
    assert done and all(re.search(r"\[\d+/\d+, \d+:\d\d elapsed(, ~\d+:\d\d left)?\]$", line) for line in done), done
    total = int(re.search(r"/(\d+),", done[-1])[1])
    assert done[-1].endswith(f"[{total}/{total}, " + done[-1].split(", ")[-1]) and "left" not in done[-1]
    assert "caches: making the data, backbone and features of" in log


def test_report_says_what_it_renders_and_a_library_call_says_nothing(tiny_grid, cli, tmp_path, capsys):
    from benchmark.report import build_report

    result = cli("report", "--results", tiny_grid.results, "--out", tmp_path / "cli")
    assert result.returncode == 0, result.stderr
    said = [line for line in result.stdout.splitlines() if line.startswith("report: ")]
    assert said[0].startswith("report: ") and "records of the reported configuration read" in said[0]
    assert any(line.startswith("report: main table (") for line in said)
    capsys.readouterr()
    build_report(tiny_grid.results, tmp_path / "library")
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
