"""Loaders of the three standard datasets from the ``.mat``/``.txt`` layout of the public code
(``index.mat``, ``label.mat``, ``caption.mat`` or, for NUS-WIDE, ``caption.txt``)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError
from . import classes
from .dataset import PairedDataset, label_summary
from .matfiles import as_captions, as_label_matrix, as_paths, read_mat

INDEX_KEYS = ("index",)
LABEL_KEYS = ("category", "label", "LAll")
CAPTION_KEYS = ("caption", "tags", "YAll")


@dataclass(frozen=True)
class RealDatasetSpec:
    """Where a real dataset's files are and how the protocol splits it (docs/protocol.md)."""

    name: str
    class_names: tuple[str, ...]
    caption_file: str
    query_size: int
    train_size: int

    @property
    def files(self) -> tuple[str, ...]:
        return ("index.mat", "label.mat", self.caption_file)


REAL_DATASETS = {
    spec.name: spec
    for spec in (
        RealDatasetSpec("mirflickr25k", classes.MIRFLICKR25K, "caption.mat", 2000, 10000),
        RealDatasetSpec("nuswide", classes.NUSWIDE, "caption.txt", 2100, 10500),
        RealDatasetSpec("coco", classes.COCO, "caption.mat", 5000, 10000),
    )
}


def missing_files(spec: RealDatasetSpec, root: Path) -> list[str]:
    """The expected files absent from ``root`` (NUS-WIDE also accepts ``caption.mat``)."""
    missing = [f for f in spec.files if not (root / f).is_file()]
    if missing == ["caption.txt"] and (root / "caption.mat").is_file():
        return []
    return missing


def _read_captions(spec: RealDatasetSpec, root: Path) -> list[list[str]]:
    txt = root / "caption.txt"
    if spec.caption_file == "caption.txt" and txt.is_file():
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


#: What ``load_real`` does with items whose image file is found nowhere.
MISSING_IMAGES = ("count", "drop", "error")


def missing_images_error(name: str, examples: list[str], missing: int, total: int, image_root: Path | None) -> DataError:
    """The one line saying which image files are missing and the two ways out (re-root them, or drop them)."""
    where = f" (also under --image-root {image_root})" if image_root is not None else ""
    return DataError(f"{name}: {missing} of {total} image files not found{where}, e.g. {', '.join(examples)}; pass "
                     "--image-root DIR (the folder now holding the images: paths are re-rooted by their trailing "
                     f"components), or --drop-missing-images (execution.drop_missing_images: true) to drop those "
                     f"{missing} items")


def load_real(name: str, root: Path, image_root: Path | None = None, missing_images: str = "count") -> PairedDataset:
    """Read a real dataset from ``root``; items without any label are dropped and counted. Items whose image file
    is found nowhere are, by ``missing_images``: counted (``summary["missing_images"]``), dropped and counted
    (``summary["dropped"]["image missing"]``), or an error naming the first few (``missing_images_error``)."""
    if missing_images not in MISSING_IMAGES:
        raise DataError(f"missing_images must be one of {', '.join(MISSING_IMAGES)}, got {missing_images!r}")
    spec = REAL_DATASETS[name]
    root = Path(root)
    prepare_hint = (f"build them from the original download with: python -m benchmark prepare {name} "
                    f"--raw DOWNLOAD_DIR --out {root}")
    if not root.is_dir():
        raise DataError(f"{name}: folder {root} does not exist; it must hold {', '.join(spec.files)}; {prepare_hint}")
    missing = missing_files(spec, root)
    if missing:
        raise DataError(f"{name}: {root} lacks {', '.join(missing)} (expected {', '.join(spec.files)}); {prepare_hint}")

    index_path, label_path = root / "index.mat", root / "label.mat"
    key, value = read_mat(index_path, INDEX_KEYS)
    paths = as_paths(value, index_path, key)
    key, value = read_mat(label_path, LABEL_KEYS)
    labels = as_label_matrix(value, label_path, key, len(spec.class_names))
    captions = _read_captions(spec, root)
    if not (len(paths) == len(labels) == len(captions)):
        raise DataError(f"{name}: the files in {root} disagree on the number of items: {len(labels)} label rows, "
                        f"{len(captions)} captions, {len(paths)} image paths; re-create them with prepare")

    keep = labels.any(axis=1)
    kept = np.flatnonzero(keep)
    images, missing = reroot_images([paths[i] for i in kept], root, image_root)
    examples = [images[i] for i in missing[:3]]
    if missing and missing_images == "error":
        raise missing_images_error(name, examples, len(missing), len(kept), image_root)
    dropped = {"no label": int((~keep).sum())}
    if missing and missing_images == "drop":
        found = np.setdiff1d(np.arange(len(kept)), missing)
        images, kept = [images[i] for i in found], kept[found]
        dropped["image missing"] = len(missing)
    labels = labels[kept]
    summary = {
        "items_read": len(keep),
        "kept": len(kept),
        "dropped": dropped,
        **label_summary(labels),
        "missing_images": 0 if missing_images == "drop" else len(missing),
        "missing_image_examples": examples,
    }
    return PairedDataset(name=name, class_names=list(spec.class_names), labels=labels,
                         captions=[captions[i] for i in kept], images=images, summary=summary, root=root)
