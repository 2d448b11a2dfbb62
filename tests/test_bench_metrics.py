"""Speed and memory of one direction of ``evaluate`` at the real datasets' scales (``pytest -m benchmark``).

Each case also times the per-query stable-sort reference (the field's usual evaluation loop) on a
subset of the queries and scales it to all of them; the ratio and the peak memory of the pass are
stored in the benchmark's ``extra_info`` (``--benchmark-json`` keeps them) and printed.
"""
from __future__ import annotations

import time
import tracemalloc

import numpy as np
import pytest

from benchmark.metrics import evaluate
from tests.reference_metrics import per_query_stable_sort_map

pytestmark = pytest.mark.benchmark

# name: (queries, retrieval items, classes, mean labels per item); 64-bit codes
SCALES = {
    "mirflickr25k": (2000, 18015, 24, 3.8),
    "nuswide": (2100, 193734, 21, 2.0),
    "coco": (5000, 117218, 80, 2.9),
}
REFERENCE_QUERIES = 100


def synthetic_direction(n_q, n_r, n_classes, labels_per_item, n_bits=64, seed=0):
    """Labels with skewed class frequencies at the given density, and +-1 codes that depend on them."""
    rng = np.random.default_rng(seed)
    frequency = rng.dirichlet(np.full(n_classes, 0.7)) * labels_per_item
    frequency = np.clip(frequency, 0.002, 0.6)

    def labels(n):
        y = rng.random((n, n_classes)) < frequency
        y[~y.any(1), rng.integers(0, n_classes, (~y.any(1)).sum())] = True
        return y.astype(np.float32)

    q_labels, r_labels = labels(n_q), labels(n_r)
    prototypes = rng.standard_normal((n_classes, n_bits))

    def codes(y):
        return np.where(y @ prototypes + rng.normal(0, 2.0, (len(y), n_bits)) >= 0, 1, -1).astype(np.int8)

    return codes(q_labels), codes(r_labels), q_labels, r_labels


@pytest.mark.parametrize("scale", list(SCALES))
def test_evaluate_one_direction(benchmark, scale):
    n_q, n_r, n_classes, density = SCALES[scale]
    q, r, ql, rl = synthetic_direction(n_q, n_r, n_classes, density)
    result = benchmark.pedantic(evaluate, args=(q, r, ql, rl), rounds=3, iterations=1, warmup_rounds=1)

    tracemalloc.start()
    evaluate(q, r, ql, rl)
    peak_bytes = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()

    start = time.perf_counter()
    reference_map = per_query_stable_sort_map(q[:REFERENCE_QUERIES], r, ql[:REFERENCE_QUERIES], rl)
    reference_seconds = (time.perf_counter() - start) * n_q / REFERENCE_QUERIES
    subset = evaluate(q[:REFERENCE_QUERIES], r, ql[:REFERENCE_QUERIES], rl)
    assert subset["map"] == pytest.approx(reference_map, abs=1e-9)

    seconds = benchmark.stats.stats.median
    benchmark.extra_info.update(
        pairs=n_q * n_r,
        map=result["map"],
        reference_seconds=reference_seconds,
        speedup=reference_seconds / seconds,
        peak_memory_mb=peak_bytes / 2**20,
    )
    print(f"\n{scale}: {n_q} x {n_r}: evaluate {seconds:.2f} s, per-query stable-sort reference "
          f"{reference_seconds:.1f} s ({reference_seconds / seconds:.1f}x), peak memory {peak_bytes / 2**20:.0f} MB, "
          f"mAP {result['map']:.4f}")
