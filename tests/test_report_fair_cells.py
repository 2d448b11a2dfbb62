"""What the report concludes from cells whose rows hold different replicates, and from curves with undefined
points (issue 30): a cell compares rows only on the replicates they share, and a precision where nothing is
retrieved is undefined, not 0, from the metric to the record to the figure."""
from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from benchmark.metrics import evaluate
from benchmark.report import build_report
from benchmark.record import RunRecord
from benchmark.report.figures import mean_curve
from tests.fake_records import make_record
from tests.test_metrics import GOLDEN_Q, GOLDEN_QL, GOLDEN_R, GOLDEN_RL

TOL = 1e-12


# ------------------------------------------------------------------------------- precision where nothing is retrieved

def test_precision_within_a_radius_that_retrieves_nothing_is_undefined():
    # Without GOLDEN_R's exact match the query's nearest items are at distance 1: r1 (not relevant) and r3
    # (relevant); r2 (relevant) at 2, r4 at 4. Radius 0 retrieves nothing: its precision is undefined.
    result = evaluate(GOLDEN_Q, GOLDEN_R[1:], GOLDEN_QL, GOLDEN_RL[1:], topk=(), precision_at=(1,))
    precision, recall = result["pr_radius"]["precision"], result["pr_radius"]["recall"]
    assert precision[0] is None
    assert precision[1:] == pytest.approx([1 / 2, 2 / 3, 2 / 3, 2 / 4], abs=TOL)
    assert recall == pytest.approx([0, 1 / 2, 1, 1, 1], abs=TOL)


def test_retrieving_only_irrelevant_items_is_precision_zero_not_undefined():
    # r1 alone: at distance 1, not relevant: radius 0 retrieves nothing (undefined), radius 1 one wrong item (0).
    result = evaluate(GOLDEN_Q, [GOLDEN_R[1]], GOLDEN_QL, [GOLDEN_RL[1]], topk=(), precision_at=(1,))
    precision = result["pr_radius"]["precision"]
    assert precision[0] is None and precision[1:] == [0.0, 0.0, 0.0, 0.0]


def test_a_record_stores_an_undefined_precision_as_null_and_reads_it_back():
    curve = {"radius": [0, 1, 2], "precision": [None, 0.5, 0.25], "recall": [0.0, 0.5, 1.0]}
    record = _with_pr(make_record(_spec(), 0.5), curve)
    text = record.to_json()
    assert "NaN" not in text and json.loads(text)["curves"]["i2t"]["pr_radius"]["precision"][0] is None
    assert RunRecord.from_json(text, "test").curves["i2t"]["pr_radius"]["precision"] == [None, 0.5, 0.25]


def test_the_pr_figure_averages_only_radii_every_replicate_retrieved_something():
    # Replicate 0 retrieves nothing at radius 0; replicate 1 retrieves one relevant item there. A mean that read
    # "nothing retrieved" as precision 0 would draw (0.05, 0.5): a drop to half at recall near 0 (the figure).
    first = {"radius": [0, 1, 2], "precision": [None, 0.6, 0.4], "recall": [0.0, 0.3, 1.0]}
    second = {"radius": [0, 1, 2], "precision": [1.0, 0.8, 0.4], "recall": [0.1, 0.5, 1.0]}
    records = [_with_pr(make_record(replace(_spec(), replicate=r), 0.5), curve)
               for r, curve in enumerate((first, second))]
    recall, precision = mean_curve(records, "i2t", "pr_radius", "recall", "precision")
    np.testing.assert_allclose(recall, [0.4, 1.0], rtol=0, atol=TOL)
    np.testing.assert_allclose(precision, [0.7, 0.4], rtol=0, atol=TOL)
    # A record written before precision could be undefined stored 0 there (with recall 0): no point either.
    first["precision"][0] = 0.0
    records[0] = _with_pr(records[0], first)
    recall, precision = mean_curve(records, "i2t", "pr_radius", "recall", "precision")
    np.testing.assert_allclose(precision, [0.7, 0.4], rtol=0, atol=TOL)


def _spec():
    from benchmark.config import load_config
    from benchmark.grid import build_grid

    config = load_config("default", {"losses": ["pairwise"], "datasets": ["synth-coco"], "bits": [16],
                                     "replicates": 2, "references": False, "search": {"enabled": False}})
    return build_grid(config).specs[0]


def _with_pr(record: RunRecord, curve: dict) -> RunRecord:
    curves = {d: {**c, "pr_radius": curve} for d, c in record.curves.items()}
    return replace(record, curves=curves)


# ------------------------------------------------------------------------------- cells of rows with other replicates

def _frame(values: dict[str, list[float]]):
    """The tidy frame of records of synth-coco at 16 bits: ``values[loss][r]`` the I→T mAP of replicate r (None:
    not run)."""
    from benchmark.config import load_config
    from benchmark.grid import build_grid
    from benchmark.report.tidy_data import tidy

    config = load_config("default", {"losses": list(values), "datasets": ["synth-coco"], "bits": [16],
                                     "replicates": max(map(len, values.values())), "references": False,
                                     "search": {"enabled": False}})
    records = [make_record(spec, values[spec.loss][spec.replicate]) for spec in build_grid(config).specs
               if spec.replicate < len(values[spec.loss]) and values[spec.loss][spec.replicate] is not None]
    return tidy(records), records


I2T = ("i2t", "synth-coco", 16)


def test_two_losses_with_unequal_replicates_are_compared_on_the_replicates_they_share():
    # The finding: over its own 2 replicates dcgh-novar's mean (0.664) beats triplet's over 3 (0.661), but
    # on the replicates both hold triplet leads 0.671 to 0.664. The cell compares the shared two.
    from benchmark.report.tables import table_statistics, to_markdown
    from benchmark.report.comparison import replicate_sets_text

    frame, _ = _frame({"triplet": [0.670, 0.672, 0.641], "dcgh-novar": [0.663, 0.665]})
    table = table_statistics(frame, "map")
    assert table.compared[I2T] == {0, 1}
    assert table.cell("triplet", I2T) == pytest.approx({0: 0.670, 1: 0.672})
    assert table.comparisons[("triplet", I2T)].mark == "best"
    assert table.comparisons[("dcgh-novar", I2T)].mark != "best"
    assert not table.incomplete and ("triplet", I2T) in table.trimmed
    assert "**0.671**" in to_markdown(table, "caption")
    text = replicate_sets_text(table)
    assert "the other replicates of" in text and table.names["triplet"] in text


def test_a_loss_with_fewer_replicates_than_the_rest_is_marked_and_left_out_of_marks_and_ranks():
    # Three losses over 3 replicates, dcgh-novar over 2 with the highest mean, hashnet over 1: the columns compare
    # on the 3; the two are shown with ‡, never bold or †, and neither is ranked.
    from benchmark.report.comparison import ranked_losses, replicate_sets_text, unranked_text
    from benchmark.report.tables import to_latex, to_markdown, to_csv, table_statistics

    frame, records = _frame({"triplet": [0.670, 0.672, 0.641], "pairwise": [0.60, 0.61, 0.62],
                             "center": [0.50, 0.52, 0.51], "dcgh-novar": [0.70, 0.72], "hashnet": [0.9]})
    table = table_statistics(frame, "map")
    assert table.compared[I2T] == {0, 1, 2}
    assert {row for row, _ in table.incomplete} == {"dcgh-novar", "hashnet"}
    assert table.comparisons[("triplet", I2T)].mark == "best"
    assert ("dcgh-novar", I2T) not in table.comparisons and ("hashnet", I2T) not in table.comparisons
    markdown = to_markdown(table, "caption")
    assert "0.710 ± " in markdown and "‡" in markdown.split("dcgh-novar")[1].splitlines()[0]
    assert "| hashnet | 0.900‡" in markdown
    assert r"0.900$^\ddagger$" in to_latex(table, "caption", "tab:x")
    assert "fewer replicates" in to_csv(table)
    assert "‡" in replicate_sets_text(table)

    class Context:  # what ranked_losses reads
        pass

    context = Context()
    context.table = table
    losses, blocks, _ = ranked_losses(context)  # with hashnet, 1 block of 5 losses; without the two, 3 of 3
    assert set(losses) == {"triplet", "pairwise", "center"} and len(blocks.blocks) == 3
    assert unranked_text(table, losses).endswith(": HashNet, DCGH w/o var")  # display names, as every caption


def test_ranking_keeps_a_loss_that_lacks_few_blocks_and_drops_one_that_lacks_most():
    from benchmark.report.statistics import block_matrix, ranked_rows
    from benchmark.report.tables import table_statistics

    frame, _ = _frame({"triplet": [0.67, 0.68, 0.64, 0.66], "pairwise": [0.6, 0.61, 0.62, 0.6],
                       "center": [0.5, 0.52, 0.51, 0.5], "dcgh": [0.7, 0.72, 0.71]})
    table = table_statistics(frame, "map")
    assert ranked_rows(table, ["triplet", "pairwise", "center", "dcgh"]) == ["triplet", "pairwise", "center", "dcgh"]
    assert len(block_matrix(table, ["triplet", "pairwise", "center", "dcgh"]).blocks) == 3  # 4 x 3 > 3 x 4
    frame, _ = _frame({"triplet": [0.67, 0.68, 0.64, 0.66], "pairwise": [0.6, 0.61, 0.62, 0.6],
                       "center": [0.5, 0.52, 0.51, 0.5], "dcgh": [0.7, 0.72]})
    table = table_statistics(frame, "map")
    assert ranked_rows(table, ["triplet", "pairwise", "center", "dcgh"]) == ["triplet", "pairwise", "center"]


def test_every_registered_loss_has_a_display_name():
    """Every loss of the registry is named in tables and figures by names.yaml, not by its command-line name (the
    contrastive family had none: its PR legend read "supcon" beside "DCGH")."""
    import losses
    from benchmark.report.tidy_data import loss_name

    unnamed = [entry.name for entry in losses.entries() if loss_name(entry.name) == entry.name]
    assert unnamed == []


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_one_display_name_reaches_every_latex_table_and_every_figure(tmp_path, monkeypatch):
    """Renaming triplet's display name in names.yaml renames it in every LaTeX table and in every figure that labels
    losses (ranks, critical differences, diagnostics, t-SNE and histograms printed the command-line name)."""
    import matplotlib.text

    from benchmark.report import diagnostic_sections, figures, tidy_data
    from tests.test_faults_report import write_results

    names = tidy_data._names()
    renamed = {**names, "losses": {**names["losses"], "triplet": "Trip Renamed"}}
    monkeypatch.setattr(tidy_data, "_names", lambda: renamed)
    seen: dict[str, set[str]] = {}

    def recording(save):
        def save_figure(fig, out, stem):
            seen[stem] = {text.get_text() for text in fig.findobj(matplotlib.text.Text)}
            return save(fig, out, stem)
        return save_figure

    for module in (figures, diagnostic_sections):
        monkeypatch.setattr(module, "save_figure", recording(module.save_figure))
    write_results(tmp_path / "results", loss="pairwise")
    build_report(tmp_path / "results", tmp_path / "out")
    assert {"critical_difference_map", "pr_16", "precision_at_n_16", "training_synth-coco_16",
            "distances_synth-coco_16", "embedding_synth-coco"} <= set(seen), sorted(seen)
    for stem, texts in seen.items():
        if stem.startswith("centroids"):  # one loss's heatmap: dcgh's
            continue
        assert any("Trip Renamed" in text for text in texts), (stem, texts)
        assert not any("triplet" in text for text in texts), (stem, texts)
    tables = sorted((tmp_path / "out" / "tables").glob("*.tex"))
    assert {p.name for p in tables} >= {"main_map.tex", "ranks_map.tex", "verdict.tex", "diagnostics_synth-coco_16.tex"}
    for path in tables:
        assert "Trip Renamed" in path.read_text(), path.name
