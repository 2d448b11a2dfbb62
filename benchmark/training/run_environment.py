"""``RunEnvironment``: everything one run is given besides its ``RunSpec``, built by the runner for each run.

Not to be confused with ``benchmark.environment``, the versions and device a record reports.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..data import PairedDataset, Split


@dataclass(frozen=True, eq=False)  # eq=False: a dataset's arrays have no single truth value to compare by
class RunEnvironment:
    """What a run reads, where it may cache and keep files, and how it executes; none of it is in the run id.

    Attributes:
        dataset, split: the run's data and its split.
        backbone_path: the CLIP folder (``benchmark.backbones``).
        cache_dir: the shared caches (the frozen features under ``features/``).
        device: ``cpu``, ``cuda``, ``cuda:N`` or None for the best available (``benchmark.device``).
        progress: progress bars.
        threads: for a fine-tuned real CLIP's passes; everything else runs on one thread.
        loader_workers: image loader processes (``benchmark.threads.plan_loader_workers``; None: planned).
        folder: the run's folder, where it keeps its codes, state and (``save_continuous``) continuous outputs
            (``benchmark.codes``); None: nothing is kept.
        save_continuous: keep the continuous outputs too; None: for a synthetic set.
        tensorboard: log each epoch's losses and mAP to ``folder/tensorboard``.
    """

    dataset: PairedDataset
    split: Split
    backbone_path: Path
    cache_dir: Path
    device: str | None = None
    progress: bool = False
    threads: int = 1
    loader_workers: int | None = None
    folder: Path | None = None
    save_continuous: bool | None = None
    tensorboard: bool = False
