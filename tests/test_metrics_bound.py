"""The bound of the speed benchmark (``tests/metrics_bound.py``) counts exactly what ``evaluate``'s pass counts."""
from __future__ import annotations

import numpy as np
import pytest

from benchmark import metrics
from tests.metrics_bound import hamming_histograms
from tests.test_metrics import random_case


@pytest.mark.parametrize("histogram", ["numpy", "torch"])
@pytest.mark.parametrize("n_bits,n_classes,n_r", [(64, 6, 300), (16, 80, 140000), (126, 130, 70), (7, 3, 1)])
def test_bound_histograms_equal_the_pass(histogram, n_bits, n_classes, n_r):
    """Blocks of several query rows (small sets) and single rows (140000 items); several code and label words."""
    q, r, ql, rl = random_case(3, 9, n_r, n_bits, n_classes=n_classes, ties="many", orphans=2)
    qb, rb, qlb, rlb = metrics._check_inputs(q, r, ql, rl)
    stats = metrics.query_stats(qb, rb, qlb, rlb, topk=(), grid=())
    for threads in (1, 2):
        hist = hamming_histograms(qb, rb, qlb, rlb, threads=threads, histogram=histogram)
        assert hist.shape == (9, 2 * (n_bits + 1))
        np.testing.assert_array_equal(hist[:, 0::2] + hist[:, 1::2], stats.hist_all)
        np.testing.assert_array_equal(hist[:, 1::2], stats.hist_rel)


def test_bound_rejects_what_it_cannot_count():
    bits = np.ones((2, 127), bool)
    with pytest.raises(ValueError, match="at most 126 bits"):
        hamming_histograms(bits, bits, bits[:, :3], bits[:, :3])
    with pytest.raises(ValueError, match="histogram must be"):
        hamming_histograms(bits[:, :8], bits[:, :8], bits[:, :3], bits[:, :3], histogram="scipy")
