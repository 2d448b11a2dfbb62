"""The paired image-text dataset every loader returns."""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from ..errors import DataError


@dataclass
class PairedDataset:
    """N image-text pairs with multi-hot labels.

    Attributes:
        name: registered dataset name (``mirflickr25k``, ``synth-coco``, ...).
        class_names: the c class names, in label-column order.
        labels: uint8 ``(N, c)`` multi-hot matrix.
        captions: one or more captions per item (``list[list[str]]``, length N).
        images: file paths (``list[str]``) for real sets, a uint8 ``(N, H, W, 3)`` array for synthetic ones.
        summary: how the set was read: items kept, items dropped and why, label cardinality, missing images.
        vocabulary: the word-level vocabulary of synthetic captions (None for real sets).
        root: the folder the set was read from or cached in.
        visible: for synthetic sets, the classes each modality shows: ``{"image": (N, c) bool, "text": (N, c)
            bool}`` (what the visible-label oracle ranks by; it can differ from ``labels``: hidden classes, label
            noise, unlabelled classes a modality shows); None for real sets.
    """

    name: str
    class_names: list[str]
    labels: np.ndarray
    captions: list[list[str]]
    images: list[str] | np.ndarray
    summary: dict = field(default_factory=dict)
    vocabulary: list[str] | None = None
    root: Path | None = None
    visible: dict[str, np.ndarray] | None = None

    def __post_init__(self):
        n = self.labels.shape[0]
        if self.labels.ndim != 2 or self.labels.shape[1] != len(self.class_names):
            raise DataError(f"{self.name}: labels must be (N, {len(self.class_names)}), got {self.labels.shape}")
        if len(self.captions) != n or len(self.images) != n:
            raise DataError(f"{self.name}: {n} label rows, {len(self.captions)} captions, {len(self.images)} images")
        if self.visible is not None and any(np.shape(m) != self.labels.shape for m in self.visible.values()):
            raise DataError(f"{self.name}: visible masks must be {self.labels.shape}")

    def __len__(self) -> int:
        return self.labels.shape[0]

    @cached_property
    def texts(self) -> list[str]:
        """The text each item is trained and evaluated with: its first caption."""
        return [captions[0] for captions in self.captions]

    def images_at(self, indices: np.ndarray):
        """The images of ``indices``: an array slice (pixels) or a list of paths."""
        if isinstance(self.images, np.ndarray):
            return self.images[indices]
        return [self.images[i] for i in indices]

    @cached_property
    def content_hash(self) -> str:
        """SHA-256 (hex) of labels, captions and images (pixels or paths): changes whenever the data does."""
        digest = hashlib.sha256()
        digest.update(np.ascontiguousarray(self.labels, np.uint8).tobytes())
        digest.update(json.dumps(self.captions).encode())
        if isinstance(self.images, np.ndarray):  # pixels given as an array are hashed themselves
            digest.update(np.ascontiguousarray(self.images).tobytes())
        else:
            digest.update(json.dumps(list(self.images)).encode())
        return digest.hexdigest()

    def image_files_hash(self) -> str | None:
        """SHA-256 (hex) of each image file's size and modification time (``st_mtime_ns``; a missing file counts as
        such), read now: a cheap fingerprint of the files' contents, which ``content_hash`` (paths only) does not
        cover. None for images given as an array (``content_hash`` covers their pixels)."""
        if isinstance(self.images, np.ndarray):
            return None
        digest = hashlib.sha256()
        for path in self.images:
            try:
                stat = os.stat(path)
            except OSError:
                digest.update(b"missing\n")
                continue
            digest.update(f"{stat.st_size} {stat.st_mtime_ns}\n".encode())
        return digest.hexdigest()


def label_summary(labels: np.ndarray) -> dict:
    """Label cardinality of a multi-hot matrix: mean, min and max labels per item, items per class."""
    per_item = labels.sum(axis=1)
    return {
        "label_cardinality": {
            "mean": round(float(per_item.mean()), 4) if len(per_item) else 0.0,
            "min": int(per_item.min()) if len(per_item) else 0,
            "max": int(per_item.max()) if len(per_item) else 0,
        },
        "items_per_class": labels.sum(axis=0).astype(int).tolist(),
    }
