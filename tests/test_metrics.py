"""benchmark.metrics against slow oracles, hand-computed golden cases, and the errors users can cause."""
from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from benchmark import metrics
from benchmark.metrics import code_bits, evaluate, mean_average_precision
from tests import reference_metrics as ref

TOL = 1e-9


def random_case(seed, n_q, n_r, n_bits, n_classes=6, ties="few", orphans=0):
    """Random +-1 codes and labels. ``ties="many"`` draws every code from a pool of 3 distinct codes;
    the first ``orphans`` queries hold only a class no retrieval item has (no relevant item)."""
    rng = np.random.default_rng(seed)
    if ties == "many":
        pool = rng.choice([-1, 1], (3, n_bits))
        q, r = pool[rng.integers(0, 3, n_q)], pool[rng.integers(0, 3, n_r)]
    else:
        q, r = rng.choice([-1, 1], (n_q, n_bits)), rng.choice([-1, 1], (n_r, n_bits))
    ql = (rng.random((n_q, n_classes)) < 0.3).astype(np.int64)
    rl = (rng.random((n_r, n_classes)) < 0.3).astype(np.int64)
    rl[:, -1] = 0
    ql[:orphans] = 0
    ql[:orphans, -1] = 1
    return q, r, ql, rl


def grid_for(n_r):
    return tuple(n for n in (1, 2, 3, 5, 10, 25, 60, 200) if n <= n_r)


def assert_matches_reference(result, expected, topk, grid):
    for key in ["map", "map_best", "map_worst"] + [f"map@{k}" for k in topk]:
        assert result[key] == pytest.approx(expected[key], abs=TOL), key
    assert result["precision@N"]["n"] == list(grid)
    np.testing.assert_allclose(result["precision@N"]["value"], expected["precision@N"], atol=TOL, rtol=0)
    np.testing.assert_allclose(result["recall@N"]["value"], expected["recall@N"], atol=TOL, rtol=0)
    np.testing.assert_allclose(np.array(result["pr_radius"]["precision"], float),  # None (undefined) as NaN
                               np.array(expected["pr_precision"], float), atol=TOL, rtol=0)
    np.testing.assert_allclose(result["pr_radius"]["recall"], expected["pr_recall"], atol=TOL, rtol=0)


SHAPES = [(1, 1), (1, 40), (9, 1), (14, 130)]


@pytest.mark.parametrize("n_q,n_r", SHAPES)
@pytest.mark.parametrize("ties", ["few", "many"])
@pytest.mark.parametrize("n_bits", [16, 32, 64])
def test_fast_path_equals_per_query_stable_sort(n_q, n_r, ties, n_bits):
    for seed in range(3):
        q, r, ql, rl = random_case(seed, n_q, n_r, n_bits, ties=ties, orphans=min(2, n_q - 1))
        topk = (1, 3, 17, 500)
        grid = grid_for(n_r)
        result = evaluate(q, r, ql, rl, topk=topk, precision_at=grid)
        assert_matches_reference(result, ref.reference_metrics(q, r, ql, rl, topk, grid), topk, grid)
        assert result["map_worst"] - TOL <= result["map_tie_aware"] <= result["map_best"] + TOL
        assert result["map_worst"] - TOL <= result["map"] <= result["map_best"] + TOL


@pytest.mark.parametrize("n_bits", [16, 32, 64])
@pytest.mark.parametrize("seed", range(4))
def test_tie_aware_and_bounds_equal_the_enumeration_of_every_tie_order(n_bits, seed):
    q, r, ql, rl = random_case(seed, 4, 7, n_bits, ties="many", orphans=1)
    expected = ref.reference_metrics(q, r, ql, rl, enumerate_ties=True)
    assert max(ref.number_of_tie_orders(items) for items in ref.per_query_items(q, r, ql, rl)) > 1
    result = evaluate(q, r, ql, rl)
    assert result["map_tie_aware"] == pytest.approx(expected["enumerated_tie_aware"], abs=TOL)
    assert result["map_best"] == pytest.approx(expected["enumerated_best"], abs=TOL)
    assert result["map_worst"] == pytest.approx(expected["enumerated_worst"], abs=TOL)


def test_tie_aware_agrees_with_monte_carlo_over_random_tie_orders():
    q, r, ql, rl = random_case(11, 6, 80, 16, ties="many")
    estimate, stderr = ref.monte_carlo_tie_aware(q, r, ql, rl, draws=1500)
    result = evaluate(q, r, ql, rl)
    assert abs(result["map_tie_aware"] - estimate) < 4 * stderr + 1e-12
    assert result["map_best"] - result["map_worst"] > 10 * stderr  # the ties matter in this case


@pytest.mark.parametrize("n_q,n_r", [(7, 50), (30, 257)])
def test_torch_pass_equals_numpy_pass(n_q, n_r):
    q, r, ql, rl = random_case(3, n_q, n_r, 32, ties="many", orphans=2)
    qb, rb, qlb, rlb = metrics._check_inputs(q, r, ql, rl)
    options = dict(topk=(1, 10, 100, 1000), grid=(1, 5, 50))
    a = metrics.query_stats(qb, rb, qlb, rlb, **options, backend="numpy")
    b = metrics.query_stats(qb, rb, qlb, rlb, **options, backend="torch", chunk=4)
    for field in metrics.QueryStats.__dataclass_fields__:
        np.testing.assert_allclose(getattr(a, field), getattr(b, field), atol=1e-12, rtol=0, err_msg=field)


def test_results_do_not_depend_on_the_chunking():
    q, r, ql, rl = random_case(4, 23, 90, 64, ties="many", orphans=3)
    whole = evaluate(q, r, ql, rl, topk=(5, 50))
    for chunk in (1, 2, 7):
        assert evaluate(q, r, ql, rl, topk=(5, 50), chunk=chunk) == whole


# ------------------------------------------------------------------------------------ golden cases

# One query with 4-bit code ++++ and label {0}, five retrieval items (distance, labels, relevant):
#   r0 ++++ d=0 {0}    relevant
#   r1 +++- d=1 {1}    -
#   r2 ++-- d=2 {0,1}  relevant
#   r3 +++- d=1 {0,2}  relevant
#   r4 ---- d=4 {2}    -
# Ranked by distance then index: r0, r1, r3, r2, r4 -> relevant at ranks 1, 3, 4.
GOLDEN_Q = [[1, 1, 1, 1]]
GOLDEN_R = [[1, 1, 1, 1], [1, 1, 1, -1], [1, 1, -1, -1], [1, 1, 1, -1], [-1, -1, -1, -1]]
GOLDEN_QL = [[1, 0, 0]]
GOLDEN_RL = [[1, 0, 0], [0, 1, 0], [1, 1, 0], [1, 0, 1], [0, 0, 1]]


def test_golden_single_query_every_metric():
    result = evaluate(GOLDEN_Q, GOLDEN_R, GOLDEN_QL, GOLDEN_RL, topk=(2, 3), precision_at=(1, 2, 3, 5))
    # map: (1/1 + 2/3 + 3/4) / 3 = 29/36
    assert result["map"] == pytest.approx(29 / 36, abs=TOL)
    # best puts r3 before r1 inside the d=1 tie: ranks 1, 2, 4 -> (1 + 1 + 3/4) / 3 = 11/12
    assert result["map_best"] == pytest.approx(11 / 12, abs=TOL)
    # worst keeps r1 first: ranks 1, 3, 4 = the index order here
    assert result["map_worst"] == pytest.approx(29 / 36, abs=TOL)
    # tie-aware: r3 is at rank 2 or 3 with probability 1/2 -> (1 + (2/2 + 2/3)/2 + 3/4) / 3 = 31/36
    assert result["map_tie_aware"] == pytest.approx(31 / 36, abs=TOL)
    # map@2: r0, r1 -> one relevant, precision 1 at it -> 1; map@3: r0, r1, r3 -> (1 + 2/3) / 2 = 5/6
    assert result["map@2"] == pytest.approx(1.0, abs=TOL)
    assert result["map@3"] == pytest.approx(5 / 6, abs=TOL)
    # P@N with hits 1, 1, 2, 3 at N = 1, 2, 3, 5; R@N = hits / 3
    assert result["precision@N"] == {"n": [1, 2, 3, 5], "value": pytest.approx([1, 1 / 2, 2 / 3, 3 / 5], abs=TOL)}
    assert result["recall@N"]["value"] == pytest.approx([1 / 3, 1 / 3, 2 / 3, 1], abs=TOL)
    # radius 0: {r0}; 1: {r0, r1, r3}; 2 and 3: + r2; 4: everything
    assert result["pr_radius"]["radius"] == [0, 1, 2, 3, 4]
    assert result["pr_radius"]["precision"] == pytest.approx([1, 2 / 3, 3 / 4, 3 / 4, 3 / 5], abs=TOL)
    assert result["pr_radius"]["recall"] == pytest.approx([1 / 3, 2 / 3, 1, 1, 1], abs=TOL)
    assert (result["n_queries"], result["n_retrieval"], result["n_bits"]) == (1, 5, 4)


def test_golden_query_without_relevant_items_counts_as_zero():
    # A second query with the same code but no label at all: nothing is relevant to it.
    q = GOLDEN_Q * 2
    ql = GOLDEN_QL + [[0, 0, 0]]
    result = evaluate(q, GOLDEN_R, ql, GOLDEN_RL, topk=(3,), precision_at=(1, 5))
    assert result["map"] == pytest.approx((29 / 36 + 0) / 2, abs=TOL)
    assert result["map_tie_aware"] == pytest.approx((31 / 36 + 0) / 2, abs=TOL)
    assert result["map@3"] == pytest.approx((5 / 6 + 0) / 2, abs=TOL)
    assert result["precision@N"]["value"] == pytest.approx([(1 + 0) / 2, (3 / 5 + 0) / 2], abs=TOL)
    assert result["recall@N"]["value"] == pytest.approx([(1 / 3 + 0) / 2, (1 + 0) / 2], abs=TOL)
    # pooled PR: the second query adds its items to every radius but no relevant one
    assert result["pr_radius"]["precision"][1] == pytest.approx(2 / 6, abs=TOL)


def test_golden_one_big_tie():
    # Query ++, four items all at distance 1; relevant: items 0 and 3 (index order: rel, -, -, rel).
    q, ql = [[1, 1]], [[1, 0]]
    r = [[1, -1], [-1, 1], [1, -1], [-1, 1]]
    rl = [[1, 0], [0, 1], [0, 1], [1, 1]]
    result = evaluate(q, r, ql, rl)
    assert result["map"] == pytest.approx((1 + 2 / 4) / 2, abs=TOL)          # ranks 1, 4
    assert result["map_best"] == pytest.approx(1.0, abs=TOL)                 # ranks 1, 2
    assert result["map_worst"] == pytest.approx((1 / 3 + 2 / 4) / 2, abs=TOL)  # ranks 3, 4 -> 5/12
    # the 6 equally likely rank pairs give AP 1, 5/6, 3/4, 7/12, 1/2, 5/12: mean 49/72
    assert result["map_tie_aware"] == pytest.approx(49 / 72, abs=TOL)


# --------------------------------------------------------------------------------------- inputs


def test_code_and_label_formats_are_equivalent():
    expected = evaluate(GOLDEN_Q, GOLDEN_R, GOLDEN_QL, GOLDEN_RL)
    q, r = np.array(GOLDEN_Q), np.array(GOLDEN_R)
    variants = [
        ((q + 1) // 2, (r + 1) // 2, GOLDEN_QL, GOLDEN_RL),                       # {0, 1} codes
        (q > 0, r > 0, np.array(GOLDEN_QL, bool), np.array(GOLDEN_RL, bool)),      # booleans
        (torch.tensor(q * 0.3), torch.tensor(r * 0.7, dtype=torch.float32),      # real values, torch
         torch.tensor(GOLDEN_QL, dtype=torch.float64), torch.tensor(GOLDEN_RL)),
        (torch.tensor(q, dtype=torch.bfloat16), r.astype(np.int8), np.array(GOLDEN_QL) * 3.0, GOLDEN_RL),
    ]
    for variant in variants:
        assert evaluate(*variant) == expected


def test_real_valued_codes_are_binarised_at_zero():
    # 0.0 counts as +1, like a tanh output of exactly 0
    a = evaluate([[0.0, -0.2, 0.9]], [[0.5, -1.0, 0.1], [-0.5, 0.3, -0.1]], [[1]], [[1], [1]])
    b = evaluate([[1, -1, 1]], [[1, -1, 1], [-1, 1, -1]], [[1]], [[1], [1]])
    assert a == b


@pytest.mark.parametrize(
    "args,message",
    [
        (([[1, -1]], [[1, -1, 1]], [[1]], [[1]]), "query codes have 2 bits but retrieval codes have 3"),
        (([[1, -1]], [[1, -1]], [[1, 0]], [[1]]), "query labels have 2 classes but retrieval labels have 1"),
        (([[1, -1], [1, 1]], [[1, -1]], [[1]], [[1]]), "query codes have 2 rows but query labels have 1"),
        (([[1, -1]], [[1, -1]], [[1]], [[1], [0]]), "retrieval codes have 1 rows but retrieval labels have 2"),
        (([[1, -1]], np.zeros((0, 2)), [[1]], np.zeros((0, 1))), "r_codes must be a non-empty 2-D array"),
        (([1, -1], [[1, -1]], [[1]], [[1]]), "q_codes must be a non-empty 2-D array"),
        (([[1, float("nan")]], [[1, -1]], [[1]], [[1]]), "q_codes contains NaN"),
        (([[1, -1]], [[1, -1]], [[1]], [[float("nan")]]), "r_labels contains NaN"),
        (([["a", "b"]], [[1, -1]], [[1]], [[1]]), "q_codes must be numeric or boolean"),
    ],
)
def test_bad_inputs_raise_clear_errors(args, message):
    with pytest.raises(ValueError, match=message):
        evaluate(*args)


def test_bad_options_raise():
    with pytest.raises(ValueError, match=r"each of topk must be an integer >= 1, got 0"):
        evaluate(GOLDEN_Q, GOLDEN_R, GOLDEN_QL, GOLDEN_RL, topk=(0,))
    with pytest.raises(ValueError, match=r"chunk \(queries per chunk\) must be an integer >= 1, got 0"):
        evaluate(GOLDEN_Q, GOLDEN_R, GOLDEN_QL, GOLDEN_RL, chunk=0)
    with pytest.raises(ValueError, match="ties must be 'index' or 'aware'"):
        mean_average_precision(GOLDEN_Q, GOLDEN_R, GOLDEN_QL, GOLDEN_RL, ties="random")
    with pytest.raises(ValueError, match="use k=None"):
        mean_average_precision(GOLDEN_Q, GOLDEN_R, GOLDEN_QL, GOLDEN_RL, ties="aware", k=10)


def test_mean_average_precision_matches_evaluate():
    q, r, ql, rl = random_case(5, 10, 60, 16, ties="many")
    full = evaluate(q, r, ql, rl, topk=(20,))
    assert mean_average_precision(q, r, ql, rl) == full["map"]
    assert mean_average_precision(q, r, ql, rl, ties="aware") == full["map_tie_aware"]
    assert mean_average_precision(q, r, ql, rl, k=20) == full["map@20"]


def test_precision_grid_drops_n_beyond_the_retrieval_set_and_topk_clips():
    result = evaluate(GOLDEN_Q, GOLDEN_R, GOLDEN_QL, GOLDEN_RL, topk=(1000,))
    assert result["precision@N"]["n"] == [1]
    assert result["map@1000"] == result["map"]


@pytest.mark.parametrize("n_bits,n_classes", [(7, 3), (100, 80), (130, 70), (300, 130)])
def test_odd_and_long_code_lengths_and_many_classes(n_bits, n_classes):
    """Several 64-bit words of codes or labels, and the 16-bit keys used beyond 126 bits."""
    q, r, ql, rl = random_case(8, 6, 70, n_bits, n_classes=n_classes, ties="many", orphans=1)
    topk, grid = (4, 30), grid_for(70)
    result = evaluate(q, r, ql, rl, topk=topk, precision_at=grid)
    assert_matches_reference(result, ref.reference_metrics(q, r, ql, rl, topk, grid), topk, grid)


# ------------------------------------------------------------------------------- the CPU pass itself


def stats_of(q, r, ql, rl, **options):
    qb, rb, qlb, rlb = metrics._check_inputs(q, r, ql, rl)
    return metrics.query_stats(qb, rb, qlb, rlb, topk=(1, 10, 100, 1000), grid=(1, 5, 50), **options)


def assert_same_stats(a, b):
    for field in metrics.QueryStats.__dataclass_fields__:
        x, y = getattr(a, field), getattr(b, field)
        assert x.dtype == y.dtype and np.array_equal(x, y), field


@pytest.mark.parametrize("n_r,chunk", [(90, 3), (5000, None)])
def test_results_do_not_depend_on_the_thread_count(n_r, chunk, monkeypatch):
    """Several blocks of query rows (3 rows each; 26 rows each by default at 5000 items) on 1, 2 or 3 threads."""
    q, r, ql, rl = random_case(6, 61, n_r, 64, ties="many", orphans=3)
    one = evaluate(q, r, ql, rl, topk=(5, 50), chunk=chunk, threads=1)
    for threads in (2, 3):
        assert evaluate(q, r, ql, rl, topk=(5, 50), chunk=chunk, threads=threads) == one
    assert_same_stats(stats_of(q, r, ql, rl, chunk=chunk, threads=1), stats_of(q, r, ql, rl, chunk=chunk, threads=2))

    seen = []
    block = metrics._numpy_block
    monkeypatch.setattr(metrics, "_numpy_block", lambda *args: (seen.append(threading.get_ident()), block(*args)))
    evaluate(q, r, ql, rl, chunk=chunk, threads=1)
    assert set(seen) == {threading.get_ident()} and len(seen) > 2  # one thread: the caller's, no pool
    seen.clear()
    evaluate(q, r, ql, rl, chunk=chunk, threads=2)
    assert threading.get_ident() not in seen and len(set(seen)) <= 2


def test_the_compiled_counting_sort_is_used_and_the_numpy_fallback_agrees(monkeypatch):
    assert metrics.USE_COMPILED_PARTITION  # SciPy's coo_tocsr, else the pass is several times slower
    cases = [random_case(7, 9, 300, 64, ties="many", orphans=2),          # blocks of several rows
             random_case(8, 5, 70, 130, n_classes=70, ties="few"),        # several code and label words
             random_case(9, 3, 1, 16),
             random_case(10, 4, 50, 16, n_classes=300)]                   # 16-bit shared-label counts
    compiled = [stats_of(*case) for case in cases] + [stats_of(*cases[0], chunk=1)]
    monkeypatch.setattr(metrics, "USE_COMPILED_PARTITION", False)
    fallback = [stats_of(*case) for case in cases] + [stats_of(*cases[0], chunk=1)]
    for a, b in zip(compiled, fallback):
        assert_same_stats(a, b)


@pytest.mark.parametrize("compiled", [True, False])
def test_partition_is_a_stable_counting_sort(compiled, monkeypatch):
    monkeypatch.setattr(metrics, "USE_COMPILED_PARTITION", compiled)
    rng = np.random.default_rng(0)
    keys = rng.integers(0, 9, 500).astype(np.int32)
    keys[keys == 4] = 5  # an empty key
    relevant = rng.random(500) < 0.4
    ptr, ranked, perm = np.empty(10, np.int32), np.empty(500, bool), np.empty(500, np.int32)
    metrics._partition(keys, 9, relevant, ptr, ranked, perm)
    order = sorted(range(500), key=lambda i: (keys[i], i))
    assert ranked.tolist() == [relevant[i] for i in order]
    assert ptr.tolist() == [0] + np.cumsum(np.bincount(keys, minlength=9)).tolist()


def test_int64_positions_give_the_same_results(monkeypatch):
    """Blocks beyond 2**31 pairs use int64 keys and positions; force that path on a small case."""
    q, r, ql, rl = random_case(10, 12, 400, 32, ties="many", orphans=2)
    expected = stats_of(q, r, ql, rl)
    monkeypatch.setattr(metrics, "INT32_PAIRS", 100)
    assert metrics._Workspace(3, 400, 32, 1).keys.dtype == np.int64
    assert_same_stats(stats_of(q, r, ql, rl), expected)
    assert_same_stats(stats_of(q, r, ql, rl, chunk=1), expected)


def test_threads_option_is_checked():
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match=rf"threads must be an integer >= 1, got {bad!r}"):
            evaluate(GOLDEN_Q, GOLDEN_R, GOLDEN_QL, GOLDEN_RL, threads=bad)
    assert mean_average_precision(GOLDEN_Q, GOLDEN_R, GOLDEN_QL, GOLDEN_RL, threads=3) == pytest.approx(29 / 36)


def test_zero_one_codes_are_recognised_like_isin():
    rng = np.random.default_rng(1)
    arrays = [np.array([[0, 1, 1]]), np.array([[0.0, 1.0]]), np.array([[0.0, 0.5, 1.0]]), np.array([[-1, 1]]),
              np.array([[2, 1, 0]]), np.array([[0, 1]], np.uint8), np.array([[1.0, 1.0 + 1e-12]]),
              np.array([[0, 0]], np.int8), np.array([[0.0, -0.0]]), rng.integers(0, 2, (5, 7)),
              rng.integers(-1, 2, (5, 7)).astype(np.float32)]
    for array in arrays:
        assert metrics._zero_one(array) == np.isin(array, (0, 1)).all(), array
    # {0, 1} floats are bits; other values in [0, 1] are real values (all >= 0, so all +1)
    assert code_bits(np.array([[0.0, 1.0, 0.0]])).tolist() == [[False, True, False]]
    assert code_bits(np.array([[0.0, 0.5, 1.0]])).tolist() == [[True, True, True]]


# ------------------------------------------------------------------------------------------- graded relevance

GRADED_TOPK = (1, 3, 17, 500)


def graded_keys(topk) -> list[str]:
    return ["wmap"] + [f"{name}@{k}" for k in topk for name in ("ndcg", "acg", "wmap")]


def dense_labels(seed, n_q, n_r, n_classes, density):
    """Labels with ``density`` of the classes each: many labels shared, so relevance runs well above 1."""
    rng = np.random.default_rng(seed)
    return (rng.random((n_q, n_classes)) < density).astype(np.int64), (rng.random((n_r, n_classes)) < density) * 2.5


@pytest.mark.parametrize("n_q,n_r", SHAPES)
@pytest.mark.parametrize("ties", ["few", "many"])
def test_graded_metrics_equal_the_per_query_reference(n_q, n_r, ties):
    for seed in range(2):
        q, r, ql, rl = random_case(seed, n_q, n_r, 32, ties=ties, orphans=min(2, n_q - 1))
        result = evaluate(q, r, ql, rl, topk=GRADED_TOPK)
        expected = ref.reference_graded_metrics(q, r, ql, rl, GRADED_TOPK)
        assert list(expected) == graded_keys(GRADED_TOPK)
        for key, value in expected.items():
            assert result[key] == pytest.approx(value, abs=TOL), key


@pytest.mark.parametrize("n_bits,n_classes,density", [(64, 70, 0.3), (16, 400, 0.9)])
def test_graded_metrics_with_several_label_words_and_hundreds_of_shared_labels(n_bits, n_classes, density):
    """Label words beyond the first add their shared labels; beyond 255 classes the counts are 16-bit (here some
    items share more than 255 labels with a query)."""
    q, r, _, _ = random_case(12, 5, 60, n_bits, ties="many")
    ql, rl = dense_labels(12, 5, 60, n_classes, density)
    ql[0] = 0  # a query sharing nothing with anything
    result = evaluate(q, r, ql, rl, topk=(4, 30))
    expected = ref.reference_graded_metrics(q, r, ql, rl, (4, 30))
    most = ((ql > 0).astype(int) @ (rl > 0).T.astype(int)).max()
    assert most > (255 if n_classes > 255 else 10)
    for key, value in expected.items():
        assert result[key] == pytest.approx(value, rel=1e-12, abs=TOL), key


def test_graded_metrics_of_the_torch_pass_equal_the_reference():
    q, r, ql, rl = random_case(13, 11, 90, 16, ties="many", orphans=2)
    qb, rb, qlb, rlb = metrics._check_inputs(q, r, ql, rl)
    stats = metrics.query_stats(qb, rb, qlb, rlb, topk=GRADED_TOPK, grid=(), backend="torch", chunk=4)
    result = metrics.metrics_from_stats(stats, n_retrieval=90, topk=GRADED_TOPK, grid=())
    for key, value in ref.reference_graded_metrics(q, r, ql, rl, GRADED_TOPK).items():
        assert result[key] == pytest.approx(value, abs=TOL), key


# One query with 4-bit code ++++ and labels {0, 1, 2}; four retrieval items (distance, labels, labels shared):
#   r0 ++++ d=0 {0, 1}  r=2
#   r1 +++- d=1 {3}     r=0
#   r2 -+++ d=1 {2}     r=1   (tied with r1: the index puts r1 first)
#   r3 +--- d=3 {1, 3}  r=1
# Ranked by distance then index: r0, r1, r2, r3 -> relevance 2, 0, 1, 1 (binary: relevant at ranks 1, 3, 4).
GRADED_Q = [[1, 1, 1, 1]]
GRADED_R = [[1, 1, 1, 1], [1, 1, 1, -1], [-1, 1, 1, 1], [1, -1, -1, -1]]
GRADED_QL = [[1, 1, 1, 0]]
GRADED_RL = [[1, 1, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0], [0, 1, 0, 1]]
LOG2_3 = np.log2(3.0)


def test_golden_graded_metrics_by_hand():
    result = evaluate(GRADED_Q, GRADED_R, GRADED_QL, GRADED_RL, topk=(1, 2, 3, 10))
    # ACG@K = (1/K) * sum of the first K relevances: @1 2/1, @2 (2+0)/2, @3 (2+0+1)/3; @10 counts as @4: 4/4
    assert [result[f"acg@{k}"] for k in (1, 2, 3, 10)] == pytest.approx([2, 1, 1, 1], abs=TOL)
    # DCG@3 = (2^2-1)/log2(2) + (2^0-1)/log2(3) + (2^1-1)/log2(4) = 3 + 0 + 1/2 = 3.5
    # ideal order 2, 1, 1, 0: IDCG@3 = 3 + 1/log2(3) + 1/2 -> NDCG@3 = 3.5 / (3.5 + 1/log2(3)) ~ 0.8473
    assert result["ndcg@3"] == pytest.approx(3.5 / (3.5 + 1 / LOG2_3), abs=TOL)
    # DCG@2 = 3, IDCG@2 = 3 + 1/log2(3); DCG@1 = IDCG@1 = 3 -> 1
    assert result["ndcg@2"] == pytest.approx(3 / (3 + 1 / LOG2_3), abs=TOL)
    assert result["ndcg@1"] == pytest.approx(1.0, abs=TOL)
    # @10 = @4: DCG@4 = 3.5 + 1/log2(5), IDCG@4 = 3.5 + 1/log2(3) (the 0 comes last) ~ 0.9515
    assert result["ndcg@10"] == pytest.approx((3.5 + 1 / np.log2(5)) / (3.5 + 1 / LOG2_3), abs=TOL)
    # WAP: ACG at the ranks of the items with r > 0: ACG@1 = 2, ACG@3 = 3/3 = 1, ACG@4 = 4/4 = 1 -> (2+1+1)/3 = 4/3
    assert result["wmap"] == pytest.approx(4 / 3, abs=TOL)
    # WAP@2: only rank 1 in the top 2 -> 2/1; WAP@3: ranks 1 and 3 -> (2 + 1)/2 = 1.5; WAP@1 = 2
    assert [result[f"wmap@{k}"] for k in (1, 2, 3, 10)] == pytest.approx([2, 2, 1.5, 4 / 3], abs=TOL)
    # binary mAP of the same ranking: relevant at 1, 3, 4 -> (1 + 2/3 + 3/4)/3 = 29/36
    assert result["map"] == pytest.approx(29 / 36, abs=TOL)


def test_golden_graded_metrics_see_what_binary_relevance_cannot():
    # Swap the labels of r0 (d=0) and r3 (d=3): relevance in ranked order becomes 1, 0, 1, 2. The binary pattern is
    # the same (relevant at ranks 1, 3, 4), so mAP does not move; the graded metrics drop.
    swapped = [GRADED_RL[3], GRADED_RL[1], GRADED_RL[2], GRADED_RL[0]]
    result = evaluate(GRADED_Q, GRADED_R, GRADED_QL, swapped, topk=(1, 3))
    assert result["map"] == pytest.approx(29 / 36, abs=TOL)
    # ACG@1 = 1 (was 2); DCG@3 = 1 + 0 + 1/2 = 1.5 over the same IDCG@3 = 3.5 + 1/log2(3)
    assert result["acg@1"] == pytest.approx(1.0, abs=TOL)
    assert result["ndcg@3"] == pytest.approx(1.5 / (3.5 + 1 / LOG2_3), abs=TOL)
    # WAP: ACG@1 = 1, ACG@3 = 2/3, ACG@4 = 4/4 -> (1 + 2/3 + 1)/3 = 8/9 (was 4/3)
    assert result["wmap"] == pytest.approx(8 / 9, abs=TOL)


def test_golden_tied_distances_are_ranked_by_index_in_the_graded_metrics():
    # Query ++ with labels {0, 1}; four items all at distance 1, sharing 0, 1, 2, 1 labels in index order.
    q, ql = [[1, 1]], [[1, 1, 0]]
    r = [[1, -1], [-1, 1], [1, -1], [-1, 1]]
    rl = [[0, 0, 1], [1, 0, 0], [1, 1, 0], [0, 1, 1]]
    result = evaluate(q, r, ql, rl, topk=(2,))
    # index order 0, 1, 2, 1: ACG@2 = 1/2; DCG@2 = 0 + 1/log2(3); ideal 2, 1: IDCG@2 = 3 + 1/log2(3)
    assert result["acg@2"] == pytest.approx(0.5, abs=TOL)
    assert result["ndcg@2"] == pytest.approx((1 / LOG2_3) / (3 + 1 / LOG2_3), abs=TOL)
    # WAP: ranks 2, 3, 4 -> ACG 1/2, 3/3, 4/4 -> (1/2 + 1 + 1)/3 = 5/6; WAP@2: rank 2 only -> 1/2
    assert result["wmap"] == pytest.approx(5 / 6, abs=TOL)
    assert result["wmap@2"] == pytest.approx(0.5, abs=TOL)


def test_golden_query_sharing_no_label_scores_zero_and_stays_in_the_graded_means():
    q, ql = GRADED_Q * 2, GRADED_QL + [[0, 0, 0, 0]]
    result = evaluate(q, GRADED_R, ql, GRADED_RL, topk=(3,))
    assert result["ndcg@3"] == pytest.approx((3.5 / (3.5 + 1 / LOG2_3) + 0) / 2, abs=TOL)
    assert result["acg@3"] == pytest.approx((1 + 0) / 2, abs=TOL)
    assert result["wmap"] == pytest.approx((4 / 3 + 0) / 2, abs=TOL)
    assert result["wmap@3"] == pytest.approx((1.5 + 0) / 2, abs=TOL)


def test_graded_metrics_can_be_left_out():
    full = evaluate(GRADED_Q, GRADED_R, GRADED_QL, GRADED_RL, topk=(3,))
    binary = evaluate(GRADED_Q, GRADED_R, GRADED_QL, GRADED_RL, topk=(3,), graded=False)
    assert set(full) - set(binary) == set(graded_keys((3,)))
    assert all(binary[key] == full[key] for key in binary)


# ------------------------------------------------------- the relevance a caller already has (validation)


@pytest.mark.parametrize("n_classes", [3, 64, 65, 130])
def test_relevance_is_whether_a_pair_shares_a_label(n_classes):
    rng = np.random.default_rng(n_classes)
    ql, rl = rng.random((17, n_classes)) < 0.05, rng.random((40, n_classes)) < 0.05
    ql[0, -1] = rl[:, -1] = True  # a label only in the last word (beyond 64 classes)
    expected = [[any(a and b for a, b in zip(q, r)) for r in rl] for q in ql]
    assert metrics.relevance(ql, rl).tolist() == expected
    assert metrics.relevance(ql.astype(np.float32), rl.astype(np.int64)).tolist() == expected


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("n_classes", [6, 130])
def test_given_relevance_gives_the_same_metrics(backend, n_classes, monkeypatch):
    """Passing the flags the pass would compute changes nothing, on the CPU pass and the GPU (torch) pass."""
    q, r, ql, rl = random_case(5, 23, 150, 32, n_classes=n_classes, ties="many", orphans=2)
    options = {"topk": (3, 40), "precision_at": grid_for(150), "graded": False}
    if backend == "torch":
        original = metrics.query_stats
        monkeypatch.setattr(metrics, "query_stats", lambda *a, **k: original(*a, **k, backend="torch"))
    given = evaluate(q, r, ql, rl, relevant=metrics.relevance(ql, rl), chunk=4, **options)
    assert given == evaluate(q, r, ql, rl, chunk=4, **options)
    assert given == evaluate(q, r, ql, rl, relevant=torch.from_numpy(metrics.relevance(ql, rl)), **options)


def test_given_relevance_is_what_is_scored():
    """The pass reads the given flags, not the labels: all-false flags score 0, whatever the labels."""
    q, r, ql, rl = random_case(1, 5, 30, 16)
    nothing = np.zeros((5, 30), bool)
    assert evaluate(q, r, ql, rl, relevant=nothing, graded=False)["map"] == 0.0


@pytest.mark.parametrize("relevant,graded,message", [
    (np.ones((5, 30), bool), True, "graded=False"),
    (np.ones((30, 5), bool), False, r"\(5, 30\) bool"),
    (np.ones((5, 30)), False, r"\(5, 30\) bool"),
])
def test_bad_given_relevance_raises(relevant, graded, message):
    q, r, ql, rl = random_case(1, 5, 30, 16)
    with pytest.raises(ValueError, match=message):
        evaluate(q, r, ql, rl, relevant=relevant, graded=graded)


def test_tie_bounds_can_be_left_out():
    q, r, ql, rl = random_case(2, 9, 60, 16, ties="many")
    full = evaluate(q, r, ql, rl, topk=(3,))
    without = evaluate(q, r, ql, rl, topk=(3,), tie_bounds=False)
    assert set(full) - set(without) == {"map_tie_aware", "map_best", "map_worst"}
    assert all(without[key] == full[key] for key in without)
