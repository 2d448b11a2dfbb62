"""The report's ranks over independent blocks (dataset × replicate) and the verdict it writes from them: the block
matrix against a slow loop over a hand-made frame, hand-computed ranks, Friedman and Nemenyi against scipy and
Demšar's table, each verdict rule on constructed cases, the sections a report writes, the † wording and the rank
changes of the tuned table."""
from __future__ import annotations

import math
import shutil
from dataclasses import replace
from itertools import product
from math import comb
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from benchmark.config import ParameterSet, load_config
from benchmark.grid import build_grid
from benchmark.report import ReportContext, build_report
from benchmark.report.statistics import BlockMatrix, block_matrix, nemenyi_critical_difference, rank_rows, sign_test_p
from benchmark.report.tables import table_statistics
from benchmark.report.tidy_data import COLUMNS
from benchmark.report.tuned import tuned_parameters, tuning_table
from benchmark.report.verdict import decide, splits
from benchmark.store import RunStore
from tests.fake_records import make_record, write_record

LOSSES = ["pairwise", "triplet", "dcgh", "proxy"]


def frame(values: dict[tuple[str, str, int, int, str], float]) -> pd.DataFrame:
    """A tidy frame (``tidy_data.COLUMNS``) of ``map`` values keyed (loss, dataset, bits, replicate, direction)."""
    rows = [[f"{dataset}-{bits}-{loss}-{replicate}", loss, loss, loss.upper(), None, loss == "infonce", dataset, bits,
             replicate, "honest", "frozen", True, direction, "map", value]
            for (loss, dataset, bits, replicate, direction), value in values.items()]
    return pd.DataFrame(rows, columns=COLUMNS)


def random_values(seed: int = 0, datasets=("synth-coco", "synth-nuswide"), replicates=3, bits=(16, 32),
                  losses=LOSSES) -> dict:
    rng = np.random.default_rng(seed)
    return {(loss, dataset, b, r, direction): float(rng.uniform(0.2, 0.9))
            for loss, dataset, b, r, direction in product(losses, datasets, bits, range(replicates), ("i2t", "t2i"))}


def slow_blocks(values: dict, losses: list[str]) -> tuple[list[tuple[str, int]], dict[str, list[float]]]:
    """The obvious block matrix: for each (dataset, replicate) where every loss has every (bits, direction) of the
    dataset, each loss's plain average over them."""
    datasets = sorted({key[1] for key in values})
    kept, matrix = [], {loss: [] for loss in losses}
    for dataset in datasets:
        cells = sorted({(key[2], key[4]) for key in values if key[1] == dataset})
        for replicate in sorted({key[3] for key in values if key[1] == dataset}):
            if not all((loss, dataset, b, replicate, d) in values for loss in losses for b, d in cells):
                continue
            kept.append((dataset, replicate))
            for loss in losses:
                total = 0.0
                for b, d in cells:
                    total += values[(loss, dataset, b, replicate, d)]
                matrix[loss].append(total / len(cells))
    return kept, matrix


def test_the_block_matrix_equals_a_slow_loop_over_the_frame():
    values = random_values()
    table = table_statistics(frame(values), "map")
    blocks = block_matrix(table, LOSSES)
    kept, matrix = slow_blocks(values, LOSSES)
    assert len(blocks.blocks) == 2 * 3 and blocks.left_out == [] and blocks.cells == {"synth-coco": 4,
                                                                                     "synth-nuswide": 4}
    assert sorted(blocks.blocks) == sorted(kept)
    order = [kept.index(block) for block in blocks.blocks]
    for loss in LOSSES:
        assert blocks.values[loss] == pytest.approx([matrix[loss][i] for i in order], abs=1e-12)
    # one missing cell (one loss, one direction, one code length) leaves its whole block out, and only it
    del values[("dcgh", "synth-nuswide", 32, 1, "t2i")]
    blocks = block_matrix(table_statistics(frame(values), "map"), LOSSES)
    kept, matrix = slow_blocks(values, LOSSES)
    assert blocks.left_out == [("synth-nuswide", 1)] and len(blocks.blocks) == 5
    assert sorted(blocks.blocks) == sorted(kept)
    order = [kept.index(block) for block in blocks.blocks]
    for loss in LOSSES:
        assert blocks.values[loss] == pytest.approx([matrix[loss][i] for i in order], abs=1e-12)


def test_reference_rows_are_not_ranked_and_do_not_leave_blocks_out():
    values = random_values(1)
    values.update({("ref:random", "synth-coco", 16, 0, "i2t"): 0.1})  # a reference row with a single cell
    table = table_statistics(frame(values), "map")
    blocks = block_matrix(table, [row for row in table.rows if not row.startswith("ref:")])
    assert blocks.rows == table.rows[:4] and len(blocks.blocks) == 6 and not blocks.left_out


def test_ranks_within_blocks_by_hand():
    """One dataset, one code length, three replicates: a block is a replicate, a loss's value the mean of its two
    directions (so a loss best in one direction only can rank second), ties sharing their average rank."""
    hand = {("a", 0): (0.875, 0.125), ("b", 0): (0.625, 0.625), ("c", 0): (0.5, 0.25),     # 0.5, 0.625, 0.375
            ("a", 1): (0.75, 0.75), ("b", 1): (0.625, 0.625), ("c", 1): (0.6875, 0.6875),  # 0.75, 0.625, 0.6875
            ("a", 2): (0.25, 0.75), ("b", 2): (0.5, 0.5), ("c", 2): (0.875, 0.0)}          # 0.5, 0.5, 0.4375
    values = {(loss, "synth-coco", 16, r, d): v[i] for (loss, r), v in hand.items()
              for i, d in enumerate(("i2t", "t2i"))}
    blocks = block_matrix(table_statistics(frame(values), "map"), ["a", "b", "c"])
    assert blocks.blocks == [("synth-coco", 0), ("synth-coco", 1), ("synth-coco", 2)]
    assert blocks.values == {"a": [0.5, 0.75, 0.5], "b": [0.625, 0.625, 0.5], "c": [0.375, 0.6875, 0.4375]}
    ranking = rank_rows(blocks.values)
    # ranks: block 0 (2, 1, 3), block 1 (1, 3, 2), block 2 (1.5, 1.5, 3)
    assert ranking.ranks == {"a": (2, 1, 1.5), "b": (1, 3, 1.5), "c": (3, 2, 3)}
    assert ranking.average_ranks == pytest.approx({"a": 4.5 / 3, "b": 5.5 / 3, "c": 8 / 3})
    assert ranking.n_blocks == 3


def test_friedman_over_the_block_means_and_the_nemenyi_critical_difference():
    values = random_values(2, datasets=("synth-coco", "synth-nuswide", "synth-mirflickr25k"))
    blocks = block_matrix(table_statistics(frame(values), "map"), LOSSES)
    ranking = rank_rows(blocks.values)
    expected = stats.friedmanchisquare(*(blocks.values[loss] for loss in LOSSES))
    assert ranking.n_blocks == 9
    assert ranking.statistic == pytest.approx(expected.statistic) and ranking.p_value == pytest.approx(expected.pvalue)
    q = stats.studentized_range.ppf(0.95, 4, np.inf) / math.sqrt(2)
    assert ranking.critical_difference == pytest.approx(q * math.sqrt(4 * 5 / (6 * 9)))
    # Demšar (2006), table 5(a): q_0.05 = 2.728 for 5 classifiers; with 9 blocks CD = 2.728 sqrt(30 / 54) = 2.03
    assert nemenyi_critical_difference(5, 9) == pytest.approx(2.03, abs=0.005)
    assert nemenyi_critical_difference(5, 9) == pytest.approx(2.728 * math.sqrt(30 / 54), abs=1e-3)


def matrix(rows: dict[str, list[float]]) -> BlockMatrix:
    n = len(next(iter(rows.values())))
    return BlockMatrix(list(rows), [("synth-coco", r) for r in range(n)], rows, {"synth-coco": 6}, [])


def verdict_of(rows: dict[str, list[float]]):
    blocks = matrix(rows)
    return decide(blocks, rank_rows(blocks.values))


def rotating(n_blocks: int, first: str | None = "a") -> dict[str, list[float]]:
    """Losses a, b, c, d over ``n_blocks`` blocks: ``first`` always ahead, the other three in a rotating order."""
    others = [loss for loss in "abcd" if loss != first]
    rows = {loss: [] for loss in "abcd"}
    for b in range(n_blocks):
        if first:
            rows[first].append(0.9)
        for i, loss in enumerate(others):
            rows[loss].append(0.5 + 0.1 * ((i + b) % len(others)))
    return rows


def test_a_loss_ahead_in_every_block_is_said_with_its_sign_test():
    result = verdict_of(rotating(6))
    assert result.differs and result.best == ("a",)
    assert result.ahead == (("a",), ("b", "c", "d")) and result.sign_p == 0.5 ** 6
    assert "a is ahead of b, c and d in every one of the 6 blocks (one-sided sign test, p = 0.5^6 = 0.0156)." \
        in result.sentences
    # 0.5^4 = 0.0625: four blocks are too few for the claim, however consistent (and however clear the Friedman test)
    rows = {loss: [1.0 - 0.1 * i + 0.01 * b for b in range(4)] for i, loss in enumerate("abcde")}
    assert splits(matrix(rows), list("abcde")) == [1, 2, 3, 4]
    four = verdict_of(rows)
    assert four.differs and four.best == ("a",) and four.ahead == () and math.isnan(four.sign_p)
    assert not any("every one of" in sentence for sentence in four.sentences)


def test_best_top_group_behind_and_a_chain_of_groups():
    """Five losses in the same order in each of 9 blocks: average ranks 1 .. 5, CD = 2.03."""
    rows = {loss: [1.0 - 0.1 * i + 0.01 * b for b in range(9)] for i, loss in enumerate("abcde")}
    result = verdict_of(rows)
    assert result.critical_difference == pytest.approx(2.03, abs=0.005)
    assert result.best == ("a",) and result.top_group == ("b", "c") and result.behind == ("d", "e")
    assert result.ahead == (("a",), ("b",), ("c",), ("d",), ("e",))
    sentences = result.sentences
    assert sentences[0].startswith("The 5 losses do not all rank alike over the 9 blocks; a has the best average "
                                   "rank (1.00) (Friedman test over the 9 blocks, χ² = 36.00, p = ")
    assert sentences[1] == ("b and c are not separable from a by Nemenyi's test at 9 blocks (average ranks 2.00, "
                            "3.00, less than CD from 1.00) (Nemenyi test, α = 0.05, CD = 2.03 for 5 losses and 9 "
                            "blocks).")
    assert sentences[2].startswith("d and e rank significantly behind a (average ranks 4.00, 5.00, at least CD")
    assert sentences[3] == ("a is ahead of b, which is ahead of c, which is ahead of d, which is ahead of e in every "
                            "one of the 9 blocks (one-sided sign test for each step, p = 0.5^9 = 0.00195).")
    assert not any(word in " ".join(sentences) for word in ("tied", "equal", "tie"))


def test_without_a_friedman_rejection_no_order_is_claimed():
    rng = np.random.default_rng(3)
    rows = {loss: list(rng.uniform(0.4, 0.6, 8)) for loss in "abcd"}
    result = verdict_of(rows)
    assert result.tested and result.p_value >= 0.05
    assert result.sentences == [(f"No difference among the 4 losses is shown over the 8 blocks (Friedman test over "
                                 f"the 8 blocks, χ² = {result.statistic:.2f}, p = {result.p_value:.3g}).")]
    assert result.best == result.top_group == result.behind == result.ahead == ()


def test_one_block_or_two_losses_test_nothing():
    one = verdict_of({"a": [0.9], "b": [0.5], "c": [0.1]})
    assert not one.tested and one.sentences == [
        ("Nothing is tested: 3 losses over 1 independent block (the Friedman test needs at least 3 losses and 2 "
         "independent blocks).")]
    two = verdict_of({"a": [0.9] * 10, "b": [0.1] * 10})
    assert not two.tested and two.sentences[0].startswith("Nothing is tested: 2 losses over 10 independent blocks")
    empty = decide(BlockMatrix(["a", "b", "c"], [], {"a": [], "b": [], "c": []}, {}, [("synth-coco", 0)]),
                   rank_rows({"a": [], "b": [], "c": []}))
    assert empty.sentences == [("No block has a value of every loss in every cell of its dataset, so nothing is "
                                "tested (1 block left out).")]


@pytest.mark.parametrize("k", range(3, 16))
def test_the_sign_test_p_bounds_choosing_the_split_after_looking(k):
    """Under exchangeable ranks in independent blocks, the chance that some split of the k losses holds in all N
    blocks is the sum over split sizes j of C(k, j)^(1 - N): below 0.5^N once 0.5^N < 0.05 (N >= 5)."""
    for n in range(5, 30):
        assert sign_test_p(n) < 0.05
        assert sum(comb(k, j) ** (1 - n) for j in range(1, k)) <= sign_test_p(n)
    assert sign_test_p(4) >= 0.05


# ------------------------------------------------------------------------------------------- the report


@pytest.fixture
def config():
    return load_config("default", {"losses": ["pairwise", "triplet", "dcgh"], "bits": [16, 32], "replicates": 3,
                                   "datasets": ["synth-coco", "synth-nuswide"], "references": False})


def test_the_report_writes_the_verdict_after_the_main_table_and_ranks_over_blocks(tmp_path, config):
    results, out = tmp_path / "results", tmp_path / "out"
    base = {"pairwise": 0.6, "triplet": 0.5, "dcgh": 0.4}
    for (loss, value), dataset, bits, replicate in product(base.items(), ("synth-coco", "synth-nuswide"), (16, 32),
                                                            range(3)):
        write_record(results, config, loss, dataset, bits, replicate, value + 0.01 * replicate + 0.001 * bits / 16)
    report = build_report(results, out)
    tables = out / "tables"
    assert tables / "verdict.md" in report.tables and tables / "verdict.tex" in report.tables
    verdict = (tables / "verdict.md").read_text()
    assert "over 6 independent blocks, a block being one dataset × replicate" in verdict
    assert ("- The 3 losses do not all rank alike over the 6 blocks; pairwise has the best average rank (1.00) "
            "(Friedman test over the 6 blocks, χ² = 12.00, p = 0.00248).") in verdict
    assert "- triplet is not separable from pairwise by Nemenyi's test at 6 blocks" in verdict
    assert "- dcgh ranks significantly behind pairwise" in verdict
    assert ("- pairwise is ahead of triplet, which is ahead of dcgh in every one of the 6 blocks (one-sided sign "
            "test for each step, p = 0.5^6 = 0.0156).") in verdict
    readme = " ".join((Path(__file__).resolve().parents[1] / "README.md").read_text().split())
    assert ("pairwise is ahead of triplet, which is ahead of dcgh in every one of the 6 blocks (one-sided sign test "
            "for each step, p = 0.5^6 = 0.0156)") in readme  # the README quotes this very sentence
    latex = (tables / "verdict.tex").read_text()
    assert "\\begin{itemize}" in latex and "$0.5^{6}$" in latex and latex.isascii()
    assert "Pairwise likelihood" in latex  # the display names, as the LaTeX main table prints them
    index = (out / "README.md").read_text()
    sections = [line for line in index.splitlines() if line.startswith("## ")]
    main = next(i for i, line in enumerate(sections) if line.startswith("## Main table"))
    assert sections[main + 1] == "## Verdict (mAP)"
    assert sections[main + 2].startswith("## Ranks over independent blocks")
    assert verdict in index  # inlined
    ranks = (tables / "ranks_map.md").read_text().splitlines()[0]
    assert "6 independent blocks" in ranks and "CD = 1.35 " in ranks and "χ² = 12.00, p = 0.00248" in ranks
    csv = pd.read_csv(tables / "ranks_map.csv")
    assert set(csv.blocks) == {6} and csv.friedman_chi2.iloc[0] == pytest.approx(12.0)
    main_caption = (tables / "main_map.md").read_text().splitlines()[0]
    assert "†: not shown worse than the best" in main_caption and "tied" not in main_caption
    assert "at 3 replicates a difference to the best smaller than about 0.000" in main_caption
    if shutil.which("pdflatex"):
        from tests.test_report_layout import compile_latex
        compile_latex(tables, ["verdict.tex", "ranks_map.tex"])


def test_a_label_free_control_is_shown_apart_and_never_marked_ranked_or_in_the_verdict(tmp_path):
    """infonce (a control) scores above every loss in every cell; the losses' marks, ranks and verdict are those of
    the three losses alone, and its row comes after theirs, unmarked, with the caption saying why."""
    config = load_config("default", {"losses": ["pairwise", "triplet", "dcgh", "infonce"], "bits": [16, 32],
                                     "replicates": 3, "datasets": ["synth-coco", "synth-nuswide"],
                                     "references": False})
    results, out = tmp_path / "results", tmp_path / "out"
    base = {"pairwise": 0.6, "triplet": 0.5, "dcgh": 0.4, "infonce": 0.9}
    for (loss, value), dataset, bits, replicate in product(base.items(), ("synth-coco", "synth-nuswide"), (16, 32),
                                                            range(3)):
        write_record(results, config, loss, dataset, bits, replicate, value + 0.01 * replicate + 0.001 * bits / 16)
    build_report(results, out)
    tables = out / "tables"
    verdict = (tables / "verdict.md").read_text()
    assert "The 3 losses do not all rank alike" in verdict and "infonce" not in verdict
    ranks = pd.read_csv(tables / "ranks_map.csv")
    assert "infonce" not in set(ranks.iloc[:, 0]) and len(ranks) == 3
    main = (tables / "main_map.md").read_text()
    caption, rows = main.splitlines()[0], [line for line in main.splitlines() if line.startswith("| ")]
    assert "label-free control (InfoNCE (CLIP)" in caption and "never marked, ranked or tested" in caption
    names = [line.split("|")[1].strip() for line in rows]
    assert names.index("infonce") > max(names.index(loss) for loss in ("pairwise", "triplet", "dcgh"))
    control = next(line for line in rows if line.split("|")[1].strip() == "infonce")
    best = next(line for line in rows if line.split("|")[1].strip() == "pairwise")
    assert "**" not in control and "†" not in control and "**" in best


def test_one_dataset_and_one_replicate_make_one_block_and_no_test(tmp_path):
    config = load_config("default", {"losses": ["pairwise", "triplet", "dcgh"], "datasets": ["synth-coco"],
                                     "bits": [16, 32], "replicates": 1, "references": False})
    results, out = tmp_path / "results", tmp_path / "out"
    for loss, value in {"pairwise": 0.6, "triplet": 0.5, "dcgh": 0.4}.items():
        for bits in (16, 32):
            write_record(results, config, loss, "synth-coco", bits, 0, value)
    report = build_report(results, out, formats=["markdown"])
    verdict = (out / "tables" / "verdict.md").read_text()
    assert "- Nothing is tested: 3 losses over 1 independent block" in verdict and "pairwise" not in verdict
    ranks = (out / "tables" / "ranks_map.md").read_text().splitlines()[0]
    assert "over 1 independent block," in ranks and "no test is made" in ranks and "CD =" not in ranks
    assert not (out / "tables" / "verdict.tex").exists() and report.index is not None


def test_a_block_missing_a_cell_is_left_out_and_said(tmp_path, config):
    results, out = tmp_path / "results", tmp_path / "out"
    for loss, value in {"pairwise": 0.6, "triplet": 0.5, "dcgh": 0.4}.items():
        for dataset, bits, replicate in product(("synth-coco", "synth-nuswide"), (16, 32), range(3)):
            if (loss, dataset, bits, replicate) != ("dcgh", "synth-nuswide", 32, 2):
                write_record(results, config, loss, dataset, bits, replicate, value)
    build_report(results, out, formats=["markdown"])
    ranks = (out / "tables" / "ranks_map.md").read_text().splitlines()[0]
    assert "over 5 independent blocks" in ranks
    assert "1 block left out, where some loss lacks a cell (synth-nuswide replicate 2)" in ranks


def test_the_dagger_caption_says_not_shown_worse_and_what_is_not_detectable(tmp_path, config):
    results, out = tmp_path / "results", tmp_path / "out"
    scores = {"pairwise": [0.50, 0.53, 0.49], "triplet": [0.51, 0.50, 0.50], "dcgh": [0.40, 0.43, 0.41]}
    for loss, by_replicate in scores.items():
        for replicate, value in enumerate(by_replicate):
            write_record(results, config, loss, "synth-coco", 16, replicate, value)
    build_report(results, out, formats=["markdown"])
    # the median over (loss, direction) of the 95% half-width of the paired difference to the best (pairwise)
    widths = sorted(stats.t.ppf(0.975, 2) * np.std(np.subtract(scores["pairwise"], scores[loss]), ddof=1) / math.sqrt(3)
                    for loss in ("triplet", "dcgh") for _ in ("i2t", "t2i"))
    caption = (out / "tables" / "main_map.md").read_text().splitlines()[0]
    assert ("†: not shown worse than the best (two-sided paired t-test over replicates, Holm-corrected over the "
            "column's losses, α = 0.05; at 3 replicates a difference to the best smaller than about "
            f"{widths[len(widths) // 2]:.3f}, the median 95% half-width") in caption
    assert "tied" not in caption and "not significantly worse" not in caption


# ------------------------------------------------------------------------------------------- tuned ranks


def test_a_rank_change_is_untested_unless_paired_tests_show_both_orders(tmp_path):
    config = load_config("default", {"losses": ["pairwise", "triplet", "dcgh"], "datasets": ["synth-coco"],
                                     "bits": [16, 32, 64], "replicates": 4, "references": False})
    specs = build_grid(config).specs
    tuned_set = ParameterSet(name="tuned", defaults={}, trials=3, epochs=2)
    scores = {  # (bits, loss): default and tuned I->T mAP by replicate
        # 16 bits: triplet overtakes pairwise, both orders clear in every replicate
        (16, "pairwise"): ([0.60, 0.62, 0.61, 0.63], [0.60, 0.62, 0.61, 0.63]),
        (16, "triplet"): ([0.50, 0.52, 0.51, 0.53], [0.70, 0.72, 0.71, 0.73]),
        (16, "dcgh"): ([0.30, 0.31, 0.32, 0.33], [0.30, 0.31, 0.32, 0.33]),
        # 32 bits: triplet's mean passes pairwise's, but the replicates disagree
        (32, "pairwise"): ([0.60, 0.62, 0.61, 0.63], [0.60, 0.62, 0.61, 0.63]),
        (32, "triplet"): ([0.50, 0.52, 0.51, 0.53], [0.70, 0.50, 0.75, 0.55]),
        (32, "dcgh"): ([0.30, 0.31, 0.32, 0.33], [0.30, 0.31, 0.32, 0.33]),
        # 64 bits: the tuned order is clear, but the default order (pairwise ahead) is not shown
        (64, "pairwise"): ([0.60, 0.62, 0.61, 0.63], [0.60, 0.62, 0.61, 0.63]),
        (64, "triplet"): ([0.65, 0.50, 0.66, 0.51], [0.70, 0.72, 0.71, 0.73]),
        (64, "dcgh"): ([0.30, 0.31, 0.32, 0.33], [0.30, 0.31, 0.32, 0.33])}
    plain, tuned = [], []
    for spec in specs:
        default, better = scores[(spec.bits, spec.loss)]
        plain.append(make_record(spec, default[spec.replicate]))
        tuned.append(make_record(replace(spec, parameter_set=tuned_set), better[spec.replicate]))
    table = tuning_table(plain, tuned)
    ranks = table.drop_duplicates(["bits", "loss"]).set_index(["bits", "loss"])
    assert ranks.loc[(16, "triplet"), ["rank_default", "rank_tuned"]].tolist() == [2, 1]
    assert ranks.loc[(16, "triplet"), "rank_change"] == "tested" == ranks.loc[(16, "pairwise"), "rank_change"]
    assert ranks.loc[(32, "triplet"), ["rank_default", "rank_tuned"]].tolist() == [2, 1]
    assert ranks.loc[(32, "triplet"), "rank_change"] == "untested" == ranks.loc[(32, "pairwise"), "rank_change"]
    assert ranks.loc[(64, "triplet"), ["rank_default", "rank_tuned"]].tolist() == [2, 1]
    assert ranks.loc[(64, "triplet"), "rank_change"] == "untested"
    assert ranks.loc[(16, "dcgh"), "rank_change"] == "" == ranks.loc[(32, "dcgh"), "rank_change"]
    section = tuned_parameters(ReportContext(plain, RunStore(tmp_path), tmp_path / "out", ["markdown"], tuned=tuned))
    rows = {line.split(" | ")[0].strip("| "): line for line in section.markdown.splitlines() if line.startswith("| ")}
    assert rows["synth-coco / 16 / triplet [tuned]"].endswith("| 2 → 1 |")
    assert rows["synth-coco / 32 / triplet [tuned]"].endswith("| 2 → 1 (untested) |")
    assert rows["synth-coco / 32 / dcgh [tuned]"].endswith("| 3 → 3 |")
    assert "a rank change is marked (untested) unless" in section.markdown.splitlines()[0]
