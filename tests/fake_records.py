"""Hand-made run records (and the grids they belong to) for the store and report tests."""
from __future__ import annotations

from pathlib import Path

import numpy as np

import losses
from benchmark.config import Config, RunSpec
from benchmark.grid import build_grid
from benchmark.record import DIRECTIONS, EpochLog, RunRecord, Selection, TrainingUse
from benchmark.store import RunStore


def make_record(spec: RunSpec, i2t: float, t2i: float | None = None, grid_id: str | None = None) -> RunRecord:
    """A record shaped like the runner's, with I->T mAP ``i2t`` (T->I ``i2t - 0.01`` unless given); every
    other metric and curve derives from those two values."""
    t2i = i2t - 0.01 if t2i is None else t2i
    values = {"i2t": i2t, "t2i": t2i, "i2i": i2t + 0.02, "t2t": t2i + 0.02}
    bits = spec.bits
    radius = list(range(bits + 1))
    return RunRecord(
        run_id=spec.run_id, spec=spec, grid_id=grid_id,
        metrics={d: {"map": v, "map_tie_aware": v - 0.001, "map_best": v + 0.01, "map_worst": v - 0.01,
                     "map@50": v + 0.05} for d, v in values.items()},
        curves={d: {"pr_radius": {"radius": radius, "precision": list(np.linspace(v + 0.3, v, bits + 1)),
                                  "recall": list(np.linspace(0.01, 1, bits + 1))},
                    "precision@N": {"n": [1, 10, 50], "value": [v + 0.3, v + 0.2, v]},
                    "recall@N": {"n": [1, 10, 50], "value": [0.01, 0.1, 0.3]}} for d, v in values.items()},
        selection=Selection(protocol=spec.settings.protocol, source="validation", criterion="validation mAP",
                            epochs={d: 3 for d in DIRECTIONS}, score=i2t, selected_state_sha256={d: "a" for d in DIRECTIONS},
                            evaluated_state_sha256={d: "a" for d in DIRECTIONS}),
        training=TrainingUse(part="val_database", n_indices=100, indices_sha256="b", epochs=3, steps=30),
        history=[EpochLog(e, {"total": 1 / e, "term_a": 0.6 / e, "term_b": 0.4 / e}, val_map_i2t=i2t * e / 3,
                          val_map_t2i=i2t * e / 3 - 0.01, val_map=i2t * e / 3) for e in (1, 2, 3)],
        evaluations=[], codes_sha256={}, data={},
        timings={"encode_s": 0.1, "train_s": 1.0, "eval_s": 0.2, "total_s": 1.3},
        environment={"torch": "2.13.0+cpu", "transformers": "5.23.0", "numpy": "2.4.6", "device_name": "x86_64",
                     "git_commit": "abc123"},
        finished_at="2026-11-25T12:00:00+00:00",
        family=next((e.family for e in losses.entries() if e.name == spec.loss), None),
        control=any(e.control for e in losses.entries() if e.name == spec.loss),
    )


def write_record(results: Path, config: Config, loss: str, dataset: str, bits: int, replicate: int, i2t: float,
                 t2i: float | None = None) -> RunRecord:
    """Store the record of run (loss, dataset, bits, replicate) of ``config``'s grid, and the grid itself."""
    grid = build_grid(config)
    spec = next(s for s in grid.specs if (s.loss, s.dataset, s.bits, s.replicate) == (loss, dataset, bits, replicate))
    store = RunStore(results)
    store.write_grid(grid.id, grid.runs())
    record = make_record(spec, i2t, t2i, grid.id)
    store.write_record(record)
    return record
