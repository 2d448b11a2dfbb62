"""How many threads each piece of work gets.

torch's intra-op thread pool gains nothing on this suite's small matrices (the hash heads, the tiny synthetic CLIP)
and its threads spin and fight over cores when anything else runs: on a loaded 2-core machine a frozen run with
two threads was 10-100x slower than with one. So small work runs on one thread, and the cores go to parallel
runs instead (``execution.workers``, by default one per core on the CPU); only a real CLIP's forward and backward
passes get several threads (``execution.threads``, by default the worker's share of the cores). Work on one
thread also makes results independent of the machine's core count: the synthetic backbone's pretraining gives
other weights with two threads than with one.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from threadpoolctl import threadpool_limits


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, e.g. under Slurm or taskset)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def plan_workers(workers: int | None, threads: int | None, pending: int, device: torch.device) -> tuple[int, int]:
    """(worker processes, threads per worker) for ``pending`` runs: by default one worker per core on the CPU,
    on a GPU one in all (the runs share it) or, for ``cuda`` without an index on a machine with several GPUs, one
    per GPU (``benchmark.execution.worker_device`` gives each its own); each worker gets its share of the cores."""
    cores = available_cores()
    if workers is None:
        if device.type == "cpu":
            workers = max(1, min(cores, pending))
        elif device.type == "cuda" and device.index is None:
            workers = max(1, min(torch.cuda.device_count(), pending))
        else:
            workers = 1
    return workers, threads if threads is not None else max(1, cores // workers)


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run the block with ``count`` intra-op threads in torch and in numpy's BLAS, then restore the previous counts.

    numpy's BLAS matters too: the diagnostics' and the quantization gap's small products ran 13x slower on two
    spinning OpenBLAS threads beside another busy process than on one.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        with threadpool_limits(limits=count, user_api="blas"):
            yield
    finally:
        torch.set_num_threads(previous)


def plan_loader_workers(workers: int | None, device: torch.device) -> int:
    """Image loader processes of a run (``execution.loader_workers``): ``workers``, by default none on the CPU
    (its cores go to the runs and their threads) and on a GPU one per core but one, at most 8, so that decoding
    keeps up with the GPU (``methods.image_batches``)."""
    if workers is not None:
        return workers
    return min(8, available_cores() - 1) if device.type == "cuda" else 0
