"""Label statistics of a multi-label matrix: what the presets are calibrated to and the knobs are tested by."""
from __future__ import annotations

import numpy as np

#: A class pair "co-occurs" when its lift P(i and j) / (P(i) P(j)) exceeds this.
LIFT_THRESHOLD = 2.0


def lift(labels: np.ndarray) -> np.ndarray:
    """``(c, c)`` lift of every class pair (0 where a class never occurs), the diagonal included."""
    y = np.asarray(labels, float)
    frequency = y.mean(axis=0)
    joint = y.T @ y / len(y)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.nan_to_num(joint / np.outer(frequency, frequency))


def cooccurrence_density(labels: np.ndarray, threshold: float = LIFT_THRESHOLD) -> float:
    """Fraction of the c(c-1)/2 class pairs whose lift exceeds ``threshold``."""
    upper = np.triu_indices(np.shape(labels)[1], k=1)
    return float((lift(labels)[upper] > threshold).mean())


def label_statistics(labels: np.ndarray) -> dict:
    """``classes``; ``mean_labels`` per item; ``single_label`` (fraction of items with one label); ``top_class``
    (frequency of the most frequent class) and ``top_class_index``; ``head_in_multilabel`` (fraction of the items
    with two or more labels that carry the most frequent class); ``cooccurrence_density``; ``tail_share`` (share of
    all label occurrences held by the rarer half of the classes); ``empty_classes`` (classes no item has)."""
    y = np.asarray(labels, bool)
    per_item, frequency = y.sum(axis=1), y.mean(axis=0)
    top = int(np.argmax(frequency))
    multi = per_item >= 2
    rare_half = np.sort(y.sum(axis=0))[:y.shape[1] // 2]
    return {
        "items": int(len(y)),
        "classes": int(y.shape[1]),
        "mean_labels": float(per_item.mean()),
        "single_label": float((per_item == 1).mean()),
        "top_class": float(frequency[top]),
        "top_class_index": top,
        "head_in_multilabel": float(y[multi, top].mean()) if multi.any() else 0.0,
        "cooccurrence_density": cooccurrence_density(y),
        "tail_share": float(rare_half.sum() / max(1, y.sum())),
        "empty_classes": int((frequency == 0).sum()),
    }
