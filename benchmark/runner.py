"""The grid runner behind ``python -m benchmark run``: resume, shards (also from a Slurm job array), parallel
workers, and submission through submitit, over the results store (``benchmark.store``).

A run is done when its record exists; a run that fails writes ``failed.json`` (the error and its traceback)
and is retried by the next invocation while the other runs go on. Shared caches (synthetic sets, splits,
backbones, features) are built before any run trains and written atomically, so several processes or shards
may create them at once.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import signal
import sys
import threading
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from multiprocessing import get_context
from pathlib import Path

import torch
import yaml
from tqdm import tqdm

from . import data
from .backbones import backbone_folder, backbone_problem, synthetic_backbone
from .config import ExecutionConfig, RunSpec
from .device import resolve_device
from .errors import ConfigError
from .grid import Grid, load_plugins
from .paths import DEFAULT_RESULTS, cache_dir
from .record import RunFailure
from .references import is_reference
from .store import RunStore
from .threads import plan_workers
from .training import evaluate_reference, feature_mode, prepare_features, train_and_evaluate


@dataclass(frozen=True)
class RunContext:
    """Where runs read and write and how they execute; none of it changes a result (so none is in run_id).
    ``threads``: each run's threads for a real CLIP's passes (``benchmark.threads.plan_workers``)."""

    results: Path = DEFAULT_RESULTS
    execution: ExecutionConfig = field(default_factory=ExecutionConfig)
    progress: bool = True
    threads: int = 1
    plugins: tuple[str, ...] = ()  # imported before a run (in workers and Slurm jobs too), for users' losses

    @property
    def cache(self) -> Path:
        return cache_dir(self.results)


def resources(spec: RunSpec, context: RunContext) -> tuple[data.PairedDataset, data.Split, Path]:
    """The dataset, its split and the backbone folder of a run (built and cached on first use)."""
    if spec.synthetic is not None:
        size = {"size": spec.synthetic.size} if spec.synthetic.size is not None else {}
        dataset = data.load(spec.dataset, root=context.cache, seed=spec.synthetic.seed, **size, **spec.synthetic.knobs)
    else:
        execution = context.execution
        dataset = data.load(spec.dataset, root=Path(execution.data_root) / spec.dataset if execution.data_root else None,
                            image_root=execution.image_root)
    split = data.load_or_create_split(dataset, data.default_split_settings(dataset, **asdict(spec.settings.split)),
                                      context.cache)
    if spec.settings.backbone == "synthetic":
        backbone = synthetic_backbone(dataset, split, context.cache, seed=spec.synthetic.backbone_seed,
                                      steps=spec.synthetic.pretrain_steps, progress=context.progress)
    else:
        backbone = backbone_folder(spec.settings.backbone, context.cache)  # an OpenAI .pt: converted once, cached
    return dataset, split, backbone


def prepare_shared(spec: RunSpec, context: RunContext) -> dict:
    """Build the caches the runs of ``spec``'s dataset share (data, split, backbone, features) and return how
    the data was read (missing images included), before any training starts."""
    load_plugins(context.plugins)
    dataset, _, backbone = resources(spec, context)
    prepare_features(spec, dataset, backbone, context.cache, context.execution.device, context.progress,
                     context.threads)
    return dataset.summary


def _shared_key(spec: RunSpec) -> tuple:
    """What decides the caches a run shares with others: two runs with the same key share all of them."""
    s = spec.settings
    synthetic = json.dumps(asdict(spec.synthetic), sort_keys=True) if spec.synthetic else None  # knobs: a dict
    return spec.dataset, synthetic, s.backbone, s.split, s.max_text_len, feature_mode(spec)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def execute_run(spec: RunSpec, context: RunContext, grid_id: str | None = None) -> dict:
    """Train and evaluate one run, then write its record (or ``failed.json``); returns a short summary."""
    store = RunStore(context.results)
    header = [f"run {spec.run_id}", f"spec {json.dumps(spec.to_dict())}"]
    start = time.perf_counter()
    try:
        load_plugins(context.plugins)
        dataset, split, backbone = resources(spec, context)
        run = evaluate_reference if is_reference(spec.loss) else train_and_evaluate
        record = run(spec, dataset, split, backbone, cache_dir=context.cache, device=context.execution.device,
                     progress=context.progress, threads=context.threads, folder=store.folder(spec.run_id),
                     save_continuous=context.execution.save_continuous,
                     tensorboard=context.execution.log == "tensorboard")
    except Exception as exc:  # a failed run is recorded and the grid goes on
        failure = RunFailure(run_id=spec.run_id, spec=spec, grid_id=grid_id, error=str(exc),
                             error_type=type(exc).__name__, traceback=traceback.format_exc(), failed_at=_now())
        store.write_failure(failure)
        store.write_log(spec.run_id, header + [f"FAILED: {failure.error_type}: {exc}", failure.traceback])
        return {"run_id": spec.run_id, "status": "failed", "error": f"{failure.error_type}: {exc}",
                "seconds": time.perf_counter() - start}
    store.write_record(replace(record, grid_id=grid_id))
    history = [f"epoch {h['epoch']}: " + " ".join(f"{k}={v:.4f}" for k, v in h["loss"].items())
               + "".join(f" {k}={h[k]:.4f}" for k in ("val_map_i2t", "val_map_t2i") if k in h) for h in record.history]
    metrics = [f"{d}: " + " ".join(f"{k}={v:.4f}" for k, v in m.items() if isinstance(v, float))
               for d, m in record.metrics.items()]
    store.write_log(spec.run_id, header + history + [f"selection {record.selection}", f"training {record.training}"]
                    + metrics)
    return {"run_id": spec.run_id, "status": "done", "i2t": record.metrics["i2t"]["map"],
            "t2i": record.metrics["t2i"]["map"], "seconds": time.perf_counter() - start}


# ------------------------------------------------------------------------------------------ shards


def parse_shard(text: str) -> tuple[int, int]:
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise ConfigError(f"--shard takes I/N (this is shard I of N, 0 <= I < N), got {text!r}") from None
    if not 0 <= index < count:
        raise ConfigError(f"--shard {text}: I must be in 0..N-1")
    return index, count


def slurm_array_shard() -> tuple[int, int] | None:
    """(index, count) of this task in a Slurm job array, when run inside one."""
    task, count = os.environ.get("SLURM_ARRAY_TASK_ID"), os.environ.get("SLURM_ARRAY_TASK_COUNT")
    if task is None or count is None:
        return None
    return int(task) - int(os.environ.get("SLURM_ARRAY_TASK_MIN", 0)), int(count)


def shard_of(specs, index: int, count: int) -> list[RunSpec]:
    """Every ``count``-th run of the grid from position ``index``: a fixed partition of the whole grid,
    whatever is already done, so shards started at different times never overlap."""
    return list(specs[index::count])


# --------------------------------------------------------------------------------------- executors


def _exit_with_parent(parent: int) -> None:
    """End this worker when its parent dies (SIGKILL leaves the parent no chance to stop its workers), so a killed
    grid does not go on in the background; the run in progress leaves no record (records are atomic). On Linux
    the kernel kills the worker at once (PR_SET_PDEATHSIG); elsewhere a thread polls for the parent."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        if libc.prctl(1, signal.SIGKILL) == 0 and os.getppid() == parent:  # 1: PR_SET_PDEATHSIG
            return
    except (OSError, AttributeError):
        pass

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.2)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _init_worker(parent: int) -> None:
    import transformers

    _exit_with_parent(parent)
    torch.set_num_threads(1)  # the workers share the cores; work that needs more says so (benchmark.threads)
    transformers.utils.logging.disable_progress_bar()


def _summary_line(spec: RunSpec, outcome: dict) -> str:
    if outcome["status"] == "done":
        result = outcome.get("summary") or f"I->T {outcome['i2t']:.4f}  T->I {outcome['t2i']:.4f}"
        return f"done   {spec.label}: {result}  ({outcome['seconds']:.1f} s)"
    return f"FAILED {spec.label}: {outcome['error']}"


def _warn_missing_images(spec: RunSpec, summary: dict) -> None:
    if summary.get("missing_images"):
        tqdm.write(f"warning: {spec.dataset}: {summary['missing_images']} image files not found "
                   f"(e.g. {summary['missing_image_examples'][0]}); pass --image-root DIR to re-root them")


def run_local(specs: list[RunSpec], context: RunContext, grid_id: str | None, work=execute_run,
              unit: str = "run") -> list[dict]:
    """Run ``specs`` here: the caches they share first (once per dataset and replicate, so no two runs build
    one), then ``work(spec, context, grid_id)`` of each (``execute_run``; a tuning study for ``tune``), one at a
    time or in worker processes (by default one per core on the CPU). ``work`` returns a summary dict whose
    ``status`` is ``done`` or ``failed``."""
    workers, threads = plan_workers(context.execution.workers, context.execution.threads, len(specs),
                                    resolve_device(context.execution.device))
    context = replace(context, threads=threads)
    shared: dict[tuple, RunSpec] = {}
    for spec in specs:
        shared.setdefault(_shared_key(spec), spec)
    outcomes = []
    bar = tqdm(total=len(specs), desc=f"{unit}s", unit=unit, disable=not context.progress, position=0)

    def finished(spec: RunSpec, outcome: dict) -> None:
        outcomes.append(outcome)
        tqdm.write(_summary_line(spec, outcome))
        bar.update()

    if workers == 1:
        for spec in shared.values():
            _warn_missing_images(spec, prepare_shared(spec, context))
        for spec in specs:
            finished(spec, work(spec, context, grid_id))
    else:
        quiet = replace(context, progress=False)
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_init_worker,
                                 initargs=(os.getpid(),)) as pool:
            for spec, summary in zip(shared.values(), pool.map(prepare_shared, shared.values(),
                                                                [quiet] * len(shared))):
                _warn_missing_images(spec, summary)
            futures = {pool.submit(work, spec, quiet, grid_id): spec for spec in specs}
            for future in as_completed(futures):
                finished(futures[future], future.result())
    bar.close()
    return outcomes


def submit_slurm(specs: list[RunSpec], context: RunContext, grid_id: str | None, work=execute_run) -> list[str]:
    """Submit ``work(spec, context, grid_id)`` of each of ``specs`` (``execute_run``, or a tuning study) as one
    Slurm job array through submitit; returns the job ids."""
    try:
        import submitit
    except ImportError:
        raise ConfigError("--executor slurm needs submitit: pip install 'xmhash-bench[slurm]' "
                          "(or pip install submitit), or run one shard per array task with --shard / "
                          "sbatch --array (see README)") from None
    executor = submitit.AutoExecutor(folder=Path(context.results) / "slurm")
    executor.update_parameters(**context.execution.slurm)
    quiet = replace(context, progress=False)
    jobs = executor.map_array(work, specs, [quiet] * len(specs), [grid_id] * len(specs))
    return [job.job_id for job in jobs]


def preflight_warnings(grid: Grid) -> list[str]:
    """What would stop the grid's runs that the configuration alone cannot tell: a backbone folder without
    config.json, a real dataset's missing files."""
    warnings = []
    backbone = grid.config.run.backbone
    problem = backbone_problem(backbone) if backbone != "synthetic" else None
    if problem:
        warnings.append(problem)
    root = grid.config.execution.data_root
    for dataset in grid.config.datasets:
        if not data.is_synthetic(dataset):
            folder = Path(root) / dataset if root else data.data_root() / dataset
            missing = data.missing_dataset_files(dataset, folder)
            if missing:
                warnings.append(f"{dataset}: {folder} lacks {', '.join(missing)}; give --data-root, or build them "
                                f"with python -m benchmark prepare {dataset} --raw DOWNLOAD --out {folder}")
    return warnings


def resolved_yaml(grid: Grid) -> str:
    """The grid's configuration with every key as resolved (defaults, file, flags), as YAML."""
    return yaml.safe_dump(json.loads(json.dumps(grid.config.to_dict())), sort_keys=False)


def run_grid(grid: Grid, context: RunContext, *, force: bool = False, shard: tuple[int, int] | None = None,
             dry_run: bool = False, executor: str = "local", out=sys.stdout) -> int:
    """Run what is pending of the grid (this shard's part of it); returns the exit status."""
    store = RunStore(context.results)
    mine = shard_of(grid.specs, *shard) if shard else list(grid.specs)
    status = {spec.run_id: store.status(spec.run_id) for spec in mine}
    pending = [s for s in mine if force or status[s.run_id] != "done"]
    retried = sum(status[s.run_id] == "failed" for s in pending)
    references = sum(is_reference(s.loss) for s in pending)
    kinds = f" ({len(pending) - references} training runs, {references} reference rows)" if references else ""
    where = f" in shard {shard[0]}/{shard[1]}" if shard else ""
    print(f"{len(mine) - len(pending)} done, {len(pending)} to run{kinds}{where}"
          + (f" ({retried} failed before, retried)" if retried else "") + f"; records in {store.root}", file=out)
    if dry_run:
        print(resolved_yaml(grid), file=out)
        for warning in preflight_warnings(grid):
            print(f"warning: {warning}", file=out)
        for spec in mine:
            print(f"  {status[spec.run_id]:<8} {spec.run_id}", file=out)
        return 0
    if not pending:
        print(f"Nothing to run. Build the report: python -m benchmark report --results {context.results}", file=out)
        return 0
    store.write_grid(grid.id, grid.runs())
    if executor == "slurm":
        job_ids = submit_slurm(pending, context, grid.id)
        print(f"submitted {len(job_ids)} runs as a Slurm job array ({job_ids[0]} ...); logs in "
              f"{Path(context.results) / 'slurm'}; re-run this command once they finish to see what is left",
              file=out)
        return 0
    outcomes = run_local(pending, context, grid.id)
    failed = [o for o in outcomes if o["status"] == "failed"]
    done = sum(store.status(s.run_id) == "done" for s in mine)
    print(f"{done} of {len(mine)} runs done{where}; records in {store.root}", file=out)
    if failed:
        print(f"{len(failed)} failed (re-run the same command to retry them): "
              + ", ".join(str(store.folder(o['run_id']) / store.FAILURE) for o in failed[:3])
              + (" ..." if len(failed) > 3 else ""), file=out)
    print(f"Build the report: python -m benchmark report --results {context.results}", file=out)
    return 1 if failed else 0
