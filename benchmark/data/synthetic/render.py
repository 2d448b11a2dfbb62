"""What a synthetic item looks like: its 32x32 image (one 8x8 glyph per class the image shows, in a random cell of
a 4x4 grid, among clutter) and its caption (a word per class the caption shows, among template and distractor
words). A class's glyph and words are fixed for a world; with ``hierarchy`` > 0 they share a part with the other
members of its super-class (docs/synthetic.md)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

IMAGE_SIZE, CELL = 32, 8
GRID = IMAGE_SIZE // CELL
CELLS = GRID * GRID
#: Eight saturated colours (each channel low or high); glyphs are 8x8 patterns of them.
PALETTE = np.array([[r, g, b] for r in (40, 215) for g in (40, 215) for b in (40, 215)], dtype=float)
CLUTTER_PROBABILITY = 0.25  # an empty cell holds a random pattern (no class's) with this probability
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[BOS]", "[EOS]")
TEMPLATE_WORDS = ("a", "an", "photo", "picture", "image", "of", "with", "and", "the", "some", "in", "near")
PREFIXES = ("a photo of", "an image with", "picture of", "the", "some", "")
SYNONYMS = 1  # invented synonyms per class, besides its name
N_DISTRACTORS = 150
DISTRACTORS_PER_CAPTION = 1.5
MAX_WORDS = 30  # a caption stays within the default 32 tokens with [BOS] and [EOS]


@dataclass(frozen=True)
class Appearance:
    """How a world's classes look and read: glyph patterns (``(c, 8, 8)`` palette indices), each class's words and
    its super-class's word, the distractor words."""

    glyphs: np.ndarray
    class_words: list[list[str]]
    super_words: list[str]
    superclass_of: np.ndarray
    distractors: list[str]


def shared_pixels(rng: np.random.Generator, hierarchy: float) -> np.ndarray:
    """The ``round(hierarchy * 64)`` glyph pixels (a random set, the same for every class) that show the super-class's
    part."""
    mask = np.zeros(CELL * CELL, bool)
    mask[rng.permutation(CELL * CELL)[:round(hierarchy * CELL * CELL)]] = True
    return mask.reshape(CELL, CELL)


def glyph_patterns(rng: np.random.Generator, superclass_of: np.ndarray, hierarchy: float) -> np.ndarray:
    """Each class's 8x8 pattern of palette indices: its own random pattern, except on the shared pixels, which show
    its super-class's random pattern."""
    own = rng.integers(0, len(PALETTE), size=(len(superclass_of), CELL, CELL))
    parts = rng.integers(0, len(PALETTE), size=(int(superclass_of.max()) + 1, CELL, CELL))
    return np.where(shared_pixels(rng, hierarchy), parts[superclass_of], own)


def _invented_words(rng: np.random.Generator, count: int, taken: set[str]) -> list[str]:
    onsets, vowels, codas = "bdfgklmnprstvz", "aeiou", ["", "", "n", "r", "l", "s"]
    words = []
    while len(words) < count:
        word = "".join(rng.choice(list(onsets)) + rng.choice(list(vowels)) for _ in range(rng.integers(2, 4)))
        word += rng.choice(codas)
        if word not in taken:
            taken.add(word)
            words.append(str(word))
    return words


def appearance(rng: np.random.Generator, class_names, superclass_of: np.ndarray, hierarchy: float) -> Appearance:
    """A world's glyphs and words: per class its name (one token) and ``SYNONYMS`` invented synonyms; per
    super-class one invented word; ``N_DISTRACTORS`` invented distractor words."""
    glyphs = glyph_patterns(rng, superclass_of, hierarchy)
    names = [name.replace(" ", "_") for name in class_names]
    taken = set(names) | set(TEMPLATE_WORDS)
    synonyms = _invented_words(rng, SYNONYMS * len(names), taken)
    class_words = [[name] + synonyms[SYNONYMS * j:SYNONYMS * (j + 1)] for j, name in enumerate(names)]
    super_words = _invented_words(rng, int(superclass_of.max()) + 1, taken)
    return Appearance(glyphs, class_words, super_words, superclass_of, _invented_words(rng, N_DISTRACTORS, taken))


def images(rng: np.random.Generator, look: Appearance, in_image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """uint8 ``(n, 32, 32, 3)`` images, and ``in_image`` as drawn (a class beyond the 16 cells is not drawn). Each
    image: a noisy background of a random dark colour; each class it shows as its glyph (brightness 0.75-1, pixel
    noise 12) in its own random cell; each other cell a random pattern (clutter) with probability 0.25."""
    n = len(in_image)
    drawn = np.zeros_like(in_image)
    out = np.empty((n, IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)
    for i in range(n):
        canvas = rng.uniform(0, 90, 3) + rng.normal(0, 18, (IMAGE_SIZE, IMAGE_SIZE, 3))
        shown = rng.permutation(np.flatnonzero(in_image[i]))[:CELLS]
        drawn[i, shown] = True
        cells = rng.permutation(CELLS)
        patterns = list(look.glyphs[shown])
        clutter = cells[len(shown):][rng.random(CELLS - len(shown)) < CLUTTER_PROBABILITY]
        patterns += list(rng.integers(0, len(PALETTE), size=(len(clutter), CELL, CELL)))
        for cell, pattern in zip(np.r_[cells[:len(shown)], clutter], patterns):
            top, left = (cell // GRID) * CELL, (cell % GRID) * CELL
            canvas[top:top + CELL, left:left + CELL] = (PALETTE[pattern] * rng.uniform(0.75, 1.0)
                                                        + rng.normal(0, 12, (CELL, CELL, 3)))
        out[i] = np.clip(canvas, 0, 255).astype(np.uint8)
    return out, drawn


def captions(rng: np.random.Generator, look: Appearance, in_caption: np.ndarray, hierarchy: float
             ) -> tuple[list[list[str]], np.ndarray]:
    """One caption per item, and ``in_caption`` as written (a class beyond ``MAX_WORDS`` is not named): a word of
    each class it shows (its name or a synonym), with probability ``hierarchy`` also its super-class's word, some
    distractor words, all shuffled, after a template prefix."""
    written = np.zeros_like(in_caption)
    out = []
    for i, row in enumerate(in_caption):
        prefix = str(rng.choice(PREFIXES))
        budget = MAX_WORDS - len(prefix.split())
        words, supers = [], set()
        for j in rng.permutation(np.flatnonzero(row)):
            mention = [str(rng.choice(look.class_words[j]))]
            superclass = int(look.superclass_of[j])
            if rng.random() < hierarchy and superclass not in supers:
                mention.append(look.super_words[superclass])
            if len(words) + len(mention) > budget:
                continue
            supers.update([superclass] if len(mention) > 1 else [])
            words += mention
            written[i, j] = True
        n_distractors = min(rng.poisson(DISTRACTORS_PER_CAPTION), budget - len(words))
        words += [str(w) for w in rng.choice(look.distractors, size=n_distractors)]
        words = [str(w) for w in rng.permutation(words)]
        out.append([" ".join(([prefix] if prefix else []) + words)])
    return out, written


def vocabulary(look: Appearance) -> list[str]:
    """The word-level vocabulary of the captions: special tokens, then every word, sorted."""
    words = {w for ws in look.class_words for w in ws} | set(look.super_words) | set(look.distractors)
    words |= {w for prefix in PREFIXES for w in prefix.split()} | set(TEMPLATE_WORDS)
    return list(SPECIAL_TOKENS) + sorted(words)
