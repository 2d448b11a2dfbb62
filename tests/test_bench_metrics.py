"""Speed and memory of one direction of ``evaluate`` at the real datasets' scales (``pytest -m benchmark``).

``test_evaluate_one_direction`` also times the per-query stable-sort reference (the field's usual
evaluation loop) on a subset of the queries and scales it to all of them; ``test_evaluate_against_the_bound``
times ``evaluate`` (all metrics, and the per-epoch validation path: mAP only) interleaved with the bound
of ``tests/metrics_bound.py`` (the least work any exact evaluation must do: XOR + popcount, label AND, one
(distance, relevant) histogram per query) on the same threads. Ratios, times and the peak memory are
stored in the benchmark's ``extra_info`` (``--benchmark-json`` keeps them) and printed.
"""
from __future__ import annotations

import time
import tracemalloc

import numpy as np
import pytest
import torch

from benchmark import metrics
from benchmark.metrics import evaluate
from tests.metrics_bound import hamming_histograms
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


# name: (scale, queries, threads): NUS-WIDE with the 600 queries of the measurement and with all of
# them; threads None: evaluate's default (torch.get_num_threads(), at most the cores), and the same for the bound
BOUND_CASES = {
    "mirflickr25k": ("mirflickr25k", 2000, None),
    "nuswide-600": ("nuswide", 600, None),
    "nuswide-600-1thread": ("nuswide", 600, 1),
    "nuswide": ("nuswide", 2100, None),
    "coco": ("coco", 5000, None),
}
BOUND_ROUNDS = 5
# what every epoch's validation computes: mAP only, from the pairs' relevance the run computed once
VALIDATION = {"topk": (), "radius": False, "precision_at": (), "graded": False, "tie_bounds": False}


def bound(q, r, ql, rl, threads, histogram):
    """The bound from the same inputs as ``evaluate`` (codes x >= 0 -> 1, labels > 0)."""
    return hamming_histograms(q >= 0, r >= 0, ql > 0, rl > 0, threads=threads, histogram=histogram)


@pytest.mark.parametrize("case", list(BOUND_CASES))
def test_evaluate_against_the_bound(benchmark, case):
    scale, n_q, threads = BOUND_CASES[case]
    _, n_r, n_classes, density = SCALES[scale]
    q, r, ql, rl = synthetic_direction(n_q, n_r, n_classes, density)
    threads = threads or min(torch.get_num_threads(), metrics._available_cores())  # evaluate's default
    # the bound counts what evaluate counts
    few = slice(0, 64)
    stats = metrics.query_stats(*metrics._check_inputs(q[few], r, ql[few], rl), topk=(), grid=())
    for histogram in ("numpy", "torch"):
        hist = bound(q[few], r, ql[few], rl, threads, histogram)
        assert np.array_equal(hist[:, 0::2] + hist[:, 1::2], stats.hist_all)
        assert np.array_equal(hist[:, 1::2], stats.hist_rel)

    seconds = {"bound_numpy": [], "bound_torch": [], "validation": [], "evaluate": []}
    relevant = metrics.relevance(ql, rl)

    def timed(name, f):
        start = time.perf_counter()
        out = f()
        seconds[name].append(time.perf_counter() - start)
        return out

    others = {
        "bound_numpy": lambda: bound(q, r, ql, rl, threads, "numpy"),
        "bound_torch": lambda: bound(q, r, ql, rl, threads, "torch"),
        "validation": lambda: evaluate(q, r, ql, rl, threads=threads, relevant=relevant, **VALIDATION),
    }

    def setup():  # the other three, right before each timed evaluate, in alternating order
        names = list(others) if len(seconds["evaluate"]) % 2 else list(others)[::-1]
        for name in names:
            timed(name, others[name])

    result = benchmark.pedantic(lambda: timed("evaluate", lambda: evaluate(q, r, ql, rl, threads=threads)),
                                setup=setup, rounds=BOUND_ROUNDS, warmup_rounds=1, iterations=1)
    validation = evaluate(q[few], r, ql[few], rl, threads=threads, relevant=relevant[few], **VALIDATION)
    assert validation["map"] == evaluate(q[few], r, ql[few], rl)["map"]

    runs = {name: np.array(times[-BOUND_ROUNDS:]) for name, times in seconds.items()}  # leave out the warm-up
    fastest = min(("bound_numpy", "bound_torch"), key=lambda name: np.median(runs[name]))
    ratio = {name: float(np.median(runs[name] / runs[fastest])) for name in ("evaluate", "validation")}
    benchmark.extra_info.update(
        pairs=n_q * n_r, threads=threads, map=result["map"], bound=fastest,
        **{f"{name}_seconds": float(np.median(times)) for name, times in runs.items()},
        evaluate_to_bound=ratio["evaluate"], validation_to_bound=ratio["validation"],
        evaluate_to_bound_numpy=float(np.median(runs["evaluate"] / runs["bound_numpy"])),
    )
    print(f"\n{case}: {n_q} x {n_r}, {threads} threads: evaluate {np.median(runs['evaluate']):.3f} s, "
          f"validation (mAP only) {np.median(runs['validation']):.3f} s, bound {np.median(runs[fastest]):.3f} s "
          f"({fastest}; numpy {np.median(runs['bound_numpy']):.3f} s, torch {np.median(runs['bound_torch']):.3f} s); "
          f"evaluate / bound {ratio['evaluate']:.2f}, validation / bound {ratio['validation']:.2f}, "
          f"evaluate / numpy bound {benchmark.extra_info['evaluate_to_bound_numpy']:.2f} "
          f"(medians of per-round ratios, {BOUND_ROUNDS} interleaved rounds)")
