"""Converters from the original downloads of the standard datasets to the files the loader reads
(``python -m benchmark prepare NAME --raw DOWNLOAD_DIR --out DIR``)."""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from ...errors import ConfigError
from . import coco, mirflickr25k, nuswide

#: dataset name -> ``convert(raw, out) -> summary``
CONVERTERS: dict[str, Callable[..., dict]] = {
    "mirflickr25k": mirflickr25k.convert,
    "nuswide": nuswide.convert,
    "coco": coco.convert,
}


#: The datasets whose converter takes ``drop_untagged`` (the others always drop an item without text).
UNTAGGED_CHOICE = ("mirflickr25k",)


def prepare(name: str, raw: str | os.PathLike, out: str | os.PathLike, *, drop_untagged: bool = False) -> dict:
    """Convert the download of dataset ``name`` in ``raw`` into ``out``; returns the summary that is also
    written to ``out/summary.json``. MIRFLICKR-25K keeps its labelled images without tags (empty text) unless
    ``drop_untagged``. An unknown name raises ValueError listing the valid ones, ``drop_untagged`` for another dataset
    ConfigError; problems with the files raise DataError."""
    try:
        converter = CONVERTERS[name]
    except KeyError:
        raise ValueError(f"no converter for dataset {name!r}; valid names: {', '.join(CONVERTERS)}") from None
    if name in UNTAGGED_CHOICE:
        return converter(Path(raw), Path(out), drop_untagged=drop_untagged)
    if drop_untagged:
        raise ConfigError(f"--drop-untagged applies to {', '.join(UNTAGGED_CHOICE)} only; {name} always drops items "
                         "without text")
    return converter(Path(raw), Path(out))


__all__ = ["CONVERTERS", "UNTAGGED_CHOICE", "prepare"]
