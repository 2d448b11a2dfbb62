"""Metrics of real-valued features ranked by cosine (``ref:continuous``, ``ref:oracle``, the quantization gap):
against a per-query loop, with and without tied scores, and against ``evaluate`` on ±1 codes."""
from __future__ import annotations

import numpy as np
import pytest

from benchmark.continuous import cosine_ranking_metrics, quantization_gap, ranking_order
from benchmark.metrics import evaluate
from tests.reference_metrics import cosine_graded_metrics, cosine_map


def problem(seed: int, n_q=40, n_r=300, dim=16, classes=6, ties=False):
    rng = np.random.default_rng(seed)
    q, r = rng.standard_normal((n_q, dim)), rng.standard_normal((n_r, dim))
    if ties:  # duplicated items and a query equal to them: exactly tied scores, ranked by index
        r[50:80] = r[7]
        r[120:125] = -r[7]
        q[:4] = r[7]
    ql = (rng.random((n_q, classes)) < 0.3).astype(np.uint8)
    rl = (rng.random((n_r, classes)) < 0.3).astype(np.uint8)
    ql[0] = 0  # a query with nothing relevant scores 0
    return q, r, ql, rl


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("seed", [0, 1])
def test_map_is_the_per_query_loop(seed, ties):
    q, r, ql, rl = problem(seed, ties=ties)
    expected = cosine_map(q.tolist(), r.tolist(), ql.tolist(), rl.tolist())
    for topk in ((), (10, 100)):
        assert cosine_ranking_metrics(q, r, ql, rl, topk=topk)["map"] == pytest.approx(expected, abs=1e-12)


def test_on_sign_codes_every_metric_is_evaluates():
    rng = np.random.default_rng(4)
    # 16 bits: the unit rows are exactly +-1/4, so equal Hamming distances give exactly equal cosines
    q, r = np.sign(rng.standard_normal((30, 16))), np.sign(rng.standard_normal((400, 16)))
    ql, rl = rng.random((30, 5)) < 0.3, rng.random((400, 5)) < 0.3
    mine = cosine_ranking_metrics(q, r, ql, rl, topk=(20, 100), precision_at=(1, 10, 50, 400))
    theirs = evaluate(q, r, ql, rl, topk=(20, 100), precision_at=(1, 10, 50, 400))
    graded = ["wmap"] + [f"{name}@{k}" for k in (20, 100) for name in ("ndcg", "acg", "wmap")]
    for key in ["map", "map@20", "map@100"] + graded:
        assert mine[key] == pytest.approx(theirs[key], abs=1e-12), key
    for curve in ("precision@N", "recall@N"):
        assert mine[curve]["n"] == list(theirs[curve]["n"])
        assert np.allclose(mine[curve]["value"], theirs[curve]["value"], atol=1e-12), curve


@pytest.mark.parametrize("ties", [False, True])
def test_graded_metrics_are_the_per_query_loop(ties):
    """Relevance = labels shared (labels of 2 and 3 count as 1), in the cosine order, ties by index; 1000 is more
    than the retrieval set and counts as its size."""
    q, r, ql, rl = problem(2, n_q=12, n_r=120, ties=ties)
    ql, rl = ql * 3, rl * 2
    expected = cosine_graded_metrics(q.tolist(), r.tolist(), ql.tolist(), rl.tolist(), (1, 7, 60, 1000))
    result = cosine_ranking_metrics(q, r, ql, rl, topk=(1, 7, 60, 1000), chunk=5)
    for key, value in expected.items():
        assert result[key] == pytest.approx(value, abs=1e-12), key
    assert "wmap" not in cosine_ranking_metrics(q, r, ql, rl, graded=False)


def test_quantization_gap_is_continuous_minus_code_map():
    q, r, ql, rl = problem(5)
    text_q, text_r = q[:, ::-1].copy(), r[:, ::-1].copy()
    outputs = {"query_image": q, "query_text": text_q, "retrieval_image": r, "retrieval_text": text_r}
    gap = quantization_gap(outputs, ql, rl, {"i2t": 0.25, "t2i": 0.5})
    assert gap["i2t"] == pytest.approx(cosine_map(q.tolist(), text_r.tolist(), ql.tolist(), rl.tolist()) - 0.25)
    assert gap["t2i"] == pytest.approx(cosine_map(text_q.tolist(), r.tolist(), ql.tolist(), rl.tolist()) - 0.5)


@pytest.mark.parametrize("values", [3, 50, 10**6])
def test_ranking_order_is_the_stable_argsort(values):
    """Few distinct scores (long runs of ties, across row ends), some and none: the order of a stable sort."""
    rng = np.random.default_rng(values)
    scores = rng.integers(0, values, (7, 300)).astype(np.float64) / 7
    scores[2, ::5] = 0.0
    scores[2, 1::5] = -0.0  # equal to 0.0: tied with it, ranked by index
    expected = np.argsort(-scores, axis=1, kind="stable")
    assert np.array_equal(ranking_order(scores), expected)


def test_results_do_not_depend_on_the_chunk():
    q, r, ql, rl = problem(3, ties=True)
    options = {"topk": (10, 100), "precision_at": (1, 10, 50, 300)}
    whole = cosine_ranking_metrics(q, r, ql, rl, **options)
    for chunk in (1, 3, 7):
        assert cosine_ranking_metrics(q, r, ql, rl, chunk=chunk, **options) == whole
