"""Training and evaluating one run (docs/protocol.md): ``train_and_evaluate`` gives its ``RunRecord``;
``evaluate_reference`` gives a reference row's. Both take the run's ``RunSpec`` and its ``RunEnvironment``.

>>> record = train_and_evaluate(spec, RunEnvironment(dataset, split, backbone_folder, cache_dir=cache))  # doctest: +SKIP
>>> record.metrics["i2t"]["map"], record.selection.epochs, record.training.n_indices  # doctest: +SKIP
"""
from __future__ import annotations

import time
from pathlib import Path

from ..backbones import open_backbone
from ..config import GENERATED_BACKBONES, RunSpec
from ..continuous import quantization_gap
from ..data import PairedDataset, dataset_entry
from ..device import Precision, resolve_device
from ..record import RunRecord, TrainingUse
from .. import references
from ..threads import plan_loader_workers, torch_threads
from .feature_sources import FEATURE_SOURCES
from .assemble import code_diagnostics, kept_files, run_record
from .reference_evaluation import evaluate_reference
from .run_environment import RunEnvironment
from .state import indices_sha256
from .tensorboard import TensorBoardLog
from .trainer import Trainer, TrainingDiverged

__all__ = ["RunEnvironment", "Trainer", "TrainingDiverged", "evaluate_reference", "feature_mode", "make_trainer",
           "prepare_features", "train_and_evaluate"]


def feature_mode(spec: RunSpec) -> str:
    """How run ``spec`` gets its features: its mode, or the frozen cache for a reference row."""
    return "frozen" if references.row_kind(spec.loss) == "reference" else spec.settings.mode


def backbone_threads(spec: RunSpec, threads: int) -> int:
    """Threads for work that runs the backbone: ``threads`` for a real CLIP, one for the tiny ones
    (``benchmark/threads.py`` says why)."""
    return 1 if spec.settings.backbone in GENERATED_BACKBONES else threads


def prepare_features(spec: RunSpec, dataset: PairedDataset, backbone_path: Path, cache_dir: Path,
                     device: str | None = None, progress: bool = False, threads: int = 1,
                     loader_workers: int | None = None) -> None:
    """Build what the runs of ``spec``'s dataset share in its mode (frozen: the feature cache) before any
    of them trains, so parallel workers never build it twice. ``loader_workers``: image loader processes
    (``benchmark.threads.plan_loader_workers``)."""
    torch_device = resolve_device(device)
    with torch_threads(backbone_threads(spec, threads)):
        FEATURE_SOURCES[feature_mode(spec)].prepare(dataset, backbone_path, cache_dir, spec.settings, torch_device,
                                                    progress, plan_loader_workers(loader_workers, torch_device))


def make_trainer(spec: RunSpec, environment: RunEnvironment) -> Trainer:
    """The trainer of run ``spec``: its backbone opened, its features ready (cached ones loaded or built), its
    images decoded by the environment's loader workers."""
    env = environment
    torch_device = resolve_device(env.device)
    precision = Precision(torch_device)
    backbone = open_backbone(env.backbone_path)
    start = time.perf_counter()
    features = FEATURE_SOURCES[spec.settings.mode].open(env.dataset, backbone, env.cache_dir, spec.settings,
                                                        torch_device, precision, env.progress,
                                                        plan_loader_workers(env.loader_workers, torch_device))
    trainer = Trainer(spec, env.dataset, env.split, backbone, features, torch_device, precision, env.progress)
    trainer.timings["encode_s"] += time.perf_counter() - start
    return trainer


def train_and_evaluate(spec: RunSpec, environment: RunEnvironment) -> RunRecord:
    """Train the run ``spec`` on its environment's dataset and evaluate it as its protocol says; returns its
    record, with the diagnostics of its codes. With the environment's ``folder``, the run keeps its codes, its
    heads' and loss's state and (``save_continuous``; default: for a synthetic set) its continuous outputs there
    (``benchmark.codes``), and with ``tensorboard`` its per-epoch losses and mAP in ``folder/tensorboard``.

    Raises:
        TrainingDiverged: a loss term became NaN or infinite (names the epoch, step and term).
        BackboneError, ConfigError: a backbone folder or device that cannot be used.
    """
    env, start = environment, time.perf_counter()
    dataset, split, folder = env.dataset, env.split, env.folder
    source = FEATURE_SOURCES[spec.settings.mode]
    with torch_threads(backbone_threads(spec, env.threads) if source.runs_backbone else 1):
        trainer = make_trainer(spec, env)
        log = TensorBoardLog(folder) if env.tensorboard and folder is not None else None
        trainer.observers += [log] if log else []
        try:
            history, outcome = trainer.fit()
        finally:
            if log:
                log.close()
    trained = trainer.trained.nonzero()[0]
    training = TrainingUse(part=trainer.protocol.training_part, n_indices=len(trained),
                           indices_sha256=indices_sha256(trained), epochs=len(history), steps=trainer.steps)
    kept, keeping = outcome.kept, time.perf_counter()
    diagnostics, files = None, {}
    if kept is not None:  # a tuning trial keeps nothing: it never encodes the query set
        with torch_threads(1):  # small products: one BLAS thread is fastest, and does not fight other runs
            gap = quantization_gap(kept.outputs, dataset.labels[split.query], dataset.labels[split.retrieval],
                                   {d: outcome.results[d]["map"] for d in ("i2t", "t2i")})
            diagnostics = code_diagnostics(dataset, split, kept.codes, gap)
        keep_outputs = dataset_entry(dataset.name).keeps_outputs if env.save_continuous is None else env.save_continuous
        files = kept_files(folder, dataset, split, kept.codes, kept.outputs if keep_outputs else None, kept.state)
    trainer.timings["keep_s"] = time.perf_counter() - keeping  # the diagnostics and the files kept
    return run_record(spec, outcome.results, selection=outcome.selection, training=training, history=history,
                      evaluations=trainer.evaluations, codes_sha256=outcome.codes_sha256, dataset=dataset, split=split,
                      backbone=trainer.backbone, feature_cache=trainer.features.cache,
                      timings={**trainer.timings, "total_s": time.perf_counter() - start}, device=trainer.device,
                      diagnostics=diagnostics, files=files)
