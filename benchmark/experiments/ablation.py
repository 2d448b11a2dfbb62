"""The ``ablate`` experiment: an ablation's grid (``benchmark/configs/ablations/NAME.yaml``) through the same runner
as ``run``, then its table and figure."""
from __future__ import annotations

import sys
from pathlib import Path

from ..config import load_ablation
from ..report import ReportContext, ablation_section
from ..store import RunStore
from .request import GridRequest, RunOptions, build
from .run import run_grid


def ablate(name: str, request: GridRequest, options: RunOptions, out_folder: Path, out=None) -> int:
    """Run ablation ``name``'s losses on the grid of ``request``, then write its table and figure under
    ``out_folder``; the exit status."""
    out = out or sys.stdout
    ablation = load_ablation(name)
    grid, context = build(request.overridden("losses", list(ablation.losses)))
    ran = run_grid(grid, context, options, out)
    if not ran.finished:
        return ran.status
    ids = {spec.run_id for spec in grid.specs}
    store = RunStore(context.results)
    records = [r for r in store.contents().records if r.run_id in ids]
    section = ablation_section(ReportContext(records, store, out_folder), ablation, name)
    if not section.tables:
        print(f"no ablation table: {section.markdown.strip()}", file=sys.stderr)
        return 1
    for path in section.tables + section.figures:
        print(f"wrote {path}", file=out)
    return ran.status
