"""Run records into one tidy DataFrame, and the coverage of the grids they come from."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ..config import ConfigError, build_grid, validate
from ..runner import RunStore

#: The order losses appear in tables: the families, the ablation variants, then anything else by name.
LOSS_ORDER = ("pairwise", "triplet", "center", "proxy", "dcgh", "dcgh-novar", "dcgh-labelvar", "dcgh-nopair",
              "dcgh-proxyonly")
DIRECTION_LABELS = {"i2t": "I→T", "t2i": "T→I", "i2i": "I→I", "t2t": "T→T"}
COLUMNS = ["run_id", "loss", "dataset", "bits", "seed", "protocol", "mode", "synthetic", "direction", "metric",
           "value"]


def load_records(results: Path) -> list[dict]:
    return RunStore(results).records()


def failures(results: Path) -> list[dict]:
    """The ``failed.json`` of runs that have no record."""
    store = RunStore(results)
    found = []
    for path in sorted(store.root.glob("*/failed.json")):
        if not (path.parent / "record.json").is_file():
            found.append(json.loads(path.read_text()))
    return found


def tidy(records: list[dict]) -> pd.DataFrame:
    """One row per run x direction x scalar metric (``map``, ``map_tie_aware``, ``map_best``, ``map_worst``,
    ``map@K``), with the run's loss, dataset, bits, seed, protocol and mode."""
    rows = []
    for record in records:
        spec = record["spec"]
        for direction, metrics in record["metrics"].items():
            for metric, value in metrics.items():
                if metric.startswith("map"):
                    rows.append([record["run_id"], spec["loss"], spec["dataset"], spec["bits"], spec["seed"],
                                 spec["protocol"], spec["mode"], bool(record.get("synthetic")), direction, metric,
                                 float(value)])
    return pd.DataFrame(rows, columns=COLUMNS)


def loss_order(names) -> list[str]:
    names = set(names)
    return [n for n in LOSS_ORDER if n in names] + sorted(names - set(LOSS_ORDER))


def coverage(records: list[dict], failed: list[dict]) -> dict:
    """For every grid the records were run from (their stored configs): the runs done, failed and missing."""
    done = {r["run_id"] for r in records}
    failed_ids = {f["run_id"]: f.get("error", "") for f in failed}
    configs = {json.dumps(r["config"], sort_keys=True): r["config"] for r in records if "config" in r}
    expected = {}
    for config in configs.values():
        try:
            specs = build_grid(validate(config))
        except ConfigError:  # a grid naming a user's loss that is not importable here any more
            continue
        expected.update({s.run_id: s.label for s in specs})
    return {
        "expected": len(expected) or len(done),
        "done": len(done),
        "failed": [(run_id, expected.get(run_id, run_id), error) for run_id, error in sorted(failed_ids.items())],
        "missing": sorted(label for run_id, label in expected.items() if run_id not in done and run_id not in failed_ids),
    }
