"""The grid runner behind ``python -m benchmark run``: resume, shards (also from a Slurm job array), parallel
workers, and submission through submitit, over the results store (``benchmark.store``).

A run is done when its record exists; a run that fails writes ``failed.json`` (the error and its traceback)
and is retried by the next invocation while the other runs go on. Shared caches (synthetic sets, splits,
backbones, features) are built before any run trains and written atomically, so several processes or shards
may create them at once. A run is claimed while it trains (``benchmark.store.claim``), so processes sharing a
results folder never do a run twice; Ctrl-C stops the workers at once, and they die with their parent. With
several GPUs each worker has its own (``worker_device``). Slurm (or submitit's local executor) gets the runs no
process or queued job still has, after the shared caches are built (``submit_slurm``).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import shutil
import signal
import socket
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
from .files import write_json
from .paths import DEFAULT_RESULTS, cache_dir
from .record import RunFailure
from .references import is_reference
from .store import CLAIM, RunStore, current_job, describe_holder, pid_alive
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
    redo_before: float | None = None  # --force: a record written before this time (time.time()) is redone

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
                            image_root=execution.image_root,
                            missing_images="drop" if execution.drop_missing_images else "error")
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
                     context.threads, context.execution.loader_workers)
    return dataset.summary


def _shared_key(spec: RunSpec) -> tuple:
    """What decides the caches a run shares with others: two runs with the same key share all of them."""
    s = spec.settings
    synthetic = json.dumps(asdict(spec.synthetic), sort_keys=True) if spec.synthetic else None  # knobs: a dict
    return spec.dataset, synthetic, s.backbone, s.split, s.max_text_len, feature_mode(spec)


def _sharing_caches(specs: list[RunSpec]) -> list[RunSpec]:
    """One run of each group of ``specs`` that share their caches (``_shared_key``), in order: building theirs
    builds every run's."""
    shared: dict[tuple, RunSpec] = {}
    for spec in specs:
        shared.setdefault(_shared_key(spec), spec)
    return list(shared.values())


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def execute_run(spec: RunSpec, context: RunContext, grid_id: str | None = None) -> dict:
    """Train and evaluate one run, then write its record (or ``failed.json``); returns a short summary.

    The run is claimed first (``benchmark.store.claim``): when another live process holds it, nothing is done
    (status ``busy``); when its record appeared meanwhile (another process finished it), neither (``skipped``).
    The claim is released when the run ends, failed or not."""
    store = RunStore(context.results)
    claim = store.claim(spec.run_id)
    if claim is None:
        holder = store.claim_holder(spec.run_id)
        return {"run_id": spec.run_id, "status": "busy", "seconds": 0.0,
                "holder": describe_holder(holder) if holder is not None else "another process"}
    with claim:
        try:
            written = (store.folder(spec.run_id) / store.RECORD).stat().st_mtime
        except FileNotFoundError:
            written = None
        if written is not None and (context.redo_before is None or written >= context.redo_before):
            return {"run_id": spec.run_id, "status": "skipped", "seconds": 0.0}
        return _execute_claimed(spec, context, grid_id, store)


def _executor_here() -> str:
    """What runs this process: a Slurm job, a submitit local job, or this machine's process."""
    return current_job() or f"local pid {os.getpid()} on {socket.gethostname()}"


def _execute_claimed(spec: RunSpec, context: RunContext, grid_id: str | None, store: RunStore) -> dict:
    header = [f"run {spec.run_id}", f"spec {json.dumps(spec.to_dict())}", f"executor {_executor_here()}"]
    start = time.perf_counter()
    try:
        load_plugins(context.plugins)
        dataset, split, backbone = resources(spec, context)
        run = evaluate_reference if is_reference(spec.loss) else train_and_evaluate
        record = run(spec, dataset, split, backbone, cache_dir=context.cache, device=context.execution.device,
                     progress=context.progress, threads=context.threads, folder=store.folder(spec.run_id),
                     save_continuous=context.execution.save_continuous,
                     tensorboard=context.execution.log == "tensorboard",
                     loader_workers=context.execution.loader_workers)
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


def worker_device(device: str | None, index: int) -> str | None:
    """The device of worker ``index``: on a machine with several GPUs, when ``device`` is ``cuda`` without an index
    (or None, which means cuda there), its own GPU, ``cuda:(index mod GPUs)``; else ``device`` as it is."""
    resolved = resolve_device(device)
    if resolved.type != "cuda" or resolved.index is not None:
        return device
    count = torch.cuda.device_count()
    return f"cuda:{index % count}" if count > 1 else device


#: This worker process's device (``worker_device``), set when the worker starts.
_WORKER_DEVICE: str | None = None


def _init_worker(parent: int, counter=None, device: str | None = None) -> None:
    import transformers

    global _WORKER_DEVICE
    _exit_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the parent, which stops the workers itself
    torch.set_num_threads(1)  # the workers share the cores; work that needs more says so (benchmark.threads)
    transformers.utils.logging.disable_progress_bar()
    if counter is not None:
        with counter.get_lock():
            index, counter.value = counter.value, counter.value + 1
        _WORKER_DEVICE = worker_device(device, index)


def _in_worker(work, spec: RunSpec, context: RunContext, *rest):
    """``work(spec, context, *rest)`` on this worker's own device."""
    if _WORKER_DEVICE is not None and _WORKER_DEVICE != context.execution.device:
        context = replace(context, execution=replace(context.execution, device=_WORKER_DEVICE))
    return work(spec, context, *rest)


def _stop_workers(pool: ProcessPoolExecutor, specs: list[RunSpec], context: RunContext) -> None:
    """Stop at once (Ctrl-C): no queued run starts, the runs in progress end without a record, and their claims
    are released."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for process in processes:
        process.kill()
    for process in processes:
        process.join(5)
    pool.shutdown(wait=True, cancel_futures=True)  # the pool, broken now, cancels the rest and frees its queues
    store = RunStore(context.results)
    for spec in specs:  # the killed workers' claims: taken over (their pids are gone) and released
        if (store.folder(spec.run_id) / CLAIM).exists():
            claim = store.claim(spec.run_id)
            if claim is not None:
                claim.release()


def _summary_line(spec: RunSpec, outcome: dict) -> str:
    if outcome["status"] == "busy":
        return f"busy   {spec.label}: being run by {outcome['holder']}; left to it"
    if outcome["status"] == "skipped":
        return f"skip   {spec.label}: finished by another process meanwhile"
    if outcome["status"] == "done":
        result = outcome.get("summary") or f"I->T {outcome['i2t']:.4f}  T->I {outcome['t2i']:.4f}"
        return f"done   {spec.label}: {result}  ({outcome['seconds']:.1f} s)"
    return f"FAILED {spec.label}: {outcome['error']}"


def _warn_missing_images(spec: RunSpec, summary: dict) -> None:
    dropped = summary.get("dropped", {}).get("image missing")
    if dropped:
        tqdm.write(f"warning: {spec.dataset}: dropped {dropped} items whose image files were not found "
                   f"(e.g. {summary['missing_image_examples'][0]}; --drop-missing-images)")


def run_local(specs: list[RunSpec], context: RunContext, grid_id: str | None, work=execute_run,
              unit: str = "run") -> list[dict]:
    """Run ``specs`` here: the caches they share first (once per dataset and replicate, so no two runs build
    one), then ``work(spec, context, grid_id)`` of each (``execute_run``; a tuning study for ``tune``), one at a
    time or in worker processes (by default one per core on the CPU). ``work`` returns a summary dict whose
    ``status`` is ``done`` or ``failed``."""
    workers, threads = plan_workers(context.execution.workers, context.execution.threads, len(specs),
                                    resolve_device(context.execution.device))
    context = replace(context, threads=threads)
    shared = _sharing_caches(specs)
    outcomes = []
    bar = tqdm(total=len(specs), desc=f"{unit}s", unit=unit, disable=not context.progress, position=0)

    def finished(spec: RunSpec, outcome: dict) -> None:
        outcomes.append(outcome)
        tqdm.write(_summary_line(spec, outcome))
        bar.update()

    if workers == 1:
        for spec in shared:
            _warn_missing_images(spec, prepare_shared(spec, context))
        for spec in specs:
            finished(spec, work(spec, context, grid_id))
    else:
        quiet = replace(context, progress=False)
        spawn = get_context("spawn")
        pool = ProcessPoolExecutor(workers, mp_context=spawn, initializer=_init_worker,
                                   initargs=(os.getpid(), spawn.Value("i", 0), context.execution.device))
        try:
            for spec, summary in zip(shared, pool.map(_in_worker, [prepare_shared] * len(shared), shared,
                                                      [quiet] * len(shared))):
                _warn_missing_images(spec, summary)
            futures = {pool.submit(_in_worker, work, spec, quiet, grid_id): spec for spec in specs}
            for future in as_completed(futures):
                finished(futures[future], future.result())
        except BaseException:  # Ctrl-C (or an error): stop now, start nothing more
            _stop_workers(pool, specs, context)
            raise
        pool.shutdown()
    bar.close()
    return outcomes


#: Slurm job states of a job still queued or running (sacct's names).
IN_FLIGHT = {"PENDING", "RUNNING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "CONFIGURING", "COMPLETING",
             "SUSPENDED", "RESIZING", "SIGNALING", "STAGE_OUT"}


@dataclass
class Submission:
    """What ``submit_slurm`` did: the jobs (``cluster``: ``slurm``, or ``local`` for submitit's local executor),
    the runs left alone because a job or process still has them, and each run's outcome when it was waited for."""

    cluster: str
    job_ids: list[str]
    in_flight: list[tuple[RunSpec, str]]
    outcomes: list[dict] | None
    folder: Path
    timeout_min: int
    parallelism: int

    def describe(self, unit: str = "run") -> str:
        limits = f"at most {self.parallelism} at once, {self.timeout_min} min each; logs in {self.folder}"
        units = "studies" if unit == "study" else f"{unit}s"
        if not self.job_ids:
            return f"nothing submitted: every pending {unit} is in flight"
        if self.cluster == "slurm":
            array = self.job_ids[0].split("_")[0]
            return f"submitted {len(self.job_ids)} {units} as a Slurm job array {array} ({limits})"
        return (f"ran {len(self.job_ids)} {units} through submitit's local executor (no Slurm: processes on this "
                f"machine, {limits})")


def _slurm_available() -> bool:
    return shutil.which("sbatch") is not None


def slurm_executor(context: RunContext):
    """submitit's executor for ``execution.slurm`` (its cluster, limits and resources), checked before anything
    is built or submitted."""
    try:
        import submitit
    except ImportError:
        raise ConfigError("--executor slurm needs submitit: pip install 'xmhash-bench[slurm]' "
                          "(or pip install submitit), or run one shard per array task with --shard / "
                          "sbatch --array (see README)") from None
    config = context.execution.slurm
    if config.cluster == "slurm" and not _slurm_available():
        raise ConfigError("--executor slurm: there is no Slurm here (sbatch not found); submit from a machine of the "
                          "cluster, or run the same jobs on this machine through submitit's local executor with "
                          "--set execution.slurm.cluster=local, or use --executor local")
    executor = submitit.AutoExecutor(folder=Path(context.results) / "slurm", cluster=config.cluster)
    parameters = {"name": "xmhash-bench", "timeout_min": config.timeout_min,
                  "slurm_array_parallelism": config.array_parallelism, "slurm_partition": config.partition,
                  "gpus_per_node": config.gpus_per_node, "cpus_per_task": config.cpus_per_task,
                  "mem_gb": config.mem_gb, **config.parameters}
    try:
        executor.update_parameters(**{k: v for k, v in parameters.items() if v is not None})
    except (ValueError, TypeError, AssertionError) as exc:
        raise ConfigError(f"execution.slurm: submitit refuses the parameters: {exc}") from None
    return executor


def _marker(unit: str) -> str:
    return "submitted.json" if unit == "run" else f"submitted-{unit}.json"


def _in_flight(store: RunStore, spec: RunSpec, marker: str) -> str | None:
    """Why ``spec`` must not be submitted again (a live process holds it, or its job is queued or running), or
    None."""
    holder = store.claim_holder(spec.run_id)
    if holder is not None:
        return f"being run by {describe_holder(holder)}"
    try:
        job = json.loads((store.folder(spec.run_id) / marker).read_text())
    except (OSError, ValueError):
        return None
    if job.get("cluster") == "local":
        alive = job.get("host") == socket.gethostname() and pid_alive(int(job["job_id"]))
        return f"submitit local job {job['job_id']} is running" if alive else None
    try:
        import submitit

        state = submitit.SlurmJob(folder=job["folder"], job_id=job["job_id"]).state
    except Exception:  # noqa: BLE001 - no sacct, an unknown job: the job cannot be found, so it is not in flight
        return None
    recent = time.time() - job.get("submitted", 0) < 600  # sacct may not list a job submitted a moment ago
    if state in IN_FLIGHT or (state == "UNKNOWN" and recent):
        return f"Slurm job {job['job_id']} is {state.lower()}"
    return None


def _mark_submitted(store: RunStore, spec: RunSpec, marker: str, cluster: str, job, folder: Path) -> None:
    write_json(store.folder(spec.run_id) / marker, {"cluster": cluster, "job_id": str(job.job_id),
                                                    "host": socket.gethostname(), "folder": str(folder),
                                                    "submitted": time.time()})


def _job_outcome(job, spec: RunSpec) -> dict:
    """The summary ``work`` returned in ``job``, or a failure saying why the job gave none (timeout, killed)."""
    try:
        return job.result()
    except Exception as exc:  # noqa: BLE001 - submitit raises its own errors for a failed or killed job
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return {"run_id": spec.run_id, "status": "failed", "error": f"job {job.job_id}: {first}", "seconds": 0.0}


def _prepare_all(specs: list[RunSpec], context: RunContext) -> list[dict]:
    return [prepare_shared(spec, context) for spec in specs]


def submit_slurm(specs: list[RunSpec], context: RunContext, grid_id: str | None, work=execute_run,
                 unit: str = "run") -> Submission:
    """Run ``work(spec, context, grid_id)`` of each of ``specs`` (``execute_run``, or a tuning study) as jobs of
    submitit (``execution.slurm``): on Slurm one job array of at most ``array_parallelism`` running jobs (waited
    for when ``wait``), or through submitit's local executor on this machine (always waited for, with the same
    limit). Runs a live process or a queued job still has are left alone; the caches the runs share are built
    first (here, or in one job), so no two jobs build one."""
    executor = slurm_executor(context)
    config, store, folder = context.execution.slurm, RunStore(context.results), Path(context.results) / "slurm"
    marker = _marker(unit)
    in_flight = [(spec, why) for spec in specs if (why := _in_flight(store, spec, marker))]
    busy = {spec.run_id for spec, _ in in_flight}
    specs = [spec for spec in specs if spec.run_id not in busy]
    submission = Submission(config.cluster, [], in_flight, None, folder, config.timeout_min, config.array_parallelism)
    if not specs:
        return submission
    shared = _sharing_caches(specs)
    quiet = replace(context, progress=False)
    if config.prepare == "job":
        summaries = _job_outcome(executor.submit(_prepare_all, shared, quiet), specs[0])
        if isinstance(summaries, dict):  # the preparation job failed
            raise ConfigError(f"the job building the shared caches failed: {summaries['error']}")
    else:
        summaries = _prepare_all(shared, context)
    for spec, summary in zip(shared, summaries):
        _warn_missing_images(spec, summary)
    if config.cluster == "local":
        submission.outcomes = []
        waiting, running = list(specs), {}
        try:
            while waiting or running:
                while waiting and len(running) < config.array_parallelism:
                    spec = waiting.pop(0)
                    job = executor.submit(work, spec, quiet, grid_id)
                    _mark_submitted(store, spec, marker, "local", job, folder)
                    submission.job_ids.append(str(job.job_id))
                    running[job] = spec
                time.sleep(0.1)
                for job in [job for job in running if job.done()]:
                    spec = running.pop(job)
                    submission.outcomes.append(_job_outcome(job, spec))
                    tqdm.write(_summary_line(spec, submission.outcomes[-1]))
        except BaseException:  # Ctrl-C: the local jobs end too
            for job in running:
                job.cancel(check=False)
            raise
        return submission
    jobs = executor.map_array(work, specs, [quiet] * len(specs), [grid_id] * len(specs))
    for spec, job in zip(specs, jobs):
        _mark_submitted(store, spec, marker, "slurm", job, folder)
    submission.job_ids = [str(job.job_id) for job in jobs]
    if config.wait:
        submission.outcomes = []
        for spec, job in zip(specs, jobs):
            submission.outcomes.append(_job_outcome(job, spec))
            tqdm.write(_summary_line(spec, submission.outcomes[-1]))
    return submission


def preflight_warnings(grid: Grid) -> list[str]:
    """What would stop the grid's runs that the configuration alone cannot tell: a backbone folder without
    config.json, tokenizer files or whole weights, a real dataset's missing files or image files."""
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
            elif not grid.config.execution.drop_missing_images:
                warnings += _image_warning(dataset, folder, grid.config.execution.image_root)
    return warnings


def _image_warning(dataset: str, folder: Path, image_root: str | None) -> list[str]:
    """The one line a run would stop with when image files of real ``dataset`` are found nowhere (or any other
    problem reading its files), read now for --dry-run."""
    try:
        data.load(dataset, root=folder, image_root=image_root, missing_images="error")
    except data.DataError as exc:
        return [str(exc)]
    return []


def resolved_yaml(grid: Grid) -> str:
    """The grid's configuration with every key as resolved (defaults, file, flags), as YAML."""
    return yaml.safe_dump(json.loads(json.dumps(grid.config.to_dict())), sort_keys=False)


def run_grid(grid: Grid, context: RunContext, *, force: bool = False, shard: tuple[int, int] | None = None,
             dry_run: bool = False, executor: str = "local", out=None) -> int:
    """Run what is pending of the grid (this shard's part of it); returns the exit status."""
    out = out or sys.stdout  # looked up now: a default bound at import would keep a stream replaced since
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
    if force:  # redo what was done before this command, not what another identical command has just done
        context = replace(context, redo_before=time.time())
    if executor == "slurm":
        submission = submit_slurm(pending, context, grid.id)
        for spec, why in submission.in_flight:
            print(f"in flight {spec.label}: {why}; not submitted again", file=out)
        print(submission.describe(), file=out)
        if submission.outcomes is None:
            print("re-run this command once the jobs finish to see what is left", file=out)
            return 0
        outcomes = submission.outcomes
    else:
        outcomes = run_local(pending, context, grid.id)
    failed = [o for o in outcomes if o["status"] == "failed"]
    done = sum(store.status(s.run_id) == "done" for s in mine)
    print(f"{done} of {len(mine)} runs done{where}; records in {store.root}", file=out)
    busy = sum(o["status"] == "busy" for o in outcomes)
    if busy:
        print(f"{busy} being run by another process (left to it; re-run this command once it finishes)", file=out)
    if failed:
        print(f"{len(failed)} failed (re-run the same command to retry them): "
              + ", ".join(str(store.folder(o['run_id']) / store.FAILURE) for o in failed[:3])
              + (" ..." if len(failed) > 3 else ""), file=out)
    print(f"Build the report: python -m benchmark report --results {context.results}", file=out)
    return 1 if failed else 0
