"""Hamming-ranking retrieval metrics, all from one pass over the (query, retrieval) pairs.

For each query the pass produces a histogram of (Hamming distance, relevant) counts and the ranks of
its relevant items under the deterministic order "distance, then retrieval index". Ranks come from a
counting sort on the distance (rank = items in nearer buckets + the item's prefix count inside its own
bucket), which numpy runs as a radix sort of the small integer keys: O(n) per query, no comparison
sort. Every metric of docs/protocol.md follows from those per-query numbers:

* ``map``: mean average precision over the whole retrieval set, ties broken by retrieval index;
* ``map_tie_aware``: its expectation over uniformly random orders inside each tie (He et al., "Hashing
  as Tie-Aware Learning to Rank", CVPR 2018), in closed form with digamma differences, and the bounds
  ``map_best`` / ``map_worst`` (relevant items first / last inside each tie);
* ``map@K``: truncated at rank K and divided by the number of relevant items in the top K;
* ``pr_radius``: precision and recall of all pairs within Hamming radius r = 0..k, pooled over queries;
* ``precision@N`` / ``recall@N``: averaged over queries on the grid ``PRECISION_AT_N``.

Conventions: a code bit is +1 where the value is >= 0 ({0, 1} codes and booleans are read as bits);
an item is relevant when it shares at least one label (> 0) with the query; a query without relevant
items scores 0 in every average and stays in the mean.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch
from scipy.special import digamma

from .errors import check_int

#: The N of precision@N / recall@N (values above the retrieval-set size are left out).
PRECISION_AT_N = (1, 10, 50, 100, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000)
#: Default K of map@K.
DEFAULT_TOPK = (1000, 5000)
#: Pairs per chunk of queries: bounds the pass's memory (about 20 bytes a pair) whatever the set sizes.
PAIRS_PER_CHUNK = 1 << 23


@dataclass
class QueryStats:
    """What the pass keeps of each query; every metric is computed from these.

    Shapes: ``hist_all``, ``hist_rel`` ``(n_queries, n_bits + 1)`` items / relevant items at each
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
    def empty(cls, n_queries: int, n_bits: int, n_topk: int, n_grid: int) -> "QueryStats":
        return cls(
            hist_all=np.zeros((n_queries, n_bits + 1), np.int64),
            hist_rel=np.zeros((n_queries, n_bits + 1), np.int64),
            ap_sum=np.zeros(n_queries),
            topk_sum=np.zeros((n_queries, n_topk)),
            topk_rel=np.zeros((n_queries, n_topk), np.int64),
            rel_at_n=np.zeros((n_queries, n_grid), np.int64),
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
    if np.isin(array, (0, 1)).all():
        return array == 1
    return array >= 0


def _check_inputs(q_codes, r_codes, q_labels, r_labels):
    qb, rb = code_bits(q_codes, "q_codes"), code_bits(r_codes, "r_codes")
    ql, rl = _as_array(q_labels, "q_labels") > 0, _as_array(r_labels, "r_labels") > 0
    if qb.shape[1] != rb.shape[1]:
        raise ValueError(f"query codes have {qb.shape[1]} bits but retrieval codes have {rb.shape[1]}; "
                         "both sides must come from the same hash length")
    if ql.shape[1] != rl.shape[1]:
        raise ValueError(f"query labels have {ql.shape[1]} classes but retrieval labels have {rl.shape[1]}")
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


def _stats_numpy(qw, rw, qlw, rlw, n_bits: int, topk: np.ndarray, grid: np.ndarray) -> QueryStats:
    """The pass for a chunk of queries on the CPU, from packed code words and label words."""
    n_q, n_r = qw.shape[0], rw.shape[0]
    key_dtype = np.uint8 if 2 * n_bits + 2 <= 255 else np.uint16  # distance and relevance in one key
    scratch = np.empty((n_q, n_r), np.uint64)
    dist = np.empty((n_q, n_r), key_dtype)
    for w in range(qw.shape[1]):
        np.bitwise_xor(qw[:, None, w], rw[None, :, w], out=scratch)
        if w == 0:
            np.bitwise_count(scratch, out=dist)
        else:
            dist += np.bitwise_count(scratch)
    relevant = np.zeros((n_q, n_r), bool)
    for w in range(qlw.shape[1]):
        np.bitwise_and(qlw[:, None, w], rlw[None, :, w], out=scratch)
        relevant |= scratch != 0
    del scratch
    key = (dist << 1) | relevant
    order = np.argsort(dist, axis=1, kind="stable")  # a radix (counting) sort of small integer keys
    del dist, relevant

    stats = QueryStats.empty(n_q, n_bits, len(topk), len(grid))
    bucket_ends = np.arange(2, 2 * n_bits + 4, 2, dtype=key_dtype)  # key < 2(d+1)  <=>  distance <= d
    hits = np.arange(1, n_r + 1, dtype=np.float64)
    ranked, ranked_relevant = np.empty(n_r, key_dtype), np.empty(n_r, bool)
    for i in range(n_q):
        np.take(key[i], order[i], out=ranked)
        # `ranked` is grouped by distance, so a binary search for each bucket end finds its boundary.
        n_within = np.searchsorted(ranked, bucket_ends)
        np.bitwise_and(ranked, 1, out=ranked_relevant, casting="unsafe")
        positions = np.flatnonzero(ranked_relevant)  # 0-based ranks of the relevant items
        rel_within = np.searchsorted(positions, n_within)
        stats.hist_all[i] = np.diff(n_within, prepend=0)
        stats.hist_rel[i] = np.diff(rel_within, prepend=0)
        precision_at_hits = hits[:len(positions)] / (positions + 1.0)
        stats.ap_sum[i] = precision_at_hits.sum()
        in_topk = np.searchsorted(positions, topk)
        stats.topk_rel[i] = in_topk
        stats.topk_sum[i] = [precision_at_hits[:m].sum() for m in in_topk]
        stats.rel_at_n[i] = np.searchsorted(positions, grid)
    return stats


def _stats_torch(q, r, ql, rl, n_bits: int, topk: np.ndarray, grid: np.ndarray) -> QueryStats:
    """The same pass with torch ops, for a GPU: ``q``, ``r`` +-1 float codes, ``ql``, ``rl`` 0/1 float labels."""
    n_q, n_r = q.shape[0], r.shape[0]
    dist = ((n_bits - q @ r.T) / 2).round().long()
    relevant = (ql @ rl.T) > 0
    order = torch.argsort(dist, dim=1, stable=True)
    ranked_rel = relevant.gather(1, order)
    hits = ranked_rel.cumsum(1)
    ranks = torch.arange(1, n_r + 1, device=q.device, dtype=torch.float64)
    precision_at_hits = torch.where(ranked_rel, hits / ranks, 0.0).cumsum(1)
    hist = torch.zeros(n_q, 2 * (n_bits + 1), dtype=torch.long, device=q.device)
    hist.scatter_add_(1, 2 * dist + relevant, torch.ones_like(dist))
    hist = hist.view(n_q, n_bits + 1, 2)
    topk_index = torch.as_tensor(np.minimum(topk, n_r) - 1, device=q.device)
    grid_index = torch.as_tensor(grid - 1, device=q.device)
    return QueryStats(
        hist_all=hist.sum(2).cpu().numpy(),
        hist_rel=hist[:, :, 1].cpu().numpy(),
        ap_sum=precision_at_hits[:, -1].cpu().numpy(),
        topk_sum=precision_at_hits[:, topk_index].cpu().numpy(),
        topk_rel=hits[:, topk_index].cpu().numpy(),
        rel_at_n=hits[:, grid_index].cpu().numpy(),
    )


def query_stats(qb, rb, ql, rl, *, topk, grid, device=None, chunk: int | None = None,
                backend: str | None = None) -> QueryStats:
    """Run the pass over query chunks of boolean codes ``qb``, ``rb`` and labels ``ql``, ``rl``.

    ``backend``: ``"numpy"`` (the default on the CPU: one thread per core) or ``"torch"`` (the default
    on any other device; on the CPU it serves to test the GPU code).
    """
    n_q, n_r, n_bits = qb.shape[0], rb.shape[0], qb.shape[1]
    chunk = chunk or max(1, PAIRS_PER_CHUNK // n_r)
    starts = range(0, n_q, chunk)
    topk, grid = np.asarray(topk, np.int64), np.asarray(grid, np.int64)
    device = torch.device(device) if device is not None else torch.device("cpu")
    if (backend or ("numpy" if device.type == "cpu" else "torch")) == "numpy":
        qw, rw, qlw, rlw = _pack_words(qb), _pack_words(rb), _pack_words(ql), _pack_words(rl)

        def run(s):
            return _stats_numpy(qw[s:s + chunk], rw, qlw[s:s + chunk], rlw, n_bits, topk, grid)

        workers = max(1, min(len(starts), torch.get_num_threads(), os.cpu_count() or 1))
        with ThreadPoolExecutor(workers) as pool:
            return QueryStats.concat(list(pool.map(run, starts)))
    q, r = (torch.as_tensor(b, device=device).float() * 2 - 1 for b in (qb, rb))
    ql_t, rl_t = (torch.as_tensor(lab, device=device).float() for lab in (ql, rl))
    return QueryStats.concat([_stats_torch(q[s:s + chunk], r, ql_t[s:s + chunk], rl_t, n_bits, topk, grid)
                              for s in starts])


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


def metrics_from_stats(stats: QueryStats, *, n_retrieval: int, topk, grid, radius: bool = True) -> dict:
    """Every metric from the per-query numbers of the pass (see the module docstring)."""
    n_relevant = stats.hist_rel.sum(1)
    expected, best, worst = tie_bounded_ap_sums(stats)
    n_queries, n_bits = stats.hist_all.shape[0], stats.hist_all.shape[1] - 1
    result = {
        "map": float(_mean_ratio(stats.ap_sum, n_relevant)),
        "map_tie_aware": float(_mean_ratio(expected, n_relevant)),
        "map_best": float(_mean_ratio(best, n_relevant)),
        "map_worst": float(_mean_ratio(worst, n_relevant)),
    }
    for j, k in enumerate(topk):
        result[f"map@{k}"] = float(_mean_ratio(stats.topk_sum[:, j], stats.topk_rel[:, j]))
    if radius:
        within = np.cumsum(stats.hist_all.sum(0))
        rel_within = np.cumsum(stats.hist_rel.sum(0))
        total_relevant = n_relevant.sum()
        result["pr_radius"] = {
            "radius": list(range(n_bits + 1)),
            "precision": np.where(within > 0, rel_within / np.maximum(within, 1), 0.0).tolist(),
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
) -> dict:
    """Every retrieval metric of one direction (queries of one modality against a database of another).

    Args:
        q_codes, r_codes: ``(n_q, k)`` / ``(n_r, k)`` codes: +-1, {0, 1}, bool or real values (x >= 0 is +1);
            torch tensors or numpy arrays.
        q_labels, r_labels: ``(n_q, c)`` / ``(n_r, c)`` multi-hot labels of any numeric dtype (> 0 is a label).
        topk: the K of ``map@K`` (K above n_r counts as n_r).
        radius: also compute ``pr_radius``.
        precision_at: the N of ``precision@N`` / ``recall@N``; values above n_r are left out.
        device: ``"cpu"`` for the numpy pass on every core, or a torch device (e.g. ``"cuda"``); ``None``
            uses the device of ``q_codes`` when it is a torch tensor, else the CPU.
        chunk: queries per chunk (default: about 8M pairs a chunk, which bounds memory).

    Returns:
        ``{"map", "map_tie_aware", "map_best", "map_worst", "map@K"..., "pr_radius": {"radius",
        "precision", "recall"}, "precision@N": {"n", "value"}, "recall@N": {"n", "value"},
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
    stats = query_stats(qb, rb, ql, rl, topk=topk, grid=grid, device=device, chunk=chunk)
    return metrics_from_stats(stats, n_retrieval=rb.shape[0], topk=topk, grid=grid, radius=radius)


def mean_average_precision(q_codes, r_codes, q_labels, r_labels, ties: str = "index", k: int | None = None,
                           **options) -> float:
    """mAP of one direction: ``ties="index"`` (stable order by distance then retrieval index, optionally
    truncated at ``k``) or ``ties="aware"`` (expected value over random orders inside ties, whole set).

    ``options`` (``device``, ``chunk``) are passed to :func:`evaluate`.
    """
    if ties not in ("index", "aware"):
        raise ValueError(f"ties must be 'index' or 'aware', got {ties!r}")
    if ties == "aware" and k is not None:
        raise ValueError("tie-aware mAP is computed over the whole retrieval set; use k=None, or ties='index' with k")
    result = evaluate(q_codes, r_codes, q_labels, r_labels, topk=() if k is None else (k,), radius=False,
                      precision_at=(), **options)
    if k is not None:
        return result[f"map@{k}"]
    return result["map" if ties == "index" else "map_tie_aware"]
