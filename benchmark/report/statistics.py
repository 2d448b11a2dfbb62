"""The statistics the tables state (docs/protocol.md, Reports): means with 95% t-intervals over replicates,
paired t-tests against a column's best with Holm's correction, paired differences with their intervals, and
average ranks over independent blocks with the Friedman test and the Nemenyi critical difference.

Values are paired by replicate: replicate r of every loss in a cell shares its data, split and backbone, so a
difference between two losses is measured within each replicate and the replicate-to-replicate spread of the
data and backbone cancels out.

Ranks are taken over *blocks*, not cells: a block is one (dataset, replicate). The cells of a dataset (both
directions, every code length) share that replicate's data, backbone and split, so they are not independent
observations; different replicates and different datasets are. A loss's value in a block is the mean of its values
over the block's cells (``block_matrix``), and ``rank_rows`` ranks the losses within each block.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from scipy import stats

if TYPE_CHECKING:  # tables imports this module; the annotation only
    from .tables import Table

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
    """One row's standing in a column: ``mark`` is ``best`` (the highest mean), ``not shown worse`` (printed †: its
    Holm-adjusted paired p against the best is >= ALPHA, which at few replicates is no evidence that the two are
    alike) or ``""``; ``p_holm`` its adjusted p-value against the best (NaN for the
    best itself, or with fewer than two paired replicates)."""

    mark: str
    p_holm: float


def compared_replicates(held: dict[str, set[int]]) -> frozenset[int]:
    """The replicates a table column compares its rows on, given each row's replicates (``held``): of the rows' sets
    and their intersections, the one that keeps the most paired values (the rows holding all of it × its size;
    ties: the larger set, then the lower replicates). Rows holding more are compared on these alone; a row lacking
    one of them is left out of the comparison, so that no mean, mark or test mixes replicate sets.

    >>> sorted(compared_replicates({"triplet": {0, 1, 2}, "dcgh": {0, 1, 2}, "novar": {0, 1}, "hashnet": {0}}))
    [0, 1, 2]
    """
    candidates, grown = {frozenset(s) for s in held.values() if s}, True
    while grown:  # close under intersection: the replicates two groups of rows share may be nobody's own set
        new = {a & b for a in candidates for b in candidates if a & b} - candidates
        candidates |= new
        grown = bool(new)

    def kept(candidate: frozenset[int]):
        rows = sum(candidate <= s for s in held.values())
        return rows * len(candidate), len(candidate), [-r for r in sorted(candidate)]

    return max(candidates, key=kept, default=frozenset())


def compare_to_best(values: dict[str, dict[int, float]]) -> dict[str, Comparison]:
    """Mark each row of a column given its values by replicate: the best mean, and the rows a paired t-test
    (Holm-corrected over the other rows of the column) does not show worse than it. With fewer than two paired
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
            Comparison("not shown worse" if adjusted[row] >= ALPHA else "", adjusted[row]) for row in values}


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
    """Average ranks of the rows over independent blocks (1 = best), the Friedman test of "all rows rank alike"
    over the blocks, and the Nemenyi critical difference: two rows whose average ranks differ by less than
    ``critical_difference`` are not separable by this test at ALPHA with ``n_blocks`` blocks. ``ranks[row]``: the
    row's rank in each block, in the blocks' order."""

    average_ranks: dict[str, float]
    n_blocks: int
    statistic: float
    p_value: float
    critical_difference: float
    ranks: dict[str, tuple[float, ...]] = field(default_factory=dict)

    @property
    def tested(self) -> bool:
        """Whether the Friedman test was made (it needs at least 3 rows and 2 blocks)."""
        return not math.isnan(self.p_value)


def nemenyi_critical_difference(k: int, n_blocks: int, alpha: float = ALPHA) -> float:
    """Nemenyi's critical difference of average ranks for ``k`` rows over ``n_blocks`` blocks (Demšar 2006):
    ``q(1 - alpha; k, inf) / sqrt(2) * sqrt(k (k + 1) / (6 N))``, q the studentized range quantile (NaN for k < 2
    or N = 0)."""
    if k < 2 or n_blocks < 1:
        return math.nan
    q = stats.studentized_range.ppf(1 - alpha, k, np.inf) / math.sqrt(2)
    return float(q * math.sqrt(k * (k + 1) / (6 * n_blocks)))


def rank_rows(means: dict[str, list[float]]) -> Ranking:
    """``means[row][b]``: the row's value in block ``b`` (every row has every block). Ranks within each block, with
    ties sharing their average rank, higher values ranking first; the Friedman test over the blocks (with at least
    3 rows and 2 blocks; else NaN) and Nemenyi's critical difference for k rows and N blocks."""
    rows = list(means)
    matrix = np.array([means[row] for row in rows], float).reshape(len(rows), -1).T  # blocks x rows
    n_blocks, k = matrix.shape
    ranks = np.vstack([stats.rankdata(-block) for block in matrix]) if n_blocks else np.empty((0, k))
    average = ranks.mean(axis=0) if n_blocks else np.full(k, math.nan)
    if n_blocks >= 2 and k >= 3:
        statistic, p_value = stats.friedmanchisquare(*matrix.T)
    else:
        statistic, p_value = math.nan, math.nan
    return Ranking(dict(zip(rows, map(float, average))), n_blocks, float(statistic), float(p_value),
                   nemenyi_critical_difference(k, n_blocks),
                   {row: tuple(map(float, ranks[:, i])) for i, row in enumerate(rows)})


Block = tuple[str, int]  # dataset, replicate


@dataclass(frozen=True)
class BlockMatrix:
    """The rows' values over independent blocks: ``values[row][b]`` is the mean of the row's values over the
    cells of block ``blocks[b]`` = (dataset, replicate), the cells being every (direction, bits) column of that
    dataset (``cells[dataset]`` of them). Only blocks where every row has every cell are kept; ``left_out`` lists
    the others."""

    rows: list[str]
    blocks: list[Block]
    values: dict[str, list[float]]
    cells: dict[str, int]
    left_out: list[Block]


def block_matrix(table: Table, rows: list[str]) -> BlockMatrix:
    """The block matrix of ``rows`` of ``table`` (``tables.Table``: columns (direction, dataset, bits), cells
    ``{replicate: value}``): per (dataset, replicate), each row's mean over the dataset's columns where any of
    ``rows`` has a value, for the blocks where every row has a value at that replicate in every one of them."""
    datasets = list(dict.fromkeys(column[1] for column in table.columns))
    blocks: list[Block] = []
    left_out: list[Block] = []
    values: dict[str, list[float]] = {row: [] for row in rows}
    cells: dict[str, int] = {}
    for dataset in datasets:
        columns = [c for c in table.columns if c[1] == dataset and any(table.cell(row, c) for row in rows)]
        if not columns:
            continue
        cells[dataset] = len(columns)
        replicates = sorted({r for row in rows for c in columns for r in (table.cell(row, c) or {})})
        for replicate in replicates:
            found = {row: [(table.cell(row, c) or {}).get(replicate) for c in columns] for row in rows}
            if any(v is None for row_values in found.values() for v in row_values):
                left_out.append((dataset, replicate))
                continue
            blocks.append((dataset, replicate))
            for row, row_values in found.items():
                values[row].append(float(np.mean(row_values)))
    return BlockMatrix(list(rows), blocks, values, cells, left_out)


def ranked_rows(table: Table, rows: list[str]) -> list[str]:
    """The rows of ``rows`` to rank: all of them unless leaving some out keeps more of the block matrix (rows ×
    complete blocks, ``block_matrix``): a loss run on fewer replicates than the rest would otherwise take every block
    it lacks away from all of them. Rows are left out one at a time, each time the one whose absence keeps the most,
    while that keeps more; at least two stay."""
    kept = list(rows)

    def size(candidate: list[str]) -> int:
        return len(candidate) * len(block_matrix(table, candidate).blocks)

    while len(kept) > 2:
        sizes = {row: size([r for r in kept if r != row]) for row in kept}
        row = max(kept, key=sizes.get)  # the first of equals: the table's order decides ties
        if sizes[row] <= size(kept):
            break
        kept.remove(row)
    return kept


def sign_test_p(n_blocks: int) -> float:
    """One-sided sign-test p-value of "A is ahead of B in every one of ``n_blocks`` independent blocks" under the
    null of either order being equally likely in each block: 0.5^N."""
    return 0.5 ** n_blocks
