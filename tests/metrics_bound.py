"""The least work any exact evaluation must do: the speed floor ``benchmark.metrics.evaluate`` is measured against.

Every metric of ``evaluate`` needs, for every (query, retrieval item) pair, the Hamming distance and the
relevance, and every query needs at least the histogram of (distance, relevant) counts (pr_radius and
the tie-aware mAP are functions of it; the index-ordered mAP, map@K and P@N need more). So the floor is
one pass that computes exactly that and nothing else:

* XOR + popcount of the packed 64-bit code words -> distance (uint8);
* AND of the packed label words, != 0 -> relevant;
* key = 2 * distance + relevant, one histogram of the keys per query;
* query rows spread over threads, each with its buffers allocated once; blocks of rows when the
  retrieval set is small (the same blocking as ``evaluate``), so every step runs on cache-sized arrays.

The histogram is ``np.bincount`` or ``torch.bincount`` (which counts uint8 keys without first widening
them to 64-bit integers, about twice as fast here); the benchmark takes the faster as the bound.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from benchmark.metrics import PAIRS_PER_BLOCK


def _packed_words(bits: np.ndarray) -> list[np.ndarray]:
    """``(n, m)`` bool -> one contiguous uint64 array per 64 columns (bit j of a row in word j // 64)."""
    packed = np.packbits(bits, axis=1, bitorder="little")
    packed = np.ascontiguousarray(np.pad(packed, ((0, 0), (0, -packed.shape[1] % 8)))).view(np.uint64)
    return [np.ascontiguousarray(packed[:, w]) for w in range(packed.shape[1])]


def hamming_histograms(q_bits, r_bits, q_labels, r_labels, *, threads: int = 1,
                       histogram: str = "torch") -> np.ndarray:
    """``(n_q, 2 * (n_bits + 1))`` counts of key 2 * distance + relevant per query, from boolean codes and labels.

    ``hist[:, 0::2] + hist[:, 1::2]`` is ``QueryStats.hist_all``, ``hist[:, 1::2]`` is ``QueryStats.hist_rel``.
    """
    if histogram not in ("numpy", "torch"):
        raise ValueError(f"histogram must be 'numpy' or 'torch', got {histogram!r}")
    n_q, n_r, n_bits = q_bits.shape[0], r_bits.shape[0], q_bits.shape[1]
    if n_bits > 126:
        raise ValueError("the bound keeps 2 * distance + 1 in one byte: at most 126 bits")
    qw, rw = np.stack(_packed_words(q_bits), 1), _packed_words(r_bits)
    qlw, rlw = np.stack(_packed_words(q_labels), 1), _packed_words(r_labels)
    n_keys = 2 * (n_bits + 1)
    rows = min(n_q, max(1, PAIRS_PER_BLOCK // n_r))
    out = np.zeros((n_q, n_keys), np.int64)
    local = threading.local()

    def buffers():
        if not hasattr(local, "words"):
            pairs = rows * n_r
            local.words, local.more = np.empty((2, pairs), np.uint64)
            local.count, local.key = np.empty((2, pairs), np.uint8)
            local.relevant = np.empty(pairs, bool)
            local.wide = np.empty(pairs, np.int32) if rows > 1 else None
            local.offsets = (np.arange(rows, dtype=np.int32) * n_keys)[:, None]
        return local

    def run(s):
        e = min(s + rows, n_q)
        b, pairs = buffers(), (e - s) * n_r
        shape = (e - s, n_r)
        words, more = b.words[:pairs].reshape(shape), b.more[:pairs].reshape(shape)
        count, key = b.count[:pairs].reshape(shape), b.key[:pairs].reshape(shape)
        relevant = b.relevant[:pairs].reshape(shape)
        for w, r in enumerate(rw):
            np.bitwise_xor(qw[s:e, w, None], r, out=words)
            if w == 0:
                np.bitwise_count(words, out=key)
            else:
                np.bitwise_count(words, out=count)
                np.add(key, count, out=key)
        np.bitwise_and(qlw[s:e, 0, None], rlw[0], out=words)
        for w in range(1, len(rlw)):
            np.bitwise_and(qlw[s:e, w, None], rlw[w], out=more)
            np.bitwise_or(words, more, out=words)
        np.not_equal(words, 0, out=relevant)
        np.left_shift(key, 1, out=key)
        np.bitwise_or(key, relevant, out=key)
        flat = b.key[:pairs]
        if e - s > 1:  # one key range per query row of the block
            wide = b.wide[:pairs].reshape(shape)
            np.add(key, b.offsets[:e - s], out=wide)
            flat = b.wide[:pairs]
        if histogram == "numpy":
            counts = np.bincount(flat, minlength=(e - s) * n_keys)
        else:
            counts = torch.bincount(torch.from_numpy(flat), minlength=(e - s) * n_keys).numpy()
        out[s:e] = counts.reshape(e - s, n_keys)

    starts = range(0, n_q, rows)
    workers = max(1, min(threads, len(starts)))
    previous = torch.get_num_threads()
    torch.set_num_threads(1)  # each bincount on one thread: the parallelism is over query rows
    try:
        if workers == 1:
            for s in starts:
                run(s)
        else:
            with ThreadPoolExecutor(workers) as pool:
                for _ in pool.map(run, starts):
                    pass
    finally:
        torch.set_num_threads(previous)
    return out
