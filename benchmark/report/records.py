"""Run records into one tidy DataFrame, and the coverage of the grids they come from. Reads the store only."""
from __future__ import annotations

import pandas as pd

from ..data import is_synthetic
from ..record import RunFailure, RunRecord
from ..store import RunStore
from .selection import row_label

#: The order of the loss families in tables (the registry's); losses of no family come after them.
FAMILY_ORDER = ("pairwise", "triplet", "center", "proxy", "dcgh")
DIRECTION_LABELS = {"i2t": "I→T", "t2i": "T→I", "i2i": "I→I", "t2t": "T→T"}
COLUMNS = ["run_id", "loss", "row", "family", "dataset", "bits", "replicate", "protocol", "mode", "synthetic", "direction",
           "metric", "value"]


def tidy(records: list[RunRecord]) -> pd.DataFrame:
    """One row per run x direction x scalar metric (``map``, ``map_tie_aware``, ``map_best``, ``map_worst``,
    ``map@K``), with the run's loss, dataset, bits, replicate, protocol and mode."""
    rows = []
    for record in records:
        spec = record.spec
        for direction, metrics in record.metrics.items():
            for metric, value in metrics.items():
                if metric.startswith("map"):
                    rows.append([record.run_id, spec.loss, row_label(spec), record.family, spec.dataset, spec.bits, spec.replicate,
                                 spec.settings.protocol, spec.settings.mode, is_synthetic(spec.dataset), direction,
                                 metric, float(value)])
    return pd.DataFrame(rows, columns=COLUMNS)


def families_of(records: list[RunRecord]) -> dict[str, str | None]:
    """Each row's (``selection.row_label``) family, as its records state it."""
    return {row_label(record.spec): record.family for record in records}


def loss_order(names, families: dict[str, str | None]) -> list[str]:
    """Rows ``names`` grouped by family in the families' order, each family's representative (the loss named
    like it) first, then its other members by name; rows of no family last."""
    def key(name: str):
        family = families.get(name)
        rank = FAMILY_ORDER.index(family) if family in FAMILY_ORDER else len(FAMILY_ORDER)
        return rank, name != family, name

    return sorted(set(names), key=key)


def coverage(store: RunStore, records: list[RunRecord], failures: list[RunFailure]) -> dict:
    """For every grid the records and failures were run from: the runs done, failed and missing."""
    done = {r.run_id for r in records}
    expected: dict[str, str] = {}
    for grid_id in sorted({r.grid_id for r in [*records, *failures] if r.grid_id}):
        expected.update(store.read_grid(grid_id) or {})
    expected.update({r.run_id: r.spec.label for r in [*records, *failures]})
    return {
        "expected": len(expected),
        "done": len(done),
        "failed": [(f.run_id, f.spec.label, f.error) for f in sorted(failures, key=lambda f: f.run_id)],
        "missing": sorted(label for run_id, label in expected.items()
                          if run_id not in done and run_id not in {f.run_id for f in failures}),
    }
