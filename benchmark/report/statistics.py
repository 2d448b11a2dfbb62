"""The statistics the tables state (docs/protocol.md, Reports): means with 95% t-intervals over replicates,
paired t-tests against a column's best with Holm's correction, paired differences with their intervals, and
average ranks over cells with the Friedman test and the Nemenyi critical difference.

Values are paired by replicate: replicate r of every loss in a cell shares its data, split and backbone, so a
difference between two losses is measured within each replicate and the replicate-to-replicate spread of the
data and backbone cancels out.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

#: The level of every test and interval.
ALPHA = 0.05


def t_half_width(values) -> float:
    """Half-width of the two-sided 95% t-interval of the mean of ``values`` (NaN with fewer than two)."""
    values = np.asarray(values, float)
    n = len(values)
    if n < 2:
        return math.nan
    return float(stats.t.ppf(1 - ALPHA / 2, n - 1) * values.std(ddof=1) / math.sqrt(n))


def paired_p_value(a, b) -> float:
    """Two-sided p-value of the paired t-test of ``mean(a - b) = 0`` (NaN with fewer than two pairs).

    Differences that are all equal have no spread: p is 1 when they are 0 and 0 otherwise (the t statistic is
    0 or infinite)."""
    differences = np.asarray(a, float) - np.asarray(b, float)
    if len(differences) < 2:
        return math.nan
    if np.all(differences == differences[0]):
        return 1.0 if differences[0] == 0 else 0.0
    return float(stats.ttest_1samp(differences, 0.0).pvalue)


def holm(p_values: dict[str, float]) -> dict[str, float]:
    """Holm's step-down adjustment of a family of p-values (NaNs are left out of the family and stay NaN)."""
    tested = sorted((p, key) for key, p in p_values.items() if not math.isnan(p))
    m, running, adjusted = len(tested), 0.0, {key: math.nan for key in p_values}
    for i, (p, key) in enumerate(tested):
        running = max(running, min(1.0, (m - i) * p))
        adjusted[key] = running
    return adjusted


@dataclass(frozen=True)
class Comparison:
    """One row's standing in a column: ``mark`` is ``best`` (the highest mean), ``tied`` (not significantly
    worse than the best: Holm-adjusted paired p >= ALPHA) or ``""``; ``p_holm`` its adjusted p-value against the
    best (NaN for the best itself, or with fewer than two paired replicates)."""

    mark: str
    p_holm: float


def compare_to_best(values: dict[str, dict[int, float]]) -> dict[str, Comparison]:
    """Mark each row of a column given its values by replicate: the best mean, and the rows a paired t-test
    (Holm-corrected over the other rows of the column) cannot tell from it. With fewer than two paired
    replicates nothing is tested and only the best is marked."""
    means = {row: float(np.mean(list(v.values()))) for row, v in values.items()}
    top = max(means.values())
    best = [row for row, mean in means.items() if mean == top]
    reference = values[best[0]]
    p = {}
    for row, by_replicate in values.items():
        if row in best:
            continue
        shared = sorted(set(by_replicate) & set(reference))
        p[row] = paired_p_value([reference[r] for r in shared], [by_replicate[r] for r in shared])
    adjusted = holm(p)
    return {row: Comparison("best", math.nan) if row in best else
            Comparison("tied" if adjusted[row] >= ALPHA else "", adjusted[row]) for row in values}


@dataclass(frozen=True)
class Difference:
    """A row's paired difference to a reference row in one column: mean, 95% t half-width, Holm-adjusted p."""

    mean: float
    half_width: float
    p_holm: float

    @property
    def significant(self) -> bool:
        return self.p_holm < ALPHA


def differences_to(values: dict[str, dict[int, float]], reference: str) -> dict[str, Difference]:
    """Each other row's paired difference to ``reference`` (row - reference, by replicate), tested with the
    paired t-test and Holm-corrected over the rows of the column."""
    base = values[reference]
    raw, p = {}, {}
    for row, by_replicate in values.items():
        if row == reference:
            continue
        shared = sorted(set(by_replicate) & set(base))
        differences = [by_replicate[r] - base[r] for r in shared]
        raw[row] = (float(np.mean(differences)), t_half_width(differences))
        p[row] = paired_p_value([by_replicate[r] for r in shared], [base[r] for r in shared])
    adjusted = holm(p)
    return {row: Difference(mean, half, adjusted[row]) for row, (mean, half) in raw.items()}


@dataclass(frozen=True)
class Ranking:
    """Average ranks of the rows over cells (1 = best), the Friedman test of "all rows rank alike", and the
    Nemenyi critical difference: two rows whose average ranks differ by less than ``critical_difference`` are
    not significantly different at ALPHA."""

    average_ranks: dict[str, float]
    n_cells: int
    statistic: float
    p_value: float
    critical_difference: float


def rank_rows(means: dict[str, list[float]]) -> Ranking:
    """``means[row][c]``: the row's mean in cell ``c`` (every row has every cell). Ranks within each cell, with
    ties sharing their average rank, higher means ranking first."""
    rows = list(means)
    matrix = np.array([means[row] for row in rows], float).T  # cells x rows
    n_cells, k = matrix.shape
    ranks = np.vstack([stats.rankdata(-cell) for cell in matrix]) if n_cells else np.empty((0, k))
    average = ranks.mean(axis=0) if n_cells else np.full(k, math.nan)
    if n_cells >= 2 and k >= 3:
        statistic, p_value = stats.friedmanchisquare(*matrix.T)
    else:
        statistic, p_value = math.nan, math.nan
    q = stats.studentized_range.ppf(1 - ALPHA, k, np.inf) / math.sqrt(2) if k >= 2 else math.nan
    critical = float(q * math.sqrt(k * (k + 1) / (6 * n_cells))) if n_cells and k >= 2 else math.nan
    return Ranking(dict(zip(rows, map(float, average))), n_cells, float(statistic), float(p_value), critical)
