"""The ``RunRecord`` of a run, assembled from what its training (or reference evaluation) reports."""
from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timezone

import torch

import losses
from methods import Backbone

from ..config import RunSpec
from ..data import PairedDataset, Split
from ..environment import environment
from ..record import RunRecord, Selection, TrainingUse
from .features import CacheUse

#: The keys of a direction's results that are curves (lists), not scalar metrics.
CURVE_KEYS = ("pr_radius", "precision@N", "recall@N")


def run_record(spec: RunSpec, results: dict[str, dict], *, selection: Selection | None, training: TrainingUse | None,
               history: list[dict], evaluations: list[dict], codes_sha256: dict, dataset: PairedDataset, split: Split,
               backbone: Backbone, feature_cache: CacheUse | None, timings: dict[str, float],
               device: torch.device) -> RunRecord:
    return RunRecord(
        run_id=spec.run_id,
        spec=spec,
        grid_id=None,
        metrics={d: {k: v for k, v in r.items() if k not in CURVE_KEYS} for d, r in results.items()},
        curves={d: {k: r[k] for k in CURVE_KEYS if k in r} for d, r in results.items()},
        selection=selection,
        training=training,
        history=history,
        evaluations=evaluations,
        codes_sha256=codes_sha256,
        data={"dataset_hash": dataset.content_hash, "split_hash": split.hash, "n_query": len(split.query),
              "n_retrieval": len(split.retrieval), "n_train": len(split.train), "n_val_query": len(split.val_query),
              "n_val_database": len(split.val_database), "backbone": str(backbone.path),
              "backbone_hash": backbone.hash, "feature_cache": asdict(feature_cache) if feature_cache else None,
              "summary": dataset.summary},
        timings=timings,
        environment=environment(device),
        finished_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        family=next((e.family for e in losses.entries() if e.name == spec.loss), None),
    )
