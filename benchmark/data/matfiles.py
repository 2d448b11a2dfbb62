"""Reading and writing the ``.mat`` files of the public cross-modal hashing layout.

MATLAB v5 files are read with scipy, v7.3 files (HDF5 inside) with the optional ``h5py``. Values come back
as numpy arrays (numbers), strings or object arrays (cell arrays) whatever the version, and the helpers
below turn them into label matrices, path lists and caption lists, accepting every common way of storing
text: one string per item, a list of strings per item, 1xN or Nx1 cell arrays, space-padded char matrices.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.io

from ..errors import DataError
from ..files import atomic_path, write_text

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def mat_version(path: Path) -> str:
    """``"v5"`` (also v4/v6, which scipy reads) or ``"v7.3"`` (HDF5); a corrupt file raises DataError."""
    try:
        with open(path, "rb") as f:
            head = f.read(520)
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc}") from exc
    if head[512:520] == HDF5_SIGNATURE or head[:8] == HDF5_SIGNATURE:
        return "v7.3"
    if head.startswith(b"MATLAB 5.0") or (len(head) >= 128 and head[126:128] in (b"IM", b"MI")):
        return "v5"
    raise DataError(f"{path} is not a MATLAB .mat file (no v5 or v7.3 header); the file may be corrupt or "
                    "truncated: re-create it (python -m benchmark prepare ...) or copy it again")


def _import_h5py(path: Path):
    try:
        import h5py
    except ImportError as exc:
        raise DataError(f"{path} is a MATLAB v7.3 (HDF5) file; reading it needs h5py: "
                        "pip install 'xmhash-bench[hdf5]' (or pip install h5py)") from exc
    return h5py


def _decode_h5(obj, h5file):
    """An HDF5 node written by MATLAB -> numpy array, str, or object array (cell), in MATLAB's row order."""
    matlab_class = obj.attrs.get("MATLAB_class", b"")
    matlab_class = matlab_class.decode() if isinstance(matlab_class, bytes) else str(matlab_class)
    data = obj[()]
    if matlab_class == "cell":
        refs = np.asarray(data).T  # MATLAB stores column-major: transpose back to rows x columns
        out = np.empty(refs.shape, dtype=object)
        for index, ref in np.ndenumerate(refs):
            out[index] = _decode_h5(h5file[ref], h5file)
        return out
    if matlab_class == "char":
        chars = np.atleast_2d(np.asarray(data)).T  # (rows, length)
        rows = ["".join(map(chr, row)).rstrip(" \x00") for row in chars]
        return rows[0] if len(rows) == 1 else np.array(rows, dtype=object)
    return np.asarray(data).T


def read_mat(path: Path, keys: tuple[str, ...]) -> tuple[str, object]:
    """The value of the first of ``keys`` found in ``path``; DataError listing the keys found otherwise."""
    path = Path(path)
    version = mat_version(path)
    if version == "v7.3":
        h5py = _import_h5py(path)
        try:
            with h5py.File(path, "r") as f:
                found = [k for k in f.keys() if not k.startswith("#")]
                key = next((k for k in keys if k in found), None)
                value = _decode_h5(f[key], f) if key else None
        except (OSError, KeyError, ValueError) as exc:
            raise DataError(f"cannot read {path} (MATLAB v7.3 / HDF5): {exc}; the file may be corrupt") from exc
    else:
        try:
            contents = scipy.io.loadmat(path)
        except Exception as exc:  # scipy raises several types for damaged files
            raise DataError(f"cannot read {path} (MATLAB v5): {exc}; the file may be corrupt") from exc
        found = [k for k in contents if not k.startswith("__")]
        key = next((k for k in keys if k in found), None)
        value = contents.get(key) if key else None
    if key is None:
        raise DataError(f"{path} has none of the keys {', '.join(keys)}; it holds: {', '.join(found) or 'nothing'}")
    return key, value


# ----------------------------------------------------------------------------------- conversions


def _strings(value) -> list[str]:
    """Every string inside a char array, a string, or a (nested) cell array, in order."""
    if isinstance(value, str):
        return [value.rstrip(" \x00")]
    if isinstance(value, bytes):
        return [value.decode("utf-8", "replace").rstrip(" \x00")]
    array = np.asarray(value)
    if array.dtype.kind in "US":
        return [str(s).rstrip(" \x00") for s in array.ravel()]
    if array.dtype == object:
        return [s for element in array.ravel() for s in _strings(element)]
    if array.size == 0:
        return []
    raise TypeError(f"a {array.dtype} array of shape {array.shape} where text was expected")


def _items(value, path: Path, key: str) -> list:
    """The per-item elements of a value holding one entry per item (cell Nx1/1xN, char rows, string list)."""
    if isinstance(value, str):
        return [value]
    array = np.asarray(value)
    if array.dtype.kind in "US" or (array.dtype == object and array.ndim <= 2):
        if array.ndim == 2 and array.dtype.kind in "US" and 1 in array.shape:
            return list(array.ravel())
        if array.ndim == 2 and array.dtype == object and 1 not in array.shape:
            raise DataError(f"{path} key '{key}': a {array.shape[0]}x{array.shape[1]} cell array; "
                            "expected one cell per item (Nx1 or 1xN)")
        return list(array.ravel()) if array.ndim else [array.item()]
    raise DataError(f"{path} key '{key}' holds a numeric {array.dtype} array of shape {array.shape}, not text "
                    "(a bag-of-words matrix cannot be turned back into words); build the caption file with "
                    "python -m benchmark prepare NAME --raw DOWNLOAD_DIR --out DIR")


def as_paths(value, path: Path, key: str) -> list[str]:
    """Image paths, one per item."""
    try:
        return [(_strings(item) or [""])[0].strip() for item in _items(value, path, key)]
    except TypeError as exc:
        raise DataError(f"{path} key '{key}': {exc}") from exc


def as_captions(value, path: Path, key: str) -> list[list[str]]:
    """One or more captions per item, stripped of padding; an item without text gets ``[""]``."""
    try:
        return [[s.strip() for s in _strings(item)] or [""] for item in _items(value, path, key)]
    except TypeError as exc:
        raise DataError(f"{path} key '{key}': {exc}") from exc


def as_label_matrix(value, path: Path, key: str, n_classes: int) -> np.ndarray:
    """A uint8 ``(N, n_classes)`` 0/1 matrix (a ``(n_classes, N)`` one is transposed); DataError otherwise."""
    array = np.asarray(value)
    if array.dtype == object or array.ndim != 2 or not np.issubdtype(array.dtype, np.number) and array.dtype != bool:
        raise DataError(f"{path} key '{key}' must be a numeric N x {n_classes} matrix, got {array.dtype} "
                        f"of shape {array.shape}")
    if array.shape[1] != n_classes and array.shape[0] == n_classes:
        array = array.T
    if array.shape[1] != n_classes:
        raise DataError(f"{path} key '{key}' has shape {array.shape}; expected N x {n_classes} (one column per class)")
    bad = ~np.isin(array, (0, 1))
    if bad.any():
        row, column = np.argwhere(bad)[0]
        raise DataError(f"{path} key '{key}' must hold only 0/1 values; row {row}, column {column} is "
                        f"{array[row, column].item()!r} ({int(bad.sum())} such entries). Binarise the labels first.")
    return array.astype(np.uint8)


# ---------------------------------------------------------------------------------------- writing


def _cell(strings) -> np.ndarray:
    out = np.empty((len(strings), 1), dtype=object)
    for i, s in enumerate(strings):
        out[i, 0] = s
    return out


def _atomic_savemat(path: Path, key: str, value) -> None:
    with atomic_path(path) as tmp:
        scipy.io.savemat(tmp, {key: value}, do_compression=True)


def write_dataset_files(out: Path, paths: list[str], labels: np.ndarray, captions: list[list[str]],
                        caption_format: str = "mat") -> list[Path]:
    """Write ``index.mat`` (key ``index``), ``label.mat`` (key ``category``) and ``caption.mat`` (key
    ``caption``: a string per item, or a cell of strings where an item has several) or ``caption.txt``
    (one line per item); each file is written to a temporary name and then renamed. Returns the files."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if not (len(paths) == len(labels) == len(captions)):
        raise ValueError(f"{len(paths)} paths, {len(labels)} label rows and {len(captions)} captions")
    _atomic_savemat(out / "index.mat", "index", _cell(paths))
    _atomic_savemat(out / "label.mat", "category", np.asarray(labels, np.uint8))
    if caption_format == "txt":
        if any(len(c) != 1 or "\n" in c[0] for c in captions):
            raise ValueError("caption.txt holds exactly one single-line caption per item")
        target = write_text(out / "caption.txt", "".join(c[0] + "\n" for c in captions))
    else:
        target = out / "caption.mat"
        _atomic_savemat(target, "caption", _cell([c[0] if len(c) == 1 else _cell(c).T for c in captions]))
    return [out / "index.mat", out / "label.mat", target]
