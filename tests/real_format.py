"""A real-format dataset on disk for tests and benchmarks: photo-like JPEG files, captions over a small
vocabulary (that of the tiny CLIPs the tests build) and multi-hot labels."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from benchmark.data import PairedDataset

VOCAB = ["[PAD]", "[UNK]", "[BOS]", "[EOS]", "a", "dog", "cat", "sky", "on", "the", "red", "car"]
CLASSES = ["dog", "cat", "sky", "car"]


def smooth_image(rng: np.random.Generator, height: int, width: int, channels: int = 3) -> np.ndarray:
    """A photo-like uint8 image ``(height, width, channels)``: random colour gradients plus a little noise."""
    y, x = np.mgrid[0:height, 0:width] / max(height, width)
    a, b, c = rng.uniform(0, 255, (3, channels))
    pixels = a + b * x[..., None] + c * y[..., None] + rng.normal(0, 12, (height, width, channels))
    return np.clip(pixels, 0, 255).astype(np.uint8)


def jpeg_dataset(folder: Path, sizes: list[tuple[int, int]], seed: int = 0) -> PairedDataset:
    """One JPEG (quality 90) per ``(height, width)`` of ``sizes`` written into ``folder``, with a caption of four
    words and at least one label each, as a ``mirflickr25k``-named set of image paths."""
    rng = np.random.default_rng(seed)
    paths = []
    for i, (height, width) in enumerate(sizes):
        paths.append(str(Path(folder) / f"{i:04d}.jpg"))
        Image.fromarray(smooth_image(rng, height, width)).save(paths[-1], quality=90)
    n = len(sizes)
    labels = (rng.random((n, len(CLASSES))) < 0.4).astype(np.uint8)
    labels[np.arange(n), rng.integers(0, len(CLASSES), n)] = 1
    captions = [[" ".join(rng.choice(VOCAB[4:], 4))] for _ in range(n)]
    return PairedDataset("mirflickr25k", CLASSES, labels, captions, paths, root=Path(folder))
