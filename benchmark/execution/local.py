"""The local backend: tasks in this process, or in worker processes (one per core on the CPU, one per GPU), which
die with their parent and stop at once on Ctrl-C or SIGTERM. Each worker is a pool of its own, so that a worker
killed from outside (the out-of-memory killer) fails only its own run and is replaced, while the others go on."""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from multiprocessing import get_context
from multiprocessing.process import BaseProcess
from typing import Iterator

import torch
from tqdm import tqdm

from ..config import RunSpec
from ..device import resolve_device
from ..store import release_claims_of
from ..threads import plan_workers
from .base import Executor, Tally, Task, announce, register_executor, warn_missing_images
from .context import RunContext
from .outcome import Batch
from .one_run import prepare_shared, record_lost_run, sharing_caches


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


def _init_worker(parent: int, index: int, device: str | None) -> None:
    import transformers

    global _WORKER_DEVICE
    _exit_with_parent(parent)
    # Ctrl-C and SIGTERM (a Slurm time limit signals every process of the job) reach the parent, which stops the
    # workers itself and releases their claims
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    torch.set_num_threads(1)  # the workers share the cores; work that needs more says so (benchmark.threads)
    transformers.utils.logging.disable_progress_bar()
    # a worker's bars are off: a thread lock spares it tqdm's named semaphore, which a killed worker would leave
    # behind (and the resource tracker would warn of on the command's exit)
    tqdm.set_lock(threading.RLock())
    _WORKER_DEVICE = worker_device(device, index)


def _in_worker(work, spec: RunSpec, context: RunContext, *rest):
    """``work(spec, context, *rest)`` on this worker's own device."""
    if _WORKER_DEVICE is not None and _WORKER_DEVICE != context.execution.device:
        context = replace(context, execution=replace(context.execution, device=_WORKER_DEVICE))
    return work(spec, context, *rest)


def _died(process: BaseProcess) -> str:
    """How a worker process that ended without a word died."""
    process.join()
    code = process.exitcode
    try:
        how = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exited with status {code}"
    except ValueError:
        how = f"killed by signal {-code}"
    oom = " (as the out-of-memory killer does)" if code == -signal.SIGKILL else ""
    return f"its worker process (pid {process.pid}) died, {how}{oom}"


class _Workers:
    """``count`` worker processes, each a pool of one, each given one task at a time."""

    def __init__(self, count: int, device: str | None):
        self.device = device
        self.pools = [self._pool(index) for index in range(count)]

    def _pool(self, index: int) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(1, mp_context=get_context("spawn"), initializer=_init_worker,
                                   initargs=(os.getpid(), index, self.device))

    def each(self, work, specs: list[RunSpec], *rest) -> Iterator[tuple[RunSpec, Future, BaseProcess]]:
        """``work(spec, *rest)`` for each of ``specs``, in order as workers come free; each spec, its ended future and
        the worker process that ran it, as they end. A worker that died (its future: ``BrokenProcessPool``) is
        replaced by a new one."""
        queue, running = list(reversed(specs)), {}

        def give(index: int) -> None:
            if queue:
                spec, pool = queue.pop(), self.pools[index]
                future = pool.submit(_in_worker, work, spec, *rest)
                running[future] = index, spec, next(iter(pool._processes.values()))  # submit started it

        for index in range(len(self.pools)):
            give(index)
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                index, spec, process = running.pop(future)
                if isinstance(future.exception(), BrokenProcessPool):
                    self.pools[index].shutdown(wait=True)
                    self.pools[index] = self._pool(index)
                give(index)
                yield spec, future, process

    def shutdown(self) -> None:
        for pool in self.pools:
            pool.shutdown()

    def stop(self, results) -> None:
        """Stop at once (Ctrl-C, SIGTERM): no queued task starts, the runs in progress end without a record, and
        the claims of the killed workers (runs and studies) are released."""
        processes = [process for pool in self.pools for process in (getattr(pool, "_processes", None) or {}).values()]
        for process in processes:
            process.kill()
        for process in processes:
            process.join(5)
        for pool in self.pools:
            pool.shutdown(wait=True, cancel_futures=True)  # broken now: cancels the rest and frees its queues
        release_claims_of(results, {process.pid for process in processes})


def _announce_caches(shared: list[RunSpec]) -> float:
    """Say that the shared caches are being made ready (a new synthetic world takes tens of seconds before the first
    run starts); when it began."""
    if shared:
        datasets = ", ".join(dict.fromkeys(spec.dataset for spec in shared))
        tqdm.write(f"caches: making the data, backbone and features of {datasets} ready ({len(shared)} setting"
                   f"{'s' if len(shared) > 1 else ''}; built once, then read)")
    return time.monotonic()


def _caches_ready(started: float) -> None:
    """Say how long the shared caches took, when they took long enough to have been built."""
    seconds = time.monotonic() - started
    if seconds >= 1:
        tqdm.write(f"caches: ready in {seconds:.0f} s")


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
        tally = Tally(len(specs))

        def finished(spec: RunSpec, outcome) -> None:
            outcomes.append(outcome)
            announce(spec, outcome, tally)
            bar.update()

        started = _announce_caches(shared)
        if workers == 1:
            for spec in shared:
                warn_missing_images(spec, prepare_shared(spec, context))
            _caches_ready(started)
            for spec in specs:
                finished(spec, task(spec, context, grid_id))
        else:
            quiet = replace(context, progress=False)
            pool = _Workers(workers, execution.device)
            try:
                for spec, future, process in pool.each(prepare_shared, shared, quiet):
                    if isinstance(future.exception(), BrokenProcessPool):  # its runs build the caches themselves
                        tqdm.write(f"warning: {spec.dataset}: the shared caches were not built: {_died(process)}")
                    else:
                        warn_missing_images(spec, future.result())
                _caches_ready(started)
                for spec, future, process in pool.each(task, specs, quiet, grid_id):
                    if isinstance(future.exception(), BrokenProcessPool):
                        finished(spec, record_lost_run(spec, context, grid_id, process.pid, _died(process)))
                        release_claims_of(context.results, {process.pid})
                    else:
                        finished(spec, future.result())
            except BaseException:  # Ctrl-C, SIGTERM (or an error): stop now, start nothing more
                pool.stop(context.results)
                raise
            pool.shutdown()
        bar.close()
        return Batch(outcomes)
