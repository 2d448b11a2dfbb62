"""The label model of a synthetic world: class popularity, scene templates, how many labels an item has, which
classes it shows, which of them each modality shows, and what its annotation says (docs/synthetic.md).

Every function draws from the generator it is given, so a world is a deterministic function of its seed."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .knobs import MAX_LABELS


@dataclass(frozen=True)
class LabelWorld:
    """What every item of a world shares: class popularity (sums to 1), the super-class of each class, the scene
    templates (``(S, c)`` 0/1) and the scenes' probabilities, and the head class."""

    popularity: np.ndarray
    superclass_of: np.ndarray
    templates: np.ndarray
    scene_weights: np.ndarray
    head: int


def popularity(rng: np.random.Generator, n_classes: int, head: int, longtail: float) -> np.ndarray:
    """Zipf-like popularity: ``head`` has rank 1, the other classes ranks 2..c in a random order; rank r weighs
    r^-longtail."""
    ranks = np.empty(n_classes, int)
    others = [j for j in range(n_classes) if j != head]
    ranks[head] = 1
    ranks[others] = 2 + rng.permutation(len(others))
    weights = ranks.astype(float) ** -longtail
    return weights / weights.sum()


def scene_templates(rng: np.random.Generator, superclass_of: np.ndarray, n_scenes: int) -> tuple[np.ndarray, np.ndarray]:
    """``n_scenes`` templates and their probabilities (Dirichlet(5)). Template t: each member of its primary
    super-class (the super-classes taken in turn, in a random order) and, for half of the templates, of a second
    one, with probability 0.7 each; and about c/16 other classes."""
    n_classes, n_super = len(superclass_of), int(superclass_of.max()) + 1
    order = rng.permutation(n_super)
    templates = np.zeros((n_scenes, n_classes), np.uint8)
    for t in range(n_scenes):
        chosen = [order[t % n_super]]
        if n_super > 1 and rng.random() < 0.5:
            chosen.append(rng.choice([s for s in range(n_super) if s != chosen[0]]))
        members = np.isin(superclass_of, chosen) & (rng.random(n_classes) < 0.7)
        extra = rng.choice(n_classes, size=max(1, round(n_classes / 16)), replace=False)
        templates[t, members] = 1
        templates[t, extra] = 1
    return templates, rng.dirichlet(np.full(n_scenes, 5.0))


def count_probabilities(single: float, mean: float, cap: int = MAX_LABELS) -> np.ndarray:
    """P(k labels), k = 1..cap: k = 1 with probability ``single``, else 2 + Poisson(lam) truncated at ``cap``, with
    lam set (by bisection) so that the mean is ``mean``."""
    ks = np.arange(2, cap + 1)

    def multi(lam: float) -> np.ndarray:
        log_p = (ks - 2) * np.log(max(lam, 1e-300)) - np.cumsum(np.r_[0.0, np.log(np.arange(1, cap - 1))])
        p = np.exp(log_p - log_p.max()) if lam > 0 else (ks == 2).astype(float)
        return p / p.sum()

    target = (mean - single) / (1 - single) if single < 1 else 2.0
    low, high = 0.0, 50.0
    for _ in range(100):
        lam = (low + high) / 2
        low, high = (lam, high) if multi(lam) @ ks < target else (low, lam)
    return np.r_[single, (1 - single) * multi((low + high) / 2)]


def _gumbel_top(rng: np.random.Generator, weights: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """For each row, ``counts[i]`` distinct columns drawn without replacement with probability proportional to
    ``weights[i]`` (the Gumbel top-k trick), as a boolean matrix."""
    keys = np.log(np.maximum(weights, 1e-300)) + rng.gumbel(size=weights.shape)
    keys[weights <= 0] = -np.inf
    order = np.argsort(-keys, axis=1, kind="stable")
    chosen = np.zeros(weights.shape, bool)
    rows = np.repeat(np.arange(len(weights)), counts)
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    cols = order[rows, np.arange(len(rows)) - starts]
    chosen[rows, cols] = True
    return chosen


def item_weights(world: LabelWorld, scenes: np.ndarray, cooccurrence: float) -> np.ndarray:
    """``(n, c)`` class weights of items in ``scenes``: (1 - cooccurrence) x popularity + cooccurrence x
    popularity restricted to the scene's template (each part normalised); every class keeps a tiny weight, so
    that an item can have more classes than its scene's template."""
    in_scene = world.templates[scenes] * world.popularity
    in_scene = in_scene / np.maximum(in_scene.sum(axis=1, keepdims=True), 1e-300)
    return (1 - cooccurrence + 1e-6) * world.popularity + cooccurrence * in_scene


def draw_content(rng: np.random.Generator, world: LabelWorld, n: int, knobs: dict) -> tuple[np.ndarray, np.ndarray]:
    """The classes each item shows (``(n, c)`` bool) and its scene: a scene, a number of labels, the head class with
    probability ``dominant`` (when set), then the other classes by ``item_weights`` without replacement."""
    n_classes = len(world.popularity)
    scenes = rng.choice(len(world.scene_weights), size=n, p=world.scene_weights)
    probs = count_probabilities(knobs["single_label"], knobs["labels_per_item"], min(MAX_LABELS, n_classes))
    counts = 1 + rng.choice(len(probs), size=n, p=probs)
    weights = item_weights(world, scenes, knobs["cooccurrence"])
    with_head = np.zeros(n, bool)
    if knobs["dominant"] is not None:
        with_head = rng.random(n) < knobs["dominant"]
        weights[:, world.head] = 0.0
    content = _gumbel_top(rng, weights, counts - with_head)
    content[with_head, world.head] = True
    return content, scenes


def extras(rng: np.random.Generator, world: LabelWorld, content: np.ndarray, scenes: np.ndarray, rate: float,
           cooccurrence: float) -> np.ndarray:
    """Poisson(``rate``) classes per item that it does not have, plausible for its scene (``item_weights``)."""
    counts = np.minimum(rng.poisson(rate, size=len(content)), (~content).sum(axis=1))
    weights = np.where(content, 0.0, item_weights(world, scenes, cooccurrence))
    return _gumbel_top(rng, weights, counts)


def visibility(rng: np.random.Generator, content: np.ndarray, hide_image: float, hide_caption: float
               ) -> tuple[np.ndarray, np.ndarray]:
    """Which of its classes each modality shows: each hidden from the image with probability ``hide_image`` and
    from the caption with ``hide_caption``; one hidden from both is given back to one of them at random."""
    in_image = content & (rng.random(content.shape) >= hide_image)
    in_caption = content & (rng.random(content.shape) >= hide_caption)
    lost = content & ~in_image & ~in_caption
    to_image = lost & (rng.random(content.shape) < 0.5)
    return in_image | to_image, in_caption | (lost & ~to_image)


def annotate(rng: np.random.Generator, world: LabelWorld, content: np.ndarray, missing: float, spurious: float
             ) -> np.ndarray:
    """The labels: each class shown missing with probability ``missing`` (an item whose labels would all be missing
    keeps one of them, at random), plus Poisson(``spurious``) classes not shown, drawn by popularity."""
    keep = content & (rng.random(content.shape) >= missing)
    empty = np.flatnonzero(~keep.any(axis=1))
    for i in empty:
        keep[i, rng.choice(np.flatnonzero(content[i]))] = True
    counts = np.minimum(rng.poisson(spurious, size=len(content)), (~content).sum(axis=1))
    added = _gumbel_top(rng, np.where(content, 0.0, world.popularity[None, :]), counts)
    return keep | added
