"""The statistics the tables claim, against scipy's own tests, published tables and hand computations."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from benchmark.report.statistics import compare_to_best, differences_to, holm, paired_p_value, rank_rows, t_half_width


def test_t_interval_half_width_by_hand():
    # mean 0.6, sd 0.1, n 3: t(0.975, 2) = 4.302653 -> 4.302653 * 0.1 / sqrt(3)
    assert t_half_width([0.5, 0.6, 0.7]) == pytest.approx(0.248414, abs=1e-6)
    assert t_half_width([0.4, 0.4]) == 0.0 and math.isnan(t_half_width([0.4]))


def test_paired_p_value_is_the_paired_t_test():
    rng = np.random.default_rng(0)
    for _ in range(20):
        a = rng.normal(0.5, 0.05, 4)
        b = a - rng.normal(0.01, 0.02, 4)
        assert paired_p_value(a, b) == pytest.approx(stats.ttest_rel(a, b).pvalue, rel=1e-12)
    assert paired_p_value([0.5, 0.6], [0.5, 0.6]) == 1.0      # identical: no difference at all
    assert paired_p_value([0.5, 0.6], [0.4, 0.5]) == 0.0      # a constant difference of 0.1
    assert math.isnan(paired_p_value([0.5], [0.4]))


def test_holm_by_hand():
    # sorted 0.01, 0.02, 0.04 -> 3 * 0.01 = 0.03, max(0.03, 2 * 0.02 = 0.04) = 0.04, max(0.04, 1 * 0.04) = 0.04
    assert holm({"a": 0.04, "b": 0.01, "c": 0.02}) == pytest.approx({"a": 0.04, "b": 0.03, "c": 0.04})
    assert holm({"a": 0.5, "b": 0.9}) == pytest.approx({"a": 1.0, "b": 1.0})  # capped at 1
    adjusted = holm({"a": math.nan, "b": 0.02})
    assert math.isnan(adjusted["a"]) and adjusted["b"] == pytest.approx(0.02)  # NaNs are not in the family


def by_replicate(*values):
    return dict(enumerate(values))


def test_identical_losses_are_tied_and_a_large_consistent_gap_is_significant():
    marks = compare_to_best({"a": by_replicate(0.50, 0.52, 0.51), "b": by_replicate(0.50, 0.52, 0.51),
                             "c": by_replicate(0.40, 0.43, 0.41)})
    assert marks["a"].mark == marks["b"].mark == "best"
    assert marks["c"].mark == "" and marks["c"].p_holm < 0.05


def test_noise_is_tied_with_the_best():
    marks = compare_to_best({"a": by_replicate(0.50, 0.53, 0.49), "b": by_replicate(0.51, 0.50, 0.50)})
    assert marks["a"].mark == "best" and marks["b"].mark == "not shown worse" and marks["b"].p_holm >= 0.05


def test_one_replicate_claims_nothing_but_the_best():
    marks = compare_to_best({"a": by_replicate(0.50), "b": by_replicate(0.49), "c": by_replicate(0.10)})
    assert [marks[k].mark for k in "abc"] == ["best", "", ""]
    assert all(math.isnan(marks[k].p_holm) for k in "abc")


def test_holm_turns_borderline_differences_into_ties():
    best = np.array([0.60, 0.62, 0.61])
    close, closer = best - np.array([0.09, 0.13, 0.17]), best - np.array([0.08, 0.13, 0.18])
    raw = [stats.ttest_rel(best, other).pvalue for other in (close, closer)]
    assert all(p < 0.05 for p in raw)  # each alone would be significantly worse ...
    marks = compare_to_best({"best": by_replicate(*best), "close": by_replicate(*close),
                             "closer": by_replicate(*closer)})
    assert marks["close"].mark == marks["closer"].mark == "not shown worse"  # ... but not the family of two (0.06 >= 0.05)
    assert marks["close"].p_holm == pytest.approx(2 * min(raw))


def test_differences_to_a_reference_are_paired():
    values = {"ref": by_replicate(0.50, 0.60, 0.70), "same": by_replicate(0.501, 0.600, 0.699),
              "worse": by_replicate(0.40, 0.50, 0.61)}
    differences = differences_to(values, "ref")
    assert set(differences) == {"same", "worse"}
    assert differences["same"].mean == pytest.approx(0.0) and not differences["same"].significant
    worse = differences["worse"]
    assert worse.mean == pytest.approx(-0.0966667) and worse.half_width == pytest.approx(t_half_width([-0.1, -0.1, -0.09]))
    assert worse.significant  # the spread between replicates (0.5 .. 0.7) cancels in the pairs


def test_ranks_friedman_and_the_nemenyi_critical_difference():
    means = {"a": [0.9, 0.8, 0.7, 0.9], "b": [0.5, 0.6, 0.75, 0.5], "c": [0.1, 0.2, 0.3, 0.5]}
    ranking = rank_rows(means)
    # ranks per cell: (1, 2, 3), (1, 2, 3), (2, 1, 3), (1, 2.5, 2.5) -> averages 1.25, 1.875, 2.875
    assert ranking.average_ranks == pytest.approx({"a": 1.25, "b": 1.875, "c": 2.875})
    expected = stats.friedmanchisquare(*means.values())
    assert ranking.statistic == pytest.approx(expected.statistic) and ranking.p_value == pytest.approx(expected.pvalue)
    # Demsar (2006), table 5(a): q_0.05 = 2.343 for 3 classifiers; CD = q sqrt(k (k + 1) / (6 N))
    assert ranking.critical_difference == pytest.approx(2.343 * math.sqrt(3 * 4 / (6 * 4)), abs=1e-3)
