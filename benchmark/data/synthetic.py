"""Synthetic stand-ins for MIRFLICKR-25K, NUS-WIDE and MS COCO, so the suite runs anywhere without downloads.

Each set has the real one's class names, and label cardinality and co-occurrence shaped like it: an item
draws a latent scene (topic) and then each class with a probability mixing the class's overall
popularity (Zipf-like, a few very frequent classes) with the scene's affinity for it, scaled so that the
mean number of labels per item matches the real set. Every item gets

* a 32x32 RGB image: noisy background, clutter rectangles, and an 8x8 glyph per visible label (each
  class its own shape x colour) in a random cell of a 4x4 grid;
* a caption: one word per visible label (the class name or one of its two invented synonyms), in random
  order, with template and distractor words, and now and then the word of a class that is absent.

Modality noise: a label is hidden from the image with probability 0.2 and from the caption with
probability 0.2 (never from both), so neither modality alone is perfect. Generated deterministically
from (name, size, seed), cached under ``<cache>/synthetic/``. They are not the paper's datasets and the
reports say so.
"""
from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError, check_int
from ..files import atomic_folder
from . import classes
from .dataset import PairedDataset, label_summary

#: Bump when the generator changes: cached sets of another version are not reused.
GENERATOR_VERSION = 1
IMAGE_SIZE, CELL = 32, 8
HIDE_FROM_IMAGE, HIDE_FROM_CAPTION = 0.2, 0.2
CONFUSER_PROBABILITY = 0.1
N_TOPICS = 8
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[BOS]", "[EOS]")
TEMPLATE_WORDS = ("a", "an", "photo", "picture", "image", "of", "with", "and", "the", "some", "in", "near")
PREFIXES = ("a photo of", "an image with", "picture of", "the", "some", "")
N_DISTRACTORS = 150


@dataclass(frozen=True)
class SyntheticSpec:
    """A synthetic stand-in: the real set it imitates, its default size and its mean label count."""

    name: str
    real: str
    class_names: tuple[str, ...]
    size: int
    mean_labels: float

    def split_sizes(self, n_items: int) -> tuple[int, int]:
        """(query, train) sizes, scaled like the real protocol: 10% queries, 50% training items."""
        return max(1, round(0.1 * n_items)), max(2, round(0.5 * n_items))


SYNTHETIC_DATASETS = {
    spec.name: spec
    for spec in (
        SyntheticSpec("synth-mirflickr25k", "mirflickr25k", classes.MIRFLICKR25K, 5000, 3.8),
        SyntheticSpec("synth-nuswide", "nuswide", classes.NUSWIDE, 6000, 1.9),
        SyntheticSpec("synth-coco", "coco", classes.COCO, 6000, 2.9),
    )
}


# ----------------------------------------------------------------------------------------- labels


def _class_probabilities(rng: np.random.Generator, n_classes: int, mean_labels: float) -> np.ndarray:
    """``(N_TOPICS, c)`` probability of each class in each scene, calibrated to ``mean_labels``."""
    popularity = 1.0 / np.arange(1, n_classes + 1) ** 0.8
    popularity = rng.permutation(popularity / popularity.sum())
    affinity = rng.gamma(0.3, size=(N_TOPICS, n_classes)) + 1e-3
    shape = 0.4 * popularity + 0.6 * affinity / affinity.sum(axis=1, keepdims=True)
    scale = mean_labels
    for _ in range(50):  # fixed point: clipping and the "at least one label" rule move the mean
        p = np.clip(scale * shape, 0, 0.9)
        expected = (p.sum(axis=1) + np.prod(1 - p, axis=1)).mean()
        scale *= mean_labels / expected
    return np.clip(scale * shape, 0, 0.9)


def _labels(rng: np.random.Generator, n: int, probabilities: np.ndarray) -> np.ndarray:
    topics = rng.choice(N_TOPICS, size=n, p=rng.dirichlet(np.full(N_TOPICS, 2.0)))
    p = probabilities[topics]
    labels = rng.random(p.shape) < p
    empty = np.flatnonzero(~labels.any(axis=1))
    fallback = [rng.choice(p.shape[1], p=p[i] / p[i].sum()) for i in empty]
    labels[empty, fallback] = True
    return labels.astype(np.uint8)


def _visibility(rng: np.random.Generator, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which labels each modality shows; a label hidden from both is given back to one at random."""
    present = labels.astype(bool)
    in_image = present & (rng.random(labels.shape) >= HIDE_FROM_IMAGE)
    in_caption = present & (rng.random(labels.shape) >= HIDE_FROM_CAPTION)
    lost = present & ~in_image & ~in_caption
    to_image = lost & (rng.random(labels.shape) < 0.5)
    return in_image | to_image, in_caption | (lost & ~to_image)


# ----------------------------------------------------------------------------------------- images


def _glyph_masks() -> list[np.ndarray]:
    """Ten 8x8 shapes; with eight colours they give 80 distinct class glyphs."""
    y, x = np.mgrid[0:CELL, 0:CELL]
    cy = cx = (CELL - 1) / 2
    r = np.hypot(y - cy, x - cx)
    return [
        r <= 3.2,                                            # disc
        (r >= 2.0) & (r <= 3.5),                             # ring
        (abs(y - cy) < 1.1) | (abs(x - cx) < 1.1),           # plus
        (abs(y - x) < 1.1) | (abs(y + x - 2 * cx) < 1.1),    # cross
        y % 3 == 0,                                          # horizontal stripes
        x % 3 == 0,                                          # vertical stripes
        (y // 2 + x // 2) % 2 == 0,                          # checker
        (y >= 1) & (abs(x - cx) <= (y - 1) / 2 + 0.5),       # triangle
        abs(y - cy) + abs(x - cx) <= 3.6,                    # diamond
        (y == 0) | (y == CELL - 1) | (x == 0) | (x == CELL - 1),  # frame
    ]


COLOURS = np.array([[230, 40, 40], [40, 200, 60], [50, 80, 240], [240, 220, 40],
                    [220, 60, 220], [40, 220, 230], [245, 245, 245], [250, 140, 20]], dtype=float)


def _images(rng: np.random.Generator, in_image: np.ndarray) -> np.ndarray:
    n, n_classes = in_image.shape
    masks = _glyph_masks()
    shapes = [masks[j % len(masks)] for j in range(n_classes)]
    colours = [COLOURS[(j // len(masks) + j) % len(COLOURS)] for j in range(n_classes)]
    cells = (IMAGE_SIZE // CELL) ** 2
    images = np.empty((n, IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)
    for i in range(n):
        canvas = rng.uniform(0, 90, 3) + rng.normal(0, 18, (IMAGE_SIZE, IMAGE_SIZE, 3))
        for _ in range(rng.integers(2, 5)):  # clutter
            h, w = rng.integers(2, 6, 2)
            top, left = rng.integers(0, IMAGE_SIZE - h), rng.integers(0, IMAGE_SIZE - w)
            canvas[top:top + h, left:left + w] = rng.uniform(0, 255, 3)
        shown = np.flatnonzero(in_image[i])[:cells]
        for j, cell in zip(shown, rng.permutation(cells)):
            top, left = (cell // (IMAGE_SIZE // CELL)) * CELL, (cell % (IMAGE_SIZE // CELL)) * CELL
            patch = canvas[top:top + CELL, left:left + CELL]
            patch[shapes[j]] = colours[j] + rng.normal(0, 15, 3)
        images[i] = np.clip(canvas, 0, 255).astype(np.uint8)
    return images


# --------------------------------------------------------------------------------------- captions


def _invented_words(rng: np.random.Generator, count: int, taken: set[str]) -> list[str]:
    onsets, vowels, codas = "bdfgklmnprstvz", "aeiou", ["", "", "n", "r", "l", "s"]
    words = []
    while len(words) < count:
        word = "".join(rng.choice(list(onsets)) + rng.choice(list(vowels)) for _ in range(rng.integers(2, 4)))
        word += rng.choice(codas)
        if word not in taken:
            taken.add(word)
            words.append(word)
    return words


def _word_lists(rng: np.random.Generator, class_names) -> tuple[list[list[str]], list[str]]:
    """Per class: its name as one token and two invented synonyms; then the distractor words."""
    names = [name.replace(" ", "_") for name in class_names]
    taken = set(names) | set(TEMPLATE_WORDS)
    synonyms = _invented_words(rng, 2 * len(names), taken)
    per_class = [[name, synonyms[2 * j], synonyms[2 * j + 1]] for j, name in enumerate(names)]
    return per_class, _invented_words(rng, N_DISTRACTORS, taken)


def _captions(rng: np.random.Generator, in_caption: np.ndarray, class_words, distractors) -> list[list[str]]:
    captions = []
    for row in in_caption:
        words = [rng.choice(class_words[j]) for j in np.flatnonzero(row)]
        words += list(rng.choice(distractors, size=rng.poisson(1.5)))
        if rng.random() < CONFUSER_PROBABILITY:
            absent = np.flatnonzero(~row)
            if len(absent):
                words.append(rng.choice(class_words[rng.choice(absent)]))
        words = [str(w) for w in rng.permutation(words)]
        prefix = str(rng.choice(PREFIXES))
        captions.append([" ".join(([prefix] if prefix else []) + words)])
    return captions


def vocabulary(class_words, distractors) -> list[str]:
    """The word-level vocabulary of the captions: special tokens, then every word, sorted."""
    words = {w for ws in class_words for w in ws} | set(distractors)
    words |= {w for prefix in PREFIXES for w in prefix.split()} | set(TEMPLATE_WORDS)
    return list(SPECIAL_TOKENS) + sorted(words)


# ---------------------------------------------------------------------------------- generate, cache


def generate(spec: SyntheticSpec, size: int, seed: int) -> dict:
    """Every array of the set, deterministically from (spec.name, size, seed)."""
    rng = np.random.default_rng([seed, zlib.crc32(spec.name.encode()), size])
    labels = _labels(rng, size, _class_probabilities(rng, len(spec.class_names), spec.mean_labels))
    in_image, in_caption = _visibility(rng, labels)
    class_words, distractors = _word_lists(rng, spec.class_names)
    return {
        "labels": labels,
        "in_image": in_image,
        "in_caption": in_caption,
        "images": _images(rng, in_image),
        "captions": _captions(rng, in_caption, class_words, distractors),
        "vocabulary": vocabulary(class_words, distractors),
    }


def cache_folder(cache_dir: Path, name: str, size: int, seed: int) -> Path:
    return Path(cache_dir) / "synthetic" / f"{name}-n{size}-seed{seed}-v{GENERATOR_VERSION}"


def _write(folder: Path, data: dict) -> None:
    with atomic_folder(folder, marker="vocab.json") as tmp:
        np.savez(tmp / "arrays.npz", **{k: data[k] for k in ("labels", "in_image", "in_caption", "images")})
        (tmp / "captions.json").write_text(json.dumps(data["captions"]))
        (tmp / "vocab.json").write_text(json.dumps(data["vocabulary"]))


def _read(folder: Path) -> dict:
    try:
        with np.load(folder / "arrays.npz") as arrays:
            data = {k: arrays[k] for k in arrays.files}
        data["captions"] = json.loads((folder / "captions.json").read_text())
        data["vocabulary"] = json.loads((folder / "vocab.json").read_text())
    except (OSError, ValueError, KeyError) as exc:
        raise DataError(f"the cached synthetic set {folder} is damaged ({exc}); delete the folder to regenerate it") from exc
    return data


def load_synthetic(name: str, cache_dir: Path, seed: int = 0, size: int | None = None) -> PairedDataset:
    """The synthetic set ``name`` (default size of its spec), generated on first use and cached."""
    spec = SYNTHETIC_DATASETS[name]
    size = spec.size if size is None else size
    for option, value, minimum in (("size", size, 50), ("seed", seed, 0)):
        check_int(f"{name}: option {option}", value, minimum, error=DataError)
    folder = cache_folder(cache_dir, name, size, seed)
    if not (folder / "vocab.json").is_file():
        _write(folder, generate(spec, size, seed))
    data = _read(folder)
    labels = data["labels"]
    summary = {
        "items_read": len(labels),
        "kept": len(labels),
        "dropped": {},
        **label_summary(labels),
        "hidden_from_image": int((labels.astype(bool) & ~data["in_image"]).sum()),
        "hidden_from_caption": int((labels.astype(bool) & ~data["in_caption"]).sum()),
        "missing_images": 0,
        "seed": seed,
        "imitates": spec.real,
    }
    return PairedDataset(name=name, class_names=list(spec.class_names), labels=labels, captions=data["captions"],
                         images=data["images"], summary=summary, vocabulary=data["vocabulary"], root=folder)
