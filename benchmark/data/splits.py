"""Query / retrieval / train splits (docs/protocol.md, Splits), written once per (dataset, settings) and
checked by hash on every reuse.

One seeded permutation: query = its first Q items, train = the next T, retrieval = everything but the
query (in permutation order). The validation split is carved from the train set: its first
``min(val_max, round(val_fraction * T))`` items are validation queries and the rest of the train set is
their database.

The permutation is numpy's ``default_rng(seed)`` (``generator: pcg64``), or with ``generator: legacy`` numpy's
global legacy generator as published code seeds it (``np.random.seed(seed)`` then ``np.random.permutation(n)``;
drawn from a ``RandomState`` of that seed, which gives the same permutation without touching the global state).
The slicing is that of DCHMT's ``split_data`` (kalenforn/DCHMT ``dataset/dataloader.py``), so ``legacy`` with seed
1814 gives DCHMT's and TwDH's query, train and retrieval items, and with seed 1 MITH's, of the same files.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..files import atomic_path, load_npz_cache
from .dataset import PairedDataset

SPLIT_PARTS = ("query", "retrieval", "train", "val_query", "val_database")


@dataclass(frozen=True)
class SplitSettings:
    query_size: int
    train_size: int
    split_seed: int = 1818
    val_fraction: float = 0.1
    val_max: int = 1000
    generator: str = "pcg64"

    def stored(self) -> dict:
        """The settings as split files and hashes keep them: the default generator left out, as before it could
        be chosen, so that every split made then keeps its file."""
        stored = asdict(self)
        if stored["generator"] == "pcg64":
            del stored["generator"]
        return stored

    @property
    def key(self) -> str:
        return hashlib.sha256(json.dumps(self.stored(), sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class Split:
    """Index arrays into the dataset (int64) and the hashes that identify them."""

    query: np.ndarray
    retrieval: np.ndarray
    train: np.ndarray
    val_query: np.ndarray
    val_database: np.ndarray
    settings: SplitSettings
    dataset_hash: str
    hash: str
    path: Path | None = None


def _content_hash(parts: dict[str, np.ndarray]) -> str:
    digest = hashlib.sha256()
    for name in SPLIT_PARTS:
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(parts[name], np.int64).tobytes())
    return digest.hexdigest()


def split_problem(n_items: int | None, settings: SplitSettings, name: str = "dataset") -> str | None:
    """Why ``settings`` cannot split ``n_items`` items (None: the size is not known yet, so only what does not
    depend on it is checked), naming the configuration keys to change; None when they fit."""
    q, t = settings.query_size, settings.train_size
    if min(q, t) < 1 or (n_items is not None and q + t > n_items):
        return (f"{name} has {n_items} items: it cannot hold {q} queries and {t} training items (both >= 1, "
                "together <= the dataset size); lower run.split.query_size / run.split.train_size "
                "(e.g. --set run.split.query_size=N)")
    if not 0 < settings.val_fraction < 1 or settings.val_max < 1:
        return (f"run.split.val_fraction must be in (0, 1) and run.split.val_max >= 1, got {settings.val_fraction}, "
                f"{settings.val_max}")
    n_val = min(settings.val_max, max(1, round(settings.val_fraction * t)))
    if n_val >= t:
        return (f"{name}: {t} training items leave nothing for the validation database ({n_val} validation "
                "queries); raise run.split.train_size or lower run.split.val_fraction")
    return None


def make_split(n_items: int, settings: SplitSettings, name: str = "dataset") -> dict[str, np.ndarray]:
    """The index arrays for ``n_items`` items; DataError when the sizes do not fit."""
    problem = split_problem(n_items, settings, name)
    if problem:
        raise DataError(problem)
    q, t = settings.query_size, settings.train_size
    n_val = min(settings.val_max, max(1, round(settings.val_fraction * t)))
    if settings.generator == "legacy":
        order = np.random.RandomState(settings.split_seed).permutation(n_items)
    else:
        order = np.random.default_rng(settings.split_seed).permutation(n_items)
    train = order[q:q + t]
    return {"query": order[:q], "retrieval": order[q:], "train": train,
            "val_query": train[:n_val], "val_database": train[n_val:]}


def load_or_create_split(dataset: PairedDataset, settings: SplitSettings, cache_dir: Path) -> Split:
    """The split of ``dataset`` under ``settings``, from ``<cache>/splits/`` or created there.

    The file name carries the dataset's content hash and the settings' hash, so changed data or changed
    settings get a new file; a file whose recorded hashes do not match its contents is refused.
    """
    folder = Path(cache_dir) / "splits"
    path = folder / f"{dataset.name}-{dataset.content_hash[:16]}-{settings.key[:16]}.npz"
    stored = load_npz_cache(path, (*SPLIT_PARTS, "meta"), "split file")  # a damaged one: set aside, re-created
    if stored is not None:
        parts = {name: stored[name] for name in SPLIT_PARTS}
        try:
            meta = json.loads(str(stored["meta"]))
        except ValueError:
            meta = {}
        if (not isinstance(meta, dict) or meta.get("dataset_hash") != dataset.content_hash
                or meta.get("settings") != settings.stored() or meta.get("hash") != _content_hash(parts)):
            raise DataError(f"split file {path} does not match its dataset, settings or recorded hash; "
                            "it was changed or damaged: delete it to re-create the split")
    else:
        parts = make_split(len(dataset), settings, dataset.name)
        meta = {"dataset": dataset.name, "dataset_hash": dataset.content_hash, "settings": settings.stored(),
                "hash": _content_hash(parts)}
        with atomic_path(path) as tmp:
            np.savez(tmp, meta=json.dumps(meta), **parts)
    return Split(**parts, settings=settings, dataset_hash=dataset.content_hash, hash=meta["hash"], path=path)
