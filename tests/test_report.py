"""Reports built from hand-made run records: what the marks claim (tested, never asserted), confidence
intervals, reference rows, ablation differences, ranks, missing cells, figures, the index, numbers traced back
to the records, and LaTeX that compiles."""
from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmark.config import load_config
from benchmark.grid import build_grid
from benchmark.record import RunFailure
from benchmark.errors import ReportError
from benchmark.report import build_report
from benchmark.report.statistics import t_half_width
from benchmark.store import RunStore
from tests.records import write_record

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def grid_config():
    return load_config("default", {"losses": ["pairwise", "triplet", "dcgh", "dcgh-novar", "proxy"],
                                   "datasets": ["synth-coco", "synth-nuswide"], "bits": [16, 32],
                                   "replicates": 3, "references": False})


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _table_lines(path: Path) -> tuple[list[str], list[list[str]]]:
    lines = [line for line in path.read_text().splitlines() if line.startswith("| ")]
    return _cells(lines[0]), [_cells(line) for line in lines[1:]]


def markdown_rows(path: Path) -> dict[str, list[str]]:
    """Each row's cells after its loss name, by loss name (the family column, if any, left out)."""
    head, rows = _table_lines(path)
    loss = head.index("Loss")
    return {row[loss]: row[loss + 1:] for row in rows}


def family_column(path: Path) -> list[str]:
    head, rows = _table_lines(path)
    return [row[head.index("Family")] for row in rows]


def header(path: Path) -> list[str]:
    head, _ = _table_lines(path)
    return head[head.index("Loss") + 1:]


def cell(out: Path, table: str, loss: str, column: str = "I→T synth-coco 16 bits") -> str:
    path = out / "tables" / f"{table}.md"
    return markdown_rows(path)[loss][header(path).index(column)]


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
    assert cell(out, "main_map", "pairwise") == f"**0.5067 ± {half:.4f}**"
    assert cell(out, "main_map", "triplet").endswith("†") and cell(out, "main_map", "proxy").endswith("†")
    assert "†" not in cell(out, "main_map", "dcgh") and "**" not in cell(out, "main_map", "dcgh")
    latex = (out / "tables" / "main_map.tex").read_text()
    assert r"pairwise & \textbf{0.5067 $\pm$" in latex and r"$^\dagger$" in latex
    table = list(csv.DictReader(io.StringIO((out / "tables" / "main_map.csv").read_text())))
    marks = {r["loss"]: r["mark"] for r in table if (r["direction"], r["bits"]) == ("i2t", "16")}
    assert marks == {"pairwise": "best", "triplet": "tied", "dcgh": "", "proxy": "tied"}
    index = (out / "README.md").read_text()
    assert "over 3 replicates (each draws anew: data, backbone, init)" in index
    assert "two-sided paired t-test over replicates, Holm-corrected" in index


def test_one_replicate_claims_no_significance(tmp_path, grid_config):
    results, out = tmp_path / "results", tmp_path / "out"
    write_cells(results, grid_config, {"pairwise": [0.50], "triplet": [0.4999], "dcgh": [0.3]})
    build_report(results, out)
    assert cell(out, "main_map", "pairwise") == "**0.5000**"
    assert cell(out, "main_map", "triplet") == "0.4999" and cell(out, "main_map", "dcgh") == "0.3000"
    caption = (out / "tables" / "main_map.md").read_text().splitlines()[0]
    assert "one replicate: no significance is claimed" in caption and "†" not in caption


def test_missing_cells_are_dashes_never_a_crash(tmp_path, grid_config):
    results, out = tmp_path / "results", tmp_path / "out"
    write_record(results, grid_config, "dcgh", "synth-coco", 16, 0, 0.5)
    write_record(results, grid_config, "pairwise", "synth-nuswide", 32, 0, 0.6)
    build_report(results, out)
    assert cell(out, "main_map", "dcgh", "I→T synth-nuswide 32 bits") == "–"
    assert cell(out, "main_map", "pairwise", "I→T synth-coco 16 bits") == "–"
    assert "pairwise & -- &" in (out / "tables" / "main_map.tex").read_text()
    assert len((out / "tables" / "main_map.csv").read_text().splitlines()) == 1 + 4


def test_the_ablation_gives_paired_differences_and_says_which_are_not_significant(tmp_path, grid_config):
    results, out = tmp_path / "results", tmp_path / "out"
    write_cells(results, grid_config, {"dcgh": [0.50, 0.60, 0.70],
                                       "dcgh-novar": [0.5004, 0.5990, 0.7003],  # within noise of dcgh
                                       "proxy": [0.45, 0.56, 0.64],             # lower in every replicate
                                       "pairwise": [0.9, 0.9, 0.9]})            # not an ablation loss
    report = build_report(results, out)
    assert list(markdown_rows(out / "tables" / "ablation_variance_map.md")) == ["dcgh", "dcgh-novar", "proxy"]
    novar = cell(out, "ablation_variance_map", "dcgh-novar")
    assert "(Δ -0.0001 ± " in novar and novar.endswith(", n.s.)")
    proxy = cell(out, "ablation_variance_map", "proxy")
    assert "(Δ -0.0500 ± " in proxy and "n.s." not in proxy
    assert "**" not in novar and "**" in cell(out, "ablation_variance_map", "dcgh")
    rows = list(csv.DictReader(io.StringIO((out / "tables" / "ablation_variance_map.csv").read_text())))
    novar_row = next(r for r in rows if (r["loss"], r["direction"], r["bits"]) == ("dcgh-novar", "i2t", "16"))
    assert float(novar_row["delta_to_dcgh"]) == pytest.approx(-0.0001, abs=1e-6)  # (0.0004 - 0.001 + 0.0003) / 3
    assert float(novar_row["delta_p_holm"]) >= 0.05
    assert out / "figures" / "ablation_variance_map.png" in report.figures


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
    assert family_column(out / "tables" / "main_map.md")[2:] == ["reference", "", ""]
    assert rows["dcgh"][0].startswith("**0.3250")  # the continuous features' 0.605 is not a competitor
    assert all("**" not in c and "†" not in c for name, cells in list(rows.items())[2:] for c in cells)
    latex = (out / "tables" / "main_map.tex").read_text()
    assert "\\midrule\n\\multirow[t]{3}{*}{reference} & random codes &" in latex
    assert "\\cline" not in latex and "\\midrule\n\\bottomrule" not in latex
    assert not any(name.startswith("ref:") for name in markdown_rows(out / "tables" / "ranks_map.md"))


def test_ranks_across_cells_with_friedman_and_the_critical_difference(tmp_path, grid_config):
    results, out = tmp_path / "results", tmp_path / "out"
    for dataset in ("synth-coco", "synth-nuswide"):
        for bits in (16, 32):
            write_cells(results, grid_config, {"pairwise": [0.6], "triplet": [0.5], "dcgh": [0.4]}, dataset, bits)
    report = build_report(results, out)
    ranks = markdown_rows(out / "tables" / "ranks_map.md")
    assert ranks == {"pairwise": ["1.00"], "triplet": ["2.00"], "dcgh": ["3.00"]}
    caption = (out / "tables" / "ranks_map.md").read_text().splitlines()[0]
    assert "over 8 cells" in caption and "Friedman test over the cells: χ² = 16.00" in caption
    assert "CD = 1.17" in caption  # 2.343 * sqrt(3 * 4 / (6 * 8))
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
    text = cell(out, "main_map_tie_aware", "triplet", "T→I synth-nuswide 32 bits")
    assert re.sub(r"[*†]", "", text) == f"{np.mean(others):.4f} ± {t_half_width(others):.4f}"


def test_figures_and_an_index_linking_only_existing_files(tmp_path, grid_config):
    results, out = tmp_path / "results", tmp_path / "out"
    for loss in ("pairwise", "dcgh", "proxy"):
        write_record(results, grid_config, loss, "synth-coco", 16, 0, 0.5 + 0.01 * len(loss))
    grid = build_grid(grid_config)
    broken = next(s for s in grid.specs if s.loss == "triplet" and s.replicate == 1)
    RunStore(results).write_failure(RunFailure(run_id=broken.run_id, spec=broken, grid_id=grid.id, error="it broke",
                                               error_type="RuntimeError", traceback="",
                                               failed_at="2026-11-25T12:00:00+00:00"))
    written = build_report(results, out, formats=["markdown", "csv"])
    figures = out / "figures"
    for stem in ("pr_synth-coco_16", "precision_at_n_synth-coco_16", "training_synth-coco_16", "ablation_variance_map",
                 "critical_difference_map"):
        for suffix in (".png", ".pdf"):
            assert (figures / f"{stem}{suffix}").stat().st_size > 1000, stem
    index = (out / "README.md").read_text()
    links = re.findall(r"\]\(([^)]+)\)", index)
    assert links and all((out / link).is_file() for link in links)
    assert not any(link.endswith(".tex") for link in links)  # no LaTeX asked for: none written, none linked
    assert "figures/pr_synth-coco_16.png" in links and "tables/main_map.csv" in links
    assert "SYNTHETIC stand-ins" in index and "honest" in index and "torch 2.13.0+cpu" in index
    assert "| pairwise |" in index  # the main table is inlined
    assert "3 of 60 runs of the grid have records" in index and "it broke" in index
    assert "Missing (not run yet):" in index and "- triplet synth-coco 16 bits replicate 0" in index
    assert written.index == out / "README.md"


def test_latex_tables_compile(tmp_path, grid_config):
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex is not installed (apt-get install texlive-latex-base texlive-latex-recommended); "
                    "the Markdown and CSV tests cover the numbers")
    results = tmp_path / "results"
    config = load_config("default", {"losses": ["dcgh", "dcgh-novar", "pairwise"], "datasets": ["synth-coco"],
                                     "bits": [16], "replicates": 2})
    write_cells(results, config, {"dcgh": [0.5, 0.51], "dcgh-novar": [0.45, 0.46], "pairwise": [0.55, 0.56],
                                  "ref:lsh": [0.2, 0.21]})
    build_report(results, tmp_path / "out", formats=["latex"])
    for table in ("main_map", "ablation_variance_map", "ranks_map"):
        document = tmp_path / "out" / "tables" / f"doc_{table}.tex"
        document.write_text("\\documentclass{article}\n\\usepackage{booktabs}\n\\usepackage{multirow}\n"
                            f"\\begin{{document}}\n\\input{{{table}.tex}}\n\\end{{document}}\n")
        result = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", document.name],
                                cwd=document.parent, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stdout[-2000:]
        assert (document.with_suffix(".pdf")).stat().st_size > 1000


def test_report_cli_errors_and_metric_choice(tmp_path, grid_config):
    empty = subprocess.run([sys.executable, "-m", "benchmark", "report", "--results", str(tmp_path / "none"),
                            "--out", str(tmp_path / "out")], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert empty.returncode == 2 and empty.stderr.startswith("error: no run records in")
    results = tmp_path / "results"
    write_record(results, grid_config, "dcgh", "synth-coco", 16, 0, 0.5)
    bad = subprocess.run([sys.executable, "-m", "benchmark", "report", "--results", str(results), "--out",
                          str(tmp_path / "out"), "--metric", "map@77"], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert bad.returncode == 2 and "metric 'map@77' is not in the records; available: map, map@50" in bad.stderr
    good = subprocess.run([sys.executable, "-m", "benchmark", "report", "--results", str(results), "--out",
                           str(tmp_path / "out"), "--metric", "map@50", "--format", "csv"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert good.returncode == 0, good.stderr
    assert (tmp_path / "out" / "tables" / "main_map_at_50.csv").is_file()


def test_ablate_runs_the_variance_grid_and_writes_its_table_and_figure(tmp_path):
    from tests.test_runner import TINY

    config = tmp_path / "tiny.yaml"
    config.write_text(TINY)
    env = {**os.environ, "BENCHMARK_CACHE": str(tmp_path.parent / "shared-cache")}
    args = [sys.executable, "-m", "benchmark", "ablate", "variance", "--config", str(config), "--results",
            str(tmp_path / "results"), "--out", str(tmp_path / "ablation"), "--quiet", "--epochs", "1"]
    result = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stderr
    assert "0 done, 5 to run" in result.stdout
    rows = markdown_rows(tmp_path / "ablation" / "tables" / "ablation_variance_map.md")
    assert list(rows) == ["dcgh", "dcgh-novar", "dcgh-labelvar", "dcgh-nopair", "proxy"]
    assert all("(Δ " in cells[0] for loss, cells in rows.items() if loss != "dcgh")
    assert (tmp_path / "ablation" / "figures" / "ablation_variance_map.png").stat().st_size > 1000
    again = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
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
    assert family_column(path) == ["pairwise", "", "triplet", "", "proxy", "", "dcgh", "reference"]
    latex = (out / "tables" / "main_map.tex").read_text()
    assert "\\multirow[t]{2}{*}{pairwise}" in latex and latex.count("\\midrule") == 1 + 4
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
    assert rows["dcgh"][0] == "0.3000" and rows["dcgh (gamma=0.5)"][0] == "**0.4000**"
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


def test_the_results_command_lists_runs_with_their_differing_settings(tmp_path):
    results = tmp_path / "results"
    base = {"losses": ["dcgh"], "datasets": ["synth-coco"], "bits": [16], "replicates": 1, "references": False}
    write_record(results, load_config("default", base), "dcgh", "synth-coco", 16, 0, 0.3)
    write_record(results, load_config("default", {**base, "run": {"protocol": "paper"}}), "dcgh", "synth-coco", 16, 0,
                 0.6)
    listed = subprocess.run([sys.executable, "-m", "benchmark", "results", "--results", str(results), "--csv"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    table = list(csv.DictReader(io.StringIO(listed.stdout)))
    assert sorted((r["run.protocol"], r["map_i2t"], r["status"]) for r in table) == [
        ("honest", "0.3000", "done"), ("paper", "0.6000", "done")]
    assert set(table[0]) == {"run_id", "loss", "dataset", "bits", "replicate", "status", "map_i2t", "map_t2i",
                             "run.protocol"}  # only the settings that differ
    paper = subprocess.run([sys.executable, "-m", "benchmark", "results", "--results", str(results), "--where",
                            "protocol=paper"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert paper.returncode == 0 and "0.6000" in paper.stdout and "0.3000" not in paper.stdout
