"""Converters from the original downloads of the standard datasets to the files the loader reads
(``python -m benchmark prepare NAME --raw DOWNLOAD_DIR --out DIR``); each dataset's registration names its own."""
from __future__ import annotations

import inspect
import os
from pathlib import Path

from ...errors import ConfigError
from ..registry import dataset_entries, find_dataset
from ..variants import VARIANTS
from . import mith


def convertible() -> list[str]:
    """The datasets ``prepare`` can build: those registered with a converter."""
    return [entry.name for entry in dataset_entries() if entry.convert is not None]


def _choose_untagged() -> list[str]:
    """The datasets whose converter takes ``drop_untagged`` (the others always drop an item without text)."""
    return [name for name in convertible()
            if "drop_untagged" in inspect.signature(find_dataset(name).convert).parameters]


def prepare(name: str, raw: str | os.PathLike, out: str | os.PathLike, *, drop_untagged: bool = False,
            variant: str = "official", images: str | os.PathLike | None = None) -> dict:
    """Convert the download of dataset ``name`` in ``raw`` into ``out``; returns the summary that is also
    written to ``out/summary.json``. MIRFLICKR-25K keeps its labelled images without tags (empty text) unless
    ``drop_untagged``. ``variant="mith"`` builds MITH's cleaned set from its released lists in ``raw`` and the
    images in ``images`` (``prepare.mith``). An unknown name raises ValueError listing the valid ones,
    ``drop_untagged`` for another dataset or variant, or an unknown variant, ConfigError; problems with the files
    raise DataError."""
    if name not in convertible():
        raise ValueError(f"no converter for dataset {name!r}; valid names: {', '.join(convertible())}")
    if variant not in VARIANTS:
        raise ConfigError(f"unknown variant {variant!r}; valid: {', '.join(VARIANTS)}")
    if variant == "mith":
        if name not in VARIANTS[variant].items:
            raise ConfigError(f"--variant mith builds {', '.join(VARIANTS[variant].items)}, not {name}")
        if drop_untagged:
            raise ConfigError("--drop-untagged does not apply to --variant mith: MITH's lists fix the items kept")
        return mith.convert(name, Path(raw), Path(out), Path(images) if images is not None else None)
    if images is not None:
        raise ConfigError("--images goes with --variant mith (the folder of the images MITH's lists name); the "
                          "official downloads' converters find their images under --raw")
    convert = find_dataset(name).convert
    if name in _choose_untagged():
        return convert(Path(raw), Path(out), drop_untagged=drop_untagged)
    if drop_untagged:
        raise ConfigError(f"--drop-untagged applies to {', '.join(_choose_untagged())} only; {name} always drops "
                          "items without text")
    return convert(Path(raw), Path(out))


__all__ = ["convertible", "prepare"]
