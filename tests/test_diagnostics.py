"""The code-space diagnostics against slow loop transcriptions (tests/reference_diagnostics.py) and on hand-made
codes whose values are known."""
from __future__ import annotations

import math

import numpy as np
import pytest

from benchmark import diagnostics as diag
from tests import reference_diagnostics as slow


def random_case(seed: int, n: int = 40, bits: int = 12, classes: int = 6):
    rng = np.random.default_rng(seed)
    labels = (rng.random((n, classes)) < 0.35).astype(np.uint8)
    labels[labels.sum(1) == 0, 0] = 1
    image = rng.choice(np.array([-1, 1], np.int8), (n, bits))
    text = np.where(rng.random((n, bits)) < 0.2, -image, image).astype(np.int8)
    return image, text, labels


@pytest.mark.parametrize("seed", range(5))
def test_every_diagnostic_equals_its_slow_transcription(seed):
    image, text, labels = random_case(seed)
    result = diag.diagnostics(image, text, labels)
    intra, inter = slow.distances(image.tolist(), text.tolist(), labels.tolist())
    assert result["intra_distance"] == pytest.approx(np.mean(intra))
    assert result["inter_distance"] == pytest.approx(np.mean(inter))
    assert result["separation_auc"] == pytest.approx(slow.auc(intra, inter))
    assert result["distance_histograms"]["intra"] == np.bincount(intra, minlength=13).tolist()
    pooled, pooled_labels = np.concatenate([image, text]).tolist(), np.concatenate([labels, labels]).tolist()
    assert result["structure_spearman"] == pytest.approx(slow.structure(pooled, pooled_labels))
    balance, entropy, correlation = slow.bits(pooled)
    assert (result["bit_balance"], result["bit_entropy"], result["bit_correlation"]) == pytest.approx(
        (balance, entropy, correlation))
    spread, credit, chance = slow.semantic_bias(pooled, pooled_labels)
    assert (result["semantic_bias_spread"], result["nearest_is_frequent"],
            result["nearest_is_frequent_chance"]) == pytest.approx((spread, credit, chance))
    assert result["modality_gap"] == pytest.approx(np.mean([slow.hamming(a, b) for a, b in zip(image, text)]))


def test_perfectly_class_aggregated_codes():
    """Single-label items whose image and text codes are their class's code: distances 0 within a class, the
    classes' distances between them, a perfect separation, no modality gap."""
    classes = np.array([[1, 1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, -1, -1, -1, -1], [-1, -1, 1, 1, -1, -1, 1, 1]], np.int8)
    labels = np.eye(3, dtype=np.uint8)[np.arange(30) % 3]
    codes = classes[np.arange(30) % 3]
    result = diag.diagnostics(codes, codes, labels)
    assert result["intra_distance"] == 0 and result["separation_auc"] == 1.0 and result["modality_gap"] == 0
    assert result["inter_distance"] == pytest.approx(4.0)  # every pair of class codes is 4 bits apart
    assert math.isnan(result["semantic_bias_spread"]) and result["multi_label_items"] == 0  # no multi-label item


def test_balanced_and_constant_bits():
    balanced = np.array([[1, 1], [1, -1], [-1, 1], [-1, -1]], np.int8)  # every bit half +1, bits independent
    stats = diag.bit_statistics(balanced)
    assert stats == {"bit_balance": 0.0, "bit_entropy": 1.0, "bit_correlation": 0.0}
    constant = np.ones((5, 3), np.int8)
    assert diag.bit_statistics(constant) == {"bit_balance": 1.0, "bit_entropy": 0.0, "bit_correlation": 0.0}
    copies = np.array([[1, 1], [-1, -1], [1, 1], [-1, -1]], np.int8)  # two copies of one bit
    assert diag.bit_statistics(copies)["bit_correlation"] == pytest.approx(1.0)


def test_semantic_bias_by_hand():
    # item 0 has both labels; class 0 has 4 items (0-3), class 1 has 3 (0, 4, 5)
    codes = np.array([[1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, 1], [1, 1, -1, -1], [1, 1, -1, -1]], np.int8)
    labels = np.array([[1, 1], [1, 0], [1, 0], [1, 0], [0, 1], [0, 1]], np.uint8)
    # centroid 0 = (1, 1, 1, 1); centroid 1 = sign(mean of items 0, 4, 5) = (1, 1, -1, -1)
    result = diag.semantic_bias(codes, labels)
    assert result["multi_label_items"] == 1
    assert result["semantic_bias_spread"] == pytest.approx(1.0)  # distances 0 and 2: sd 1
    assert result["nearest_is_frequent"] == 1.0  # the nearest own centroid (class 0) is its most frequent class
    assert result["nearest_is_frequent_chance"] == 0.5
    tied = diag.semantic_bias(codes[[0, 1, 2, 4, 5]], labels[[0, 1, 2, 4, 5]])  # 3 items each: a tie of frequency
    assert tied["nearest_is_frequent"] == 0.5  # the credit is shared between the tied most frequent classes


def test_auc_from_histograms_by_hand():
    # positives at distance 0 and 2, negatives at 2 and 3: P(pos < neg) = (1 + 1 + 0.5 * 1 + 1) / 4
    assert diag.auc_from_histograms([1, 0, 1, 0], [0, 0, 1, 1]) == pytest.approx(3.5 / 4)
    assert math.isnan(diag.auc_from_histograms([0, 0], [1, 1]))


def test_the_subsample_is_fixed_and_bounds_the_pairs():
    image, text, labels = random_case(0, n=2500, bits=16)
    first = diag.distance_separation(image, text, labels)
    assert first == diag.distance_separation(image, text, labels)
    assert sum(first["distance_histograms"]["intra"]) + sum(first["distance_histograms"]["inter"]) == 2000 * 1999
