"""Several processes on one results folder: runs claimed so that none is done twice, Ctrl-C and a killed parent
with workers, submission through submitit (its local executor end to end), and each worker's own GPU."""
from __future__ import annotations

import contextlib
import io
import json
import multiprocessing
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from benchmark.config import load_config
from benchmark.device import Precision
from benchmark.errors import ConfigError
from benchmark.execution import Outcome, RunContext, SubmititExecutor, execute_run, local, one_run, worker_device
from benchmark.execution import slurm as slurm_backend
from benchmark.experiments import RunOptions
from benchmark.experiments import run_grid as run_grid_of
from benchmark.grid import build_grid
from benchmark.store import CLAIM, STALE_AFTER_S, RunStore, pid_alive
from tests.test_faults_concurrency import GATED, claims, command, finish, gate, gated_claims  # noqa: F401 (fixtures)

FOUR = ["--losses", "pairwise,proxy,center,triplet"]


def run_command(config: Path, results: Path, *args) -> list:
    """The arguments of ``python -m benchmark run`` on ``config`` into ``results``, quiet, and ``args``."""
    return ["run", "--config", config, "--results", results, "--quiet", *args]


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


# ------------------------------------------------------------------------------------------------ claims


def _race(folder: str, barrier, results) -> None:
    from benchmark.store import claim

    barrier.wait()
    results.put(claim(Path(folder)) is not None)
    barrier.wait()  # hold the claim until every process has tried


def test_a_claim_is_exclusive_released_and_taken_over_from_a_dead_holder(tmp_path):
    store = RunStore(tmp_path)
    path = store.folder("run") / CLAIM
    held = store.claim("run")
    assert held is not None and store.claim("run") is None
    holder = store.claim_holder("run")
    assert holder["pid"] == os.getpid() and holder["host"] == socket.gethostname()
    held.release()
    assert not path.exists() and store.claim_holder("run") is None

    path.write_text(json.dumps({"host": socket.gethostname(), "pid": dead_pid(), "token": "dead"}))
    taken = store.claim("run")  # its holder is gone: taken over
    assert taken is not None and json.loads(path.read_text())["pid"] == os.getpid()
    path.write_text(json.dumps({"host": "elsewhere", "pid": 1, "token": "theirs"}))  # taken from us meanwhile
    taken.release()
    assert json.loads(path.read_text())["token"] == "theirs"  # a claim is released only by its holder
    assert store.claim("run") is None  # another host's claim, touched lately: alive
    old = time.time() - STALE_AFTER_S - 1
    os.utime(path, (old, old))
    assert store.claim("run") is not None  # no heartbeat for too long: taken over

    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(6), context.Queue()
    racers = [context.Process(target=_race, args=(str(tmp_path / "race"), barrier, results)) for _ in range(6)]
    for racer in racers:
        racer.start()
    outcomes = [results.get(timeout=60) for _ in racers]
    for racer in racers:
        racer.join(60)
    assert sorted(outcomes) == [False] * 5 + [True]  # of six processes at once, exactly one holds the run


def test_a_run_claimed_by_a_live_process_is_left_to_it(tiny):
    config, results = tiny
    spec = build_grid(load_config(str(config))).specs[0]
    store = RunStore(results)
    with store.claim(spec.run_id):  # this process holds it, as another command would
        outcome = execute_run(spec, RunContext(results=results, progress=False))
        assert outcome.status == "busy" and f"pid {os.getpid()}" in outcome.holder
        assert store.status(spec.run_id) == "pending"
    assert not (store.folder(spec.run_id) / CLAIM).exists()


def test_two_identical_commands_never_do_a_run_twice(tiny, gate, command, wait_for):
    """The first command holds one run at a gate while the second, the same command, starts: both see pending
    runs at once, whatever the machine's speed (a race left to timing was lost under load)."""
    config, results = tiny
    args = run_command(config, results, "--losses", f"{GATED},pairwise,proxy,center", "--workers", "1")
    first = command(*args)
    gated_claims(results, 1, first, wait_for)  # the first is inside the gated run, waiting
    second = command(*args)
    second_out = finish(second)[0]
    gate.unlink()
    outputs = [finish(first)[0], second_out]
    assert first.returncode == 0 and second.returncode == 0, outputs
    # The runs each found pending add up to more than the grid: at least one run was open to both.
    pending = [int(re.search(r"\d+ done, (\d+) to run", out).group(1)) for out in outputs]
    assert sum(pending) > 4, outputs
    ran = [{line.split()[1] for line in out.splitlines() if line.startswith("done ")} for out in outputs]
    assert not ran[0] & ran[1] and len(ran[0] | ran[1]) == 4, outputs
    assert len(list((results / "runs").glob("*/record.json"))) == 4 and not claims(results)


def _worker_of(worker_pid_out, polling: bool) -> None:
    """A parent (this process) whose worker runs ``_exit_with_parent`` and then waits for ever; once the worker
    has set itself up, the parent sends the worker's pid and dies without stopping it."""
    import ctypes

    context = multiprocessing.get_context("fork")
    ready = context.Event()

    def worker() -> None:
        if polling:  # no prctl (not on Linux): the fallback watches for the parent
            def no_libc(*args, **kwargs):
                raise OSError("no libc here")

            ctypes.CDLL = no_libc
        local._exit_with_parent(os.getppid())
        ready.set()
        threading.Event().wait()  # ended only by _exit_with_parent

    child = context.Process(target=worker)
    child.start()
    ready.wait(120)
    worker_pid_out.put(child.pid)
    worker_pid_out.close()
    worker_pid_out.join_thread()  # the pid is sent before this process dies
    os._exit(0)


@pytest.mark.parametrize("polling", [False, True], ids=["prctl", "polling"])
def test_a_worker_exits_when_its_parent_dies(polling, wait_for):
    context = multiprocessing.get_context("fork")
    workers = context.Queue()
    parent = context.Process(target=_worker_of, args=(workers, polling))
    parent.start()
    worker = workers.get(timeout=120)
    parent.join(120)
    try:
        wait_for(lambda: not pid_alive(worker))
    except AssertionError:  # still alive: not left behind
        os.kill(worker, signal.SIGKILL)
        raise


def test_ctrl_c_with_workers_stops_at_once_and_starts_nothing_more(tiny, cli_process, wait_for):
    config, results = tiny
    command = cli_process(*run_command(config, results, *FOUR, "--workers", "2", "--epochs", "2000"))
    held = wait_for(lambda: len(claims(results)) == 2 and claims(results))
    started = {p.name for p in (results / "runs").iterdir()}
    assert set(held) == started  # the first two runs, one per worker
    os.killpg(command.pid, signal.SIGINT)  # Ctrl-C: the whole process group
    _, err = command.communicate(timeout=120)
    assert command.returncode == 130 and "interrupted" in err, err
    assert not any(pid_alive(pid) for pid in held.values())  # both workers stopped before the command exits
    assert {p.name for p in (results / "runs").iterdir()} == started  # no queued run started
    assert not claims(results) and not list((results / "runs").glob("*/record.json"))  # released; not done


# ------------------------------------------------------------------------------------------------ submitit


def run_grid(config: Path, results: Path, **slurm) -> tuple[int, str]:
    """``run --executor slurm --losses pairwise`` in this process, with these ``execution.slurm`` keys, and what it
    printed."""
    grid = build_grid(load_config(str(config), {"losses": ["pairwise"], "execution": {"slurm": slurm}}))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        ran = run_grid_of(grid, RunContext(results=results, execution=grid.config.execution, progress=False),
                          RunOptions(executor="slurm"), out=out)
    return ran.status, out.getvalue()


def test_submitit_local_executor_end_to_end(tiny, monkeypatch):
    pytest.importorskip("submitit")
    config, results = tiny
    prepared, prepare = [], one_run.prepare_shared
    monkeypatch.setattr(one_run, "prepare_shared", lambda spec, context: prepared.append(spec) or prepare(spec, context))
    status, out = run_grid(config, results, cluster="local", timeout_min=5)
    assert status == 0, out
    assert len(prepared) == 1  # the shared caches, built here before any job
    assert "ran 1 runs through submitit's local executor (no Slurm" in out and "at most 8 at once, 5 min" in out
    assert "1 of 1 runs done" in out and out.count("done   ") == 1
    for folder in (results / "runs").iterdir():
        assert (folder / "record.json").is_file() and not (folder / CLAIM).exists()
        assert "executor submitit-local" in (folder / "log.txt").read_text()
        assert json.loads((folder / "submitted.json").read_text())["cluster"] == "local"
    status, out = run_grid(config, results, cluster="local")
    assert status == 0 and "1 done, 0 to run" in out


def test_slurm_submission_skips_runs_in_flight_and_passes_limits(tiny, monkeypatch):
    config, results = tiny
    grid = build_grid(load_config(str(config), {"losses": ["pairwise", "proxy", "center", "triplet"]}))
    slurm = replace(grid.config.execution.slurm, array_parallelism=3, partition="gpu")
    context = RunContext(results=results, progress=False,
                         execution=replace(grid.config.execution, slurm=slurm))
    specs = list(grid.specs)
    store, events = RunStore(results), []

    class Job:
        def __init__(self, job_id):
            self.job_id = job_id

    class Executor:
        def __init__(self, folder, cluster):
            events.append(("cluster", cluster))

        def update_parameters(self, **parameters):
            events.append(("parameters", parameters))

        def map_array(self, work, specs, contexts, grid_ids):
            events.append(("submitted", [s.run_id for s in specs]))
            return [Job(f"77_{i}") for i in range(len(specs))]

    class SlurmJob:
        def __init__(self, folder, job_id):
            self.state = {"5": "PENDING", "6": "COMPLETED"}[job_id]

    monkeypatch.setitem(sys.modules, "submitit", type("submitit", (), {"AutoExecutor": Executor,
                                                                         "SlurmJob": SlurmJob}))
    monkeypatch.setattr(one_run, "prepare_shared", lambda spec, context: events.append(("prepared", spec)) or {})
    monkeypatch.setattr(slurm_backend, "_slurm_available", lambda: False)
    with pytest.raises(ConfigError, match="there is no Slurm here .*execution.slurm.cluster=local"):
        SubmititExecutor(context).run(execute_run, specs, None)
    monkeypatch.setattr(slurm_backend, "_slurm_available", lambda: True)

    holder = store.claim(specs[0].run_id)  # running in another process
    for spec, job in zip(specs[1:], ("5", "6")):  # queued on Slurm; finished (failed, timed out) on Slurm
        store.folder(spec.run_id).mkdir(parents=True)
        (store.folder(spec.run_id) / "submitted.json").write_text(json.dumps(
            {"cluster": "slurm", "job_id": job, "folder": str(results), "submitted": 0}))
    submission = SubmititExecutor(context).run(execute_run, specs, "grid")
    holder.release()
    assert [s.run_id for s, _ in submission.in_flight] == [specs[0].run_id, specs[1].run_id]
    assert "being run by pid" in submission.in_flight[0][1] and "job 5 is pending" in submission.in_flight[1][1]
    kinds = [kind for kind, _ in events]
    assert kinds == ["cluster", "parameters", "prepared", "submitted"]  # the caches before any job
    assert events[0][1] == "slurm" and events[-1][1] == [specs[2].run_id, specs[3].run_id]
    assert {"timeout_min": 240, "slurm_array_parallelism": 3, "slurm_partition": "gpu"}.items() <= \
        events[1][1].items()
    assert submission.outcomes is None  # not waited for
    assert submission.note.startswith("submitted 2 runs as a Slurm job array 77 (at most 3 at once, 240 min")
    marked = json.loads((store.folder(specs[2].run_id) / "submitted.json").read_text())
    assert marked["cluster"] == "slurm" and marked["job_id"] == "77_0"

    class LocalJob(Job):  # submitit's local jobs: done after a few polls
        running, most = 0, 0

        def __init__(self, spec):
            super().__init__(str(len(events)))
            self.spec, self.polls = spec, 0
            LocalJob.running += 1
            LocalJob.most = max(LocalJob.most, LocalJob.running)

        def done(self):
            self.polls += 1
            if self.polls == 3:
                LocalJob.running -= 1
            return self.polls >= 3

        def result(self):
            return Outcome(self.spec.run_id, "done", i2t=0.5, t2i=0.5)

    Executor.submit = lambda self, work, spec, context, grid_id: LocalJob(spec)
    local = replace(context, execution=replace(context.execution, slurm=replace(slurm, cluster="local",
                                                                                array_parallelism=2)))
    submission = SubmititExecutor(local).run(execute_run, specs, "grid")  # job 5 is still pending: three runs
    assert len(submission.outcomes) == 3 and LocalJob.most == 2  # at most array_parallelism at once


def test_without_submitit_the_slurm_executor_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "submitit", None)  # as where it is not installed
    with pytest.raises(ConfigError, match="--executor slurm needs submitit: pip install"):
        slurm_backend.slurm_executor(RunContext())


# ------------------------------------------------------------------------------------------------ GPUs


def test_each_worker_gets_its_own_gpu(tiny, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 3)
    assert [worker_device("cuda", i) for i in range(5)] == ["cuda:0", "cuda:1", "cuda:2", "cuda:0", "cuda:1"]
    assert worker_device(None, 4) == "cuda:1"  # no device named: cuda here, so the GPUs are shared out too
    assert worker_device("cuda:2", 0) == "cuda:2" and worker_device("cpu", 1) == "cpu"  # asked for: kept
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert worker_device("cuda", 3) == "cuda"
    config, results = tiny
    spec = build_grid(load_config(str(config))).specs[0]
    monkeypatch.setattr(local, "_WORKER_DEVICE", "cuda:1")
    seen = local._in_worker(lambda spec, context, grid_id: context.execution.device, spec,
                             RunContext(results=results), None)
    assert seen == "cuda:1"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_mixed_precision_on_a_gpu():
    precision = Precision(torch.device("cuda"))
    assert precision.dtype == (torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16)
    a = torch.randn(8, 8, device="cuda")
    with precision.autocast():
        assert (a @ a).dtype == precision.dtype
    assert (a @ a).dtype == torch.float32 and Precision(torch.device("cpu")).dtype is None


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_a_run_on_a_gpu_under_autocast_gives_a_finite_record(tiny):
    config, results = tiny
    grid = build_grid(load_config(str(config), {"execution": {"device": "cuda"}}))
    spec = grid.specs[0]
    outcome = execute_run(spec, RunContext(results=results, execution=grid.config.execution, progress=False))
    assert outcome.status == "done", outcome
    record = RunStore(results).read_record(spec.run_id)
    assert 0.0 < record.metrics["i2t"]["map"] <= 1.0 and 0.0 < record.metrics["t2i"]["map"] <= 1.0
