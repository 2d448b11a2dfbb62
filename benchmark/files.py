"""Writing files and folders so that a reader never sees them half-written, even with several writers.

Every file the suite writes (records, caches, dataset files, reports) goes through :func:`atomic_path`: the
content goes to a temporary name unique to the writer, beside the target, and is renamed onto the target
only once complete. A writer killed half-way leaves at most a stray temporary file, never a damaged target.
A damaged file found later (copied in, or cut short by a full disk) is set aside, renamed out of the way and
reported in one line, so that what it held is rebuilt (:func:`set_aside`, :func:`load_npz_cache`).
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import numpy as np


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: The permissions of a new file (mkstemp makes its temporary files private; the renamed file should not be).
FILE_MODE = 0o666 & ~_umask()


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; renamed onto ``path`` when the block succeeds.

    The temporary name keeps ``path``'s suffix (``np.savez`` and ``scipy.io.savemat`` append theirs
    otherwise) and is unique to this writer, so concurrent writers never share it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: Path, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(path: Path, content) -> Path:
    return write_text(path, json.dumps(content, indent=1) + "\n")


@contextmanager
def atomic_folder(folder: Path, marker: str) -> Iterator[Path]:
    """A temporary folder beside ``folder`` to fill; renamed into place when the block succeeds.

    If another writer completed ``folder`` first (its ``marker`` file exists), that copy is kept and ours
    dropped: both were built from the same inputs.
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())
        try:
            os.rename(tmp, folder)
        except OSError:
            if not (folder / marker).is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ------------------------------------------------------------------------------------ damaged files

#: What reading a damaged ``.npz`` or JSON file raises (a truncated zip: BadZipFile or EOFError).
DAMAGED = (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile)


def set_aside(path: Path, problem: str, then: str = "it will be rebuilt") -> Path | None:
    """Rename the damaged file or folder ``path`` to ``<name>.corrupt-<UTC time>`` (kept for inspection, out of
    the way) and say so in one line on stderr; None when another process moved it first."""
    path = Path(path)
    aside = path.with_name(f"{path.name}.corrupt-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%S.%fZ')}")
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return None
    print(f"warning: {problem}; set aside as {aside.name}, {then}", file=sys.stderr)
    return aside


def load_npz_cache(path: Path, keys: tuple[str, ...], what: str = "cache file") -> dict | None:
    """The arrays ``keys`` of the cache file ``path``; None when it is missing, or damaged (truncated, not a
    ``.npz``, an array missing): then it is set aside, so that the caller rebuilds it."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        with np.load(path) as stored:
            return {key: stored[key] for key in keys}
    except DAMAGED as exc:
        set_aside(path, f"{what} {path} is damaged ({type(exc).__name__}: {exc})")
        return None


def npz_complete(path: Path, keys: tuple[str, ...]) -> bool:
    """Whether ``path`` is a whole ``.npz`` holding ``keys`` (read from its zip directory, not its arrays)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return {f"{key}.npy" for key in keys} <= set(archive.namelist())
    except DAMAGED:
        return False
