"""Speed of a whole grid (``pytest -m benchmark``): runs per second of a searched grid on this machine's workers (the
default losses on one synthetic set, a search of 2 settings, 2 replicates, the default epochs), and the time a
re-run of the finished grid takes to find nothing to do (docs/performance.md)."""
from __future__ import annotations

import time

import pytest

from benchmark.store import RunStore

pytestmark = pytest.mark.benchmark

GRID = {"losses": ["all"], "datasets": ["synth-coco"], "bits": [32], "replicates": 2,
        "search": {"head_lr": [1e-3, 1e-2], "weight_decay": [0.2]}}


@pytest.fixture(scope="module")
def finished(tmp_path_factory, tiny_config):
    """The grid above, run once: its config, results folder and (runs, seconds)."""
    from .conftest import TINY_GRID, run_cli

    folder = tmp_path_factory.mktemp("bench-grid")
    config = tiny_config(folder, **{key: value for key, value in GRID.items()},
                         run={**TINY_GRID["run"], "epochs": 30, "batch_size": 128, "topk": [1000]},
                         synthetic={}, references=True)
    start = time.perf_counter()
    result = run_cli("run", "--config", config, "--results", folder / "results", "--quiet")
    seconds = time.perf_counter() - start
    assert result.returncode == 0, result.stdout + result.stderr
    return config, folder / "results", seconds


def test_grid_runs_per_second(benchmark, finished):
    config, results, seconds = finished
    runs = len(RunStore(results).contents().records)
    benchmark.pedantic(lambda: None, rounds=1)  # the measured grid ran once, in the fixture
    benchmark.extra_info.update(runs=runs, seconds=seconds, runs_per_second=runs / seconds)
    print(f"\n{runs} records (search trials, runs, reference rows) in {seconds:.1f} s: {runs / seconds:.2f} runs/s")


def test_rerun_of_a_finished_grid(benchmark, finished):
    from .conftest import run_cli

    config, results, _ = finished
    result = benchmark.pedantic(run_cli, args=("run", "--config", config, "--results", results, "--quiet"), rounds=3)
    assert "0 to run" in result.stdout
    assert benchmark.stats.stats.max < 30
