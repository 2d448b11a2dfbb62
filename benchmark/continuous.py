"""Retrieval metrics of real-valued features ranked by cosine similarity: the ceiling a hashing head starts from
(the reference row ``ref:continuous``).

The conventions are those of ``benchmark.metrics`` (docs/protocol.md): items ranked by decreasing cosine, ties
by retrieval index; relevant when sharing a label; a query without relevant items scores 0. Fed +-1 codes, whose
cosine orders items as their Hamming distance does, it gives exactly ``evaluate``'s ``map``, ``map@K``,
``precision@N`` and ``recall@N`` (tested) when 1/sqrt(bits) is exact in floating point (16 or 64 bits; at other
lengths rounding can break Hamming ties by a last-bit difference instead of by index: use ``evaluate`` for codes).
"""
from __future__ import annotations

import numpy as np

from .record import DIRECTION_MODALITIES, PRECISION_AT_N

#: Query x item pairs per chunk: bounds memory whatever the set sizes.
PAIRS_PER_CHUNK = 1 << 22


def _unit_rows(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def cosine_ranking_metrics(q_features, r_features, q_labels, r_labels, *, topk=(1000, 5000),
                           precision_at=PRECISION_AT_N) -> dict:
    """``map``, ``map@K``, ``precision@N`` / ``recall@N`` ({"n", "value"}) and the set sizes of one direction."""
    q, r = _unit_rows(q_features), _unit_rows(r_features)
    ql, rl = np.asarray(q_labels) > 0, np.asarray(r_labels) > 0
    n_q, n_r = len(q), len(r)
    grid = np.array([n for n in precision_at if n <= n_r], np.int64)
    topk = np.asarray(topk, np.int64)
    ap, topk_sum, topk_rel, hits_at_n, n_relevant = [], [], [], [], []
    ranks = np.arange(1, n_r + 1, dtype=np.float64)
    chunk = max(1, PAIRS_PER_CHUNK // n_r)
    for start in range(0, n_q, chunk):
        similarity = q[start:start + chunk] @ r.T
        order = np.argsort(-similarity, axis=1, kind="stable")  # ties keep retrieval-index order
        relevant = np.take_along_axis((ql[start:start + chunk].astype(np.float32) @ rl.T.astype(np.float32)) > 0,
                                      order, axis=1)
        hits = np.cumsum(relevant, axis=1)
        precision_at_hits = np.where(relevant, hits / ranks, 0.0)
        cumulative = np.cumsum(precision_at_hits, axis=1)
        ap.append(cumulative[:, -1])
        n_relevant.append(hits[:, -1])
        k_index = np.minimum(topk, n_r) - 1
        topk_sum.append(cumulative[:, k_index])
        topk_rel.append(hits[:, k_index])
        hits_at_n.append(hits[:, grid - 1])
    ap, n_relevant = np.concatenate(ap), np.concatenate(n_relevant)
    topk_sum, topk_rel, hits_at_n = np.concatenate(topk_sum), np.concatenate(topk_rel), np.concatenate(hits_at_n)

    def mean_ratio(numerator, denominator):
        return np.where(denominator > 0, numerator / np.maximum(denominator, 1), 0.0).mean(axis=0)

    result = {"map": float(mean_ratio(ap, n_relevant))}
    for j, k in enumerate(topk):
        result[f"map@{k}"] = float(mean_ratio(topk_sum[:, j], topk_rel[:, j]))
    result["precision@N"] = {"n": grid.tolist(), "value": (hits_at_n / grid).mean(0).tolist()}
    result["recall@N"] = {"n": grid.tolist(), "value": mean_ratio(hits_at_n, n_relevant[:, None]).tolist()}
    result.update(n_queries=n_q, n_retrieval=n_r)
    return result


def quantization_gap(outputs: dict[str, np.ndarray], query_labels, retrieval_labels,
                     code_maps: dict[str, float]) -> dict[str, float]:
    """Per cross-modal direction, mAP of the continuous outputs (``query_image``, ..., ``retrieval_text``) ranked
    by cosine minus ``code_maps[direction]``, the mAP of their sign codes: what binarisation costs."""
    gap = {}
    for direction in ("i2t", "t2i"):
        source, target = DIRECTION_MODALITIES[direction]
        continuous = cosine_ranking_metrics(outputs[f"query_{source}"], outputs[f"retrieval_{target}"], query_labels,
                                            retrieval_labels, topk=(), precision_at=())
        gap[direction] = continuous["map"] - code_maps[direction]
    return gap
