"""Execution: one run (``execute_run``), and the backends that run many behind one interface (``Executor``:
``local`` worker processes, ``slurm`` through submitit), with typed outcomes and shards.

A run is done when its record exists; a run that fails writes ``failed.json`` (the error and its traceback) and
is retried by the next invocation while the other runs go on. Shared caches (synthetic sets, splits, backbones,
features) are built before any run trains and written atomically, so several processes or shards may create
them at once. A run is claimed while it trains (``benchmark.store.claim``), so processes sharing a results
folder never do a run twice. A new backend subclasses ``Executor`` and registers itself
(``register_executor``); ``--executor NAME`` then picks it (docs/architecture.md, "Execution").

>>> from benchmark.execution import executor_names
>>> executor_names()
['local', 'slurm']
"""
from __future__ import annotations

from .base import Executor, Task, executor_names, make_executor, register_executor
from .context import RunContext
from .local import LocalExecutor, worker_device
from .outcome import Batch, Outcome
from .one_run import execute_run, prepare_shared, resources
from .shards import parse_shard, shard_of, slurm_array_shard, this_shard
from .slurm import SubmititExecutor

__all__ = ["Batch", "Executor", "LocalExecutor", "Outcome", "RunContext", "SubmititExecutor", "Task",
           "execute_run", "executor_names", "make_executor", "parse_shard", "prepare_shared", "register_executor",
           "resources", "shard_of", "slurm_array_shard", "this_shard", "worker_device"]
