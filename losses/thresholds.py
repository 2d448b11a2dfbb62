"""HyP²'s threshold ζ, as its authors set it: looked up in their table by code length and number of classes.

The table is ``codetable.xlsx`` of the HyP² code (the same workbook ships with DSPH and DCGH); its values are in
``data/hyp2_thresholds.csv`` (code lengths 1–256, columns 1–10, i.e. up to 1024 classes), read from the workbook.
The authors look ζ up as ``sheet.row(n_bits)[ceil(log2(n_classes))]``.

>>> hyp2_threshold(16, 80), hyp2_threshold(32, 80), hyp2_threshold(64, 24)
(0.25, 0.125, 0.0)
"""
from __future__ import annotations

import functools
from pathlib import Path

from .base import LossConfigError, check_number

TABLE = Path(__file__).parent / "data" / "hyp2_thresholds.csv"


@functools.cache
def _table() -> dict[int, tuple[float, ...]]:
    """Code length -> the row's values, column 1 first."""
    rows = TABLE.read_text().splitlines()[1:]
    return {int(bits): tuple(float(v) for v in values if v)
            for bits, *values in (row.split(",") for row in rows)}


def hyp2_threshold(n_bits: int, n_classes: int) -> float:
    """ζ for codes of ``n_bits`` and ``n_classes`` classes: column ``ceil(log2 c)`` of row ``n_bits`` of the table."""
    column = (n_classes - 1).bit_length()  # ceil(log2 c), exactly, for integers c >= 1
    row = _table().get(n_bits)
    if row is None or not 1 <= column <= len(row):
        raise LossConfigError(
            f"the HyP² threshold table has no entry for {n_bits} bits and {n_classes} classes (it covers 1-256 bits "
            "and 2 to min(2**bits, 1024) classes); give zeta explicitly, e.g. loss_params: {zeta: 0}")
    return row[column - 1]


def threshold(zeta: float | None, n_bits: int, n_classes: int) -> float:
    """A loss's ζ: the number given, or the authors' table entry when ``zeta`` is None (the default)."""
    return hyp2_threshold(n_bits, n_classes) if zeta is None else check_number("zeta", zeta)
