"""One run: its shared caches (data, split, backbone, features), then training and evaluation under a claim, then
its record (or ``failed.json``) and log in the store."""
from __future__ import annotations

import errno
import json
import os
import socket
import time
import traceback
from dataclasses import asdict, replace
from datetime import datetime, timezone
from pathlib import Path

from .. import data, references
from ..backbones import backbone_folder, synthetic_backbone, tiny_backbone
from ..config import RunSpec
from ..plugins import load_plugins
from ..record import RunFailure
from ..store import CLAIM, RunStore, claim_holder_of, current_job, describe_holder
from ..training import RunEnvironment, evaluate_reference, feature_mode, prepare_features, train_and_evaluate
from .context import RunContext
from .outcome import Outcome


def resources(spec: RunSpec, context: RunContext) -> tuple[data.PairedDataset, data.Split, Path]:
    """The dataset, its split and the backbone folder of a run (built and cached on first use)."""
    if spec.synthetic is not None:
        size = {"size": spec.synthetic.size} if spec.synthetic.size is not None else {}
        dataset = data.load(spec.dataset, root=context.cache, seed=spec.synthetic.seed, **size, **spec.synthetic.knobs)
    else:
        execution = context.execution
        options = {"image_root": execution.image_root,
                   "missing_images": "drop" if execution.drop_missing_images else "error"}
        taken = data.dataset_entry(spec.dataset).options  # a user's dataset may take none of them
        dataset = data.load(spec.dataset, root=Path(execution.data_root) / spec.dataset if execution.data_root else None,
                            **{key: value for key, value in options.items() if key in taken})
    split = data.load_or_create_split(dataset, data.default_split_settings(dataset, **asdict(spec.settings.split)),
                                      context.cache)
    if spec.settings.backbone == "synthetic":
        backbone = synthetic_backbone(dataset, split, context.cache, seed=spec.synthetic.backbone_seed,
                                      steps=spec.synthetic.pretrain_steps, progress=context.progress)
    elif spec.settings.backbone == "tiny":
        backbone = tiny_backbone(dataset, context.cache, spec.settings.max_text_len)
    else:
        backbone = backbone_folder(spec.settings.backbone, context.cache)  # an OpenAI .pt: converted once, cached
    return dataset, split, backbone


def prepare_shared(spec: RunSpec, context: RunContext) -> dict:
    """Build the caches the runs of ``spec``'s dataset share (data, split, backbone, features) and return how
    the data was read (missing images included), before any training starts."""
    load_plugins(context.plugins)
    dataset, _, backbone = resources(spec, context)
    prepare_features(spec, dataset, backbone, context.cache, context.execution.device, context.progress,
                     context.threads, context.execution.loader_workers)
    return dataset.summary


def _shared_key(spec: RunSpec) -> tuple:
    """What decides the caches a run shares with others: two runs with the same key share all of them."""
    s = spec.settings
    synthetic = json.dumps(asdict(spec.synthetic), sort_keys=True) if spec.synthetic else None  # knobs: a dict
    return spec.dataset, synthetic, s.backbone, s.split, s.max_text_len, feature_mode(spec)


def sharing_caches(specs: list[RunSpec]) -> list[RunSpec]:
    """One run of each group of ``specs`` that share their caches (``_shared_key``), in order: building theirs
    builds every run's."""
    shared: dict[tuple, RunSpec] = {}
    for spec in specs:
        shared.setdefault(_shared_key(spec), spec)
    return list(shared.values())


def prepare_all(specs: list[RunSpec], context: RunContext) -> list[dict]:
    """``prepare_shared`` of each of ``specs`` in turn (in one process or job, so no two build one cache)."""
    return [prepare_shared(spec, context) for spec in specs]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def execute_run(spec: RunSpec, context: RunContext, grid_id: str | None = None) -> Outcome:
    """Train and evaluate one run, then write its record (or ``failed.json``).

    The run is claimed first (``benchmark.store.claim``): when another live process holds it, nothing is done
    (status ``busy``); when its record appeared meanwhile (another process finished it), neither (``skipped``).
    A finished run's log is written first, then its record (the commit point), and the claim is released last,
    when the run ends, failed or not: a kill at any moment leaves a pending run or a finished one with its log."""
    store = RunStore(context.results)
    claim = store.claim(spec.run_id)
    if claim is None:
        holder = store.claim_holder(spec.run_id)
        return Outcome(spec.run_id, "busy",
                       holder=describe_holder(holder) if holder is not None else "another process")
    with claim:
        try:
            written = (store.folder(spec.run_id) / store.RECORD).stat().st_mtime
        except FileNotFoundError:
            written = None
        if written is not None and (context.redo_before is None or written >= context.redo_before):
            return Outcome(spec.run_id, "skipped")
        return _execute_claimed(spec, context, grid_id, store)


def _executor_here() -> str:
    """What runs this process: a Slurm job, a submitit local job, or this machine's process."""
    return current_job() or f"local pid {os.getpid()} on {socket.gethostname()}"


#: The errors of the disk itself (full, over quota, read-only): every later run would fail alike, so they stop the
#: grid with the command line's one line on what to do, instead of failing each run.
DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS})


def _record_failure(store: RunStore, failure: RunFailure, log: list[str]) -> str | None:
    """Write the failed run's ``failed.json`` and log; None, or what kept them from being written (a full disk):
    writing them never raises, so that the run's own error is the one reported."""
    try:
        store.write_failure(failure)
        store.write_log(failure.run_id, log)
    except OSError as exc:
        return f"its {store.FAILURE} could not be written: {exc.strerror}"
    return None


def _execute_claimed(spec: RunSpec, context: RunContext, grid_id: str | None, store: RunStore) -> Outcome:
    header = [f"run {spec.run_id}", f"spec {json.dumps(spec.to_dict())}", f"executor {_executor_here()}"]
    start = time.perf_counter()
    try:
        load_plugins(context.plugins)
        dataset, split, backbone = resources(spec, context)
        run = evaluate_reference if references.row_kind(spec.loss) == "reference" else train_and_evaluate
        environment = RunEnvironment(dataset, split, backbone, context.cache, device=context.execution.device,
                                     progress=context.progress, threads=context.threads,
                                     loader_workers=context.execution.loader_workers, folder=store.folder(spec.run_id),
                                     save_continuous=context.execution.save_continuous,
                                     tensorboard=context.execution.log == "tensorboard")
        record = run(spec, environment)
    except Exception as exc:  # a failed run is recorded and the grid goes on
        failure = RunFailure(run_id=spec.run_id, spec=spec, grid_id=grid_id, error=str(exc),
                             error_type=type(exc).__name__, traceback=traceback.format_exc(), failed_at=_now())
        unrecorded = _record_failure(store, failure, header + [f"FAILED: {failure.error_type}: {exc}",
                                                                failure.traceback])
        if isinstance(exc, OSError) and exc.errno in DISK_ERRNOS:
            raise
        return Outcome(spec.run_id, "failed", time.perf_counter() - start,
                       error=f"{failure.error_type}: {exc}" + (f" ({unrecorded})" if unrecorded else ""))
    history = [f"epoch {h.epoch}: " + " ".join(f"{k}={v:.4f}" for k, v in h.loss.items())
               + "".join(f" val_map_{d}={v:.4f}" for d, v in h.validation_map.items()) for h in record.history]
    metrics = [f"{d}: " + " ".join(f"{k}={v:.4f}" for k, v in m.items() if isinstance(v, float))
               for d, m in record.metrics.items()]
    store.write_log(spec.run_id, header + history + [f"selection {record.selection}", f"training {record.training}"]
                    + metrics)
    store.write_record(replace(record, grid_id=grid_id))  # last: the commit point, with its log already beside it
    return Outcome(spec.run_id, "done", time.perf_counter() - start, i2t=record.metrics["i2t"]["map"],
                   t2i=record.metrics["t2i"]["map"])


def record_lost_run(spec: RunSpec, context: RunContext, grid_id: str | None, pid: int, error: str) -> Outcome:
    """The outcome of a task whose process ``pid`` died without a word (killed from outside): its run, when that
    process held it, is recorded failed (``WorkerDied``), so that the next invocation retries it. A study's task
    holds its trials' runs instead, which its next invocation takes up again."""
    store = RunStore(context.results)
    holder = claim_holder_of(store.folder(spec.run_id) / CLAIM, alive_only=False) or {}
    if holder.get("pid") == pid and holder.get("host") == socket.gethostname():
        store.write_failure(RunFailure(run_id=spec.run_id, spec=spec, grid_id=grid_id, error=error,
                                       error_type="WorkerDied", traceback="", failed_at=_now()))
    return Outcome(spec.run_id, "failed", error=f"WorkerDied: {error}")
