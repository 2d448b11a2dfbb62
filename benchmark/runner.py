"""The grid runner behind ``python -m benchmark run``: a results store of one folder per run, resume,
shards (also from a Slurm job array), parallel workers, and submission through submitit.

A run is done when ``results/runs/<run_id>/record.json`` exists: it is written to a temporary file and
renamed, so it is never half-written and is the only marker of completion. A run that fails writes
``failed.json`` (the error and its traceback) instead and is retried by the next invocation; the other
runs go on. Shared caches (synthetic sets, splits, backbones, features) are written the same way, so
several processes or shards may create them at once.
"""
from __future__ import annotations

import json
import os
import sys
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from multiprocessing import get_context
from pathlib import Path

import torch
from tqdm import tqdm

from . import data
from .backbones import synthetic_backbone
from .config import ConfigError, RunSpec
from .training import Trainer, TrainSettings, train_and_evaluate


@dataclass(frozen=True)
class RunContext:
    """Where a run reads and writes; none of it changes the run's result (so none of it is in run_id)."""

    results: Path
    data_root: str | None = None
    image_root: str | None = None
    device: str | None = None
    progress: bool = True

    @property
    def cache(self) -> Path:
        return Path(os.environ.get("BENCHMARK_CACHE") or Path(self.results) / "cache")


class RunStore:
    """``<results>/runs/<run_id>/`` holding ``record.json`` (done) or ``failed.json``, and ``log.txt``."""

    def __init__(self, results: Path):
        self.root = Path(results) / "runs"

    def folder(self, run_id: str) -> Path:
        return self.root / run_id

    def status(self, run_id: str) -> str:
        folder = self.folder(run_id)
        if (folder / "record.json").is_file():
            return "done"
        return "failed" if (folder / "failed.json").is_file() else "pending"

    def write_json(self, run_id: str, name: str, content: dict) -> Path:
        folder = self.folder(run_id)
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{name}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(content, indent=1, default=str))
        os.replace(tmp, folder / name)
        return folder / name

    def records(self) -> list[dict]:
        return [json.loads(p.read_text()) for p in sorted(self.root.glob("*/record.json"))]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def resources(spec: RunSpec, context: RunContext):
    """The dataset, its split and the backbone folder of a run (built and cached on first use)."""
    if spec.dataset.startswith("synth-"):
        root = context.cache
        options = {k: spec.synthetic[k] for k in ("size", "seed") if spec.synthetic.get(k) is not None}
    else:
        root = Path(context.data_root) / spec.dataset if context.data_root else None
        options = {"image_root": context.image_root}
    dataset = data.load(spec.dataset, root=root, **options)
    split = data.load_or_create_split(dataset, data.default_split_settings(dataset, **spec.split), context.cache)
    if spec.backbone == "synthetic":
        backbone = synthetic_backbone(dataset, split, context.cache, steps=spec.synthetic["pretrain_steps"],
                                      progress=context.progress)
    else:
        backbone = Path(spec.backbone)
        if not (backbone / "config.json").is_file():
            raise ConfigError(f"backbone folder {backbone} has no config.json; give --backbone a CLIP folder written "
                              "by save_pretrained (e.g. a downloaded openai/clip-vit-base-patch32)")
    return dataset, split, backbone


def train_settings(spec: RunSpec, context: RunContext) -> TrainSettings:
    o = spec.optimizer
    return TrainSettings(
        loss=spec.loss, n_bits=spec.bits, loss_params=dict(spec.loss_params), mode=spec.mode, protocol=spec.protocol,
        epochs=spec.epochs, batch_size=spec.batch_size, seed=spec.seed, head_lr=o["head_lr"],
        backbone_lr=o["backbone_lr"], weight_decay=o["weight_decay"], warmup=o["warmup"], grad_clip=o["grad_clip"],
        topk=tuple(spec.topk), max_text_len=spec.max_text_len, device=context.device)


def prepare_shared(spec: RunSpec, context: RunContext) -> dict:
    """Build the caches a dataset's runs share (data, split, backbone and, in frozen mode, features) and
    report how the data was read, missing images included, before any training starts."""
    dataset, split, backbone = resources(spec, context)
    if spec.mode == "frozen":
        Trainer(train_settings(spec, context), dataset, split, backbone, context.cache, progress=context.progress)
    return dataset.summary


def _write_log(path: Path, spec: RunSpec, lines: list[str]) -> None:
    header = [f"run {spec.run_id}", f"spec {json.dumps(asdict(spec), default=list)}"]
    path.write_text("\n".join(header + lines) + "\n")


def execute_run(spec: RunSpec, context: RunContext, config: dict) -> dict:
    """Train and evaluate one run, then write its record (or ``failed.json``); returns a short summary."""
    store = RunStore(context.results)
    folder = store.folder(spec.run_id)
    folder.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    try:
        dataset, split, backbone = resources(spec, context)
        result = train_and_evaluate(train_settings(spec, context), dataset, split, backbone, cache_dir=context.cache,
                                    progress=context.progress)
    except Exception as exc:  # a failed run is recorded and the grid goes on
        failure = {"run_id": spec.run_id, "status": "failed", "spec": asdict(spec), "error": str(exc),
                   "error_type": type(exc).__name__, "traceback": traceback.format_exc(), "failed_at": _now()}
        store.write_json(spec.run_id, "failed.json", failure)
        _write_log(folder / "log.txt", spec, [f"FAILED: {type(exc).__name__}: {exc}", failure["traceback"]])
        return {"run_id": spec.run_id, "status": "failed", "error": f"{type(exc).__name__}: {exc}",
                "seconds": time.perf_counter() - start}
    record = {"run_id": spec.run_id, "status": "done", "spec": asdict(spec), "config": config,
              "dataset_summary": dataset.summary, "synthetic": dataset.synthetic, "finished_at": _now(), **result}
    store.write_json(spec.run_id, "record.json", record)
    (folder / "failed.json").unlink(missing_ok=True)
    history = [f"epoch {h['epoch']}: " + " ".join(f"{k}={v:.4f}" for k, v in h["loss"].items())
               + "".join(f" {k}={h[k]:.4f}" for k in ("val_map_i2t", "val_map_t2i") if k in h) for h in result["history"]]
    metrics = [f"{d}: " + " ".join(f"{k}={v:.4f}" for k, v in m.items() if isinstance(v, float))
               for d, m in result["metrics"].items()]
    _write_log(folder / "log.txt", spec, history + [f"selection {result['selection']}"] + metrics)
    return {"run_id": spec.run_id, "status": "done", "i2t": result["metrics"]["i2t"]["map"],
            "t2i": result["metrics"]["t2i"]["map"], "seconds": time.perf_counter() - start}


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


def shard_of(specs: list[RunSpec], index: int, count: int) -> list[RunSpec]:
    """Every ``count``-th run of the grid from position ``index``: a fixed partition of the whole grid,
    whatever is already done, so shards started at different times never overlap."""
    return specs[index::count]


# --------------------------------------------------------------------------------------- executors


def _init_worker(threads: int) -> None:
    import transformers

    torch.set_num_threads(threads)  # the workers share the cores
    transformers.utils.logging.disable_progress_bar()


def _summary_line(spec: RunSpec, outcome: dict) -> str:
    if outcome["status"] == "done":
        return (f"done   {spec.loss} {spec.dataset} {spec.bits} bits seed {spec.seed}: "
                f"I->T {outcome['i2t']:.4f}  T->I {outcome['t2i']:.4f}  ({outcome['seconds']:.1f} s)")
    return f"FAILED {spec.loss} {spec.dataset} {spec.bits} bits seed {spec.seed}: {outcome['error']}"


def run_local(specs: list[RunSpec], context: RunContext, config: dict, workers: int) -> list[dict]:
    """Run ``specs`` here, one at a time or ``workers`` processes at once, with an overall progress bar."""
    outcomes = []
    bar = tqdm(total=len(specs), desc="runs", unit="run", disable=not context.progress, position=0)
    prepared = set()
    for spec in specs:  # shared caches first, once per dataset, so workers never build them twice
        key = (spec.dataset, spec.backbone, spec.mode, json.dumps(spec.synthetic, sort_keys=True), str(spec.split))
        if key not in prepared:
            prepared.add(key)
            summary = prepare_shared(spec, context)
            if summary.get("missing_images"):
                tqdm.write(f"warning: {spec.dataset}: {summary['missing_images']} image files not found "
                           f"(e.g. {summary['missing_image_examples'][0]}); pass --image-root DIR to re-root them")
    if workers == 1:
        for spec in specs:
            outcome = execute_run(spec, context, config)
            outcomes.append(outcome)
            tqdm.write(_summary_line(spec, outcome))
            bar.update()
    else:
        threads = max(1, torch.get_num_threads() // workers)
        quiet = RunContext(**{**asdict(context), "progress": False})
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_init_worker,
                                 initargs=(threads,)) as pool:
            futures = {pool.submit(execute_run, spec, quiet, config): spec for spec in specs}
            for future in as_completed(futures):
                outcome = future.result()
                outcomes.append(outcome)
                tqdm.write(_summary_line(futures[future], outcome))
                bar.update()
    bar.close()
    return outcomes


def submit_slurm(specs: list[RunSpec], context: RunContext, config: dict) -> list[str]:
    """Submit ``specs`` as one Slurm job array through submitit; returns the job ids."""
    try:
        import submitit
    except ImportError:
        raise ConfigError("--executor slurm needs submitit: pip install 'xmhash-bench[slurm]' "
                          "(or pip install submitit), or run one shard per array task with --shard / "
                          "sbatch --array (see README)") from None
    executor = submitit.AutoExecutor(folder=Path(context.results) / "slurm")
    executor.update_parameters(**config.get("slurm", {}))
    quiet = RunContext(**{**asdict(context), "progress": False})
    jobs = executor.map_array(execute_run, specs, [quiet] * len(specs), [config] * len(specs))
    return [job.job_id for job in jobs]


def run_grid(specs: list[RunSpec], context: RunContext, config: dict, *, force: bool = False,
             shard: tuple[int, int] | None = None, dry_run: bool = False, executor: str = "local",
             out=sys.stdout) -> int:
    """Run what is pending of the grid (this shard's part of it); returns the exit status."""
    store = RunStore(context.results)
    mine = shard_of(specs, *shard) if shard else specs
    status = {spec.run_id: store.status(spec.run_id) for spec in mine}
    pending = [s for s in mine if force or status[s.run_id] != "done"]
    retried = sum(status[s.run_id] == "failed" for s in pending)
    where = f" in shard {shard[0]}/{shard[1]}" if shard else ""
    print(f"{len(mine) - len(pending)} done, {len(pending)} to run{where}"
          + (f" ({retried} failed before, retried)" if retried else "") + f"; records in {store.root}", file=out)
    if dry_run:
        print(json.dumps(config, indent=2), file=out)
        for spec in mine:
            print(f"  {status[spec.run_id]:<8} {spec.run_id}", file=out)
        return 0
    if not pending:
        print(f"Nothing to run. Build the report: python -m benchmark report --results {context.results}", file=out)
        return 0
    if executor == "slurm":
        job_ids = submit_slurm(pending, context, config)
        print(f"submitted {len(job_ids)} runs as a Slurm job array ({job_ids[0]} ...); logs in "
              f"{Path(context.results) / 'slurm'}; re-run this command once they finish to see what is left",
              file=out)
        return 0
    outcomes = run_local(pending, context, config, config.get("workers", 1))
    failed = [o for o in outcomes if o["status"] == "failed"]
    done = sum(store.status(s.run_id) == "done" for s in mine)
    print(f"{done} of {len(mine)} runs done{where}; records in {store.root}", file=out)
    if failed:
        print(f"{len(failed)} failed (re-run the same command to retry them): "
              + ", ".join(str(store.folder(o['run_id']) / 'failed.json') for o in failed[:3])
              + (" ..." if len(failed) > 3 else ""), file=out)
    print(f"Build the report: python -m benchmark report --results {context.results}", file=out)
    return 1 if failed else 0
