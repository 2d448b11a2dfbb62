"""Converters from the original downloads of the standard datasets to the files the loader reads
(``python -m benchmark prepare NAME --raw DOWNLOAD_DIR --out DIR``)."""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from . import coco, mirflickr25k, nuswide

#: dataset name -> ``convert(raw, out) -> summary``
CONVERTERS: dict[str, Callable[[Path, Path], dict]] = {
    "mirflickr25k": mirflickr25k.convert,
    "nuswide": nuswide.convert,
    "coco": coco.convert,
}


def prepare(name: str, raw: str | os.PathLike, out: str | os.PathLike) -> dict:
    """Convert the download of dataset ``name`` in ``raw`` into ``out``; returns the summary that is also
    written to ``out/summary.json``. An unknown name raises ValueError listing the valid ones; problems with
    the files raise DataError."""
    try:
        converter = CONVERTERS[name]
    except KeyError:
        raise ValueError(f"no converter for dataset {name!r}; valid names: {', '.join(CONVERTERS)}") from None
    return converter(Path(raw), Path(out))


__all__ = ["CONVERTERS", "prepare"]
