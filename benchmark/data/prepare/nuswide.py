"""NUS-WIDE: the image list, ``All_Tags.txt`` and the ``Labels_<concept>.txt`` ground truth (21 of the 81
concepts) -> ``index.mat``, ``label.mat``, ``caption.txt`` (the tags as the text)."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ...errors import DataError
from ..classes import NUSWIDE
from .common import Items, check_folders, check_line_counts, locate, progress, read_lines

HINT = ("--raw must hold the NUS-WIDE download: ImageList/Imagelist.txt, NUS_WID_Tags/All_Tags.txt, "
        "Groundtruth/AllLabels/Labels_<concept>.txt and the images (Flickr/<concept>/<id>.jpg)")
# The file name of an image-list line ends in _<Flickr photo id>.jpg, e.g. actor\0001_2124494179.jpg.
PHOTO_ID = re.compile(r"_(\d+)\.jpe?g$", re.IGNORECASE)


def _labels(path: Path) -> np.ndarray:
    """A ``Labels_<concept>.txt`` file: one 0/1 per line -> uint8 vector."""
    values = read_lines(path)
    bad = next((i for i, v in enumerate(values) if v not in ("0", "1")), None)
    if bad is not None:
        raise DataError(f"{path} line {bad + 1}: {values[bad]!r}; a label file holds one 0 or 1 per line "
                        "(re-extract Groundtruth/AllLabels from the NUS-WIDE download)")
    return np.array([v == "1" for v in values], dtype=np.uint8)


def _relative_image(line: str) -> tuple[str, ...]:
    """The path of an image-list entry below the image folder: ``<concept folder>/<file>``.

    Lines use Windows separators and some releases prefix them with an absolute path
    (``C:\\ImageData\\Flickr\\actor\\...``); the last two parts are what lies under ``Flickr/``."""
    return tuple(p for p in re.split(r"[\\/]", line) if p)[-2:]


def convert(raw: Path, out: Path) -> dict:
    """Convert the NUS-WIDE download in ``raw`` into ``out``; returns the summary (also ``summary.json``)."""
    raw, out = check_folders(raw, out, "the NUS-WIDE download (ImageList/, NUS_WID_Tags/, Groundtruth/, Flickr/)")
    found = locate(
        raw,
        files={"Imagelist.txt": ("ImageList/Imagelist.txt",), "All_Tags.txt": ("NUS_WID_Tags/All_Tags.txt",),
               **{f"Labels_{c}.txt": (f"Groundtruth/AllLabels/Labels_{c}.txt",) for c in NUSWIDE}},
        dirs={"image folder": ("Flickr", "images")},
        hint=HINT,
    )
    image_list, tags_file, images = found["Imagelist.txt"], found["All_Tags.txt"], found["image folder"]
    entries = read_lines(image_list)
    tag_lines = read_lines(tags_file)
    label_files = [found[f"Labels_{c}.txt"] for c in NUSWIDE]
    columns = [_labels(path) for path in label_files]
    counts = {path: len(lines) for path, lines in zip([image_list, tags_file, *label_files],
                                                      [entries, tag_lines, *columns])}
    check_line_counts(counts, "the NUS-WIDE list, tag and label files")
    labels = np.stack(columns, axis=1)

    # Validate the pairing of list and tags completely before the slow pass over the image files.
    texts = []
    for i, (entry, tag_line) in enumerate(zip(entries, tag_lines)):
        photo, *words = tag_line.split() or [""]
        listed = PHOTO_ID.search(entry)
        if listed and photo.isdecimal() and int(listed.group(1)) != int(photo):
            raise DataError(f"{tags_file} line {i + 1} is photo {photo} but {image_list} line {i + 1} is {entry!r} "
                            f"(photo {listed.group(1)}); both files must list the images in the same order")
        texts.append([" ".join(words)] if words else [])

    items = Items("nuswide", NUSWIDE, no_text="no tags")
    for entry, row, text in progress(zip(entries, labels, texts), "nuswide images", total=len(entries), unit="img"):
        image = images.joinpath(*_relative_image(entry))
        # stat only the items that would otherwise be kept: the others are dropped for their first reason
        items.offer(image, row, text, image_exists=bool(row.any() and text) and image.is_file())
    return items.write(raw, out, caption_format="txt")
