"""The files a run keeps in its folder beside its record, and their export for the field's tools.

- ``codes.npz``: the final ±1 codes of the query and retrieval sets for both modalities, bit-packed with
  ``np.packbits`` (``query_image``, ``query_text``, ``retrieval_image``, ``retrieval_text``; ``n_bits``), and
  the two sets' multi-hot labels, bit-packed too (``query_labels``, ``retrieval_labels``; ``n_classes``);
- ``continuous.npz`` (``execution.save_continuous``): the same four sets of continuous (pre-sign) outputs, as
  float16;
- ``state.npz``: the hash heads' weights (``image_head.*``, ``text_head.*``) and the loss's own state
  (``loss.proxies``, ``loss.centers``, ...) as float32 arrays.

Each is written atomically and the record holds its SHA-256 (``RunRecord.files``). Torch-free.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.io

from .errors import ConfigError, RecordError
from .files import DAMAGED, atomic_path, file_sha256

CODES, CONTINUOUS, STATE = "codes.npz", "continuous.npz", "state.npz"
CODE_SETS = ("query_image", "query_text", "retrieval_image", "retrieval_text")
LABEL_SETS = ("query_labels", "retrieval_labels")
#: The names published cross-modal hashing code (the DCHMT family) gives these arrays in its .mat files.
EXPORT_NAMES = {"query_image": "q_img", "query_text": "q_txt", "retrieval_image": "r_img", "retrieval_text": "r_txt",
                "query_labels": "q_l", "retrieval_labels": "r_l"}
FORMATS = ("mat", "npz")


def pack(bits: np.ndarray) -> np.ndarray:
    """``(n, m)`` ±1 codes or 0/1 labels (> 0 is set) as ``(n, ceil(m / 8))`` uint8."""
    return np.packbits(np.asarray(bits) > 0, axis=1)


def unpack_codes(packed: np.ndarray, n_bits: int) -> np.ndarray:
    return np.where(np.unpackbits(packed, axis=1, count=n_bits) > 0, 1, -1).astype(np.int8)


def _save(path: Path, arrays: dict[str, np.ndarray]) -> str:
    with atomic_path(path) as tmp:
        np.savez(tmp, **arrays)
    return file_sha256(path)


def write_run_files(folder: Path, codes: dict[str, np.ndarray], labels: dict[str, np.ndarray],
                    outputs: dict[str, np.ndarray] | None = None, state: dict[str, np.ndarray] | None = None
                    ) -> dict[str, str]:
    """Write what a run keeps into ``folder``; returns each file's name and SHA-256."""
    folder = Path(folder)
    arrays = {name: pack(codes[name]) for name in CODE_SETS}
    arrays.update({name: pack(labels[name]) for name in LABEL_SETS})
    arrays.update(n_bits=np.int64(codes[CODE_SETS[0]].shape[1]), n_classes=np.int64(labels[LABEL_SETS[0]].shape[1]))
    written = {CODES: _save(folder / CODES, arrays)}
    if outputs is not None:
        written[CONTINUOUS] = _save(folder / CONTINUOUS, {k: outputs[k].astype(np.float16) for k in CODE_SETS})
    if state is not None:
        written[STATE] = _save(folder / STATE, {k: np.asarray(v, np.float32) for k, v in state.items()})
    return written


def _read(path: Path, read):
    """``read`` of the arrays stored in ``path``; RecordError naming the file when it is missing or damaged (a
    truncated file fails in np.load or only when an array is read, so both are inside the guard)."""
    try:
        with np.load(path) as stored:
            return read(stored)
    except DAMAGED as exc:
        why = "it is missing" if isinstance(exc, FileNotFoundError) else f"damaged: {type(exc).__name__}: {exc}"
        raise RecordError(f"cannot read {path} ({why}); run the run again with --force to write it") from exc


def read_codes(folder: Path) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The ±1 int8 codes and the 0/1 uint8 labels a run kept; RecordError naming the file when it is missing
    or damaged."""
    def unpack(stored):
        n_bits, n_classes = int(stored["n_bits"]), int(stored["n_classes"])
        return ({name: unpack_codes(stored[name], n_bits) for name in CODE_SETS},
                {name: np.unpackbits(stored[name], axis=1, count=n_classes) for name in LABEL_SETS})

    return _read(Path(folder) / CODES, unpack)


def read_continuous(folder: Path) -> dict[str, np.ndarray] | None:
    """The continuous outputs a run kept (float32), or None when it kept none; RecordError naming the file when it
    is damaged."""
    path = Path(folder) / CONTINUOUS
    if not path.is_file():
        return None
    return _read(path, lambda stored: {name: stored[name].astype(np.float32) for name in CODE_SETS})


def export(folder: Path, out: Path, fmt: str) -> Path:
    """Write a run's codes and labels to ``out`` as the published PR-curve and mAP scripts read them: ``q_img``,
    ``q_txt``, ``r_img``, ``r_txt`` (±1, float32, one row per item) and ``q_l``, ``r_l`` (0/1 float32 label
    matrices), in a MATLAB ``.mat`` or a numpy ``.npz`` file. A file-system error names ``out``, never the
    temporary file written first."""
    codes, labels = read_codes(folder)
    arrays = {EXPORT_NAMES[name]: value.astype(np.float32) for name, value in {**codes, **labels}.items()}
    try:
        with atomic_path(out) as tmp:
            if fmt == "mat":
                scipy.io.savemat(tmp, arrays, do_compression=True)
            else:
                np.savez(tmp, **arrays)
    except OSError as exc:
        raise ConfigError(f"cannot write {out} ({exc.strerror or exc}); give --out a file path in a folder you can "
                          "write to") from exc
    return Path(out)
