"""The one interface every backend implements (``Executor``), and the registry the ``--executor`` flag reads."""
from __future__ import annotations

import time
from abc import ABC, abstractmethod
from typing import Callable, ClassVar

from tqdm import tqdm

from ..config import RunSpec
from ..errors import ConfigError
from ..registry import Registry
from .context import RunContext
from .outcome import Batch, Outcome

#: A task: what an executor runs for each spec (``execute_run``, or a tuning study). It must be picklable (a
#: module-level function or a ``functools.partial`` of one) to reach worker processes and jobs.
Task = Callable[[RunSpec, RunContext, "str | None"], Outcome]


class Executor(ABC):
    """Runs ``task(spec, context, grid_id)`` for each of a list of specs, after building the caches they share
    (``benchmark.execution.one_run.prepare_shared``) once per group, so that no two tasks build one. Subclasses say
    where the tasks run; each prints a line per finished task (``Outcome.line``) and returns a ``Batch``."""

    name: ClassVar[str]

    def __init__(self, context: RunContext):
        self.context = context

    @abstractmethod
    def run(self, task: Task, specs: list[RunSpec], grid_id: str | None = None, unit: str = "run") -> Batch:
        """Run ``task`` for each of ``specs`` (``unit`` names them in messages: run, study)."""


class Tally:
    """How far a batch of ``total`` tasks is: each finished task's line ends with ``[k/N, 3:12 elapsed, ~5:40 left]``,
    the time left estimated from the mean time per task so far (so that a log without a progress bar, a job's or a
    redirected one, says how far the grid is and how long it will still take)."""

    def __init__(self, total: int):
        self.total, self.done, self.started = total, 0, time.monotonic()

    def step(self) -> str:
        self.done += 1
        elapsed = time.monotonic() - self.started
        left = elapsed / self.done * (self.total - self.done)
        return (f"[{self.done}/{self.total}, {clock(elapsed)} elapsed"
                + (f", ~{clock(left)} left]" if self.done < self.total else "]"))


def clock(seconds: float) -> str:
    """``seconds`` as ``m:ss`` (``h:mm:ss`` from an hour on)."""
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def announce(spec: RunSpec, outcome: Outcome, tally: Tally | None = None) -> None:
    tqdm.write(outcome.line(spec.label) + (f"  {tally.step()}" if tally is not None else ""))


def warn_missing_images(spec: RunSpec, summary: dict) -> None:
    """One warning line per kind of item ``--drop-missing-images`` dropped: image not found, image unreadable."""
    dropped = summary.get("dropped", {})
    for what, examples, why in (("image missing", "missing_image_examples", "were not found"),
                                ("image unreadable", "unreadable_image_examples", "could not be decoded")):
        if dropped.get(what):
            tqdm.write(f"warning: {spec.dataset}: dropped {dropped[what]} items whose image files {why} "
                       f"(e.g. {summary[examples][0]}; --drop-missing-images)")


EXECUTORS: Registry[type[Executor]] = Registry("executor", ConfigError)


def register_executor(cls: type[Executor]) -> type[Executor]:
    """Register a backend under ``cls.name`` (a class decorator); a name is registered once."""
    return EXECUTORS.add(cls.name, cls)


def executor_names() -> list[str]:
    return EXECUTORS.names()


def make_executor(name: str, context: RunContext) -> Executor:
    """The registered executor ``name`` for ``context``."""
    return EXECUTORS[name](context)
