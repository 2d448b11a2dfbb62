"""The report's verdict: what the tests over independent blocks support, in words, each statement followed by the
test that supports it; nothing else is claimed.

The numbers are the ranks section's (``comparison.ranked_losses``): a block is one dataset × replicate, a loss's
value in a block the mean of its metric over that dataset's cells (both directions × each code length) of that
replicate; only blocks where every loss has every cell count. With k losses and N blocks, the average ranks
(1 = best), the Friedman test over the blocks and Nemenyi's critical difference CD at α = 0.05. The rules, in order:

1. No complete block (N = 0), fewer than 2 blocks or fewer than 3 losses: one statement, that nothing is tested
   (Friedman's test needs k ≥ 3 and N ≥ 2).
2. Friedman's p ≥ α: one statement, that no difference among the k losses is shown over the N blocks. No loss is
   named best, no order is stated.
3. Friedman's p < α:

   a. the losses do not all rank alike, and the best average rank is named (the Friedman test);
   b. the *top group*: every other loss whose average rank is less than CD from the best's, stated as "not
      separable from the best by Nemenyi's test at N blocks" — never as tied or equal, only as not told apart;
   c. the losses whose average rank is at least CD from the best's (Demšar's rule, as the critical-difference
      diagram draws it): "significantly behind" the best (Nemenyi's test);
   d. when N is large enough that 0.5^N < α (N ≥ 5), the splits of the losses (sorted by average rank) into a
      first group and the rest such that every block ranks every loss of the first group above every loss of the
      rest, strictly: "ahead in every one of the N blocks", with the one-sided sign test p = 0.5^N of any pair
      across the split. Such a first group is always a prefix of the average-rank order. The split is chosen after
      looking, but 0.5^N still bounds the chance of any split holding in all N blocks when the losses rank alike
      (exchangeable within independent blocks): that chance is Σ_j C(k, j)^(1 − N) over the split sizes j, which
      is below 0.5^N for k ≥ 3 and N ≥ 5. Consecutive splits are written as one chain ("A is ahead of B and C,
      which are ahead of D").

Statements name the losses as the main table does: their row names in Markdown, their display names in LaTeX.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from itertools import pairwise

from ..files import write_text
from .comparison import blocks_text, count, ranked_losses, unranked_text
from .sections import ReportContext, Section
from .statistics import ALPHA, BlockMatrix, Ranking, sign_test_p
from .escape import latex_text, markdown_text
from .tidy_data import metric_name


@dataclass(frozen=True)
class Finding:
    """One statement of the verdict and the test that supports it."""

    claim: str
    test: str

    @property
    def sentence(self) -> str:
        return f"{self.claim} ({self.test})."


@dataclass(frozen=True)
class Verdict:
    """The verdict's statements and the numbers behind them (module docstring: the rules).

    ``best``: the loss(es) of the best average rank, ``top_group``: the others not separable from it, ``behind``:
    those significantly behind it (all three empty unless the Friedman test rejects); ``ahead``: the chain of
    groups each ahead of the next in every block (empty unless such a split exists and ``sign_p`` < α)."""

    losses: tuple[str, ...]
    n_blocks: int
    left_out: int
    average_ranks: dict[str, float]
    statistic: float
    p_value: float
    critical_difference: float
    tested: bool
    best: tuple[str, ...]
    top_group: tuple[str, ...]
    behind: tuple[str, ...]
    ahead: tuple[tuple[str, ...], ...]
    sign_p: float
    findings: tuple[Finding, ...]

    @property
    def sentences(self) -> list[str]:
        return [finding.sentence for finding in self.findings]

    @property
    def differs(self) -> bool:
        """Whether the Friedman test rejects "all losses rank alike"."""
        return self.tested and self.p_value < ALPHA


def _names(rows, names: dict[str, str]) -> str:
    """"a", "a and b", "a, b and c"."""
    shown = [names.get(row, row) for row in rows]
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]


def _verb(rows, singular: str, plural: str) -> str:
    return singular if len(rows) == 1 else plural


def splits(blocks: BlockMatrix, order: list[str]) -> list[int]:
    """The sizes j (1 ≤ j < k) such that, in every block, each of the first j losses of ``order`` has a higher
    value than each of the others (strictly)."""
    found = []
    for j in range(1, len(order)):
        first, rest = order[:j], order[j:]
        if blocks.blocks and all(min(blocks.values[row][b] for row in first)
                                 > max(blocks.values[row][b] for row in rest) for b in range(len(blocks.blocks))):
            found.append(j)
    return found


def decide(blocks: BlockMatrix, ranking: Ranking, names: dict[str, str] | None = None) -> Verdict:
    """The verdict on the losses of ``blocks`` ranked by ``ranking`` (``statistics.rank_rows`` of
    ``blocks.values``), its statements naming each loss by ``names`` (default: its row name)."""
    names = names or {}
    losses = list(blocks.rows)
    k, n = len(losses), ranking.n_blocks
    average = ranking.average_ranks
    order = sorted(losses, key=lambda row: (average[row], losses.index(row)))
    friedman = f"Friedman test over the {count(n, 'block')}, χ² = {ranking.statistic:.2f}, p = {ranking.p_value:.3g}"
    nemenyi = (f"Nemenyi test, α = {ALPHA}, CD = {ranking.critical_difference:.2f} for {count(k, 'loss', 'losses')} "
               f"and {count(n, 'block')}")
    best: tuple[str, ...] = ()
    top: tuple[str, ...] = ()
    behind: tuple[str, ...] = ()
    ahead: tuple[tuple[str, ...], ...] = ()
    sign_p = math.nan
    tested = n >= 2 and k >= 3 and not math.isnan(ranking.p_value)
    if n == 0:
        findings = [Finding("No block has a value of every loss in every cell of its dataset, so nothing is tested",
                            f"{count(len(blocks.left_out), 'block')} left out")]
    elif not tested:
        findings = [Finding(f"Nothing is tested: {count(k, 'loss', 'losses')} over {count(n, 'independent block')}",
                            "the Friedman test needs at least 3 losses and 2 independent blocks")]
    elif ranking.p_value >= ALPHA:
        findings = [Finding(f"No difference among the {k} losses is shown over the {n} blocks", friedman)]
    else:
        low = average[order[0]]
        cd = ranking.critical_difference
        best = tuple(row for row in order if average[row] == low)
        top = tuple(row for row in order if row not in best and average[row] - low < cd)
        behind = tuple(row for row in order if average[row] - low >= cd)
        shared = "share" if len(best) > 1 else "has"
        findings = [Finding(f"The {k} losses do not all rank alike over the {n} blocks; {_names(best, names)} "
                            f"{shared} the best average rank ({low:.2f})", friedman)]
        if top:
            findings.append(Finding(
                f"{_names(top, names)} {_verb(top, 'is', 'are')} not separable from {_names(best, names)} by "
                f"Nemenyi's test at {n} blocks (average {_verb(top, 'rank', 'ranks')} "
                f"{', '.join(f'{average[row]:.2f}' for row in top)}, less than CD from {low:.2f})", nemenyi))
        if behind:
            findings.append(Finding(
                f"{_names(behind, names)} {_verb(behind, 'ranks', 'rank')} significantly behind "
                f"{_names(best, names)} (average {_verb(behind, 'rank', 'ranks')} "
                f"{', '.join(f'{average[row]:.2f}' for row in behind)}, at least CD from {low:.2f})", nemenyi))
        cuts = splits(blocks, order)
        if cuts and sign_test_p(n) < ALPHA:
            sign_p = sign_test_p(n)
            edges = [0, *cuts, k]
            ahead = tuple(tuple(order[a:b]) for a, b in pairwise(edges))
            parts = [f"{_names(ahead[0], names)} {_verb(ahead[0], 'is', 'are')} ahead of {_names(ahead[1], names)}"]
            parts += [f"which {_verb(previous, 'is', 'are')} ahead of {_names(group, names)}"
                      for previous, group in pairwise(ahead[1:])]
            chain = ", ".join(parts)
            findings.append(Finding(f"{chain} in every one of the {n} blocks",
                                    f"one-sided sign test{' for each step' if len(ahead) > 2 else ''}, "
                                    f"p = 0.5^{n} = {sign_p:.3g}"))
    return Verdict(tuple(losses), n, len(blocks.left_out), dict(average), ranking.statistic, ranking.p_value,
                   ranking.critical_difference, tested, best, top, behind, ahead, sign_p, tuple(findings))


def to_latex(sentences: list[str]) -> str:
    """An ``itemize`` of ``sentences``, escaped (``escape.latex_text``), with 0.5^N set as a power."""
    items = [re.sub(r"0\.5\\\^\{\}(\d+)", r"$0.5^{\1}$", latex_text(sentence)) for sentence in sentences]
    return "\n".join([r"\begin{itemize}", *(rf"\item {item}" for item in items), r"\end{itemize}"]) + "\n"


def verdict(context: ReportContext) -> Section | None:
    """The verdict section (``tables/verdict.md``, ``tables/verdict.tex``); None with fewer than two losses."""
    ranked = ranked_losses(context)
    if ranked is None:
        return None
    losses, blocks, ranking = ranked
    metric = context.metric
    result = decide(blocks, ranking)
    caption = (f"What the tests support about the losses' {metric_name(metric)}, computed over "
               f"{blocks_text(blocks, metric)}{unranked_text(context.table, losses)}. Each statement is followed by "
               f"the test that supports it (α = {ALPHA}); nothing else is claimed. Not separable: the test cannot tell "
               "the losses apart at this number of blocks, which does not make them equal.")
    statements = [f"- {markdown_text(sentence)}" for sentence in result.sentences]
    markdown = "\n".join([f"*{markdown_text(caption)}*", "", *statements]) + "\n"
    shown = decide(blocks, ranking, context.table.names)  # LaTeX: the display names, as the main table prints them
    latex = latex_text(caption) + "\n" + to_latex(shown.sentences)
    files = []
    folder = context.out / "tables"
    if "markdown" in context.formats:
        files.append(write_text(folder / "verdict.md", markdown))
    if "latex" in context.formats:
        files.append(write_text(folder / "verdict.tex", latex))
    return Section(f"Verdict ({metric_name(metric)})", markdown, files)

