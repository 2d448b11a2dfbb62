"""Reports built from hand-made run records: what the marks claim (tested, never asserted), confidence
intervals, reference rows, ablation differences, ranks, missing cells, figures, the index, numbers traced back
to the records, and LaTeX that compiles."""
from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

from benchmark.config import load_config
from benchmark.grid import build_grid
from benchmark.record import RunFailure
from benchmark.errors import ReportError
from benchmark.report import build_report
from benchmark.report.statistics import t_half_width
from benchmark.report.tidy_data import metric_name
from benchmark.store import RunStore
from tests.fake_records import write_record


@pytest.fixture
def ablation_config():
    losses = ["dcgh", "dcgh-novar", "dcgh-labelvar", "dcgh-nopair", "proxy", "pairwise"]
    return load_config("default", {"losses": losses, "datasets": ["synth-coco"], "bits": [16, 32], "replicates": 3,
                                   "references": False})


@pytest.fixture
def grid_config():
    return load_config("default", {"losses": ["pairwise", "triplet", "dcgh", "dcgh-novar", "proxy"],
                                   "datasets": ["synth-coco", "synth-nuswide"], "bits": [16, 32],
                                   "replicates": 3, "references": False})


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def markdown_tables(path: Path) -> list[tuple[str, list[str], dict[str, list[str]]]]:
    """Each Markdown table of ``path``: the task line above it ("I→T", "T→I (2/2)"; "" for none), its header after
    the first column, and its rows' cells by label; an ablation's Δ row under loss L is keyed "L Δ"."""
    tables, task, previous = [], "", ""
    for line in path.read_text().splitlines():
        if line.startswith("**"):
            task = line.replace("*", "")
        elif line.startswith("| ") and not previous.startswith("|"):
            tables.append((task, _cells(line)[1:], {}))
        elif line.startswith("| "):
            label, *cells = _cells(line)
            rows = tables[-1][2]
            rows[f"{list(rows)[-1]} Δ" if label.startswith("↳ Δ") else label] = cells
        previous = line
    return tables


def markdown_rows(path: Path, task: str = "I→T") -> dict[str, list[str]]:
    """The rows of the first table of ``task`` (or of the only table when it has no task line), by label."""
    return next(rows for heading, _, rows in markdown_tables(path) if heading.startswith(task) or not heading)


def cell(out: Path, table: str, loss: str, column: str = "synth-coco 16 bits", task: str = "I→T") -> str:
    for heading, head, rows in markdown_tables(out / "tables" / f"{table}.md"):
        if heading.startswith(task) and column in head:
            return rows[loss][head.index(column)]
    raise KeyError(column)


def latex_rows(latex: str) -> list[str]:
    """The labels of the rows of a LaTeX table, in order (the task blocks one after the other)."""
    body = latex.split("\\midrule\n", 1)[1]
    return [line.split(" & ")[1] for line in body.splitlines() if line.endswith("\\\\")]


def write_cells(results: Path, config, values: dict[str, list[float]], dataset="synth-coco", bits=16) -> None:
    for loss, by_replicate in values.items():
        for replicate, value in enumerate(by_replicate):
            write_record(results, config, loss, dataset, bits, replicate, value)


def test_best_is_bold_and_only_tested_ties_are_marked(tmp_path, grid_config):
    results, out = tmp_path / "results", tmp_path / "out"
    write_cells(results, grid_config, {"pairwise": [0.50, 0.53, 0.49],   # the best mean
                                       "triplet": [0.51, 0.50, 0.50],    # noise: tied with the best
                                       "dcgh": [0.40, 0.43, 0.41],       # consistently 0.09 lower: significant
                                       "proxy": [0.52, 0.52, 0.47]})     # tied
    build_report(results, out)
    half = t_half_width([0.50, 0.53, 0.49])
    assert cell(out, "main_map", "pairwise") == f"**0.507** ± {half:.3f}"
    assert cell(out, "main_map", "triplet").endswith("†") and cell(out, "main_map", "proxy").endswith("†")
    assert "†" not in cell(out, "main_map", "dcgh") and "**" not in cell(out, "main_map", "dcgh")
    latex = (out / "tables" / "main_map.tex").read_text()
    assert rf"& Pairwise likelihood & \textbf{{0.507}}$_{{\pm{f'{half:.3f}'.lstrip('0')}}}$ \\" in latex
    assert latex.count(r"}^\dagger$") == 2 * 2  # triplet and proxy, in both directions
    table = list(csv.DictReader(io.StringIO((out / "tables" / "main_map.csv").read_text())))
    marks = {r["loss"]: r["mark"] for r in table if (r["direction"], r["bits"]) == ("i2t", "16")}
    assert marks == {"pairwise": "best", "triplet": "not shown worse", "dcgh": "", "proxy": "not shown worse"}
    index = (out / "README.md").read_text()
    assert ("over 3 replicates (each draws anew: data, backbone, init; per cell, not adjusted for the comparisons "
            "the marks make)") in index
    caption = index.split("*Cross-modal retrieval: ", 1)[1].split("*\n", 1)[0]  # how the numbers were made
    assert ("backbone: a small CLIP pretrained per synthetic set, frozen, a tanh hash head per modality trained; "
            "30 epochs, batch 128") in caption, caption
    assert ("the reported epoch is the one of best mean I→T and T→I mAP on a validation split held out of the "
            "training set; the query set is evaluated once, after training") in caption and "honest" not in caption
    assert "two-sided paired t-test over replicates, Holm-corrected" in index


def test_one_replicate_claims_no_significance(tmp_path, grid_config):
    results, out = tmp_path / "results", tmp_path / "out"
    write_cells(results, grid_config, {"pairwise": [0.50], "triplet": [0.4999], "dcgh": [0.3]})
    build_report(results, out, decimals=4)
    assert cell(out, "main_map", "pairwise") == "**0.5000**"
    assert cell(out, "main_map", "triplet") == "0.4999" and cell(out, "main_map", "dcgh") == "0.3000"
    caption = (out / "tables" / "main_map.md").read_text().splitlines()[0]
    assert "one replicate: no significance is claimed" in caption and "†" not in caption


def test_missing_cells_are_dashes_never_a_crash(tmp_path, grid_config):
    results, out = tmp_path / "results", tmp_path / "out"
    write_record(results, grid_config, "dcgh", "synth-coco", 16, 0, 0.5)
    write_record(results, grid_config, "pairwise", "synth-nuswide", 32, 0, 0.6)
    build_report(results, out)
    assert cell(out, "main_map", "dcgh", "synth-nuswide 32 bits") == "–"
    assert cell(out, "main_map", "pairwise", "synth-coco 16 bits") == "–"
    assert "& Pairwise likelihood & \\textbf{0.600} & -- \\\\" in (out / "tables" / "main_map.tex").read_text()
    assert len((out / "tables" / "main_map.csv").read_text().splitlines()) == 1 + 4


ABLATION = {"dcgh": [0.50, 0.60, 0.70],
            "dcgh-novar": [0.504, 0.597, 0.703],   # within noise of dcgh
            "dcgh-labelvar": [0.512, 0.609, 0.711],  # about 0.01 higher in every replicate
            "dcgh-nopair": [0.48, 0.59, 0.69],
            "proxy": [0.45, 0.56, 0.64]}           # lower in every replicate


def test_the_ablation_gives_paired_differences_and_says_which_are_not_significant(tmp_path, ablation_config):
    results, out = tmp_path / "results", tmp_path / "out"
    write_cells(results, ablation_config, {**ABLATION, "pairwise": [0.9, 0.9, 0.9]})  # pairwise: not an ablation loss
    report = build_report(results, out)
    path = out / "tables" / "ablation_variance_map.md"
    assert list(markdown_rows(path)) == ["dcgh", "dcgh-novar", "dcgh-novar Δ", "dcgh-labelvar", "dcgh-labelvar Δ",
                                         "dcgh-nopair", "dcgh-nopair Δ", "proxy", "proxy Δ"]
    novar = cell(out, "ablation_variance_map", "dcgh-novar Δ")
    assert novar.startswith("+0.001 ± ") and novar.endswith(" n.s.")
    proxy = cell(out, "ablation_variance_map", "proxy Δ")
    assert proxy.startswith("-0.050 ± ") and "n.s." not in proxy
    labelvar = cell(out, "ablation_variance_map", "dcgh-labelvar Δ")
    assert labelvar.startswith("+0.011 ± ") and "n.s." not in labelvar
    assert "**" in cell(out, "ablation_variance_map", "dcgh-labelvar") and "**" not in novar
    latex = (out / "tables" / "ablation_variance_map.tex").read_text()
    assert "\\quad $\\Delta$ to DCGH & +.001$_{\\pm" in latex and "}^{\\mathrm{n.s.}}$" in latex
    assert "\\quad $\\Delta$ to DCGH & $-$.050$_{\\pm" in latex
    rows = list(csv.DictReader(io.StringIO((out / "tables" / "ablation_variance_map.csv").read_text())))
    novar_row = next(r for r in rows if (r["loss"], r["direction"], r["bits"]) == ("dcgh-novar", "i2t", "16"))
    assert float(novar_row["delta_to_dcgh"]) == pytest.approx(0.004 / 3, abs=1e-6)  # (0.004 - 0.003 + 0.003) / 3
    assert float(novar_row["delta_p_holm"]) >= 0.05
    assert out / "figures" / "ablation_variance_map.png" in report.figures
    index = (out / "README.md").read_text()
    assert index.count((out / "tables" / "ablation_variance_map.md").read_text()) == 1  # one table, from its file


def test_the_ablation_takes_the_cells_and_replicates_where_every_one_of_its_losses_ran(tmp_path, ablation_config):
    results, out = tmp_path / "results", tmp_path / "out"
    write_cells(results, ablation_config, {**ABLATION, "dcgh-nopair": ABLATION["dcgh-nopair"][:2]})  # one missing
    write_cells(results, ablation_config, {"dcgh": [0.4, 0.5, 0.6], "proxy": [0.31, 0.42, 0.5]}, bits=32)
    build_report(results, out, formats=["csv"])
    rows = list(csv.DictReader(io.StringIO((out / "tables" / "ablation_variance_map.csv").read_text())))
    assert {(r["bits"], r["n_replicates"]) for r in rows} == {("16", "2")}
    assert len(rows) == 5 * 2


def test_no_ablation_table_without_the_ablations_runs(tmp_path, grid_config):
    """dcgh and proxy are in the main grid and in the ablation: that is no ablation."""
    results, out = tmp_path / "results", tmp_path / "out"
    write_cells(results, grid_config, {"dcgh": [0.5, 0.6], "proxy": [0.4, 0.5], "dcgh-novar": [0.5, 0.6]})
    report = build_report(results, out)
    assert not list((out / "tables").glob("ablation_*")) and not list((out / "figures").glob("ablation_*"))
    assert not any("ablation" in p.name for p in report.tables + report.figures)
    index = (out / "README.md").read_text()
    assert "Not in these records: no dataset, code length and replicate has a record of every loss of the " \
           "ablation (dcgh, dcgh-novar, dcgh-labelvar, dcgh-nopair, proxy); run `python -m benchmark ablate " \
           "variance`" in index


def test_reference_rows_sit_below_the_losses_unmarked(tmp_path, grid_config):
    results, out = tmp_path / "results", tmp_path / "out"
    config = load_config("default", {"losses": ["pairwise", "dcgh"], "datasets": ["synth-coco"], "bits": [16],
                                     "replicates": 2})
    write_cells(results, config, {"pairwise": [0.30, 0.31], "dcgh": [0.32, 0.33], "ref:random": [0.10, 0.11],
                                  "ref:lsh": [0.20, 0.21], "ref:continuous": [0.60, 0.61]})
    build_report(results, out)
    rows = markdown_rows(out / "tables" / "main_map.md")
    assert list(rows) == ["pairwise", "dcgh", "*random codes*", "*LSH of backbone features*",
                          "*backbone features (cosine)*"]
    assert rows["dcgh"][0].startswith("**0.325**")  # the continuous features' 0.605 is not a competitor
    assert all("**" not in c and "†" not in c for name, cells in list(rows.items())[2:] for c in cells)
    latex = (out / "tables" / "main_map.tex").read_text()
    assert "\\cmidrule{2-3}\n & \\textit{Random codes} &" in latex
    assert latex.count("\\cmidrule{2-3}") == 2  # once per task block
    assert "\\cline" not in latex and "\\midrule\n\\bottomrule" not in latex
    assert not any(name.startswith("ref:") for name in markdown_rows(out / "tables" / "ranks_map.md"))


def test_ranks_over_independent_blocks_with_friedman_and_the_critical_difference(tmp_path, grid_config):
    results, out = tmp_path / "results", tmp_path / "out"
    for dataset in ("synth-coco", "synth-nuswide"):
        for bits in (16, 32):
            write_cells(results, grid_config, {"pairwise": [0.6] * 3, "triplet": [0.5] * 3, "dcgh": [0.4] * 3},
                        dataset, bits)
    report = build_report(results, out)
    ranks = markdown_rows(out / "tables" / "ranks_map.md")
    assert ranks == {"pairwise": ["1.00"], "triplet": ["2.00"], "dcgh": ["3.00"]}
    caption = (out / "tables" / "ranks_map.md").read_text().splitlines()[0]
    # 2 datasets x 3 replicates = 6 blocks (the 8 cells of a replicate are 2 blocks, not 8 observations)
    assert "over 6 independent blocks, a block being one dataset × replicate" in caption
    assert "Friedman test over the 6 blocks: χ² = 12.00" in caption
    assert "CD = 1.35" in caption  # 2.343 * sqrt(3 * 4 / (6 * 6))
    assert "indicative" not in caption and "cells are not independent" not in caption
    assert out / "figures" / "critical_difference_map.png" in report.figures


def test_table_numbers_equal_the_records(tmp_path, grid_config):
    results, out = tmp_path / "results", tmp_path / "out"
    rng = np.random.default_rng(0)
    for loss in ("pairwise", "triplet", "dcgh"):
        for dataset in ("synth-coco", "synth-nuswide"):
            for replicate in (0, 1, 2):
                write_record(results, grid_config, loss, dataset, 32, replicate, float(rng.uniform(0.3, 0.8)),
                             float(rng.uniform(0.3, 0.8)))
    build_report(results, out, metric="map_tie_aware")
    table = list(csv.DictReader(io.StringIO((out / "tables" / "main_map_tie_aware.csv").read_text())))
    records = [json.loads(p.read_text()) for p in (results / "runs").glob("*/record.json")]
    assert len(table) == 3 * 2 * 2
    for row in table:
        values = [r["metrics"][row["direction"]]["map_tie_aware"] for r in records
                  if (r["spec"]["loss"], r["spec"]["dataset"], str(r["spec"]["bits"])) ==
                  (row["loss"], row["dataset"], row["bits"])]
        assert len(values) == int(row["n_replicates"]) == 3
        assert float(row["mean"]) == pytest.approx(np.mean(values), abs=1e-6)
        assert float(row["ci95_half_width"]) == pytest.approx(t_half_width(values), abs=1e-6)
    value = next(r["metrics"]["t2i"]["map_tie_aware"] for r in records
                 if (r["spec"]["loss"], r["spec"]["dataset"], r["spec"]["replicate"]) == ("triplet", "synth-nuswide", 0))
    others = [r["metrics"]["t2i"]["map_tie_aware"] for r in records
              if (r["spec"]["loss"], r["spec"]["dataset"]) == ("triplet", "synth-nuswide")]
    assert value in others
    text = cell(out, "main_map_tie_aware", "triplet", "synth-nuswide 32 bits", task="T→I")
    assert re.sub(r"[*†]", "", text) == f"{np.mean(others):.3f} ± {t_half_width(others):.3f}"


def test_figures_and_an_index_linking_only_existing_files(tmp_path, grid_config, monkeypatch):
    results, out = tmp_path / "results", tmp_path / "out"
    for loss in ("pairwise", "dcgh", "proxy"):
        write_record(results, grid_config, loss, "synth-coco", 16, 0, 0.5 + 0.01 * len(loss))
    grid = build_grid(grid_config)
    broken = next(s for s in grid.specs if s.loss == "triplet" and s.replicate == 1)
    RunStore(results).write_failure(RunFailure(run_id=broken.run_id, spec=broken, grid_id=grid.id, error="it broke",
                                               error_type="RuntimeError", traceback="",
                                               failed_at="2026-11-25T12:00:00+00:00"))
    renamed, replace = [], os.replace  # every report file is written atomically: completed, then renamed into place

    def spy(source, target):
        renamed.append(Path(target))
        replace(source, target)

    monkeypatch.setattr(os, "replace", spy)
    written = build_report(results, out, formats=["markdown", "csv"])
    assert {p for p in out.rglob("*") if p.is_file()} <= set(renamed)
    figures = out / "figures"
    for stem in ("pr_16", "precision_at_n_16", "training_synth-coco_16", "critical_difference_map"):
        for suffix in (".png", ".pdf"):
            assert (figures / f"{stem}{suffix}").stat().st_size > 1000, stem
    index = (out / "README.md").read_text()
    links = re.findall(r"\]\(([^)]+)\)", index)
    assert links and all((out / link).is_file() for link in links)
    assert not any(link.endswith(".tex") for link in links)  # no LaTeX asked for: none written, none linked
    assert "figures/pr_16.png" in links and "tables/main_map.csv" in links
    assert "SYNTHETIC stand-ins" in index and "honest" in index and "torch 2.13.0+cpu" in index
    assert "| pairwise |" in index  # the main table is inlined
    assert "3 of 60 runs of the grid have records" in index and "it broke" in index
    assert "Missing (not run yet):" in index and "- triplet synth-coco 16 bits replicate 0" in index
    assert written.index == out / "README.md"


def test_report_cli_errors_and_metric_choice(tmp_path, grid_config, cli):
    empty = cli("report", "--results", tmp_path / "none", "--out", tmp_path / "out")
    assert empty.returncode == 2 and empty.stderr.startswith("error: no run records in")
    results = tmp_path / "results"
    write_record(results, grid_config, "dcgh", "synth-coco", 16, 0, 0.5)
    bad = cli("report", "--results", results, "--out", tmp_path / "out", "--metric", "map@77")
    assert bad.returncode == 2 and "metric 'map@77' is not in the records; available: map, map@50" in bad.stderr
    good = cli("report", "--results", results, "--out", tmp_path / "out", "--metric", "map@50", "--format", "csv")
    assert good.returncode == 0, good.stderr
    assert (tmp_path / "out" / "tables" / "main_map_at_50.csv").is_file()


def test_graded_metrics_of_the_records_are_reported_under_their_names(tmp_path, grid_config, cli):
    """The records' ndcg@K, acg@K, wmap and wmap@K are --metric choices like map@K; tables and captions name them."""
    results, store = tmp_path / "results", RunStore(tmp_path / "results")
    for loss, value in (("pairwise", 0.4), ("dcgh", 0.5)):
        record = write_record(results, grid_config, loss, "synth-coco", 16, 0, value)
        graded = {d: {**m, "wmap": m["map"] + 0.2, "ndcg@50": m["map"] / 2, "acg@50": 1 + m["map"],
                      "wmap@50": m["map"] + 0.1} for d, m in record.metrics.items()}
        store.write_record(dataclasses.replace(record, metrics=graded))
    bad = cli("report", "--results", results, "--out", tmp_path / "out", "--metric", "ndcg@77")
    available = "acg@50, map, map@50, map_best, map_tie_aware, map_worst, ndcg@50, wmap, wmap@50"
    assert bad.returncode == 2 and f"available: {available}\n" in bad.stderr
    report = build_report(results, tmp_path / "out", formats=["csv", "latex"], metric="acg@50")
    table = list(csv.DictReader(io.StringIO((tmp_path / "out" / "tables" / "main_acg_at_50.csv").read_text())))
    assert {(row["loss"], row["direction"], float(row["mean"])) for row in table} >= {("dcgh", "i2t", 1.5),
                                                                                       ("pairwise", "t2i", 1.39)}
    assert "ACG@50 of Hamming ranking" in (tmp_path / "out" / "tables" / "main_acg_at_50.tex").read_text()
    assert report.index.is_file()
    assert [metric_name(m) for m in ("ndcg@1000", "acg@5000", "wmap", "wmap@1000", "map@50", "map_tie_aware")] == [
        "NDCG@1000", "ACG@5000", "weighted mAP", "weighted mAP@1000", "mAP@50", "tie-aware mAP"]


def test_ablate_runs_the_variance_grid_and_writes_its_table_and_figure(tiny, tmp_path, cli):
    config, results = tiny
    args = ["ablate", "variance", "--config", config, "--results", results, "--out", tmp_path / "ablation", "--quiet",
            "--epochs", "1"]
    result = cli(*args)
    assert result.returncode == 0, result.stderr
    assert "0 done, 5 to run" in result.stdout
    rows = markdown_rows(tmp_path / "ablation" / "tables" / "ablation_variance_map.md")
    assert [row for row in rows if not row.endswith(" Δ")] == ["dcgh", "dcgh-novar", "dcgh-labelvar", "dcgh-nopair",
                                                               "proxy"]
    assert all(rows[f"{loss} Δ"][0][0] in "+-" for loss in ("dcgh-novar", "dcgh-labelvar", "dcgh-nopair", "proxy"))
    assert (tmp_path / "ablation" / "figures" / "ablation_variance_map.png").stat().st_size > 1000
    again = cli(*args)
    assert again.returncode == 0 and "5 done, 0 to run" in again.stdout


def test_rows_are_grouped_by_family_representative_first(tmp_path):
    results, out = tmp_path / "results", tmp_path / "out"
    config = load_config("default", {"losses": ["dsph", "hashnet", "proxy", "pairwise", "dcgh", "triplet", "dtsh"],
                                     "datasets": ["synth-coco"], "bits": [16], "replicates": 1})
    write_cells(results, config, {loss: [0.3 + 0.01 * i] for i, loss in enumerate(
        ["dsph", "hashnet", "proxy", "pairwise", "dcgh", "triplet", "dtsh", "ref:lsh"])})
    build_report(results, out)
    path = out / "tables" / "main_map.md"
    assert list(markdown_rows(path)) == ["pairwise", "hashnet", "triplet", "dtsh", "proxy", "dsph", "dcgh",
                                         "*LSH of backbone features*"]
    assert latex_rows((out / "tables" / "main_map.tex").read_text())[:8] == [
        "Pairwise likelihood", "HashNet", "Triplet", "DTSH", "Proxy (HyP$^2$)", "DSPH", "DCGH", "\\textit{LSH}"]
    rows = list(csv.DictReader(io.StringIO((out / "tables" / "main_map.csv").read_text())))
    assert {r["loss"]: r["family"] for r in rows}["dtsh"] == "triplet"


def test_runs_of_different_settings_never_share_a_cell(tmp_path):
    """dcgh on synth-coco at 16 bits four ways: default, gamma 0.5, fine-tuned for 3 epochs, paper protocol."""
    results, out = tmp_path / "results", tmp_path / "out"
    base = {"losses": ["dcgh"], "datasets": ["synth-coco"], "bits": [16], "replicates": 1, "references": False}
    ways = {"default": ({}, 0.30), "gamma": ({"loss_params": {"dcgh": {"gamma": 0.5}}}, 0.40),
            "finetune": ({"run": {"mode": "finetune", "epochs": 3}}, 0.50), "paper": ({"run": {"protocol": "paper"}}, 0.60)}
    for overrides, value in ways.values():
        write_record(results, load_config("default", {**base, **overrides}), "dcgh", "synth-coco", 16, 0, value)
    build_report(results, out, formats=["markdown", "csv"])
    rows = markdown_rows(out / "tables" / "main_map.md")
    # default and gamma=0.5 share the configuration: two rows, each its own run, nothing averaged
    assert list(rows) == ["dcgh", "dcgh (gamma=0.5)"]
    assert rows["dcgh"][0] == "0.300" and rows["dcgh (gamma=0.5)"][0] == "**0.400**"
    index = (out / "README.md").read_text()
    assert "covers the 2 runs of one configuration" in index
    assert "1 runs with run.mode=finetune, run.epochs=3: `python -m benchmark report --where run.mode=finetune " \
           "--where run.epochs=3`" in index
    assert "1 runs with run.protocol=paper: `python -m benchmark report --where run.protocol=paper`" in index
    build_report(results, out / "paper", formats=["csv"], where=["protocol=paper"])
    table = list(csv.DictReader(io.StringIO((out / "paper" / "tables" / "main_map.csv").read_text())))
    assert [(r["loss"], round(float(r["mean"]), 6)) for r in table if r["direction"] == "i2t"] == [("dcgh", 0.6)]
    build_report(results, out / "gamma", formats=["csv"], where=["dcgh.gamma=0.5"])
    gamma = list(csv.DictReader(io.StringIO((out / "gamma" / "tables" / "main_map.csv").read_text())))
    assert {r["loss"] for r in gamma} == {"dcgh (gamma=0.5)"}
    with pytest.raises(ReportError, match="--where epoch=3: no configuration key or loss parameter has it"):
        build_report(results, out / "bad", where=["epoch=3"])


def test_the_results_command_lists_runs_with_their_differing_settings(tmp_path, cli):
    results = tmp_path / "results"
    base = {"losses": ["dcgh"], "datasets": ["synth-coco"], "bits": [16], "replicates": 1, "references": False}
    write_record(results, load_config("default", base), "dcgh", "synth-coco", 16, 0, 0.3)
    write_record(results, load_config("default", {**base, "run": {"protocol": "paper"}}), "dcgh", "synth-coco", 16, 0,
                 0.6)
    listed = cli("results", "--results", results, "--csv")
    assert listed.returncode == 0, listed.stderr
    table = list(csv.DictReader(io.StringIO(listed.stdout)))
    assert sorted((r["run.protocol"], r["map_i2t"], r["status"]) for r in table) == [
        ("honest", "0.3000", "done"), ("paper", "0.6000", "done")]
    assert set(table[0]) == {"run_id", "loss", "dataset", "bits", "replicate", "status", "map_i2t", "map_t2i",
                             "run.protocol"}  # only the settings that differ
    paper = cli("results", "--results", results, "--where", "protocol=paper")
    assert paper.returncode == 0 and "0.6000" in paper.stdout and "0.3000" not in paper.stdout


def test_the_results_command_prints_a_setting_some_runs_lack_as_the_runs_give_it(tmp_path, cli):
    """synthetic.size is 500 for one run and unset for the other: 500, not 500.0000, and the mAPs with 4 decimals."""
    results = tmp_path / "results"
    base = {"losses": ["dcgh"], "datasets": ["synth-coco"], "bits": [16], "replicates": 1, "references": False}
    write_record(results, load_config("default", base), "dcgh", "synth-coco", 16, 0, 0.3)
    write_record(results, load_config("default", {**base, "synthetic": {"size": 500}}), "dcgh", "synth-coco", 16, 0,
                 0.25)
    for flags in ([], ["--csv"]):
        listed = cli("results", "--results", results, *flags)
        assert listed.returncode == 0, listed.stderr
        assert "500" in listed.stdout and "500.0" not in listed.stdout and "0.2500" in listed.stdout, listed.stdout


def test_captions_state_the_split_sizes_per_dataset_and_once_when_they_agree(tmp_path):
    from benchmark.report.captions import split_text

    config = load_config("default", {"losses": ["dcgh"], "datasets": ["synth-coco", "synth-nuswide"], "bits": [16],
                                     "replicates": 1, "references": False})
    coco = write_record(tmp_path, config, "dcgh", "synth-coco", 16, 0, 0.5)
    nus = write_record(tmp_path, config, "dcgh", "synth-nuswide", 16, 0, 0.5)
    sizes = {"n_query": 500, "n_retrieval": 4500, "n_train": 2500, "n_val_query": 250}
    coco, nus = dataclasses.replace(coco, data=sizes), dataclasses.replace(nus, data={**sizes, "n_query": 600, "n_retrieval": 4400})
    assert split_text([coco]) == "query/retrieval/training items: 500/4,500/2,500 (250 held out for validation)"
    assert split_text([coco, dataclasses.replace(nus, data=sizes)]) == split_text([coco])
    assert split_text([coco, nus]) == ("query/retrieval/training items: NUS-WIDE (synthetic) 600/4,400/2,500 (250 "
                                       "held out for validation); MS-COCO (synthetic) 500/4,500/2,500 (250 held out "
                                       "for validation)")  # in the papers' order
