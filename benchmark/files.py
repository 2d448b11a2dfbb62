"""Writing files and folders so that a reader never sees them half-written, even with several writers.

Every file the suite writes (records, caches, dataset files, reports) goes through :func:`atomic_path`: the
content goes to a temporary name unique to the writer, beside the target, and is renamed onto the target
only once complete. A writer killed half-way leaves at most a stray temporary file, never a damaged target.
A temporary name carries this host and the writer's pid, so that the leftovers of writers that died are swept
(:func:`sweep_leftovers`). A file-system error that names no file (numpy's "no space left") is raised again naming
the file being written. Every cache carries a SHA-256 of its content, checked on load once per process and file
(:func:`save_npz_cache`, :func:`write_manifest`); a damaged file found later (copied in, cut short by a full disk,
a flipped bit) is set aside, renamed out of the way and reported in one line, so that what it held is rebuilt
(:func:`set_aside`, :func:`load_npz_cache`).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import sys
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
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


#: What names a temporary file or folder of this host's writers: ``.<target name>.tmp-<host>-<pid>-<random>``.
_HOST = f"{zlib.crc32(socket.gethostname().encode()):08x}"
_TEMPORARY = re.compile(r"\..+\.tmp-(?P<host>[0-9a-f]{8})-(?P<pid>\d+)-")


def _temporary_prefix(target: Path) -> str:
    return f".{target.name}.tmp-{_HOST}-{os.getpid()}-"


@contextmanager
def _naming(target: Path) -> Iterator[None]:
    """Raise a file-system error that names no file (a full disk, as numpy's zip writer reports it) again, naming
    ``target``, the file or folder being written, so that the user learns where."""
    try:
        yield
    except OSError as exc:
        if exc.filename is not None or exc.errno is None:
            raise
        raise OSError(exc.errno, exc.strerror, str(target)) from exc


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; renamed onto ``path`` when the block succeeds.

    The temporary name keeps ``path``'s suffix (``np.savez`` and ``scipy.io.savemat`` append theirs
    otherwise) and is unique to this writer, so concurrent writers never share it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=_temporary_prefix(path), suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        with _naming(path):
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
    tmp = Path(tempfile.mkdtemp(prefix=_temporary_prefix(folder), dir=folder.parent))
    try:
        with _naming(folder):
            yield tmp
            os.chmod(tmp, 0o777 & ~_umask())
            try:
                os.rename(tmp, folder)
            except OSError:
                if not (folder / marker).is_file():
                    raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def temporary_folder(parent: Path, name: str) -> Path:
    """A new empty folder in ``parent`` named as this writer's temporary (``.<name>.tmp-<host>-<pid>-…``), so that
    :func:`sweep_leftovers` removes it should this process be killed before it cleans up."""
    parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=_temporary_prefix(parent / name), dir=parent))


def sweep_leftovers(folder: Path, alive: Callable[[int], bool]) -> int:
    """Remove the temporary files and folders under ``folder`` of this host's writers whose pid is no longer
    ``alive`` (killed half-way: what they wrote is lost anyway); how many were removed. Those of other hosts (a
    shared folder) are left: whether their writer lives cannot be told from here."""
    removed = 0
    for parent, folders, names in os.walk(folder):
        for name in [*folders, *names]:
            match = _TEMPORARY.match(name)
            if match is None or match["host"] != _HOST or alive(int(match["pid"])):
                continue
            path = Path(parent, name)
            if name in folders:
                folders.remove(name)  # swept whole, not walked into
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed += 1
    return removed


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


# ------------------------------------------------------------------------------------ content hashes of caches

#: The member of a cached ``.npz`` that holds the SHA-256 of its other arrays.
CONTENT_KEY = "content_sha256"
#: The file of a cached folder that lists the SHA-256 of each of its other files.
MANIFEST = "content.sha256.json"
#: The cache files this process wrote or found whole, as (device, inode, size, mtime): each is hashed at most once
#: per process (a rename keeps the inode, so a file written here is not hashed again under its final name).
_CHECKED: set[tuple] = set()


def _identity(stat: os.stat_result) -> tuple:
    return stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def arrays_sha256(arrays: dict[str, np.ndarray]) -> str:
    """SHA-256 over the names, types, shapes and bytes of ``arrays``."""
    digest = hashlib.sha256()
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}:{array.dtype.str}:{array.shape}:".encode())
        digest.update(array.data)
    return digest.hexdigest()


def save_npz_cache(path: Path, **arrays: np.ndarray) -> Path:
    """Write the cache file ``path`` (atomically) holding ``arrays`` and their SHA-256 (:data:`CONTENT_KEY`)."""
    with atomic_path(path) as tmp:
        np.savez(tmp, **arrays, **{CONTENT_KEY: arrays_sha256(arrays)})
        _CHECKED.add(_identity(tmp.stat()))
    return Path(path)


def load_npz_cache(path: Path, keys: tuple[str, ...], what: str = "cache file") -> dict | None:
    """The arrays ``keys`` of the cache file ``path``; None when it is missing, or damaged (truncated, not a
    ``.npz``, an array missing, a zip member failing its CRC-32, or its content not the one the SHA-256 that
    :func:`save_npz_cache` stored was taken of): then it is set aside, so that the caller rebuilds it. A file
    without that SHA-256 (a split file: its own lies in its meta) is checked by the CRC-32 alone."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        with open(path, "rb") as handle, np.load(handle) as stored:
            identity = _identity(os.fstat(handle.fileno()))
            if identity in _CHECKED:
                return {key: stored[key] for key in keys}
            arrays = {key: stored[key] for key in stored.files if key != CONTENT_KEY}  # a member's CRC: read whole
            if CONTENT_KEY in stored.files and str(stored[CONTENT_KEY]) != arrays_sha256(arrays):
                raise ValueError("its content is not the one its SHA-256 was taken of")
            _CHECKED.add(identity)
            return {key: arrays[key] for key in keys}
    except DAMAGED as exc:
        set_aside(path, f"{what} {path} is damaged ({type(exc).__name__}: {exc})")
        return None


def _json_sha256(content) -> str:
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def write_json_cache(path: Path, content) -> Path:
    """Write the cache file ``path`` (atomically) holding ``content`` (JSON) and its SHA-256."""
    return write_json(path, {CONTENT_KEY: _json_sha256(content), "content": content})


def read_json_cache(path: Path, what: str = "cache file"):
    """The content of the JSON cache file ``path`` (written by :func:`write_json_cache`); None when it is missing,
    or damaged (not JSON, its content not the one its SHA-256 was taken of): then it is set aside."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(stored, dict) or stored.get(CONTENT_KEY) != _json_sha256(stored.get("content")):
            raise ValueError("its content is not the one its SHA-256 was taken of, or it carries none")
        return stored["content"]
    except (*DAMAGED, UnicodeDecodeError) as exc:
        set_aside(path, f"{what} {path} is damaged ({type(exc).__name__}: {exc})")
        return None


def write_manifest(folder: Path) -> None:
    """List the SHA-256 of every file of the cache folder ``folder`` (being built) in its :data:`MANIFEST`."""
    folder = Path(folder)
    hashes = {}
    for file in _files(folder):
        hashes[file.relative_to(folder).as_posix()] = file_sha256(file)
        _CHECKED.add(_identity(file.stat()))
    (folder / MANIFEST).write_text(json.dumps(hashes, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def manifest_problem(folder: Path) -> str | None:
    """Why the cache folder ``folder`` is not what its :data:`MANIFEST` lists (none, a file missing, added or
    changed), naming the file; None when it is."""
    folder = Path(folder)
    try:
        listed = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        if not isinstance(listed, dict):
            raise ValueError("not a JSON object")
    except FileNotFoundError:
        return f"cache folder {folder} carries no {MANIFEST} (written by an older version)"
    except (OSError, ValueError) as exc:
        return f"{folder / MANIFEST} is damaged ({exc})"
    present = {file.relative_to(folder).as_posix(): file for file in _files(folder)}
    if set(present) != set(listed):
        return f"cache folder {folder} does not hold the files its {MANIFEST} lists"
    for name, file in present.items():
        identity = _identity(file.stat())
        if identity not in _CHECKED:
            if file_sha256(file) != listed[name]:
                return f"cached file {file} is not the one its SHA-256 in {MANIFEST} was taken of"
            _CHECKED.add(identity)
    return None


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST)


def npz_complete(path: Path, keys: tuple[str, ...]) -> bool:
    """Whether ``path`` is a whole cache ``.npz`` holding ``keys`` and its SHA-256 (read from its zip directory,
    not its arrays)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return {f"{key}.npy" for key in (*keys, CONTENT_KEY)} <= set(archive.namelist())
    except DAMAGED:
        return False
