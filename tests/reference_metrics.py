"""Slow, obviously correct retrieval metrics used as references by the tests."""
from __future__ import annotations

import numpy as np


def mean_average_precision_reference(q_codes, r_codes, q_labels, r_labels) -> float:
    """mAP of Hamming ranking over the whole retrieval set, ties broken by retrieval index.

    One query at a time: a stable sort by Hamming distance, then the mean of the precision at the rank of
    each relevant item (relevant = shares at least one label); a query without relevant items scores 0.
    """
    q_codes, r_codes = np.sign(np.asarray(q_codes)), np.sign(np.asarray(r_codes))
    average_precisions = []
    for code, labels in zip(q_codes, np.asarray(q_labels)):
        hamming = (r_codes != code).sum(axis=1)
        order = np.argsort(hamming, kind="stable")
        relevant = (np.asarray(r_labels)[order] @ labels) > 0
        hits, precisions = 0, []
        for rank, is_relevant in enumerate(relevant, start=1):
            if is_relevant:
                hits += 1
                precisions.append(hits / rank)
        average_precisions.append(sum(precisions) / len(precisions) if precisions else 0.0)
    return float(np.mean(average_precisions))
