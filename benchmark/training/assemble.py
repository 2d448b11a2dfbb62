"""The ``RunRecord`` of a run, assembled from what its training (or reference evaluation) reports."""
from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

import losses
from methods import Backbone

from .. import references
from ..codes import write_run_files
from ..config import RunSpec
from ..data import PairedDataset, Split
from ..diagnostics import diagnostics
from ..environment import environment
from ..record import EpochLog, RunRecord, Selection, TrainingUse
from .feature_sources import CacheUse

#: The keys of a direction's results that are curves (lists), not scalar metrics.
CURVE_KEYS = ("pr_radius", "precision@N", "recall@N")


def kept_files(folder: Path | None, dataset: PairedDataset, split: Split, codes: dict[str, np.ndarray],
               outputs: dict[str, np.ndarray] | None = None, state: dict[str, np.ndarray] | None = None
               ) -> dict[str, str]:
    """Write the files a run keeps into ``folder`` (nothing when None); their names and SHA-256."""
    if folder is None:
        return {}
    labels = {"query_labels": dataset.labels[split.query], "retrieval_labels": dataset.labels[split.retrieval]}
    return write_run_files(folder, codes, labels, outputs, state)


def code_diagnostics(dataset: PairedDataset, split: Split, codes: dict[str, np.ndarray],
                     quantization_gap: dict[str, float] | None = None) -> dict:
    """``benchmark.diagnostics`` of the retrieval set's codes."""
    return diagnostics(codes["retrieval_image"], codes["retrieval_text"], dataset.labels[split.retrieval],
                       quantization_gap)


def run_record(spec: RunSpec, results: dict[str, dict], *, selection: Selection | None, training: TrainingUse | None,
               history: list[EpochLog], evaluations: list[dict], codes_sha256: dict, dataset: PairedDataset,
               split: Split, backbone: Backbone, feature_cache: CacheUse | None, timings: dict[str, float],
               device: torch.device, diagnostics: dict | None = None, files: dict[str, str] | None = None
               ) -> RunRecord:
    entry = next((e for e in losses.entries() if e.name == spec.loss), None)
    named = entry is not None or references.row_kind(spec.loss) == "loss"  # a user's pkg.mod:Class, not a ref:row
    display_name, citation = losses.declared(spec.loss) if named else (None, None)
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
              "backbone_architecture": backbone.architecture, "backbone_hash": backbone.hash,
              "feature_cache": asdict(feature_cache) if feature_cache else None, "summary": dataset.summary},
        timings=timings,
        environment=environment(device),
        finished_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        family=entry.family if entry else None,
        control=bool(entry and entry.control),
        citation=asdict(citation) if citation else None,
        display_name=display_name,
        diagnostics=diagnostics,
        files=files or {},
    )
