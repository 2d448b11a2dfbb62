"""A shared machine (``pytest -m benchmark``): a small grid alone, then the same grid beside two CPU-bound
processes on the same cores, reported as a slowdown ratio. A fair share of 2 cores among three busy programs is
about 2x; the goal is at most 3x (threads that spin or fight over cores make it far worse).

Run it on an otherwise idle machine: the "alone" time is the baseline of the ratio."""
from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.benchmark

ROOT = Path(__file__).resolve().parents[1]
GRID = """
losses: [pairwise, proxy, dcgh]
datasets: [synth-nuswide]
bits: [16]
replicates: 1
references: false
run: {epochs: 10}
synthetic: {size: 2000}
"""
SLOWDOWN_GOAL = 3.0


def _spin(stop) -> None:
    """A CPU-bound process: pure Python arithmetic until told to stop."""
    x = 0
    while not stop.is_set():
        for i in range(100_000):
            x = (x * 31 + i) % 1_000_003


def _grid(config: Path, results: Path, env: dict) -> float:
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "benchmark", "run", "--config", str(config), "--results",
                             str(results), "--force", "--quiet"], cwd=ROOT, capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    return time.perf_counter() - start


def test_grid_beside_two_busy_processes(benchmark, tmp_path):
    config = tmp_path / "grid.yaml"
    config.write_text(GRID)
    env = {**os.environ, "BENCHMARK_CACHE": str(tmp_path / "cache")}
    _grid(config, tmp_path / "results", env)  # builds the data, the backbone and the features once
    alone = min(_grid(config, tmp_path / "results", env) for _ in range(2))

    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    busy = [context.Process(target=_spin, args=(stop,), daemon=True) for _ in range(2)]
    for process in busy:
        process.start()
    try:
        beside = benchmark.pedantic(_grid, args=(config, tmp_path / "results", env), rounds=1, iterations=1)
    finally:
        stop.set()
        for process in busy:
            process.join(timeout=10)
    ratio = beside / alone
    benchmark.extra_info.update(alone_s=alone, beside_two_busy_s=beside, slowdown=ratio)
    print(f"\ngrid of 3 runs: alone {alone:.1f} s, beside two busy processes {beside:.1f} s: {ratio:.2f}x "
          f"(fair share 2x, goal <= {SLOWDOWN_GOAL}x)")
    assert ratio <= SLOWDOWN_GOAL
