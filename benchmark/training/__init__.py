"""Training and evaluating one run (docs/protocol.md): ``train_and_evaluate`` gives its ``RunRecord``.

>>> record = train_and_evaluate(spec, dataset, split, backbone_folder, cache_dir=cache)
>>> record.metrics["i2t"]["map"], record.selection.epochs, record.training.n_indices
"""
from __future__ import annotations

import time
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

from ..backbones import open_backbone
from ..config import RunSpec
from ..data import PairedDataset, Split
from ..device import Precision, resolve_device
from ..environment import environment
from ..record import RunRecord, TrainingUse
from .features import FEATURE_SOURCES
from .state import indices_sha256
from .trainer import Trainer, TrainingDiverged

__all__ = ["Trainer", "TrainingDiverged", "make_trainer", "prepare_features", "train_and_evaluate"]

CURVE_KEYS = ("pr_radius", "precision@N", "recall@N")


def prepare_features(spec: RunSpec, dataset: PairedDataset, backbone_path: Path, cache_dir: Path,
                     device: str | None = None, progress: bool = True) -> None:
    """Build what the runs of ``spec``'s dataset share in its mode (frozen: the feature cache) before any
    of them trains, so parallel workers never build it twice."""
    FEATURE_SOURCES[spec.settings.mode].prepare(dataset, backbone_path, cache_dir, spec.settings,
                                                resolve_device(device), progress)


def make_trainer(spec: RunSpec, dataset: PairedDataset, split: Split, backbone_path: Path, *, cache_dir: Path,
                 device: str | None = None, progress: bool = True) -> Trainer:
    """The trainer of run ``spec``: its backbone opened, its features ready (cached ones loaded or built)."""
    torch_device = resolve_device(device)
    precision = Precision(torch_device)
    backbone = open_backbone(backbone_path)
    start = time.perf_counter()
    features = FEATURE_SOURCES[spec.settings.mode].open(dataset, backbone, cache_dir, spec.settings, torch_device,
                                                        precision, progress)
    trainer = Trainer(spec, dataset, split, backbone, features, torch_device, precision, progress)
    trainer.timings["encode_s"] += time.perf_counter() - start
    return trainer


def train_and_evaluate(spec: RunSpec, dataset: PairedDataset, split: Split, backbone_path: Path, *,
                       cache_dir: Path, device: str | None = None, progress: bool = True) -> RunRecord:
    """Train the run ``spec`` on ``dataset`` and evaluate it as its protocol says; returns its record.

    Raises:
        TrainingDiverged: a loss term became NaN or infinite (names the epoch, step and term).
        BackboneError, ConfigError: a backbone folder or device that cannot be used.
    """
    start = time.perf_counter()
    trainer = make_trainer(spec, dataset, split, backbone_path, cache_dir=cache_dir, device=device, progress=progress)
    history, outcome = trainer.fit()
    trained = trainer.trained.nonzero()[0]
    results = outcome.results
    return RunRecord(
        run_id=spec.run_id,
        spec=spec,
        grid_id=None,
        metrics={d: {k: v for k, v in r.items() if k not in CURVE_KEYS} for d, r in results.items()},
        curves={d: {k: r[k] for k in CURVE_KEYS} for d, r in results.items()},
        selection=outcome.selection,
        training=TrainingUse(part=trainer.protocol.training_part, n_indices=len(trained),
                             indices_sha256=indices_sha256(trained), epochs=len(history), steps=trainer.steps),
        history=history,
        evaluations=trainer.evaluations,
        codes_sha256=outcome.codes_sha256,
        data={"dataset_hash": dataset.content_hash, "split_hash": split.hash, "n_query": len(split.query),
              "n_retrieval": len(split.retrieval), "n_train": len(split.train), "n_val_query": len(split.val_query),
              "n_val_database": len(split.val_database), "backbone": str(trainer.backbone.path),
              "backbone_hash": trainer.backbone.hash,
              "feature_cache": asdict(trainer.features.cache) if trainer.features.cache else None, "summary": dataset.summary},
        timings={**trainer.timings, "total_s": time.perf_counter() - start},
        environment=environment(trainer.device),
        finished_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
