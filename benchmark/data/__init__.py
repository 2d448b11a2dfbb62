"""Datasets: loaders of the three standard sets, their synthetic stand-ins, and the frozen splits.

>>> from benchmark import data
>>> ds = data.load("synth-coco")                        # generated on first use, cached
>>> ds = data.load("nuswide", root="data/nuswide", image_root="/datasets/nus/Flickr")
>>> split = data.load_or_create_split(ds, data.default_split_settings(ds), data.cache_dir())
"""
from __future__ import annotations

from pathlib import Path

from ..errors import DataError
from ..paths import cache_dir, data_root
from .dataset import PairedDataset
from .real import REAL_DATASETS, load_real, missing_files
from .splits import Split, SplitSettings, load_or_create_split
from .synthetic import KNOBS, SYNTHETIC_DATASETS, cache_folder, load_synthetic

__all__ = [
    "DataError", "PairedDataset", "Split", "SplitSettings", "cache_dir", "data_root", "dataset_names",
    "default_split_settings", "describe", "is_synthetic", "load", "load_or_create_split",
]


def dataset_names() -> list[str]:
    return list(REAL_DATASETS) + list(SYNTHETIC_DATASETS)


def is_synthetic(name: str) -> bool:
    """Whether ``name`` is a synthetic stand-in (generated here; needs no download and no pretrained CLIP)."""
    return name in SYNTHETIC_DATASETS


def load(name: str, root=None, **options) -> PairedDataset:
    """Load a dataset by name.

    Real sets (``mirflickr25k``, ``nuswide``, ``coco``): ``root`` is the folder holding ``index.mat``,
    ``label.mat`` and ``caption.mat``/``caption.txt`` (default ``<data_root()>/<name>``); option
    ``image_root`` re-roots image paths that no longer exist, and ``missing_images`` (``count``, ``drop`` or
    ``error``) says what to do with items whose image is found nowhere. Synthetic sets (``synth-*``): ``root`` is
    the cache folder (default ``cache_dir()``); options ``seed`` (default 0), ``size`` and any knob of the
    generator (``benchmark.data.synthetic.KNOBS``, docs/synthetic.md), which overrides the set's preset.

    Raises:
        ValueError (DataError): unknown name or option, missing or malformed files (naming them).
    """
    if name in REAL_DATASETS:
        allowed = {"image_root", "missing_images"}
    elif is_synthetic(name):
        allowed = {"seed", "size", *KNOBS}
    else:
        raise DataError(f"unknown dataset {name!r}; available: {', '.join(dataset_names())}")
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise DataError(f"unknown option(s) {', '.join(unknown)} for dataset {name!r}; valid: {', '.join(sorted(allowed))}")
    if name in REAL_DATASETS:
        image_root = options.get("image_root")
        return load_real(name, Path(root) if root else data_root() / name,
                         Path(image_root) if image_root else None, options.get("missing_images", "count"))
    return load_synthetic(name, Path(root) if root else cache_dir(), **options)


def missing_dataset_files(name: str, folder: Path) -> list[str]:
    """The files real dataset ``name`` needs that ``folder`` lacks (all of them when it is not a folder)."""
    spec = REAL_DATASETS[name]
    return missing_files(spec, Path(folder)) if Path(folder).is_dir() else list(spec.files)


def default_split_settings(dataset: PairedDataset, **overrides) -> SplitSettings:
    """The protocol's split of ``dataset`` (synthetic sets scale its sizes to their size), with ``overrides``
    of any setting; an override of None keeps the protocol's value."""
    if is_synthetic(dataset.name):
        query, train = SYNTHETIC_DATASETS[dataset.name].split_sizes(len(dataset))
        sizes = {"query_size": query, "train_size": train}
    else:
        spec = REAL_DATASETS[dataset.name]
        sizes = {"query_size": spec.query_size, "train_size": spec.train_size}
    return SplitSettings(**{**sizes, **{k: v for k, v in overrides.items() if v is not None}})


def describe(root: Path | None = None, cache: Path | None = None) -> list[dict]:
    """For each dataset: its classes, where its files are expected and whether they are there."""
    root, cache = Path(root) if root else data_root(), Path(cache) if cache else cache_dir()
    rows = []
    for name, spec in REAL_DATASETS.items():
        folder = root / name
        missing = missing_dataset_files(name, folder)
        status = "found" if not missing else f"missing {', '.join(missing)}"
        rows.append({"name": name, "classes": len(spec.class_names), "location": str(folder),
                     "files": ", ".join(spec.files), "status": status})
    for name, spec in SYNTHETIC_DATASETS.items():
        folder = cache_folder(cache, name, spec.size, 0)
        status = "cached" if (folder / "vocab.json").is_file() else "generated on first use"
        kind = f"imitates {spec.real}" if spec.real else "stress world"
        rows.append({"name": name, "classes": len(spec.class_names), "location": str(folder),
                     "files": f"{spec.size} pairs (seed 0), {kind}", "status": status})
    return rows
