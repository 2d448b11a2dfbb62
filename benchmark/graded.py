"""Graded-relevance retrieval metrics: how many labels a retrieved item shares with the query, not only whether it
shares one.

Binary relevance ("shares at least one label", ``map``) cannot tell an item that shares one of the query's three
labels from one that shares all three; losses that target graded similarity (soft supervised contrastive, DCGH's
class aggregation) are meant to rank the second higher. These metrics see that difference.

Definitions. For a query q and a retrieval item j, the relevance r(q, j) is the number of labels both have (a label
value > 0 counts as 1). The ranking is the suite's: the Hamming pass (``benchmark.metrics``) ranks by distance, ties
by retrieval index (the order of ``map``); the cosine rows (``benchmark.continuous``) by decreasing cosine, ties by
index. With r_i the relevance of the item at rank i and n the retrieval-set size, K above n counts as n (like
``map@K``):

* ``acg@K``: average cumulative gain, (1/K) Σ_{i≤K} r_i;
* ``ndcg@K``: DCG@K / IDCG@K with DCG@K = Σ_{i≤K} (2^{r_i} − 1) / log2(i + 1) and IDCG@K the DCG@K of the retrieval
  set sorted by decreasing relevance (the best any ranking can do);
* ``wmap``: weighted mAP (Zhao et al., "Deep Semantic Ranking Based Hashing for Multi-Label Image Retrieval",
  CVPR 2015), (1/N_rel) Σ_{k: r_k > 0} ACG@k over the whole ranking, N_rel the items with r > 0; ``wmap@K`` the same
  over the top K, divided by N_rel(K), the items with r > 0 among them.

A query without any item sharing a label (IDCG = 0, N_rel = 0) scores 0 in ``ndcg@K`` and ``wmap`` and stays in the
mean, as it does in ``map``; ``wmap@K`` is 0 for a query with no such item in its top K, as ``map@K`` is. The gains
2^r − 1 are exact up to r = 53 shared labels (and finite up to 1023).

Each ranking module computes, per query, the sums of :class:`GradedSums` in its own order; :func:`graded_metrics`
turns them into the metrics. This module imports neither torch nor the rest of the suite.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def grade_dtype(n_classes: int) -> np.dtype:
    """The unsigned integer type that holds any number of shared labels (0 … ``n_classes``)."""
    return np.min_scalar_type(max(int(n_classes), 1))


def gains(n_classes: int) -> np.ndarray:
    """``2^r − 1`` for r = 0 … ``n_classes`` shared labels: the gain of an item in DCG."""
    return np.exp2(np.arange(n_classes + 1, dtype=np.float64)) - 1.0


def discounts(n: int) -> np.ndarray:
    """``1 / log2(i + 1)`` for ranks i = 1 … ``n``."""
    return 1.0 / np.log2(np.arange(2, n + 2, dtype=np.float64))


@dataclass
class GradedSums:
    """Per query, what the graded metrics need from a ranking.

    Shapes: ``grade_hist`` ``(n_queries, n_classes + 1)`` the retrieval items sharing 0, 1, … labels with the
    query (their ranking does not matter: the ideal DCG comes from it); ``topk_gain`` ``(n_queries, len(topk))``
    Σ_{i≤K} r_i (exact integers); ``topk_dcg`` DCG@K; ``wap_sum`` ``(n_queries,)`` Σ over items with r > 0 of
    ACG at their rank; ``topk_wap`` the same sum over the top K.
    """

    grade_hist: np.ndarray
    topk_gain: np.ndarray
    topk_dcg: np.ndarray
    wap_sum: np.ndarray
    topk_wap: np.ndarray

    @classmethod
    def empty(cls, n_queries: int, n_classes: int, n_topk: int) -> "GradedSums":
        return cls(grade_hist=np.zeros((n_queries, n_classes + 1), np.int64), topk_gain=np.zeros((n_queries, n_topk)),
                   topk_dcg=np.zeros((n_queries, n_topk)), wap_sum=np.zeros(n_queries),
                   topk_wap=np.zeros((n_queries, n_topk)))


def ideal_dcg(grade_hist: np.ndarray, k: int) -> np.ndarray:
    """Per query, IDCG@k: the DCG@k of its retrieval set sorted by decreasing relevance, from the counts of items per
    relevance (``grade_hist``). The items of relevance v occupy one run of ranks; each run adds its gain times the
    sum of the discounts over its ranks within the first k (a difference of cumulative discounts)."""
    counts = grade_hist[:, :0:-1]  # relevance n_classes … 1, best first (relevance 0 adds nothing)
    end = np.cumsum(counts, axis=1)
    k = min(int(k), int(end.max(initial=0)))  # ranks past the last relevant item add nothing
    cumulative = np.concatenate([[0.0], np.cumsum(discounts(k))])  # Σ_{i≤m} 1/log2(i+1), m = 0 … k
    start = np.minimum(end - counts, k)
    return ((cumulative[np.minimum(end, k)] - cumulative[start]) * gains(grade_hist.shape[1] - 1)[:0:-1]).sum(axis=1)


def _mean_ratio(numerator: np.ndarray, denominator: np.ndarray) -> float:
    """Mean over queries of numerator / denominator, counting 0 where the denominator is 0."""
    return float(np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1), 0.0).mean())


def graded_metrics(sums: GradedSums, *, topk, n_retrieval: int, topk_rel: np.ndarray) -> dict[str, float]:
    """``wmap``, then ``ndcg@K``, ``acg@K`` and ``wmap@K`` for each K of ``topk``, from the per-query sums of one
    direction; ``topk_rel`` ``(n_queries, len(topk))``: the items with r > 0 within each query's top K."""
    n_relevant = sums.grade_hist[:, 1:].sum(axis=1)
    result = {"wmap": _mean_ratio(sums.wap_sum, n_relevant)}
    for j, k in enumerate(topk):
        result[f"ndcg@{k}"] = _mean_ratio(sums.topk_dcg[:, j], ideal_dcg(sums.grade_hist, k))
        result[f"acg@{k}"] = float((sums.topk_gain[:, j] / min(int(k), n_retrieval)).mean())
        result[f"wmap@{k}"] = _mean_ratio(sums.topk_wap[:, j], topk_rel[:, j])
    return result
