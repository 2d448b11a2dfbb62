"""Faults and concurrency around claims (issue 31): two ``tune`` commands on one results folder, a worker killed
from outside, SIGTERM, and the order in which a finished run's log, record and claim are written.

The processes here are held in the middle of a run by ``GatedLoss``, which waits while the file named by
``$GATE_FILE`` exists: a test knows where each process is by the claims in the store and lets it go on by removing
the gate, without sleeping for a guessed time."""
from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import optuna
import pytest

from benchmark.config import load_config
from benchmark.execution import RunContext, execute_run
from benchmark.grid import build_grid
from benchmark.store import CLAIM, Claim, RunStore
from losses import FloatRange, HashingLoss, LossOutput

GATED = f"{__name__}:GatedLoss"


class GatedLoss(HashingLoss):
    """Pulls the two modalities together, but on a training batch first waits while the file ``$GATE_FILE`` exists
    (not on the grid's check of a user's loss, a batch of six)."""

    search_space = {"weight": FloatRange(0.5, 2.0)}

    def __init__(self, n_classes, n_bits, weight: float = 1.0):
        super().__init__(n_classes, n_bits)
        self.weight = weight

    def forward(self, img, txt, labels):
        gate = os.environ.get("GATE_FILE")
        while gate and len(labels) > 6 and os.path.exists(gate):
            time.sleep(0.05)
        return LossOutput.from_terms({"align": self.weight * (img - txt).pow(2).mean()})


@pytest.fixture
def gate(tmp_path, monkeypatch) -> Path:
    """The gate file, closed (present); the processes started from now on wait at it until a test removes it."""
    path = tmp_path / "gate"
    path.touch()
    monkeypatch.setenv("GATE_FILE", str(path))
    return path


@pytest.fixture
def command(cli_process):
    """``command(*args)``: ``python -m benchmark ARGS`` in a process of its own; any still running when the test ends
    (one that failed while they waited at the gate) is killed with its workers."""
    started = []
    yield lambda *args: started.append(cli_process(*args)) or started[-1]
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()


def claims(results: Path) -> dict[str, int]:
    """Run folder name -> the pid claiming it."""
    found = {}
    for path in (results / "runs").glob(f"*/{CLAIM}"):
        try:
            found[path.parent.name] = json.loads(path.read_text())["pid"]
        except (OSError, ValueError):  # being written or removed
            pass
    return found


def trial_states(results: Path, loss: str = "*") -> dict[str, list[str]]:
    """Each study's trial states (of the studies of ``loss``, a glob pattern), by trial number."""
    found = {}
    for path in sorted((results / "tuning").glob(f"*-{loss}-*.db")):
        study = optuna.load_study(study_name=path.stem, storage=f"sqlite:///{path}")
        found[path.stem] = [t.state.name for t in sorted(study.trials, key=lambda t: t.number)]
    return found


def finish(process) -> tuple[str, str]:
    """What a started command printed (stdout, stderr), once it has ended."""
    return process.communicate(timeout=180)


def gated_claims(results: Path, count: int, process, wait_for) -> dict[str, int]:
    """Once ``count`` gated runs are claimed (their processes wait at the gate): run folder -> claiming pid."""
    held = wait_for(lambda: process.poll() is not None or (
        len(found := {k: v for k, v in claims(results).items() if "GatedLoss" in k}) == count and found))
    assert process.poll() is None, finish(process)
    return held


# ------------------------------------------------------------------------------------------------ tune


def test_two_tune_commands_on_one_folder_share_the_studies(tiny, gate, command, wait_for):
    config, results = tiny
    args = ["tune", "--config", config, "--results", results, "--quiet", "--workers", "1", "--trials", "2",
            "--losses", f"{GATED},pairwise", "--out", results.parent / "figures"]
    first = command(*args)
    gated_claims(results, 1, first, wait_for)  # the first holds the gated study's first trial, waiting at the gate
    study_claim, = (results / "tuning").glob(f"*GatedLoss*.{CLAIM}")  # and the study itself
    assert json.loads(study_claim.read_text())["pid"] == first.pid
    second = command(*args)
    # The second either leaves the gated study to the first (and tunes the other) or, unclaimed, takes the
    # first's running trial over and fails it; either way it is done with that study now.
    # (only the gated study's file is read meanwhile: the other's may be being created, which Optuna does not share)
    wait_for(lambda: second.poll() is not None or "FAIL" in str(trial_states(results, "*GatedLoss")), timeout=180)
    gate.unlink()
    (out1, err1), (out2, err2) = finish(first), finish(second)
    assert first.returncode == 0 and second.returncode == 0, (err1, err2)
    assert "Traceback" not in err1 + err2, (err1, err2)
    states = trial_states(results)  # every trial finished once, none failed or taken over
    assert len(states) == 2 and all(s == ["COMPLETE", "COMPLETE"] for s in states.values()), states
    assert "busy" in out2 and "GatedLoss" in out2 and "trial 1/2 pairwise" in out2, out2  # left to the first
    assert "trial 2/2 tests.test_faults_concurrency:GatedLoss" in out1, out1
    assert not claims(results) and not list((results / "tuning").glob(f"*.{CLAIM}"))


# ------------------------------------------------------------------------------------------------ workers


def run_args(config: Path, results: Path, workers: int) -> list:
    """``run`` of two replicates of the gated loss and of pairwise, on ``workers`` workers."""
    return ["run", "--config", config, "--results", results, "--quiet", "--replicates", "2", "--workers", workers,
            "--losses", f"{GATED},pairwise"]


def test_a_killed_worker_fails_only_its_own_run_and_the_grid_goes_on(tiny, gate, cli, command, wait_for):
    config, results = tiny
    grid = command(*run_args(config, results, 2))
    (victim, victim_pid), (survivor, survivor_pid) = sorted(gated_claims(results, 2, grid, wait_for).items())
    os.kill(victim_pid, signal.SIGKILL)  # as the out-of-memory killer does
    store = RunStore(results)
    wait_for(lambda: grid.poll() is not None or store.status(victim) == "failed")
    gate.unlink()
    out, err = finish(grid)
    assert grid.returncode == 1 and "Traceback" not in err, err  # 1: a run failed
    assert "3 of 4 runs done" in out and "1 failed" in out, out
    failure = store.read_failure(victim)
    assert "SIGKILL" in failure.error and str(victim_pid) in failure.error, failure
    assert any(line.startswith("FAILED") and "SIGKILL" in line for line in out.splitlines()), out
    # the other worker's run went on in that worker: not killed, not redone
    assert f"executor local pid {survivor_pid} " in (store.folder(survivor) / store.LOG).read_text()
    assert [store.status(run_id) for run_id in sorted(p.name for p in store.root.iterdir())].count("done") == 3
    assert not claims(results)
    again = cli(*run_args(config, results, 1))
    assert again.returncode == 0 and "(1 failed before, retried)" in again.stdout, again
    assert store.status(victim) == "done"


# ------------------------------------------------------------------------------------------------ SIGTERM


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_releases_the_claims_and_exits_with_one_line(tiny, gate, command, wait_for, workers):
    config, results = tiny
    grid = command(*run_args(config, results, workers))
    held = gated_claims(results, workers, grid, wait_for)
    if workers == 1:
        os.kill(grid.pid, signal.SIGTERM)
    else:  # a Slurm time limit signals every process of the job
        os.killpg(grid.pid, signal.SIGTERM)
    out, err = finish(grid)
    assert grid.returncode > 0, (grid.returncode, err)  # exited, not killed by the signal
    assert len(err.strip().splitlines()) == 1 and "SIGTERM" in err, err
    assert not claims(results), claims(results)  # another host may take them up at once
    store = RunStore(results)
    assert {store.status(run_id) for run_id in held} == {"pending"}  # stopped, neither done nor failed
    assert not list(results.glob("runs/*/failed.json"))


# ------------------------------------------------------------------------------------------------ one run


def test_a_finished_runs_log_is_written_before_its_record_and_its_claim_released_last(tiny, monkeypatch):
    """The record is the commit point: a kill before it leaves a pending run (redone), after it a run with its log;
    the claim goes only once the record is there."""
    config, results = tiny
    spec = build_grid(load_config(str(config), {"losses": ["pairwise"]})).specs[0]
    store = RunStore(results)
    seen = []
    write_record, release = RunStore.write_record, Claim.release

    def checked_write_record(self, record):
        seen.append(("record", store.folder(spec.run_id).joinpath(store.LOG).is_file(),
                     store.folder(spec.run_id).joinpath(CLAIM).is_file()))
        return write_record(self, record)

    def checked_release(self):
        seen.append(("release", store.status(spec.run_id)))
        return release(self)

    monkeypatch.setattr(RunStore, "write_record", checked_write_record)
    monkeypatch.setattr(Claim, "release", checked_release)
    outcome = execute_run(spec, RunContext(results=results, progress=False))
    assert outcome.status == "done", outcome
    assert seen == [("record", True, True), ("release", "done")]  # log, then record (claimed), then release
