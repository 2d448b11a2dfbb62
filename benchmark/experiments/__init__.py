"""Experiments: what the commands run, as typed functions of a ``GridRequest`` (a configuration and its overrides)
and ``RunOptions``: ``run_grid``, ``ablate``, ``stress`` and ``sweep``, ``tune``. Each runs its grid through the
executors of ``benchmark.execution`` and writes what it promises through ``benchmark.report``; the command line
(``benchmark.cli``) only parses flags into these arguments."""
from __future__ import annotations

from .ablation import ablate
from .along import stress, sweep
from .request import GridRequest, RunOptions, build
from .run import GridRun, preflight_warnings, run_grid
from .tuning import tune

__all__ = ["GridRequest", "GridRun", "RunOptions", "ablate", "build", "preflight_warnings", "run_grid", "stress", "sweep", "tune"]
