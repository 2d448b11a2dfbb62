"""Tiny ``.mat`` files in the layouts found in the wild: MATLAB v5 through scipy, and MATLAB v7.3 (HDF5)
written the way MATLAB lays it out (column-major datasets, cell arrays as object references)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.io

MAT73_HEADER = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Tue Nov 24 00:00:00 2026 HDF5 schema 1.00 ."


def cell_column(values) -> np.ndarray:
    """An N x 1 cell array for scipy.io.savemat."""
    out = np.empty((len(values), 1), dtype=object)
    for i, v in enumerate(values):
        out[i, 0] = v
    return out


def save_v5(path: Path, **variables) -> Path:
    scipy.io.savemat(path, variables)
    return path


def save_v73(path: Path, **variables) -> Path:
    """``variables``: numeric arrays, lists of strings (N x 1 cell of char) or lists of lists of strings
    (N x 1 cell of 1 x m cells of char)."""
    import h5py

    with h5py.File(path, "w", userblock_size=512) as f:
        refs = f.create_group("#refs#")
        counter = iter(range(10**6))

        def char(text: str):
            codes = np.array([[ord(ch)] for ch in text] or [[0]], dtype=np.uint16)  # MATLAB: (length, 1)
            ds = refs.create_dataset(f"c{next(counter)}", data=codes)
            ds.attrs["MATLAB_class"] = np.bytes_("char")
            return ds.ref

        def cell(items, target=None, name=None):
            refs_array = np.array([[item] for item in items], dtype=h5py.ref_dtype).T  # (1, N): column-major
            group = target if target is not None else refs
            ds = group.create_dataset(name or f"c{next(counter)}", data=refs_array)
            ds.attrs["MATLAB_class"] = np.bytes_("cell")
            return ds.ref

        for key, value in variables.items():
            if isinstance(value, np.ndarray) and value.dtype != object:
                ds = f.create_dataset(key, data=value.T)
                ds.attrs["MATLAB_class"] = np.bytes_("double" if value.dtype.kind == "f" else "uint8")
            elif value and isinstance(value[0], str):
                cell([char(s) for s in value], f, key)
            else:
                cell([cell([char(s) for s in item]) for item in value], f, key)
    with open(path, "r+b") as f:
        f.write(MAT73_HEADER.ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02IM")
    return path
