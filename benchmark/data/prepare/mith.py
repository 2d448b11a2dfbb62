"""MITH's cleaned sets (``prepare NAME --variant mith``): its released lists ``all_imgs.txt``, ``all_labels.txt``
and ``all_tags.txt`` (``all_txts.txt`` for MS COCO) and a folder of the images -> the loader's files, built by
the rules of MITH's ``dataset/*/make_*.py`` (DarrenZZhang/MM23-MITH @4583a7c) and checked against the counts its
``dataset/README.md`` publishes (``variants.VARIANTS["mith"]``).

The rules, one per line of the lists, in their order:
- the image is the file name the line ends with, in the image folder;
- the label row is the line's numbers (``np.loadtxt``), one per class;
- MIRFLICKR-25K and NUS-WIDE: the text is the line's comma-separated tags joined by spaces; an empty tag line
  stops the conversion (MITH's script exits on one: its cleaned lists have none); every line is kept;
- MS COCO: one of the line's ``;``-separated captions, drawn by Python's ``random`` seeded 1 (one draw per
  line, the dropped ones included), cut before its first ``.``; lines whose label row is all zero are dropped.
"""
from __future__ import annotations

import os
import random
import re
from pathlib import Path

import numpy as np

from ...errors import DataError
from ..registry import dataset_entry
from ..variants import VARIANTS
from .common import Items, check_folders, check_line_counts, locate, progress, read_lines

CAPTION_SEED = 1  # make_coco.py seeds random, numpy and torch with 1 before drawing the captions
LISTS = "MITH's released all_imgs.txt, all_labels.txt and all_tags.txt (all_txts.txt for coco)"


def coco_caption(line: str, rng: random.Random) -> str:
    """The caption MITH keeps of a line of ``;``-separated captions: one drawn with ``rng``, cut before the first
    ``.`` (the text before it kept as it is, leading spaces included).

    >>> coco_caption("A dog runs. ;Two dogs", random.Random(1))
    'A dog runs'
    """
    captions = line.split(";")
    return captions[rng.randint(0, len(captions) - 1)].split(".")[0]


def _tags_text(line: str, path: Path, number: int) -> str:
    if not line:
        raise DataError(f"{path} line {number} is empty; MITH's cleaned lists have tags on every line (its script "
                        "stops on an empty one): use the all_tags.txt MITH released")
    return " ".join(line.split(","))


def _labels(path: Path, n_classes: int) -> np.ndarray:
    """``all_labels.txt``: one row of ``n_classes`` 0/1 numbers per line."""
    try:
        rows = np.loadtxt(path, dtype=np.float64, ndmin=2)
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read {path} as rows of numbers: {exc}") from exc
    if rows.shape[1] != n_classes:
        raise DataError(f"{path} has {rows.shape[1]} numbers per line, {n_classes} expected (one per class)")
    bad = np.flatnonzero(~np.isin(rows, (0, 1)).all(axis=1))
    if bad.size:
        raise DataError(f"{path} line {bad[0] + 1} holds a number other than 0 or 1; each line is a 0/1 label row")
    return rows.astype(np.uint8)


def convert(name: str, raw: Path, out: Path, images: Path | None = None) -> dict:
    """Build dataset ``name``'s MITH variant from MITH's lists in ``raw`` and the images in ``images`` (default
    ``raw``) into ``out``; returns the summary (also ``summary.json``), which says whether the count kept is
    the published one."""
    entry = dataset_entry(name)
    published = VARIANTS["mith"].items[name]
    raw, out = check_folders(raw, out, LISTS)
    text_list = "all_txts.txt" if name == "coco" else "all_tags.txt"
    found = locate(raw, files={f: (f,) for f in ("all_imgs.txt", "all_labels.txt", text_list)},
                   hint=f"--raw must hold {LISTS}")
    image_folder = Path(images).expanduser().resolve() if images else raw
    if not image_folder.is_dir():
        raise DataError(f"image folder {image_folder} is not a folder; pass --images the folder that holds every "
                        "image of the set (MITH's img_root_path)")
    lines = {f: read_lines(found[f]) for f in ("all_imgs.txt", text_list)}
    labels = _labels(found["all_labels.txt"], len(entry.class_names))
    counts = {found[f]: len(v) for f, v in lines.items()} | {found["all_labels.txt"]: len(labels)}
    check_line_counts(counts, "MITH's lists")
    if name == "coco":
        rng = random.Random(CAPTION_SEED)  # drawn for every line, as make_coco.py draws before it drops any
        texts = [coco_caption(line, rng) for line in lines[text_list]]
    else:
        texts = [_tags_text(line, found[text_list], i) for i, line in enumerate(lines[text_list], 1)]
    with os.scandir(image_folder) as listing:
        present = {e.name for e in listing}

    items = Items(name, entry.class_names, no_text="no text", keep_untagged=True if name == "coco" else None,
                  keep_unlabelled=name != "coco")
    for line, row, text in progress(zip(lines["all_imgs.txt"], labels, texts), f"{name} (MITH's lists)",
                                    total=len(labels), unit="item"):
        file_name = re.split(r"[\\/]", line)[-1]
        items.offer(image_folder / file_name, row, [text] if text else [], file_name in present)
    caption_format = "txt" if "caption.txt" in entry.files else "mat"
    return items.write(raw, out, caption_format, variant="mith", published_items=published,
                       as_published=len(items.paths) == published)
