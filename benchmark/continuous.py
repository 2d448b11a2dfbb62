"""Retrieval metrics of real-valued features ranked by cosine similarity: the ceiling a hashing head starts from
(the reference row ``ref:continuous``).

The conventions are those of ``benchmark.metrics`` (docs/protocol.md): items ranked by decreasing cosine, ties
by retrieval index; relevant when sharing a label; a query without relevant items scores 0; the graded metrics of
``benchmark.graded`` (relevance = the number of labels shared) in the same order. Fed +-1 codes, whose cosine orders
items as their Hamming distance does, it gives exactly ``evaluate``'s ``map``, ``map@K``, ``precision@N``,
``recall@N``, ``ndcg@K``, ``acg@K``, ``wmap`` and ``wmap@K`` (tested) when 1/sqrt(bits) is exact in floating point
(16 or 64 bits; at other lengths rounding can break Hamming ties by a last-bit difference instead of by index: use
``evaluate`` for codes).
"""
from __future__ import annotations

import numpy as np

from .graded import GradedSums, discounts, gains, grade_dtype, graded_metrics
from .record import DIRECTION_MODALITIES, PRECISION_AT_N

#: Query x item pairs per chunk of query rows: bounds memory and keeps a chunk's arrays in cache.
PAIRS_PER_CHUNK = 1 << 18


def _unit_rows(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def ranking_order(scores: np.ndarray) -> np.ndarray:
    """``(rows, n)`` scores -> per row, item indices by decreasing score, equal scores by increasing index.

    The order of ``np.argsort(-scores, kind="stable")``, computed by the faster unstable sort and then, only
    inside each run of exactly equal scores, the indices put back in increasing order.
    """
    key = -scores
    order = np.argsort(key, axis=1)
    ranked = np.take_along_axis(key, order, axis=1)
    joined = np.zeros(scores.shape, bool)  # an item whose score equals the one ranked just before it
    np.equal(ranked[:, 1:], ranked[:, :-1], out=joined[:, 1:])
    if joined.any():
        tied = joined.copy()
        tied[:, :-1] |= joined[:, 1:]
        position = np.flatnonzero(tied)
        run = np.cumsum(~joined.ravel()[position])  # runs of ties, contiguous and increasing along `position`
        flat = order.ravel()  # a view: sorting (run, index) puts each run's indices in increasing order
        n = scores.shape[1]
        flat[position] = np.sort(run * n + flat[position]) % n
    return order


def cosine_ranking_metrics(q_features, r_features, q_labels, r_labels, *, topk=(1000, 5000),
                           precision_at=PRECISION_AT_N, chunk: int | None = None, graded: bool = True) -> dict:
    """``map``, ``map@K``, the graded ``wmap``, ``ndcg@K``, ``acg@K``, ``wmap@K`` (unless not ``graded``),
    ``precision@N`` / ``recall@N`` ({"n", "value"}) and the set sizes of one direction.

    ``chunk``: query rows per block (default: about ``PAIRS_PER_CHUNK`` pairs); the results do not depend on it.
    """
    q, r = _unit_rows(q_features), _unit_rows(r_features)
    ql, rl = (np.asarray(q_labels) > 0).astype(np.float32), (np.asarray(r_labels) > 0).astype(np.float32).T
    n_q, n_r, n_classes = len(q), len(r), ql.shape[1]
    grid = np.array([n for n in precision_at if n <= n_r], np.int64)
    topk = np.asarray(topk, np.int64)
    ap, n_relevant = np.zeros(n_q), np.zeros(n_q, np.int64)
    topk_sum, topk_rel = np.zeros((n_q, len(topk))), np.zeros((n_q, len(topk)), np.int64)
    hits_at_n = np.zeros((n_q, len(grid)), np.int64)
    sums = GradedSums.empty(n_q, n_classes, len(topk))
    discount = np.concatenate([[0.0], discounts(n_r)])  # at each 1-based rank
    chunk = chunk or max(1, PAIRS_PER_CHUNK // n_r)
    for start in range(0, n_q, chunk):
        rows = slice(start, min(start + chunk, n_q))
        order = ranking_order(q[rows] @ r.T)
        # labels shared with each item (sums of 0/1 in float32: exact), in rank order
        shared = np.take_along_axis((ql[rows] @ rl).astype(grade_dtype(n_classes)), order, axis=1)
        relevant = shared > 0
        # every relevant item of the block, row after row: its row, its 1-based rank and its hit count
        where = np.flatnonzero(relevant)
        row, rank = np.divmod(where, n_r)
        rank += 1
        counts = np.bincount(row, minlength=relevant.shape[0])
        first = np.cumsum(counts) - counts
        hits = np.arange(1, len(where) + 1) - first[row]
        precision = hits / rank
        n_rows = len(counts)
        n_relevant[rows] = counts
        ap[rows] = np.bincount(row, precision, minlength=n_rows)
        for j, k in enumerate(np.minimum(topk, n_r)):
            within = rank <= k
            topk_sum[rows, j] = np.bincount(row[within], precision[within], minlength=n_rows)
            topk_rel[rows, j] = np.bincount(row[within], minlength=n_rows)
        # relevant items ranked within the first N: positions in `where` before row * n_r + N
        ends = np.arange(n_rows)[:, None] * n_r + grid
        hits_at_n[rows] = np.searchsorted(where, ends, side="left") - first[:, None]
        if graded:
            _graded_chunk(rows, shared.ravel()[where], row, rank, first, counts, topk, n_r, discount, sums)

    def mean_ratio(numerator, denominator):
        return np.where(denominator > 0, numerator / np.maximum(denominator, 1), 0.0).mean(axis=0)

    result = {"map": float(mean_ratio(ap, n_relevant))}
    for j, k in enumerate(topk):
        result[f"map@{k}"] = float(mean_ratio(topk_sum[:, j], topk_rel[:, j]))
    if graded:
        result.update(graded_metrics(sums, topk=topk.tolist(), n_retrieval=n_r, topk_rel=topk_rel))
    result["precision@N"] = {"n": grid.tolist(), "value": (hits_at_n / grid).mean(0).tolist()}
    result["recall@N"] = {"n": grid.tolist(), "value": mean_ratio(hits_at_n, n_relevant[:, None]).tolist()}
    result.update(n_queries=n_q, n_retrieval=n_r)
    return result


def _graded_chunk(rows: slice, grades, row, rank, first, counts, topk, n_r: int, discount, sums: GradedSums) -> None:
    """The graded sums (``benchmark.graded``) of query rows ``rows`` from their relevant items, row after row:
    labels shared (``grades``), row in the chunk, 1-based rank; ``first`` and ``counts``: each row's first item and
    how many. The sums per row are ``np.bincount`` over its items in order, so they do not depend on the chunk."""
    n_rows, n_grades = len(counts), sums.grade_hist.shape[1]
    running = np.cumsum(grades, dtype=np.float64)  # exact integers: labels shared up to each item, chunk-wide
    running -= np.repeat(np.concatenate([[0.0], running])[first], counts)  # ... within its row
    acg = running / rank  # ACG at each relevant item's rank
    dcg = gains(n_grades - 1)[grades] * discount[rank]  # (2^r - 1) / log2(rank + 1)
    sums.wap_sum[rows] = np.bincount(row, acg, minlength=n_rows)
    for j, k in enumerate(np.minimum(topk, n_r)):
        within = rank <= k
        sums.topk_gain[rows, j] = np.bincount(row[within], grades[within], minlength=n_rows)
        sums.topk_dcg[rows, j] = np.bincount(row[within], dcg[within], minlength=n_rows)
        sums.topk_wap[rows, j] = np.bincount(row[within], acg[within], minlength=n_rows)
    hist = np.bincount(row * n_grades + grades, minlength=n_rows * n_grades).reshape(n_rows, n_grades)
    hist[:, 0] = n_r - counts
    sums.grade_hist[rows] = hist


def quantization_gap(outputs: dict[str, np.ndarray], query_labels, retrieval_labels,
                     code_maps: dict[str, float]) -> dict[str, float]:
    """Per cross-modal direction, mAP of the continuous outputs (``query_image``, ..., ``retrieval_text``) ranked
    by cosine minus ``code_maps[direction]``, the mAP of their sign codes: what binarisation costs."""
    gap = {}
    for direction in ("i2t", "t2i"):
        source, target = DIRECTION_MODALITIES[direction]
        continuous = cosine_ranking_metrics(outputs[f"query_{source}"], outputs[f"retrieval_{target}"], query_labels,
                                            retrieval_labels, topk=(), precision_at=(), graded=False)
        gap[direction] = continuous["map"] - code_maps[direction]
    return gap
