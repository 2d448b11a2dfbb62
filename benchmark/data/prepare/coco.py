"""MS-COCO 2017: ``train2017/``, ``val2017/`` and their instance and caption annotations -> ``index.mat``,
``label.mat`` (80 categories) and ``caption.mat`` (all captions of each image)."""
from __future__ import annotations

import json
import os
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from ...errors import DataError
from ..classes import COCO
from .common import Items, check_folders, locate, progress

SPLITS = ("train2017", "val2017")
HINT = ("--raw must hold train2017/ and val2017/ (train2017.zip, val2017.zip) and annotations/ "
        "(annotations_trainval2017.zip) of COCO 2017")


def _load(path: Path, keys: tuple[str, ...]) -> dict:
    """A COCO annotation json, checked to hold ``keys``."""
    print(f"reading {path}", file=sys.stderr)  # the large train files take a while to parse
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read {path}: {exc}; unpack annotations_trainval2017.zip again") from exc
    absent = [k for k in keys if not isinstance(data, dict) or not isinstance(data.get(k), list)]
    if absent:
        raise DataError(f"{path} is not a COCO annotation file: it lacks the list(s) {', '.join(absent)}")
    return data


def _columns(path: Path, categories: list[dict]) -> dict[int, int]:
    """Category id -> label column, after checking that the categories sorted by id are ``classes.COCO``."""
    try:
        ordered = sorted((int(c["id"]), str(c["name"])) for c in categories)
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"{path}: a category without an integer id and a name ({exc})") from exc
    names = [name for _, name in ordered]
    if names != list(COCO):
        diff = next((i for i, (a, b) in enumerate(zip(names, COCO)) if a != b), min(len(names), len(COCO)))
        got = f"id {ordered[diff][0]} {names[diff]!r}" if diff < len(names) else "nothing"
        raise DataError(f"{path} has {len(names)} categories that are not the 80 of COCO 2017 in id order: "
                        f"position {diff + 1} is {got}, expected {COCO[diff] if diff < len(COCO) else 'nothing'!r}; "
                        "use the instances_*2017.json of the official COCO 2017 annotations")
    return {category_id: column for column, (category_id, _) in enumerate(ordered)}


def _read_split(found: dict[str, Path], split: str) -> tuple[list[tuple[int, str]], dict, dict]:
    """``(images sorted by id as (id, file name), {image id: label row}, {image id: [captions]})`` of a split."""
    instances_path, captions_path = found[f"instances_{split}.json"], found[f"captions_{split}.json"]
    instances = _load(instances_path, ("images", "annotations", "categories"))
    columns = _columns(instances_path, instances["categories"])
    captions = _load(captions_path, ("images", "annotations"))
    labels: dict[int, np.ndarray] = defaultdict(lambda: np.zeros(len(COCO), np.uint8))
    texts: dict[int, list[tuple[int, str]]] = defaultdict(list)
    try:
        images = {int(im["id"]): str(im["file_name"]) for im in instances["images"] + captions["images"]}
        for ann in progress(instances["annotations"], f"{split} instances", unit="ann"):
            column = columns.get(int(ann["category_id"]))
            if column is None:
                raise DataError(f"{instances_path}: annotation {ann.get('id')} has category_id "
                                f"{ann['category_id']}, which is not among its categories")
            labels[int(ann["image_id"])][column] = 1
    except DataError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"{instances_path} or {captions_path}: an image or annotation lacks a valid {exc}; "
                        "use the official COCO 2017 annotations") from exc
    try:
        for ann in captions["annotations"]:
            # collapse the newlines and runs of spaces some captions have
            texts[int(ann["image_id"])].append((int(ann["id"]), " ".join(str(ann["caption"]).split())))
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"{captions_path}: a caption annotation lacks a valid {exc}") from exc
    ordered = {image: [text for _, text in sorted(pairs) if text] for image, pairs in texts.items()}
    return sorted(images.items()), labels, ordered


def convert(raw: Path, out: Path) -> dict:
    """Convert the COCO 2017 download in ``raw`` into ``out``; returns the summary (also ``summary.json``).

    Both splits are read (and checked) before anything is written."""
    raw, out = check_folders(raw, out, "train2017/, val2017/ and annotations/ of COCO 2017")
    found = locate(
        raw,
        files={f"{kind}_{split}.json": (f"annotations/{kind}_{split}.json",)
               for split in SPLITS for kind in ("instances", "captions")},
        dirs={split: (split,) for split in SPLITS},
        hint=HINT,
    )
    splits = [(split, *_read_split(found, split)) for split in SPLITS]

    items = Items("coco", COCO, no_text="no caption")
    no_labels = np.zeros(len(COCO), np.uint8)
    for split, images, labels, captions in splits:
        folder = found[split]
        with os.scandir(folder) as entries:  # one listing instead of a stat per image
            present = {e.name for e in entries}
        for image_id, file_name in progress(images, f"{split} images", unit="img"):
            items.offer(folder / file_name, labels.get(image_id, no_labels), captions.get(image_id, []),
                        file_name in present)
    return items.write(raw, out, caption_format="mat")
