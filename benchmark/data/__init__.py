"""Datasets: the registry (``registry``: one entry per dataset), loaders of the three standard sets, their synthetic
stand-ins and stress worlds, and the frozen splits.

>>> from benchmark import data
>>> ds = data.load("synth-coco")                        # generated on first use, cached  # doctest: +SKIP
>>> ds = data.load("nuswide", root="data/nuswide", image_root="/datasets/nus/Flickr")  # doctest: +SKIP
>>> split = data.load_or_create_split(ds, data.default_split_settings(ds), data.cache_dir())  # doctest: +SKIP
>>> data.dataset_entry("synth-coco").stand_in_for       # what code outside data/ reads, never the name
'coco'
"""
from __future__ import annotations

from pathlib import Path

from ..errors import DataError
from ..paths import cache_dir, data_root
from . import real, synthetic  # noqa: F401 - their registrations, real sets first (the tables' column order)
from .dataset import PairedDataset
from .real import missing_files
from .registry import (DatasetEntry, dataset_entries, dataset_entry, dataset_names, find_dataset, fixed_split,
                       register_dataset, unregister_dataset)
from .matfiles import read_mat
from .real import LABEL_KEYS
from .splits import Split, SplitSettings, load_or_create_split
from .variants import VARIANTS, prepared_summary, summary_variant, variant_text

__all__ = [
    "DataError", "DatasetEntry", "PairedDataset", "Split", "SplitSettings", "cache_dir", "data_root",
    "dataset_entries", "dataset_entry", "dataset_names", "default_split_settings", "describe", "find_dataset",
    "fixed_split", "load", "load_or_create_split", "missing_dataset_files", "register_dataset", "split_settings",
    "unregister_dataset",
]


def load(name: str, root=None, **options) -> PairedDataset:
    """Load a registered dataset by name, with the options its entry takes.

    Real sets (``mirflickr25k``, ``nuswide``, ``coco``): ``root`` is the folder holding ``index.mat``,
    ``label.mat`` and ``caption.mat``/``caption.txt`` (default ``<data_root()>/<name>``); option
    ``image_root`` re-roots image paths that no longer exist, and ``missing_images`` (``count``, ``drop`` or
    ``error``) says what to do with items whose image is found nowhere. Synthetic sets (``synth-*``): ``root`` is
    the cache folder (default ``cache_dir()``); options ``seed`` (default 0), ``size`` and any knob of the
    generator (``benchmark.data.synthetic.KNOBS``, docs/synthetic.md), which overrides the set's preset.

    Raises:
        ValueError (DataError): unknown name or option, missing or malformed files (naming them).
    """
    entry = dataset_entry(name)
    unknown = sorted(set(options) - entry.options)
    if unknown:
        raise DataError(f"unknown option(s) {', '.join(unknown)} for dataset {name!r}; "
                        f"valid: {', '.join(sorted(entry.options))}")
    return entry.load(root, **options)


def missing_dataset_files(name: str, folder: Path) -> list[str]:
    """The files dataset ``name`` needs that ``folder`` lacks (all of them when it is not a folder)."""
    files = dataset_entry(name).files
    return missing_files(files, Path(folder)) if Path(folder).is_dir() else list(files)


def split_settings(name: str, n_items: int | None, **overrides) -> SplitSettings:
    """The protocol's split of dataset ``name`` (its entry's sizes for ``n_items`` items; None where that is not
    known before reading the set), with ``overrides`` of any setting; an override of None keeps the protocol's
    value."""
    query, train = dataset_entry(name).split_sizes(n_items)
    sizes = {"query_size": query, "train_size": train}
    return SplitSettings(**{**sizes, **{k: v for k, v in overrides.items() if v is not None}})


def default_split_settings(dataset: PairedDataset, **overrides) -> SplitSettings:
    """``split_settings`` of a loaded ``dataset``, for its number of items."""
    return split_settings(dataset.name, len(dataset), **overrides)


def _files_under(entry: DatasetEntry, root: Path) -> dict:
    folder = root / entry.name
    missing = missing_dataset_files(entry.name, folder)
    status = "found" if not missing else f"missing {', '.join(missing)}"
    if not missing and any(entry.name in v.items for v in VARIANTS.values()):
        status += f"; {_variant_line(entry.name, folder)}"
    return {"location": str(folder), "files": ", ".join(entry.files), "status": status}


def _variant_line(name: str, folder: Path) -> str:
    """Which variant ``folder`` holds: as its prepare summary says, else guessed from its label rows' count."""
    summary = prepared_summary(folder)
    if summary is not None and isinstance(summary.get("kept"), int):
        return variant_text(name, summary_variant(summary), summary["kept"])
    try:
        n_items = len(read_mat(folder / "label.mat", LABEL_KEYS)[1])
    except DataError as exc:
        return f"variant unknown: {exc}"
    return variant_text(name, None, n_items)


def describe(root: Path | None = None, cache: Path | None = None) -> list[dict]:
    """For each dataset: its classes, where its files are expected and whether they are there."""
    root, cache = Path(root) if root else data_root(), Path(cache) if cache else cache_dir()
    return [{"name": entry.name, "classes": len(entry.class_names),
             **(entry.describe(root, cache) if entry.describe else _files_under(entry, root))}
            for entry in dataset_entries()]
