"""What the dataset converters share: checking the folders, finding files in a download whatever its layout,
reading line lists, keeping or dropping items, and writing the output files with their summary last."""
from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ...errors import DataError
from ...files import write_json
from ..dataset import label_summary
from ..matfiles import write_dataset_files
from ..variants import SUMMARY_FILE

NO_LABEL = "no label"
IMAGE_MISSING = "image file missing"


def check_folders(raw: str | os.PathLike, out: str | os.PathLike, hint: str) -> tuple[Path, Path]:
    """``(raw, out)`` as absolute resolved paths; DataError when ``raw`` is not a folder or ``out`` is a file.

    Checked before any reading so that a typo fails at once, not after minutes of parsing."""
    raw, out = Path(raw).expanduser().resolve(), Path(out).expanduser().resolve()
    if not raw.is_dir():
        state = "is a file, not a folder" if raw.exists() else "does not exist"
        raise DataError(f"raw folder {raw} {state}; pass --raw the folder that holds {hint}")
    if out.exists() and not out.is_dir():
        raise DataError(f"output folder {out} is a file; pass --out a new or existing folder")
    return raw, out


def progress(iterable: Iterable, desc: str, total: int | None = None, unit: str = "it") -> Iterator:
    """``iterable`` with a tqdm progress bar on stderr."""
    return tqdm(iterable, desc=desc, total=total, unit=unit, mininterval=0.5, dynamic_ncols=True)


def read_lines(path: Path) -> list[str]:
    """The lines of a text file, stripped; a final newline does not add an empty line.

    Split on ``\\n`` only (not with ``str.splitlines``, which also splits on form feeds and other separators
    that can occur inside Flickr tags) so that line counts match the files' real line numbers; bytes that are
    not UTF-8 are replaced rather than failing a whole conversion over one odd tag."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc}") from exc
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return [line.decode("utf-8", "replace").strip() for line in lines]


def check_line_counts(counts: dict[Path, int], files: str) -> None:
    """DataError naming each file's line count unless ``counts`` (``{path: lines}``) are all equal: ``files``, lists
    read side by side, must have one line per item, in the same order."""
    if len(set(counts.values())) != 1:
        listing = ", ".join(f"{path} {n}" for path, n in counts.items())
        raise DataError(f"{files} must have one line per item, in the same order, but their line counts differ: "
                        f"{listing}")


def locate(raw: Path, files: dict[str, tuple[str, ...]] | None = None,
           dirs: dict[str, tuple[str, ...]] | None = None, hint: str = "") -> dict[str, Path]:
    """Find each wanted file and folder of a download: ``{key: (conventional relative path, alternatives...)}``.

    A candidate path under ``raw`` that exists is taken first; failing that, the shallowest file (folder) under
    ``raw`` whose name is the last part of a candidate (case-insensitively) is taken, because releases of the
    same dataset nest and capitalise their folders differently. All keys are found in one walk of the tree.
    Raises one DataError naming every key not found and where it was looked for."""
    wanted = [(key, candidates, False) for key, candidates in (files or {}).items()]
    wanted += [(key, candidates, True) for key, candidates in (dirs or {}).items()]
    found: dict[str, Path] = {}
    for key, candidates, is_dir in wanted:
        path = next((raw / c for c in candidates if (raw / c).is_dir() == is_dir and (raw / c).exists()), None)
        if path is not None:
            found[key] = path
    missing = {key: ({Path(c).name.lower() for c in candidates}, is_dir)
               for key, candidates, is_dir in wanted if key not in found}
    found.update(_walk_for(raw, missing))
    not_found = [(key, candidates, is_dir) for key, candidates, is_dir in wanted if key not in found]
    if not_found:
        listing = "; ".join(
            f"{'folder' if is_dir else 'file'} {key} (looked for {' and '.join(str(raw / c) for c in candidates)}, "
            f"then for {' or '.join(dict.fromkeys(Path(c).name for c in candidates))} anywhere below)"
            for key, candidates, is_dir in not_found)
        raise DataError(f"not found under {raw}: {listing}" + (f". {hint}" if hint else ""))
    # resolved so that the image paths written are the real ones even where a folder is a symlink
    return {key: path.resolve() for key, path in found.items()}


def _walk_for(raw: Path, missing: dict[str, tuple[set[str], bool]]) -> dict[str, Path]:
    """Breadth-first search under ``raw`` for entries named like ``missing``; the shallowest match wins (ties
    broken by name, for a stable choice). Symlinked folders are followed once each."""
    found: dict[str, Path] = {}
    queue, seen = deque([raw]), set()
    while queue and len(found) < len(missing):
        folder = queue.popleft()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
            identity = os.stat(folder)
        except OSError:
            continue  # unreadable folders cannot hold what we need
        if (identity.st_dev, identity.st_ino) in seen:
            continue
        seen.add((identity.st_dev, identity.st_ino))
        for entry in entries:
            is_dir = entry.is_dir()
            name = entry.name.lower()
            for key, (names, want_dir) in missing.items():
                if key not in found and want_dir == is_dir and name in names:
                    found[key] = Path(entry.path)
            if is_dir:
                queue.append(Path(entry.path))
    return found


class Items:
    """The items of a conversion: those kept (image path, label row, captions) and how many were dropped why.

    Each dropped item is counted once, under the first reason that applies, in the order no label, no text,
    missing image, so that ``kept + sum(dropped) == items_seen`` and the image count says how many otherwise
    usable pairs the missing files cost.

    ``keep_untagged``: None (the dataset has no such choice) drops a labelled item without text; True keeps it
    with an empty text, as the released data scripts of the DCMH/DCHMT code do for MIRFLICKR-25K; False drops it.
    With True or False, the summary's ``untagged`` says how many labelled items without text were kept and
    dropped (an item without a label is counted under ``no label`` only). ``keep_unlabelled`` keeps an item
    without a label too (MITH's lists keep every line of MIRFLICKR-25K and NUS-WIDE; the loader drops such items
    and counts them)."""

    def __init__(self, dataset: str, class_names: tuple[str, ...], no_text: str, keep_untagged: bool | None = None,
                 keep_unlabelled: bool = False):
        self.dataset, self.class_names, self.no_text = dataset, class_names, no_text
        self.keep_untagged, self.keep_unlabelled = keep_untagged, keep_unlabelled
        self.paths: list[str] = []
        self.rows: list[np.ndarray] = []
        self.captions: list[list[str]] = []
        self.dropped = {NO_LABEL: 0, no_text: 0, IMAGE_MISSING: 0}
        self.untagged_kept = 0

    @property
    def seen(self) -> int:
        return len(self.paths) + sum(self.dropped.values())

    def offer(self, image: Path, labels: np.ndarray, captions: list[str], image_exists: bool) -> None:
        """Keep the item, or count why it is dropped (``labels``: a 0/1 row, one column per class)."""
        untagged = not captions
        if not labels.any() and not self.keep_unlabelled:
            self.dropped[NO_LABEL] += 1
        elif untagged and not self.keep_untagged:
            self.dropped[self.no_text] += 1
        elif not image_exists:
            self.dropped[IMAGE_MISSING] += 1
        else:
            self.paths.append(str(image))
            self.rows.append(labels)
            self.captions.append(captions or [""])
            self.untagged_kept += untagged

    def write(self, raw: Path, out: Path, caption_format: str, variant: str = "official", **extra) -> dict:
        """Write the dataset files, then ``summary.json`` (naming ``variant``, with ``extra`` entries); returns the
        summary. DataError if nothing was kept."""
        if not self.paths:
            needs = "a label and an image file" if self.keep_untagged else "a label, a text and an image file"
            raise DataError(f"{self.dataset}: no item of the {self.seen} in {raw} has {needs} (dropped: "
                            f"{self.dropped}); check that --raw holds the full download")
        labels = np.array(self.rows, dtype=np.uint8).reshape(len(self.rows), len(self.class_names))
        stale = out / SUMMARY_FILE
        other_caption = out / ("caption.mat" if caption_format == "txt" else "caption.txt")
        try:
            # A summary left by an earlier run would make a conversion that fails half-way look complete, and
            # a caption file in the other format would be read instead of the new one: remove both first.
            for path in (stale, other_caption):
                path.unlink(missing_ok=True)
            written = write_dataset_files(out, self.paths, labels, self.captions, caption_format)
            summary = {
                "dataset": self.dataset,
                "variant": variant,
                "raw": str(raw),
                "out": str(out),
                "items_seen": self.seen,
                "kept": len(self.paths),
                "dropped": dict(self.dropped),
                **({"untagged": {"kept": self.untagged_kept, "dropped": self.dropped[self.no_text]}}
                   if self.keep_untagged is not None else {}),
                **label_summary(labels),
                "files": [path.name for path in written],
                **extra,
            }
            write_json(out / SUMMARY_FILE, summary)
        except OSError as exc:
            raise DataError(f"cannot write the {self.dataset} files into {out}: {exc}") from exc
        return summary
