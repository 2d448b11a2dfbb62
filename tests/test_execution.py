"""The execution layer's seams: the executor registry, typed outcomes, and a user's backend run through the same
``run_grid`` as the built-in ones, giving the same records."""
from __future__ import annotations

import json

import pytest

from benchmark.errors import ConfigError
from benchmark.execution import Batch, Executor, Outcome, executor_names, make_executor, register_executor
from benchmark.execution.base import EXECUTORS
from benchmark.execution.one_run import prepare_all, sharing_caches
from benchmark.experiments import GridRequest, RunOptions, build, run_grid


def test_the_registry_lists_the_backends_and_refuses_a_name_twice():
    assert executor_names() == ["local", "slurm"]

    class Another(Executor):
        name = "local"

        def run(self, task, specs, grid_id=None, unit="run"):
            raise AssertionError("never run")

    with pytest.raises(ValueError, match="an executor named 'local' is already registered"):
        register_executor(Another)
    assert executor_names() == ["local", "slurm"]
    with pytest.raises(ConfigError, match="unknown executor 'cluster'; available: local, slurm"):
        make_executor("cluster", None)


@pytest.mark.parametrize("outcome,line", [
    (Outcome("r", "done", 1.25, i2t=0.5, t2i=0.25), "done   L: I->T 0.5000  T->I 0.2500  (1.2 s)"),
    (Outcome("r", "done", 2.0, summary="best validation mAP 0.7"), "done   L: best validation mAP 0.7  (2.0 s)"),
    (Outcome("r", "failed", error="ValueError: x"), "FAILED L: ValueError: x"),
    (Outcome("r", "busy", holder="pid 7"), "busy   L: being run by pid 7; left to it"),
    (Outcome("r", "skipped"), "skip   L: finished by another process meanwhile"),
])
def test_an_outcome_prints_one_line_per_status(outcome, line):
    assert outcome.line("L") == line


def test_a_batch_lists_its_failures():
    batch = Batch([Outcome("a", "done", i2t=0.1, t2i=0.1), Outcome("b", "failed", error="e")])
    assert [o.run_id for o in batch.failed] == ["b"]
    assert Batch(None).failed == []


class InlineExecutor(Executor):
    """A user's backend: every task in this process, in reverse order (to show the order does not matter)."""

    name = "inline-test"
    used = 0

    def run(self, task, specs, grid_id=None, unit="run"):
        InlineExecutor.used += 1
        prepare_all(sharing_caches(specs), self.context)
        return Batch([task(spec, self.context, grid_id) for spec in reversed(specs)])


@pytest.fixture
def inline_executor():
    register_executor(InlineExecutor)
    yield InlineExecutor
    EXECUTORS.remove(InlineExecutor.name)


def test_a_registered_backend_runs_a_grid_to_the_same_records(inline_executor, tiny_config, tmp_path):
    codes, config = {}, tiny_config(tmp_path)
    for executor in ("local", InlineExecutor.name):
        grid, context = build(GridRequest(str(config), {"execution": {"workers": 1}},
                                          results=tmp_path / executor, progress=False))
        assert run_grid(grid, context, RunOptions(executor=executor)).status == 0
        codes[executor] = {p.parent.name: json.loads(p.read_text())["codes_sha256"]
                           for p in (tmp_path / executor / "runs").glob("*/record.json")}
    assert InlineExecutor.used == 1 and len(codes["local"]) == 2
    assert codes["local"] == codes[InlineExecutor.name]
