"""The local backend: tasks in this process, or in a pool of worker processes (one per core on the CPU, one per
GPU), which die with their parent and stop at once on Ctrl-C."""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import replace
from multiprocessing import get_context

import torch
from tqdm import tqdm

from ..config import RunSpec
from ..device import resolve_device
from ..store import CLAIM, RunStore
from ..threads import plan_workers
from .base import Executor, Task, announce, register_executor, warn_missing_images
from .context import RunContext
from .outcome import Batch
from .one_run import prepare_shared, sharing_caches


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


@register_executor
class LocalExecutor(Executor):
    """This machine: one task at a time, or ``execution.workers`` worker processes (by default one per core on
    the CPU, one per GPU), each with its share of the cores (``benchmark.threads.plan_workers``)."""

    name = "local"

    def run(self, task: Task, specs: list[RunSpec], grid_id: str | None = None, unit: str = "run") -> Batch:
        execution = self.context.execution
        workers, threads = plan_workers(execution.workers, execution.threads, len(specs),
                                        resolve_device(execution.device))
        context = replace(self.context, threads=threads)
        shared = sharing_caches(specs)
        outcomes = []
        bar = tqdm(total=len(specs), desc=f"{unit}s", unit=unit, disable=not context.progress, position=0)

        def finished(spec: RunSpec, outcome) -> None:
            outcomes.append(outcome)
            announce(spec, outcome)
            bar.update()

        if workers == 1:
            for spec in shared:
                warn_missing_images(spec, prepare_shared(spec, context))
            for spec in specs:
                finished(spec, task(spec, context, grid_id))
        else:
            quiet = replace(context, progress=False)
            spawn = get_context("spawn")
            pool = ProcessPoolExecutor(workers, mp_context=spawn, initializer=_init_worker,
                                       initargs=(os.getpid(), spawn.Value("i", 0), execution.device))
            try:
                for spec, summary in zip(shared, pool.map(_in_worker, [prepare_shared] * len(shared), shared,
                                                          [quiet] * len(shared))):
                    warn_missing_images(spec, summary)
                futures = {pool.submit(_in_worker, task, spec, quiet, grid_id): spec for spec in specs}
                for future in as_completed(futures):
                    finished(futures[future], future.result())
            except BaseException:  # Ctrl-C (or an error): stop now, start nothing more
                _stop_workers(pool, specs, context)
                raise
            pool.shutdown()
        bar.close()
        return Batch(outcomes)
