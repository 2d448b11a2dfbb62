"""The default places of things on disk, shared by runs, ``list datasets`` and the Python API."""
from __future__ import annotations

import os
from pathlib import Path

#: The results folder when none is given (``--results``).
DEFAULT_RESULTS = Path("results")


def cache_dir(results: Path | None = None) -> Path:
    """Where shared caches go (synthetic sets, splits, backbones, features): ``$BENCHMARK_CACHE``, else
    ``<results>/cache`` (``results/cache`` by default)."""
    return Path(os.environ.get("BENCHMARK_CACHE") or Path(results or DEFAULT_RESULTS) / "cache")


def data_root() -> Path:
    """Where real datasets are looked for by default: ``$BENCHMARK_DATA_ROOT``, else ``./data``."""
    return Path(os.environ.get("BENCHMARK_DATA_ROOT") or "data")
