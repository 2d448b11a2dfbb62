"""Code-space diagnostics of a run: the geometry of its binary codes that the compared losses argue about
(docs/diagnostics.md defines each one with its formula).

Everything is computed from the final ±1 codes of the retrieval set, both modalities, and their labels:

- intra- vs inter-class Hamming distances between image and text codes, their histograms, and the separation
  AUC of "shares a label" from the distance (on a fixed subsample of items);
- inter-class structure: Spearman's correlation of class-centroid Hamming distances with label dissimilarity
  (1 - Jaccard of the classes' item sets);
- bit balance (mean |E[b]|), per-bit entropy and bit independence (mean |correlation| between bits);
- semantic bias of multi-label items: the spread of an item's distances to its own labels' centroids, and how
  often the nearest of them is its most frequent label (with the chance level);
- modality gap: the mean Hamming distance between an item's image code and its text code;
- quantization gap (given by the caller, who has the continuous outputs): mAP of the continuous outputs ranked
  by cosine minus mAP of the sign codes, per direction.

Torch-free: ``python -m benchmark diagnose`` recomputes them from the files a run keeps.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import stats

#: Items drawn (with a fixed seed) for the pairwise distances, which are quadratic in the number of items.
SUBSAMPLE = 2000
SUBSAMPLE_SEED = 0


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(n, m)`` Hamming distances between the rows of two ±1 matrices of k bits: ``(k - a.b) / 2``."""
    k = a.shape[1]
    return ((k - a.astype(np.float32) @ b.astype(np.float32).T) / 2).round().astype(np.int64)


def subsample(n: int, size: int = SUBSAMPLE, seed: int = SUBSAMPLE_SEED) -> np.ndarray:
    """A fixed, sorted choice of ``min(n, size)`` of ``n`` items."""
    if n <= size:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size, replace=False))


def auc_from_histograms(positive: np.ndarray, negative: np.ndarray) -> float:
    """P(a positive pair is nearer than a negative pair), ties counting one half, from distance histograms."""
    positive, negative = np.asarray(positive, float), np.asarray(negative, float)
    if positive.sum() == 0 or negative.sum() == 0:
        return math.nan
    p, q = positive / positive.sum(), negative / negative.sum()
    farther = q[::-1].cumsum()[::-1] - q  # P(negative distance > d)
    return float((p * (farther + 0.5 * q)).sum())


def distance_separation(image: np.ndarray, text: np.ndarray, labels: np.ndarray) -> dict:
    """Histograms of the Hamming distances between the image code of item i and the text code of item j != i,
    for pairs sharing a label (intra-class) and not (inter-class), on ``subsample`` items; their means; the AUC."""
    index = subsample(len(image))
    distance = hamming(image[index], text[index])
    y = labels[index].astype(np.float32)
    shares = (y @ y.T) > 0
    k = image.shape[1]
    # one histogram of (distance, shares a label) over all pairs, less the pairs of an item with itself
    key = 2 * distance + shares
    counts = np.bincount(key.ravel(), minlength=2 * (k + 1)) - np.bincount(key.diagonal(), minlength=2 * (k + 1))
    inter, intra = counts[0::2], counts[1::2]
    distances = np.arange(k + 1)

    def mean(hist):
        return float((hist * distances).sum() / hist.sum()) if hist.sum() else math.nan

    return {"intra_distance": mean(intra), "inter_distance": mean(inter),
            "separation_auc": auc_from_histograms(intra, inter),
            "distance_histograms": {"intra": intra.tolist(), "inter": inter.tolist()}}


def class_centroids(codes: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ±1 centroid of each class (sign of its items' mean code, 0 read as +1) and which classes have items."""
    y = labels.astype(np.float64)
    counts = y.sum(0)
    means = (y.T @ codes.astype(np.float64)) / np.maximum(counts, 1)[:, None]
    return np.where(means >= 0, 1, -1).astype(np.int8), counts > 0


def label_dissimilarity(labels: np.ndarray) -> np.ndarray:
    """``(c, c)`` 1 - Jaccard of the classes' item sets."""
    y = labels.astype(np.float64)
    both = y.T @ y
    counts = y.sum(0)
    either = counts[:, None] + counts[None, :] - both
    return 1 - np.where(either > 0, both / np.maximum(either, 1), 0.0)


def inter_class_structure(codes: np.ndarray, labels: np.ndarray) -> float:
    """Spearman's correlation, over pairs of classes with items, of their centroids' Hamming distance and their
    label dissimilarity: high when classes that co-occur get nearby centroids."""
    centroids, present = class_centroids(codes, labels)
    classes = np.flatnonzero(present)
    if len(classes) < 3:
        return math.nan
    upper = np.triu_indices(len(classes), 1)
    distance = hamming(centroids[classes], centroids[classes])[upper]
    dissimilarity = label_dissimilarity(labels)[np.ix_(classes, classes)][upper]
    if np.ptp(distance) == 0 or np.ptp(dissimilarity) == 0:
        return math.nan
    return float(stats.spearmanr(distance, dissimilarity).statistic)


def bit_statistics(codes: np.ndarray) -> dict:
    """``bit_balance``: mean over bits of |E[b]| (0: every bit half +1); ``bit_entropy``: mean over bits of the
    binary entropy (in bits) of P(b = +1) (1: balanced); ``bit_correlation``: mean over pairs of bits of the
    absolute Pearson correlation (a pair with a constant bit counts 0)."""
    b = codes.astype(np.float64)
    p = (b > 0).mean(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -(np.where(p > 0, p * np.log2(p), 0) + np.where(p < 1, (1 - p) * np.log2(1 - p), 0))
    sd = b.std(0)
    centred = (b - b.mean(0)) / np.where(sd > 0, sd, 1)
    correlation = np.abs(centred.T @ centred / len(b))
    correlation[sd == 0, :] = 0
    correlation[:, sd == 0] = 0
    k = b.shape[1]
    pairs = correlation[np.triu_indices(k, 1)]
    return {"bit_balance": float(np.abs(b.mean(0)).mean()), "bit_entropy": float(entropy.mean()),
            "bit_correlation": float(pairs.mean()) if len(pairs) else 0.0}


def semantic_bias(codes: np.ndarray, labels: np.ndarray) -> dict:
    """For the items with at least two labels: ``semantic_bias_spread``, the mean over items of the (population)
    standard deviation of the item's Hamming distances to its own labels' centroids; ``nearest_is_frequent``, how
    often the nearest of those centroids is the item's most frequent label (ties share the credit); and
    ``nearest_is_frequent_chance``, the same for a nearest label drawn at random among the item's labels."""
    y = labels > 0
    centroids, _ = class_centroids(codes, labels)
    frequency = y.sum(0)
    multi = np.flatnonzero(y.sum(1) >= 2)
    if len(multi) == 0:
        return {"semantic_bias_spread": math.nan, "nearest_is_frequent": math.nan,
                "nearest_is_frequent_chance": math.nan, "multi_label_items": 0}
    distance = hamming(codes[multi], centroids).astype(np.float64)  # (items, classes)
    own = y[multi]
    count = own.sum(1)
    mean = np.where(own, distance, 0).sum(1) / count
    spread = np.sqrt(np.where(own, (distance - mean[:, None]) ** 2, 0).sum(1) / count)
    nearest = own & (distance == np.where(own, distance, np.inf).min(1, keepdims=True))
    top = np.where(own, frequency, -1).max(1, keepdims=True)
    frequent = own & (frequency == top)  # the most frequent of the item's labels (several on a tie)
    credit = (nearest & frequent).sum(1) / (nearest.sum(1) * frequent.sum(1))
    return {"semantic_bias_spread": float(spread.mean()), "nearest_is_frequent": float(credit.mean()),
            "nearest_is_frequent_chance": float((1 / count).mean()), "multi_label_items": int(len(multi))}


def modality_gap(image: np.ndarray, text: np.ndarray) -> float:
    """Mean Hamming distance between an item's image code and its text code."""
    return float(((image != text).sum(1)).mean())


def diagnostics(image: np.ndarray, text: np.ndarray, labels: np.ndarray,
                quantization_gap: dict[str, float] | None = None) -> dict:
    """Every diagnostic of one run from the ±1 codes ``(n, k)`` of the retrieval set's images and texts and their
    multi-hot labels ``(n, c)``. Structure, bits and semantic bias pool both modalities' codes (each item twice)."""
    pooled, pooled_labels = np.concatenate([image, text]), np.concatenate([labels, labels])
    result = {**distance_separation(image, text, labels),
              "structure_spearman": inter_class_structure(pooled, pooled_labels),
              **bit_statistics(pooled), **semantic_bias(pooled, pooled_labels),
              "modality_gap": modality_gap(image, text)}
    if quantization_gap is not None:
        result["quantization_gap"] = dict(quantization_gap)
    return result


#: The scalar diagnostics a table shows, in order, with a short heading and whether higher is better.
TABLE = (
    ("intra_distance", "intra-class distance", False),
    ("inter_distance", "inter-class distance", True),
    ("separation_auc", "separation AUC", True),
    ("structure_spearman", "structure (Spearman)", True),
    ("bit_balance", "bit imbalance (mean abs E[b])", False),
    ("bit_entropy", "bit entropy", True),
    ("bit_correlation", "bit correlation (mean abs)", False),
    ("semantic_bias_spread", "semantic-bias spread", False),
    ("nearest_is_frequent", "nearest own centroid is most frequent", None),
    ("modality_gap", "modality gap (bits)", False),
)
