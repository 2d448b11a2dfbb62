"""What an experiment is asked to run (``GridRequest``: a configuration and its overrides) and how (``RunOptions``),
and the grid and run context they make."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..config import load_config, set_nested
from ..execution import RunContext
from ..grid import Grid, build_grid
from ..paths import DEFAULT_RESULTS


@dataclass(frozen=True)
class GridRequest:
    """A grid as the user asks for it: a configuration (``default.yaml``, then ``config``: a name or a file, then
    ``overrides``, a nested dict of configuration keys), optionally run with the parameters of ``params`` (``tuned``
    or a file), its records in ``results``."""

    config: str | None = None
    overrides: dict = field(default_factory=dict)
    params: str | None = None
    results: Path = DEFAULT_RESULTS
    progress: bool = False

    def overridden(self, key: str | tuple[str, ...], value) -> "GridRequest":
        """This request with configuration ``key`` set to ``value``."""
        overrides = _copy(self.overrides)
        set_nested(overrides, key, value)
        return GridRequest(self.config, overrides, self.params, self.results, self.progress)


def _copy(tree: dict) -> dict:
    return {k: _copy(v) if isinstance(v, dict) else v for k, v in tree.items()}


@dataclass(frozen=True)
class RunOptions:
    """How the pending runs execute: ``force`` redoes finished ones, ``shard`` (I, N) keeps shard I of N,
    ``dry_run`` only prints, ``executor`` names the backend (``benchmark.execution.executor_names``)."""

    force: bool = False
    shard: tuple[int, int] | None = None
    dry_run: bool = False
    executor: str = "local"


def build(request: GridRequest, along: tuple[tuple[str, ...], list] | None = None) -> tuple[Grid, RunContext]:
    """The grid of ``request`` and its run context; with ``along`` (a configuration key as a tuple of parts, and its
    values), the grids at each value together, each run once."""
    import transformers

    transformers.utils.logging.disable_progress_bar()  # our own bars show the progress of each step
    if along is None:
        grid = build_grid(load_config(request.config, request.overrides))
    else:
        key, values = along
        grids = [build_grid(load_config(request.config, request.overridden(key, value).overrides)) for value in values]
        specs = {spec.run_id: spec for g in grids for spec in g.specs}
        grid = Grid(grids[0].config, tuple(specs.values()))
    if request.params:
        from ..parameters import grid_with_parameters, parameters_path

        grid = grid_with_parameters(grid, *parameters_path(request.params, request.results))
    return grid, RunContext(results=request.results, execution=grid.config.execution, plugins=grid.config.plugins,
                            progress=request.progress)

