"""Where runs read and write and how they execute (``RunContext``)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..config import ExecutionConfig
from ..paths import DEFAULT_RESULTS, cache_dir


@dataclass(frozen=True)
class RunContext:
    """Where runs read and write and how they execute; none of it changes a result (so none is in run_id).
    ``threads``: each run's threads for a real CLIP's passes (``benchmark.threads.plan_workers``)."""

    results: Path = DEFAULT_RESULTS
    execution: ExecutionConfig = field(default_factory=ExecutionConfig)
    progress: bool = False
    threads: int = 1
    plugins: tuple[str, ...] = ()  # imported before a run (in workers and Slurm jobs too), for users' losses
    redo_before: float | None = None  # --force: a record written before this time (time.time()) is redone

    @property
    def cache(self) -> Path:
        return cache_dir(self.results)
