"""The three standard datasets: their loader, from the ``.mat``/``.txt`` layout of the public code (``index.mat``,
``label.mat``, ``caption.mat`` or, for NUS-WIDE, ``caption.txt``), and their registrations."""
from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache, partial
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..paths import data_root
from . import classes
from .dataset import PairedDataset, label_summary
from .matfiles import as_captions, as_label_matrix, as_paths, read_mat
from .prepare import coco, mirflickr25k, nuswide
from .registry import DatasetEntry, dataset_entry, fixed_split, register_dataset
from .variants import folder_variant

INDEX_KEYS = ("index",)
LABEL_KEYS = ("category", "label", "LAll")
CAPTION_KEYS = ("caption", "tags", "YAll")


def missing_files(files: tuple[str, ...], root: Path) -> list[str]:
    """The expected ``files`` absent from ``root`` (``caption.mat`` stands in for an expected ``caption.txt``)."""
    missing = [f for f in files if not (root / f).is_file()]
    if missing == ["caption.txt"] and (root / "caption.mat").is_file():
        return []
    return missing


def _read_captions(files: tuple[str, ...], root: Path) -> list[list[str]]:
    txt = root / "caption.txt"
    if "caption.txt" in files and txt.is_file():
        try:
            return [[line.strip()] for line in txt.read_text(encoding="utf-8").splitlines()]
        except UnicodeDecodeError as exc:
            raise DataError(f"{txt} is not UTF-8 text ({exc}); re-create it with prepare") from exc
    path = root / "caption.mat"
    key, value = read_mat(path, CAPTION_KEYS)
    return as_captions(value, path, key)


def reroot_images(paths: list[str], root: Path, image_root: Path | None) -> tuple[list[str], list[int]]:
    """Resolve image paths: as stored (relative ones against ``root``), else re-rooted under
    ``image_root`` by their trailing components (file name, then parent/file name, ...).
    Returns the paths and the indices of the images found nowhere."""
    resolved, missing = [], []
    for i, stored in enumerate(paths):
        candidate = Path(stored.replace("\\", "/"))
        options = [candidate if candidate.is_absolute() else root / candidate]
        if image_root is not None:
            parts = candidate.parts
            options += [Path(image_root, *parts[-n:]) for n in range(1, len(parts) + 1)]
        found = next((p for p in options if p.is_file()), None)
        if found is None:
            missing.append(i)
        resolved.append(str(found if found is not None else options[0]))
    return resolved, missing


@lru_cache(maxsize=None)
def _decodes(path: str, size: int, mtime_ns: int) -> bool:
    """Whether image file ``path`` (this version of it: its size and modification time) decodes."""
    from PIL import Image  # only dropping items needs it

    try:
        with Image.open(path) as image:
            image.draft("RGB", (1, 1))  # a JPEG decodes at an eighth of its size, every byte still read
            image.load()
    except (OSError, SyntaxError):  # PIL's plugins raise SyntaxError for some malformed headers
        return False
    return True


def unreadable_images(paths: list[str]) -> list[int]:
    """The indices of the image files ``paths`` that cannot be decoded (truncated, damaged, not an image). Each
    version of a file is decoded once per process, by threads (PIL decodes without the GIL), about a millisecond
    an image."""
    def decodes(path: str) -> bool:
        try:
            stat = os.stat(path)
        except OSError:
            return False
        return _decodes(path, stat.st_size, stat.st_mtime_ns)

    with ThreadPoolExecutor(min(8, os.cpu_count() or 1)) as pool:
        return [i for i, ok in enumerate(pool.map(decodes, paths)) if not ok]


#: What ``load_real`` does with items whose image file is found nowhere.
MISSING_IMAGES = ("count", "drop", "error")


def missing_images_error(name: str, examples: list[str], missing: int, total: int, image_root: Path | None) -> DataError:
    """The one line saying which image files are missing and the two ways out (re-root them, or drop them)."""
    where = f" (also under --image-root {image_root})" if image_root is not None else ""
    return DataError(f"{name}: {missing} of {total} image files not found{where}, e.g. {', '.join(examples)}; pass "
                     "--image-root DIR (the folder now holding the images: paths are re-rooted by their trailing "
                     f"components), or --drop-missing-images (execution.drop_missing_images: true) to drop those "
                     f"{missing} items")


def load_real(name: str, root: str | Path | None = None, image_root: str | Path | None = None,
              missing_images: str = "count") -> PairedDataset:
    """Read real dataset ``name`` from ``root`` (default ``<data_root()>/<name>``); items without any label are
    dropped and counted. Items whose image file is found nowhere (also under ``image_root``) are, by
    ``missing_images``: counted (``summary["missing_images"]``), dropped and counted
    (``summary["dropped"]["image missing"]``), or an error naming the first few (``missing_images_error``).
    When dropping, the images found are decoded too (``unreadable_images``), and those that fail are dropped
    and counted (``summary["dropped"]["image unreadable"]``, ``summary["unreadable_image_examples"]``);
    otherwise such an image stops whoever decodes it, with one line naming it."""
    if missing_images not in MISSING_IMAGES:
        raise DataError(f"missing_images must be one of {', '.join(MISSING_IMAGES)}, got {missing_images!r}")
    entry = dataset_entry(name)
    root = Path(root) if root else data_root() / name
    image_root = Path(image_root) if image_root else None
    prepare_hint = (f"build them from the original download with: python -m benchmark prepare {name} "
                    f"--raw DOWNLOAD_DIR --out {root}")
    if not root.is_dir():
        raise DataError(f"{name}: folder {root} does not exist; it must hold {', '.join(entry.files)}; {prepare_hint}")
    missing = missing_files(entry.files, root)
    if missing:
        raise DataError(f"{name}: {root} lacks {', '.join(missing)} (expected {', '.join(entry.files)}); "
                        f"{prepare_hint}")

    index_path, label_path = root / "index.mat", root / "label.mat"
    key, value = read_mat(index_path, INDEX_KEYS)
    paths = as_paths(value, index_path, key)
    key, value = read_mat(label_path, LABEL_KEYS)
    labels = as_label_matrix(value, label_path, key, len(entry.class_names))
    captions = _read_captions(entry.files, root)
    if not (len(paths) == len(labels) == len(captions)):
        raise DataError(f"{name}: the files in {root} disagree on the number of items: {len(labels)} label rows, "
                        f"{len(captions)} captions, {len(paths)} image paths; re-create them with prepare")

    keep = labels.any(axis=1)
    kept = np.flatnonzero(keep)
    images, missing = reroot_images([paths[i] for i in kept], root, image_root)
    examples = [images[i] for i in missing[:3]]
    if missing and missing_images == "error":
        raise missing_images_error(name, examples, len(missing), len(kept), image_root)
    dropped, unreadable = {"no label": int((~keep).sum())}, []
    if missing_images == "drop":
        found = np.setdiff1d(np.arange(len(kept)), missing)
        unreadable = [images[found[i]] for i in unreadable_images([images[i] for i in found])]
        usable = [i for i in found if images[i] not in unreadable]
        dropped.update({what: n for what, n in (("image missing", len(missing)),
                                                ("image unreadable", len(unreadable))) if n})
        images, kept = [images[i] for i in usable], kept[usable]
    labels = labels[kept]
    summary = {
        "variant": folder_variant(root),  # None: no prepare summary says how the files were built
        "items_read": len(keep),
        "kept": len(kept),
        "dropped": dropped,
        **label_summary(labels),
        "missing_images": 0 if missing_images == "drop" else len(missing),
        "missing_image_examples": examples,
        **({"unreadable_image_examples": unreadable[:3]} if unreadable else {}),
    }
    return PairedDataset(name=name, class_names=list(entry.class_names), labels=labels,
                         captions=[captions[i] for i in kept], images=images, summary=summary, root=root)


def _register(name: str, display_name: str, class_names: tuple[str, ...], caption_file: str, split: tuple[int, int],
              convert: Callable[..., dict]) -> None:
    register_dataset(DatasetEntry(
        name=name, display_name=display_name, class_names=class_names, load=partial(load_real, name),
        split_sizes=fixed_split(*split), options=frozenset({"image_root", "missing_images"}),
        files=("index.mat", "label.mat", caption_file), convert=convert))


# The papers' order, which the tables' columns keep; the split sizes are the protocol's (docs/protocol.md).
_register("mirflickr25k", "MIRFLICKR-25K", classes.MIRFLICKR25K, "caption.mat", (2000, 10000), mirflickr25k.convert)
_register("nuswide", "NUS-WIDE", classes.NUSWIDE, "caption.txt", (2100, 10500), nuswide.convert)
_register("coco", "MS-COCO", classes.COCO, "caption.mat", (5000, 10000), coco.convert)
