"""MIRFLICKR-25K: ``mirflickr25k.zip`` (images and Flickr tags) and ``mirflickr25k_annotations_v080.zip``
(one image-number list per class) -> ``index.mat``, ``label.mat``, ``caption.mat`` (the tags as the text)."""
from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from ...errors import DataError
from ..classes import MIRFLICKR25K
from .common import Items, check_folders, locate, progress, read_lines

ANNOTATIONS = "mirflickr25k_annotations_v080"
HINT = ("mirflickr/ (im1.jpg ... im25000.jpg and meta/tags/) from mirflickr25k.zip and "
        f"{ANNOTATIONS}/ from {ANNOTATIONS}.zip")


def _numbers(folder: Path, pattern: str) -> set[int]:
    """The N of every file in ``folder`` named like ``pattern`` (a regex with one group of digits)."""
    regex = re.compile(pattern)
    with os.scandir(folder) as entries:
        return {int(m.group(1)) for e in entries if (m := regex.fullmatch(e.name))}


def _class_members(path: Path) -> set[int]:
    """The image numbers a class file lists (1-based, ``im<N>.jpg``)."""
    numbers = set()
    for i, line in enumerate(read_lines(path), 1):
        if not line:
            continue
        if not line.isdecimal():
            raise DataError(f"{path} line {i}: {line!r} is not an image number; the class files of "
                            f"{ANNOTATIONS} list one number per line: unpack {ANNOTATIONS}.zip again")
        numbers.add(int(line))
    return numbers


def convert(raw: Path, out: Path, drop_untagged: bool = False) -> dict:
    """Convert the MIRFLICKR-25K download in ``raw`` into ``out``; returns the summary (also ``summary.json``).

    Only ``<class>.txt`` of the 24 classes count as labels: the ``<class>_r1.txt`` "relevant" subsets are
    already included in them. Every labelled image is kept, an untagged one (empty or no tag file) with an empty
    text, as the released ``make_mirflickr25k.py`` of the DCMH/DCHMT code family does; ``drop_untagged`` drops
    them instead. The summary's ``untagged`` counts them either way."""
    raw, out = check_folders(raw, out, HINT)
    found = locate(
        raw,
        files={f"{name}.txt": (f"{ANNOTATIONS}/{name}.txt",) for name in MIRFLICKR25K},
        dirs={"mirflickr": ("mirflickr",), "tags": ("mirflickr/meta/tags",)},
        hint=f"--raw must hold {HINT}",
    )
    images, tags = found["mirflickr"], found["tags"]
    members = [_class_members(found[f"{name}.txt"]) for name in MIRFLICKR25K]

    jpgs = _numbers(images, r"im(\d+)\.jpg")
    tagged = _numbers(tags, r"tags(\d+)\.txt")
    if not jpgs and not tagged:
        raise DataError(f"neither {images} holds images im<N>.jpg nor {tags} tag files tags<N>.txt; "
                        f"--raw must hold {HINT}")

    items = Items("mirflickr25k", MIRFLICKR25K, no_text="no tags", keep_untagged=not drop_untagged)
    for number in progress(sorted(jpgs | tagged), "mirflickr25k images", unit="img"):
        labels = np.array([number in m for m in members], dtype=np.uint8)
        words = [t for t in read_lines(tags / f"tags{number}.txt") if t] if number in tagged else []
        items.offer(images / f"im{number}.jpg", labels, [" ".join(words)] if words else [], number in jpgs)
    return items.write(raw, out, caption_format="mat")
