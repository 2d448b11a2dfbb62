"""Shards: a fixed partition of a grid's runs (or a tuning's studies) between processes or Slurm array tasks."""
from __future__ import annotations

import os
from typing import Sequence, TypeVar

from ..errors import ConfigError

T = TypeVar("T")


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


def shard_of(items: Sequence[T], index: int, count: int) -> list[T]:
    """Every ``count``-th item from position ``index``: a fixed partition of the whole grid, whatever is already
    done, so shards started at different times never overlap."""
    return list(items[index::count])


def this_shard(text: str | None) -> tuple[int, int] | None:
    """The shard ``--shard`` names, else the Slurm array task's, else None (the whole grid)."""
    return parse_shard(text) if text else slurm_array_shard()
