"""Hamming-ranking retrieval metrics, all from one pass over the (query, retrieval) pairs.

For each query the pass produces a histogram of (Hamming distance, relevant) counts and the ranks of
its relevant items under the deterministic order "distance, then retrieval index". Both come from one
stable counting sort of the items by distance, without any comparison sort: a counting pass (the
histogram) and a scatter pass that walks the items in index order with a running counter per distance
(SciPy's compiled COO -> CSR conversion, ``coo_tocsr``, is exactly that loop). It moves only the relevance
flags, so the relevance in rank order comes out directly and the relevant items' ranks are its nonzero
positions: O(n) per query in compiled loops, no per-item Python. Every metric of docs/protocol.md follows:

* ``map``: mean average precision over the whole retrieval set, ties broken by retrieval index;
* ``map_tie_aware``: its expectation over uniformly random orders inside each tie (He et al., "Hashing
  as Tie-Aware Learning to Rank", CVPR 2018), in closed form with digamma differences, and the bounds
  ``map_best`` / ``map_worst`` (relevant items first / last inside each tie);
* ``map@K``: truncated at rank K and divided by the number of relevant items in the top K;
* ``pr_radius``: precision and recall of all pairs within Hamming radius r = 0..k, pooled over queries (precision
  is None, undefined, at a radius within which nothing at all is retrieved: no code that close to any query);
* ``precision@N`` / ``recall@N``: averaged over queries on the grid ``PRECISION_AT_N``;
* graded relevance (``benchmark.graded``: relevance = the number of labels shared): ``ndcg@K``, ``acg@K``,
  ``wmap`` (weighted mAP over the whole ranking) and ``wmap@K``, in the same order as ``map`` (ties by index).

Conventions: a code bit is +1 where the value is >= 0 ({0, 1} codes and booleans are read as bits);
an item is relevant when it shares at least one label (> 0) with the query; a query without relevant
items scores 0 in every average and stays in the mean.

The pass counts the labels each pair shares (a popcount of the AND of the label words) and its sort moves that
count rather than a flag, so the binary metrics read "count > 0" and the graded ones the count itself, both in the
same rank order. A caller that scores the same items again and again (the trainer's validation after every epoch)
computes their relevance once (``relevance``) and passes it (``relevant=``), and leaves out what it does not read
(``graded=False``, ``tie_bounds=False``).

The CPU pass runs over blocks of query rows on ``threads`` threads (numpy and SciPy release the GIL in
these loops). Each query's numbers are computed the same way whatever the block or the thread that
computes them, so results never depend on the thread count or the chunking.
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch
from scipy.special import digamma

from .errors import check_int
from .graded import GradedSums, discounts, grade_dtype, graded_metrics
from .record import DEFAULT_TOPK, PRECISION_AT_N

try:  # the compiled stable counting sort behind scipy.sparse's COO -> CSR conversion
    from scipy.sparse._sparsetools import coo_tocsr as _coo_tocsr
except ImportError:  # pragma: no cover - a SciPy without it: the numpy fallback below
    _coo_tocsr = None

#: Pairs per chunk of queries on a GPU (the torch pass): bounds its memory whatever the set sizes.
PAIRS_PER_CHUNK = 1 << 23
#: Pairs per block of query rows on the CPU (each thread's buffers: about 15 bytes a pair, 23 with more than
#: 64 classes; with the graded metrics about 33, 36 with more than 255 classes): several rows at once for small
#: retrieval sets, one row at a time above this size.
PAIRS_PER_BLOCK = 1 << 17


@dataclass
class QueryStats(GradedSums):
    """What the pass keeps of each query; every metric is computed from these: the per-query sums of the graded
    metrics (the fields of ``benchmark.graded.GradedSums``, zeros when they were not asked for), and

    ``hist_all``, ``hist_rel`` ``(n_queries, n_bits + 1)`` items / relevant items at each
    distance; ``ap_sum`` ``(n_queries,)`` sum over relevant items of hits / rank; ``topk_sum``,
    ``topk_rel`` ``(n_queries, len(topk))`` the same sum and the relevant count within the first K;
    ``rel_at_n`` ``(n_queries, len(grid))`` relevant items within the first N.
    """

    hist_all: np.ndarray
    hist_rel: np.ndarray
    ap_sum: np.ndarray
    topk_sum: np.ndarray
    topk_rel: np.ndarray
    rel_at_n: np.ndarray

    @classmethod
    def empty(cls, n_queries: int, n_bits: int, n_topk: int, n_grid: int, n_classes: int) -> "QueryStats":
        return cls(
            hist_all=np.zeros((n_queries, n_bits + 1), np.int64),
            hist_rel=np.zeros((n_queries, n_bits + 1), np.int64),
            ap_sum=np.zeros(n_queries),
            topk_sum=np.zeros((n_queries, n_topk)),
            topk_rel=np.zeros((n_queries, n_topk), np.int64),
            rel_at_n=np.zeros((n_queries, n_grid), np.int64),
            **vars(GradedSums.empty(n_queries, n_classes, n_topk)),
        )

    @classmethod
    def concat(cls, parts: list["QueryStats"]) -> "QueryStats":
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in cls.__dataclass_fields__))


# ----------------------------------------------------------------------------------------- inputs


def _as_array(x, name: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        array = (x.float() if x.dtype == torch.bfloat16 else x).numpy()
    else:
        array = np.asarray(x)
    if array.ndim != 2 or 0 in array.shape:
        raise ValueError(f"{name} must be a non-empty 2-D array (items, columns); got shape {array.shape}")
    if array.dtype != bool and not np.issubdtype(array.dtype, np.number):
        raise ValueError(f"{name} must be numeric or boolean; got dtype {array.dtype}")
    if np.issubdtype(array.dtype, np.floating) and np.isnan(array).any():
        raise ValueError(f"{name} contains NaN (first at row {int(np.isnan(array).any(1).argmax())}); "
                         "check the model's outputs before evaluating")
    return array


def code_bits(codes, name: str = "codes") -> np.ndarray:
    """``(n, k)`` codes -> boolean bits: +-1 or real values by ``x >= 0``; {0, 1} or bool as they are."""
    array = _as_array(codes, name)
    if array.dtype == bool:
        return array
    if _zero_one(array):
        return array == 1
    return array >= 0


def _zero_one(array: np.ndarray) -> bool:
    """Whether every value is 0 or 1 (a min/max test first: ``np.isin`` takes 0.2 s on NUS-WIDE's codes)."""
    if array.dtype.kind not in "iuf":
        return bool(np.isin(array, (0, 1)).all())
    if array.min() < 0 or array.max() > 1:
        return False
    return array.dtype.kind != "f" or bool(((array == 0) | (array == 1)).all())


def _check_labels(q_labels, r_labels) -> tuple[np.ndarray, np.ndarray]:
    """Both label matrices as booleans (> 0 is a label), with the same classes."""
    ql, rl = _as_array(q_labels, "q_labels") > 0, _as_array(r_labels, "r_labels") > 0
    if ql.shape[1] != rl.shape[1]:
        raise ValueError(f"query labels have {ql.shape[1]} classes but retrieval labels have {rl.shape[1]}")
    return ql, rl


def _check_inputs(q_codes, r_codes, q_labels, r_labels):
    qb, rb = code_bits(q_codes, "q_codes"), code_bits(r_codes, "r_codes")
    if qb.shape[1] != rb.shape[1]:
        raise ValueError(f"query codes have {qb.shape[1]} bits but retrieval codes have {rb.shape[1]}; "
                         "both sides must come from the same hash length")
    ql, rl = _check_labels(q_labels, r_labels)
    for side, codes, labels in (("query", qb, ql), ("retrieval", rb, rl)):
        if codes.shape[0] != labels.shape[0]:
            raise ValueError(f"{side} codes have {codes.shape[0]} rows but {side} labels have {labels.shape[0]}")
    return qb, rb, ql, rl


def _pack_words(bits: np.ndarray) -> np.ndarray:
    """``(n, m)`` bool -> ``(n, ceil(m / 64))`` uint64 words (bit j of the row in word j // 64)."""
    packed = np.packbits(bits, axis=1, bitorder="little")
    packed = np.pad(packed, ((0, 0), (0, -packed.shape[1] % 8)))
    return np.ascontiguousarray(packed).view(np.uint64)


# --------------------------------------------------------------------------------- the one pass


def _partition_numpy(keys, n_keys: int, relevant, ptr, ranked, perm) -> None:
    """What :func:`_coo_tocsr` computes, in numpy (slower: a radix argsort and a gather)."""
    order = np.argsort(keys, kind="stable")
    np.take(relevant, order, out=ranked)
    ptr[0] = 0
    np.cumsum(np.bincount(keys, minlength=n_keys), out=ptr[1:])
    perm[:] = keys[order]


def _compiled_partition_works() -> bool:
    """SciPy's ``coo_tocsr`` is private API: use it only when it sorts a small case like the fallback, with the
    shared-label counts the pass moves (uint8, uint16 beyond 255 classes)."""
    if _coo_tocsr is None:
        return False
    keys = np.array([2, 0, 2, 1, 0, 2, 1], np.int32)
    for dtype in (np.uint8, np.uint16):
        grades = np.array([1, 0, 0, 3, 2, 1, 0], dtype)
        out = [(np.empty(4, np.int32), np.empty(7, dtype), np.empty(7, np.int32)) for _ in range(2)]
        try:
            _coo_tocsr(3, 3, 7, keys, keys, grades, out[0][0], out[0][2], out[0][1])
        except Exception:  # pragma: no cover - another signature in some SciPy version
            return False
        _partition_numpy(keys, 3, grades, out[1][0], out[1][1], out[1][2])
        if not all(np.array_equal(a, b) for a, b in zip(out[0], out[1])):
            return False  # pragma: no cover
    return True


#: Whether the pass uses SciPy's compiled counting sort (tests switch it off to check the fallback).
USE_COMPILED_PARTITION = _compiled_partition_works()


def _partition(keys, n_keys: int, relevant, ptr, ranked, perm) -> None:
    """Stable counting sort of the items by ``keys`` (< ``n_keys``), moving only their relevance.

    Writes ``ptr`` (``n_keys + 1``: where each key's items start in the sorted order, i.e. the cumulative
    histogram) and ``ranked`` (the relevance values, flags or shared-label counts, in sorted order: by key,
    then by index); ``perm`` is scratch.
    """
    if USE_COMPILED_PARTITION:
        _coo_tocsr(n_keys, n_keys, len(keys), keys, keys, relevant, ptr, perm, ranked)
    else:
        _partition_numpy(keys, n_keys, relevant, ptr, ranked, perm)


#: The largest block (pairs) whose keys and positions are int32 (int64 beyond).
INT32_PAIRS = 2**31 - 2


class _Workspace:
    """One thread's buffers for blocks of ``rows`` query rows against ``n_r`` items (reused block after block)."""

    def __init__(self, rows: int, n_r: int, n_bits: int, n_classes: int, graded: bool = True):
        pairs = rows * n_r
        index = np.int32 if max(pairs, rows * (n_bits + 1)) <= INT32_PAIRS else np.int64
        # relevance: the labels shared with the query for the graded metrics (relevant: > 0), else a flag
        grade = grade_dtype(n_classes) if graded else np.dtype(bool)
        label_words = -(-n_classes // 64)
        self.words = np.empty(pairs, np.uint64)
        self.more_words = np.empty(pairs, np.uint64) if label_words > 1 and not graded else None
        self.count = np.empty(pairs, np.uint8)
        self.keys = np.empty(pairs, index)  # query row in the block * (n_bits + 1) + distance
        self.relevant = np.empty(pairs, grade)
        self.ptr = np.empty(rows * (n_bits + 1) + 1, index)
        self.ranked = np.zeros(pairs + 1, grade)  # ranked[0] stays 0, so nonzero positions are 1-based ranks
        self.graded = graded
        if graded:
            self.flags = np.empty(pairs + 1, bool)  # ranked != 0 (nonzero of flags is several times faster)
            self.grades = np.empty(pairs, grade)  # the counts of the relevant items, in rank order
            self.running = np.zeros(pairs + 1)  # running[0] stays 0: labels shared up to each relevant item
            self.dcg, self.discount_at = np.empty((2, n_r))  # one row's DCG terms and their discounts
            self.discount = np.zeros(pairs + 1)  # at every 1-based position of the block: 1 / log2(rank + 1)
            self.discount[1:].reshape(rows, n_r)[:] = discounts(n_r)
        # `words` is free once distances and relevance are done: the sort's scratch output and the
        # precisions reuse it (a smaller working set stays in cache)
        self.perm = self.words.view(index)[:pairs]
        self.precision = self.words.view(np.float64)
        self.bucket_offsets = (np.arange(rows, dtype=index) * (n_bits + 1))[:, None]


def _numpy_block(s: int, e: int, ws: _Workspace, packed, relevant_rows, n_bits: int, topk, grid, hits,
                 stats: QueryStats) -> None:
    """The pass for query rows ``s:e`` on the CPU, written into rows ``s:e`` of ``stats``; ``relevant_rows``: the
    caller's ``(n_q, n_r)`` flags of the pairs sharing a label, or None to compute them from the packed labels.

    Everything a query gets is computed from its own row with the same operations whatever ``s:e``, so the
    results do not depend on the blocks or the threads.
    """
    qw, rws, qlw, rlws = packed
    rows, n = e - s, len(rws[0])
    pairs, buckets = rows * n, rows * (n_bits + 1)
    shape = (rows, n)
    words, count = ws.words[:pairs].reshape(shape), ws.count[:pairs].reshape(shape)
    keys, relevant = ws.keys[:pairs].reshape(shape), ws.relevant[:pairs].reshape(shape)
    for w, rw in enumerate(rws):  # distance: popcount of the XOR of the code words
        np.bitwise_xor(qw[s:e, w, None], rw, out=words)
        np.bitwise_count(words, out=count)
        if w == 0:
            np.copyto(keys, count)
        else:
            np.add(keys, count, out=keys)
    if rows > 1:
        np.add(keys, ws.bucket_offsets[:rows], out=keys)  # one key range per query row
    if relevant_rows is not None:
        relevant = relevant_rows[s:e]
    elif ws.graded:
        for w, rlw in enumerate(rlws):  # relevance: the labels in common, a popcount of the label words' AND
            np.bitwise_and(qlw[s:e, w, None], rlw, out=words)
            if w == 0:
                np.bitwise_count(words, out=relevant)
            else:
                np.bitwise_count(words, out=count)
                np.add(relevant, count, out=relevant)
    else:
        np.bitwise_and(qlw[s:e, 0, None], rlws[0], out=words)  # relevance: any label in common
        for w in range(1, len(rlws)):
            more = ws.more_words[:pairs].reshape(shape)
            np.bitwise_and(qlw[s:e, w, None], rlws[w], out=more)
            np.bitwise_or(words, more, out=words)
        np.not_equal(words, 0, out=relevant)

    ptr, ranked = ws.ptr[:buckets + 1], ws.ranked[:pairs + 1]
    _partition(ws.keys[:pairs], buckets, relevant.reshape(-1), ptr, ranked[1:], ws.perm[:pairs])
    flags = ranked
    if ws.graded:  # counts -> flags: nonzero of a bool array is several times faster
        flags = ws.flags[:pairs + 1]
        np.not_equal(ranked, 0, out=flags)
    rank = np.flatnonzero(flags)  # 1-based position in the block of every relevant item, in rank order
    # relevant items before each bucket's end; a row's buckets end at its items' positions + row * n
    rel_before = np.searchsorted(rank, ptr, side="right")
    stats.hist_all[s:e] = np.diff(ptr).reshape(rows, n_bits + 1)
    stats.hist_rel[s:e] = np.diff(rel_before).reshape(rows, n_bits + 1)
    first = rel_before[:-1:n_bits + 1]  # index in `rank` of each row's first relevant item
    n_rel = np.diff(rel_before[::n_bits + 1])
    row_start = np.arange(rows)[:, None] * n  # what a row's positions in the block add to its ranks
    if len(topk):
        stats.topk_rel[s:e] = np.searchsorted(rank, row_start + np.minimum(topk, n), side="right") - first[:, None]
    if len(grid):
        stats.rel_at_n[s:e] = np.searchsorted(rank, row_start + grid, side="right") - first[:, None]
    topk_rel = stats.topk_rel[s:e]
    if ws.graded:
        graded = _graded_block(s, e, ws, rank, first, n_rel, n, stats)

    precision = ws.precision[:len(rank)]  # hits / rank of each relevant item, row after row
    np.copyto(precision, rank)  # int64 -> float64 once: faster than mixed-type arithmetic
    for i in range(rows):
        mine = precision[first[i]:first[i] + n_rel[i]]
        if i:
            np.subtract(mine, i * n, out=mine)  # rank within the query's own row (exact in float64)
        if ws.graded:
            graded(i, mine)
        np.divide(hits[:len(mine)], mine, out=mine)
        stats.ap_sum[s + i] = mine.sum()
        for j, m in enumerate(topk_rel[i]):
            stats.topk_sum[s + i, j] = mine[:m].sum()


def _graded_block(s: int, e: int, ws: _Workspace, rank, first, n_rel, n: int, stats: QueryStats):
    """The graded sums of query rows ``s:e`` (``benchmark.graded``) from the relevant items' 1-based positions in
    the block (``rank``, row after row, each row's from ``first``). The block-wide work is elementwise or exact
    (integer running sums in float64); the returned function finishes row ``i`` given its items' ranks within the
    row (float64), so each query's numbers do not depend on the block either."""
    found = len(rank)
    grades = ws.grades[:found]
    np.take(ws.ranked, rank, out=grades, mode="clip")  # labels each relevant item shares, in rank order
    # (mode "clip": the positions are valid, and np.take buffers `out` only in the default mode, "raise")
    running = ws.running[:found + 1]
    np.copyto(running[1:], grades)
    # labels shared up to each relevant item, block-wide: exact integers, so the order of the additions does not
    # matter, and torch's scan is several times faster than numpy's
    torch.from_numpy(running[1:]).cumsum_(0)
    before = running[first]  # ... before each row's first one (a copy: `running` becomes ACG row by row)
    topk_rel = stats.topk_rel[s:e]
    stats.topk_gain[s:e] = running[first[:, None] + topk_rel] - before[:, None]
    _grade_histogram(grades, first, n_rel, n, stats.grade_hist[s:e], ws.flags)
    # Python numbers for the row loop; DCG needs only the relevant items within the largest K
    starts, ends, before = first.tolist(), (first + n_rel).tolist(), before.tolist()
    within, deepest = topk_rel.tolist(), topk_rel.max(axis=1, initial=0).tolist()
    wap_sum, topk_wap, topk_dcg = stats.wap_sum[s:e], stats.topk_wap[s:e], stats.topk_dcg[s:e]
    add = np.add.reduce

    def row(i: int, ranks: np.ndarray) -> None:
        a, b, m = starts[i], ends[i], deepest[i]
        acg = running[a + 1:b + 1]
        np.subtract(acg, before[i], out=acg)  # labels shared up to each of the row's relevant items
        np.divide(acg, ranks, out=acg)  # ACG at its rank
        wap_sum[i] = add(acg)
        if m:
            discount, dcg = ws.discount_at[:m], ws.dcg[:m]
            np.take(ws.discount, rank[a:a + m], out=discount, mode="clip")  # 1 / log2(rank + 1)
            np.ldexp(discount, grades[a:a + m], out=dcg)
            np.subtract(dcg, discount, out=dcg)  # (2^r - 1) / log2(rank + 1)
            for j, k in enumerate(within[i]):
                topk_dcg[i, j] = add(dcg[:k])
                topk_wap[i, j] = add(acg[:k])

    return row


def _grade_histogram(grades, first, n_rel, n: int, hist, flags) -> None:
    """``hist`` (rows, n_classes + 1): each row's items per number of labels shared, from the counts of its relevant
    items (``grades``, row after row, each row's from ``first``): for v = 2, 3, ... up to the most shared in the
    block, one compare over the block and a count per row of the items sharing at least v."""
    hist[:, 0] = n - n_rel
    at_least, top = n_rel, int(grades.max(initial=1))
    flags = flags[:len(grades)]
    for v in range(2, top + 1):
        np.greater_equal(grades, v, out=flags)
        more = np.array([np.count_nonzero(flags[a:a + m]) for a, m in zip(first.tolist(), n_rel.tolist())])
        hist[:, v - 1] = at_least - more
        at_least = more
    hist[:, top] = at_least


def _numpy_pass(qb, rb, ql, rl, topk, grid, chunk: int | None, threads: int | None, graded: bool,
                relevant=None) -> QueryStats:
    """The pass on the CPU over blocks of query rows, on ``threads`` threads (one workspace each)."""
    n_q, n_r, n_bits = qb.shape[0], rb.shape[0], qb.shape[1]
    qw, rw = _pack_words(qb), _pack_words(rb)
    qlw, rlw = (None, None) if relevant is not None else (_pack_words(ql), _pack_words(rl))
    packed = (qw, [np.ascontiguousarray(rw[:, w]) for w in range(rw.shape[1])],
              qlw, None if rlw is None else [np.ascontiguousarray(rlw[:, w]) for w in range(rlw.shape[1])])
    rows = min(n_q, chunk or max(1, PAIRS_PER_BLOCK // n_r))
    starts = range(0, n_q, rows)
    if threads is None:
        threads = min(torch.get_num_threads(), _available_cores())
    workers = max(1, min(threads, len(starts)))
    stats = QueryStats.empty(n_q, n_bits, len(topk), len(grid), ql.shape[1])
    hits = np.arange(1, n_r + 1, dtype=np.float64)
    local = threading.local()

    def run(s):
        ws = getattr(local, "workspace", None)
        if ws is None:
            ws = local.workspace = _Workspace(rows, n_r, n_bits, ql.shape[1], graded)
        _numpy_block(s, min(s + rows, n_q), ws, packed, relevant, n_bits, topk, grid, hits, stats)

    if workers == 1:
        for s in starts:
            run(s)
    else:
        with ThreadPoolExecutor(workers) as pool:
            for _ in pool.map(run, starts):
                pass
    return stats


def _available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def _stats_torch(q, r, ql, rl, n_bits: int, topk: np.ndarray, grid: np.ndarray, graded: bool,
                 relevant=None) -> QueryStats:
    """The same pass with torch ops, for a GPU: ``q``, ``r`` +-1 float codes, ``ql``, ``rl`` 0/1 float labels
    (``relevant``: the pairs' given "shares a label" flags instead, for the binary metrics)."""
    n_q, n_r, n_classes = q.shape[0], r.shape[0], ql.shape[1]
    dist = ((n_bits - q @ r.T) / 2).round().long()
    if relevant is not None:
        shared = relevant.long()
    else:
        shared = (ql @ rl.T).round().long()  # labels in common (exact: sums of 0/1 in float32)
    relevant = shared > 0
    order = torch.argsort(dist, dim=1, stable=True)
    ranked_shared = shared.gather(1, order)
    ranked_rel = ranked_shared > 0
    hits = ranked_rel.cumsum(1)
    ranks = torch.arange(1, n_r + 1, device=q.device, dtype=torch.float64)
    precision_at_hits = torch.where(ranked_rel, hits / ranks, 0.0).cumsum(1)
    hist = torch.zeros(n_q, 2 * (n_bits + 1), dtype=torch.long, device=q.device)
    hist.scatter_add_(1, 2 * dist + relevant, torch.ones_like(dist))
    hist = hist.view(n_q, n_bits + 1, 2)
    topk_index = torch.as_tensor(np.minimum(topk, n_r) - 1, device=q.device)
    grid_index = torch.as_tensor(grid - 1, device=q.device)
    stats = QueryStats(
        hist_all=hist.sum(2).cpu().numpy(),
        hist_rel=hist[:, :, 1].cpu().numpy(),
        ap_sum=precision_at_hits[:, -1].cpu().numpy(),
        topk_sum=precision_at_hits[:, topk_index].cpu().numpy(),
        topk_rel=hits[:, topk_index].cpu().numpy(),
        rel_at_n=hits[:, grid_index].cpu().numpy(),
        **vars(GradedSums.empty(n_q, n_classes, len(topk))),
    )
    if graded:
        gain = ranked_shared.to(torch.float64)
        running = gain.cumsum(1)  # labels shared up to each rank
        acg_at_hits = torch.where(ranked_rel, running / ranks, 0.0).cumsum(1)
        dcg = ((torch.exp2(gain) - 1) / torch.log2(ranks + 1)).cumsum(1)
        grade_hist = torch.zeros(n_q, n_classes + 1, dtype=torch.long, device=q.device)
        grade_hist.scatter_add_(1, shared, torch.ones_like(shared))
        stats.grade_hist = grade_hist.cpu().numpy()
        stats.topk_gain = running[:, topk_index].cpu().numpy()
        stats.topk_dcg = dcg[:, topk_index].cpu().numpy()
        stats.wap_sum = acg_at_hits[:, -1].cpu().numpy()
        stats.topk_wap = acg_at_hits[:, topk_index].cpu().numpy()
    return stats


def query_stats(qb, rb, ql, rl, *, topk, grid, device=None, chunk: int | None = None,
                backend: str | None = None, threads: int | None = None, graded: bool = True,
                relevant: np.ndarray | None = None) -> QueryStats:
    """Run the pass over query chunks of boolean codes ``qb``, ``rb`` and labels ``ql``, ``rl``.

    ``backend``: ``"numpy"`` (the default on the CPU) or ``"torch"`` (the default on any other device; on
    the CPU it serves to test the GPU code). ``chunk``: query rows per block (numpy: by default enough
    rows for about ``PAIRS_PER_BLOCK`` pairs; torch: about ``PAIRS_PER_CHUNK``). ``threads``: threads of
    the numpy pass (by default ``torch.get_num_threads()``, at most the cores this process may use);
    the results are the same for any value. ``graded``: also the sums of the graded metrics (else zeros).
    ``relevant``: the ``(n_q, n_r)`` bool flags of the pairs sharing a label (:func:`relevance`), already known;
    binary metrics only (``graded=False``).
    """
    n_r = rb.shape[0]
    topk, grid = np.asarray(topk, np.int64), np.asarray(grid, np.int64)
    device = torch.device(device) if device is not None else torch.device("cpu")
    if (backend or ("numpy" if device.type == "cpu" else "torch")) == "numpy":
        return _numpy_pass(qb, rb, ql, rl, topk, grid, chunk, threads, graded, relevant)
    chunk = chunk or max(1, PAIRS_PER_CHUNK // n_r)
    q, r = (torch.as_tensor(b, device=device).float() * 2 - 1 for b in (qb, rb))
    ql_t, rl_t = (torch.as_tensor(lab, device=device).float() for lab in (ql, rl))
    rel = None if relevant is None else torch.as_tensor(relevant, device=device)
    return QueryStats.concat([_stats_torch(q[s:s + chunk], r, ql_t[s:s + chunk], rl_t, qb.shape[1], topk, grid, graded,
                                           None if rel is None else rel[s:s + chunk])
                              for s in range(0, qb.shape[0], chunk)])


# ------------------------------------------------------------------------------------ the metrics


def _mean_ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """Mean over queries (axis 0) of numerator / denominator, counting 0 where the denominator is 0."""
    return np.where(denominator > 0, numerator / np.maximum(denominator, 1), 0.0).mean(axis=0)


def _harmonic_difference(upper: np.ndarray, lower: np.ndarray) -> np.ndarray:
    """``H(upper) - H(lower)`` for harmonic numbers, as a digamma difference."""
    return digamma(upper + 1.0) - digamma(lower + 1.0)


def tie_bounded_ap_sums(stats: QueryStats) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per query, the sums over relevant items of hits / rank: expected under random tie order, best, worst.

    For a bucket of ``n`` items, ``r`` of them relevant, after ``N`` items of which ``R`` relevant, a
    uniformly random order puts a relevant item at bucket position t with probability r / n and, given
    that, (t - 1)(r - 1)/(n - 1) relevant items before it on average, so the bucket adds
    ``r/n * sum_t (R + 1 + (t-1) a) / (N + t)`` with ``a = (r-1)/(n-1)``
    ``= r/n * ((R + 1 - a (N + 1)) (H(N+n) - H(N)) + a n)``.
    Best (relevant first) adds ``r + (R - N)(H(N+r) - H(N))``; worst (relevant last)
    ``r + (R - N - n + r)(H(N+n) - H(N+n-r))``.
    """
    n, r = stats.hist_all.astype(float), stats.hist_rel.astype(float)
    before_n, before_r = np.cumsum(n, 1) - n, np.cumsum(r, 1) - r
    a = np.where(n > 1, (r - 1) / np.maximum(n - 1, 1), 0.0)
    occupied = r > 0
    expected = np.where(occupied, r / np.maximum(n, 1) * (
        (before_r + 1 - a * (before_n + 1)) * _harmonic_difference(before_n + n, before_n) + a * n), 0.0)
    best = np.where(occupied, r + (before_r - before_n) * _harmonic_difference(before_n + r, before_n), 0.0)
    worst = np.where(occupied, r + (before_r - before_n - n + r)
                     * _harmonic_difference(before_n + n, before_n + n - r), 0.0)
    return expected.sum(1), best.sum(1), worst.sum(1)


def metrics_from_stats(stats: QueryStats, *, n_retrieval: int, topk, grid, radius: bool = True,
                       graded: bool = True, tie_bounds: bool = True) -> dict:
    """Every metric from the per-query numbers of the pass (see the module docstring); the graded ones
    (``wmap``, ``ndcg@K``, ``acg@K``, ``wmap@K``) when ``graded``, the tie-aware mAP and its bounds when
    ``tie_bounds``."""
    n_relevant = stats.hist_rel.sum(1)
    n_queries, n_bits = stats.hist_all.shape[0], stats.hist_all.shape[1] - 1
    result = {"map": float(_mean_ratio(stats.ap_sum, n_relevant))}
    if tie_bounds:
        expected, best, worst = tie_bounded_ap_sums(stats)
        result.update(map_tie_aware=float(_mean_ratio(expected, n_relevant)),
                      map_best=float(_mean_ratio(best, n_relevant)), map_worst=float(_mean_ratio(worst, n_relevant)))
    for j, k in enumerate(topk):
        result[f"map@{k}"] = float(_mean_ratio(stats.topk_sum[:, j], stats.topk_rel[:, j]))
    if graded:
        result.update(graded_metrics(stats, topk=topk, n_retrieval=n_retrieval, topk_rel=stats.topk_rel))
    if radius:
        within = np.cumsum(stats.hist_all.sum(0))
        rel_within = np.cumsum(stats.hist_rel.sum(0))
        total_relevant = n_relevant.sum()
        result["pr_radius"] = {
            "radius": list(range(n_bits + 1)),
            "precision": [float(p) if n else None for p, n in zip(rel_within / np.maximum(within, 1), within)],
            "recall": (rel_within / total_relevant if total_relevant else np.zeros(n_bits + 1)).tolist(),
        }
    grid = np.asarray(grid)
    result["precision@N"] = {"n": grid.tolist(), "value": (stats.rel_at_n / grid).mean(0).tolist()}
    result["recall@N"] = {"n": grid.tolist(),
                          "value": _mean_ratio(stats.rel_at_n, n_relevant[:, None]).tolist()}
    result.update(n_queries=n_queries, n_retrieval=n_retrieval, n_bits=n_bits)
    return result


def _check_positive_ints(name: str, values) -> tuple[int, ...]:
    return tuple(check_int(f"each of {name}", v, minimum=1, error=ValueError) for v in values)


def evaluate(
    q_codes,
    r_codes,
    q_labels,
    r_labels,
    *,
    topk=DEFAULT_TOPK,
    radius: bool = True,
    precision_at=PRECISION_AT_N,
    device=None,
    chunk: int | None = None,
    threads: int | None = None,
    graded: bool = True,
    tie_bounds: bool = True,
    relevant=None,
) -> dict:
    """Every retrieval metric of one direction (queries of one modality against a database of another).

    Args:
        q_codes, r_codes: ``(n_q, k)`` / ``(n_r, k)`` codes: +-1, {0, 1}, bool or real values (x >= 0 is +1);
            torch tensors or numpy arrays.
        q_labels, r_labels: ``(n_q, c)`` / ``(n_r, c)`` multi-hot labels of any numeric dtype (> 0 is a label).
        topk: the K of ``map@K``, ``ndcg@K``, ``acg@K`` and ``wmap@K`` (K above n_r counts as n_r).
        radius: also compute ``pr_radius``.
        precision_at: the N of ``precision@N`` / ``recall@N``; values above n_r are left out.
        device: ``"cpu"`` for the numpy pass, or a torch device (e.g. ``"cuda"``); ``None`` uses the device
            of ``q_codes`` when it is a torch tensor, else the CPU.
        chunk: query rows per block (default: a block of about 128K pairs on the CPU, whose working set
            stays in cache; about 8M pairs per chunk on a GPU). Bounds memory; results do not depend on it.
        threads: threads of the CPU pass (default: ``torch.get_num_threads()``, at most the cores this
            process may run on; ``threads=1`` on a shared machine). Results do not depend on it.
        graded: also the graded-relevance metrics (``benchmark.graded``: relevance = labels shared; ``ndcg@K``,
            ``acg@K``, ``wmap``, ``wmap@K``), ranked in the same order as ``map`` (ties by retrieval index).
        tie_bounds: also ``map_tie_aware``, ``map_best`` and ``map_worst``.
        relevant: the ``(n_q, n_r)`` flags of the pairs sharing a label, as :func:`relevance` returns them for
            these labels, when the caller scores the same items again and again (the trainer's validation after
            every epoch): the pass then skips computing them. Binary metrics only (``graded=False``).

    Returns:
        ``{"map", "map_tie_aware", "map_best", "map_worst", "map@K"..., "wmap", "ndcg@K", "acg@K", "wmap@K"...,
        "pr_radius": {"radius", "precision", "recall"}, "precision@N": {"n", "value"}, "recall@N": {"n", "value"},
        "n_queries", "n_retrieval", "n_bits"}`` with plain floats and lists (JSON-ready).

    Raises:
        ValueError: shapes that do not match, empty sets, NaN codes, different bit lengths, bad options.
    """
    if device is None and isinstance(q_codes, torch.Tensor) and q_codes.device.type != "cpu":
        device = q_codes.device  # codes already on a GPU are evaluated there
    qb, rb, ql, rl = _check_inputs(q_codes, r_codes, q_labels, r_labels)
    topk = _check_positive_ints("topk", topk)
    grid = tuple(n for n in _check_positive_ints("precision_at", precision_at) if n <= rb.shape[0])
    if chunk is not None:
        check_int("chunk (queries per chunk)", chunk, minimum=1, error=ValueError)
    if threads is not None:
        check_int("threads", threads, minimum=1, error=ValueError)
    if relevant is not None:
        relevant = _check_relevant(relevant, ql.shape[0], rl.shape[0], graded)
    stats = query_stats(qb, rb, ql, rl, topk=topk, grid=grid, device=device, chunk=chunk, threads=threads,
                        graded=graded, relevant=relevant)
    return metrics_from_stats(stats, n_retrieval=rb.shape[0], topk=topk, grid=grid, radius=radius, graded=graded,
                              tie_bounds=tie_bounds)


def relevance(q_labels, r_labels) -> np.ndarray:
    """``(n_q, n_r)`` bool: which retrieval items share at least one label with each query (what :func:`evaluate`
    takes as ``relevant``), one byte a pair: 10 MB for a validation split of 1000 queries and 10,000 items.

    >>> relevance(np.array([[1, 0], [0, 0]]), np.array([[1, 1], [0, 1], [1, 0]])).astype(int).tolist()
    [[1, 0, 1], [0, 0, 0]]
    """
    qlw, rlw = (_pack_words(labels) for labels in _check_labels(q_labels, r_labels))
    flags = np.zeros((len(qlw), len(rlw)), bool)
    for w in range(qlw.shape[1]):
        flags |= (qlw[:, w, None] & rlw[None, :, w]) != 0
    return flags


def _check_relevant(relevant, n_q: int, n_r: int, graded: bool) -> np.ndarray:
    if graded:
        raise ValueError("relevant= serves the binary metrics only: pass graded=False with it")
    relevant = relevant.cpu().numpy() if isinstance(relevant, torch.Tensor) else np.asarray(relevant)
    if relevant.shape != (n_q, n_r) or relevant.dtype != bool:
        raise ValueError(f"relevant must be a ({n_q}, {n_r}) bool array (metrics.relevance of the labels), "
                         f"got {relevant.dtype} {relevant.shape}")
    return np.ascontiguousarray(relevant)


def mean_average_precision(q_codes, r_codes, q_labels, r_labels, ties: str = "index", k: int | None = None,
                           **options) -> float:
    """mAP of one direction: ``ties="index"`` (stable order by distance then retrieval index, optionally
    truncated at ``k``) or ``ties="aware"`` (expected value over random orders inside ties, whole set).

    ``options`` (``device``, ``chunk``, ``threads``) are passed to :func:`evaluate`.
    """
    if ties not in ("index", "aware"):
        raise ValueError(f"ties must be 'index' or 'aware', got {ties!r}")
    if ties == "aware" and k is not None:
        raise ValueError("tie-aware mAP is computed over the whole retrieval set; use k=None, or ties='index' with k")
    result = evaluate(q_codes, r_codes, q_labels, r_labels, topk=() if k is None else (k,), radius=False,
                      precision_at=(), graded=False, **options)
    if k is not None:
        return result[f"map@{k}"]
    return result["map" if ties == "index" else "map_tie_aware"]
