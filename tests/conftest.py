"""What the test files share: one cache folder for the session, the one tiny grid (its configuration, and a run of
it made once per session for the tests that only read its results), the command line run in this process, and
the few real ``python -m benchmark`` processes with a way to wait for what they do."""
from __future__ import annotations

import contextlib
import io
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]

#: The tiny grid: two losses on a 300-pair synthetic set, one code length, one replicate, two epochs, no search, run
#: in the command's own process (a worker pool's start-up, ~7 s of imports, would be most of its time; the tests of
#: the workers give ``--workers 2``).
TINY_GRID = {
    "losses": ["pairwise", "proxy"],
    "datasets": ["synth-nuswide"],
    "bits": [16],
    "replicates": 1,
    "references": False,
    "run": {"epochs": 2, "batch_size": 64, "topk": [50]},
    "synthetic": {"size": 300, "pretrain_steps": 10},
    "search": {"enabled": False},  # the optimizer search has its own tests (test_search.py)
    "execution": {"workers": 1},
}


class CliResult(NamedTuple):
    """What a ``python -m benchmark`` command gave: its exit status and what it printed."""

    returncode: int
    stdout: str
    stderr: str


def run_cli(*args) -> CliResult:
    """``python -m benchmark ARGS`` in this process; argparse's own exits (``--help``, a bad flag) are statuses
    too."""
    from benchmark.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main([str(a) for a in args])
        except SystemExit as exit_:
            status = exit_.code
    return CliResult(status, out.getvalue(), err.getvalue())


def start_cli(*args) -> subprocess.Popen:
    """``python -m benchmark ARGS`` in a process of its own, as a user starts it, its output in pipes: in its own
    process group, with Ctrl-C's default action even when the tests run in the background (where a shell ignores
    SIGINT in the commands it starts)."""
    return subprocess.Popen([sys.executable, "-m", "benchmark", *map(str, args)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def wait_for(condition, timeout: float = 120.0):
    """The first true value of ``condition()``, polled until it comes; an AssertionError after ``timeout`` seconds,
    a bound far above what the condition should take, so that a stuck test fails instead of hanging."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"still false after {timeout} s: {condition}")


def write_tiny_config(folder: Path, **changes) -> Path:
    """``folder/tiny.yaml``: the tiny grid with these top-level keys changed."""
    path = folder / "tiny.yaml"
    path.write_text(yaml.safe_dump({**TINY_GRID, **changes}, sort_keys=False))
    return path


@dataclass(frozen=True)
class FinishedGrid:
    """The tiny grid, run: its configuration file, its results folder and what ``run`` printed."""

    config: Path
    results: Path
    run: CliResult


@pytest.fixture(scope="session", autouse=True)
def benchmark_cache(tmp_path_factory) -> Path:
    """The caches (synthetic sets, splits, backbones, features) of every run in the session, in-process or not:
    one folder, shared, never the user's."""
    folder = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BENCHMARK_CACHE", str(folder))
        yield folder


@pytest.fixture(scope="session")
def tiny_config():
    """``tiny_config(folder, **changes)``: writes the tiny grid's configuration there and gives its path."""
    return write_tiny_config


@pytest.fixture
def tiny(tmp_path) -> tuple[Path, Path]:
    """The tiny grid's configuration and a results folder, this test's own."""
    return write_tiny_config(tmp_path), tmp_path / "results"


@pytest.fixture(scope="session")
def cli():
    """``cli(*args)``: ``python -m benchmark ARGS`` in this process, its (returncode, stdout, stderr)."""
    return run_cli


@pytest.fixture(scope="session")
def cli_process():
    """``cli_process(*args)``: ``python -m benchmark ARGS`` started in a real process, for what needs one (the
    interpreter's exit, signals, several processes at once)."""
    return start_cli


@pytest.fixture(scope="session", name="wait_for")
def wait_for_fixture():
    """``wait_for(condition, timeout=120)``: polls until ``condition()`` is true and gives its value."""
    return wait_for


@pytest.fixture(scope="session")
def tiny_grid(tmp_path_factory) -> FinishedGrid:
    """The tiny grid run once for the session (``run`` without --quiet, its output captured), for the tests that
    only read its results; a test that changes them takes ``tiny_grid_copy``."""
    folder = tmp_path_factory.mktemp("tiny-grid")
    config, results = write_tiny_config(folder), folder / "results"
    run = run_cli("run", "--config", config, "--results", results)
    assert run.returncode == 0, run.stderr
    return FinishedGrid(config, results, run)


@pytest.fixture
def tiny_grid_copy(tiny_grid, tmp_path) -> Path:
    """A copy of the finished tiny grid's results folder, this test's to change."""
    return shutil.copytree(tiny_grid.results, tmp_path / "results")
