"""Reports built from hand-made run records: table markup, seeds, missing cells, ablation deltas, figures,
the index, numbers traced back to the records, and LaTeX that compiles."""
from __future__ import annotations

import csv
import io
import json
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
from benchmark.report import build_report
from benchmark.store import RunStore
from tests.records import write_record

ROOT = Path(__file__).resolve().parents[1]
DIRECTIONS = ("i2t", "t2i", "i2i", "t2t")


@pytest.fixture
def grid_config():
    return load_config("default", {"losses": ["pairwise", "triplet", "dcgh", "dcgh-novar", "proxy"],
                                   "datasets": ["synth-coco", "synth-nuswide"], "bits": [16, 32],
                                   "seeds": [0, 1, 2]})


def markdown_rows(path: Path) -> dict[str, list[str]]:
    rows = [line for line in path.read_text().splitlines() if line.startswith("| ") and not line.startswith("| Loss")]
    return {cells[0]: cells[1:] for cells in ([c.strip() for c in row.strip("|").split("|")] for row in rows)}


def header(path: Path) -> list[str]:
    line = next(line for line in path.read_text().splitlines() if line.startswith("| Loss"))
    return [c.strip() for c in line.strip("|").split("|")][1:]


def test_best_bold_second_underlined_with_ties(tmp_path, grid_config):
    results = tmp_path / "results"
    # 0.50001 and 0.50004 both print as 0.5000: a tie for best; 0.4 is second
    for loss, value in (("pairwise", 0.50001), ("triplet", 0.50004), ("dcgh", 0.4), ("proxy", 0.3)):
        write_record(results, grid_config, loss, "synth-coco", 16, 0, value)
    build_report(results, tmp_path / "out")
    rows = markdown_rows(tmp_path / "out" / "tables" / "main_map.md")
    column = header(tmp_path / "out" / "tables" / "main_map.md").index("I→T synth-coco 16 bits")
    assert rows["pairwise"][column] == "**0.5000**" and rows["triplet"][column] == "**0.5000**"
    assert rows["dcgh"][column] == "<u>0.4000</u>" and rows["proxy"][column] == "0.3000"
    latex = (tmp_path / "out" / "tables" / "main_map.tex").read_text()
    assert r"pairwise & \textbf{0.5000}" in latex and r"dcgh & \underline{0.4000}" in latex


def test_mean_and_std_over_seeds_and_single_seed_cells(tmp_path, grid_config):
    results = tmp_path / "results"
    for seed, value in enumerate((0.5, 0.6, 0.7)):
        write_record(results, grid_config, "dcgh", "synth-coco", 16, seed, value)
    write_record(results, grid_config, "proxy", "synth-coco", 16, 0, 0.4)
    build_report(results, tmp_path / "out")
    rows = markdown_rows(tmp_path / "out" / "tables" / "main_map.md")
    assert rows["dcgh"][0] == "**0.6000 ± 0.1000**" and rows["proxy"][0] == "<u>0.4000</u>"
    assert r"\textbf{0.6000 $\pm$ 0.1000}" in (tmp_path / "out" / "tables" / "main_map.tex").read_text()
    table = list(csv.DictReader(io.StringIO((tmp_path / "out" / "tables" / "main_map.csv").read_text())))
    dcgh = next(r for r in table if r["loss"] == "dcgh" and r["direction"] == "i2t")
    assert float(dcgh["mean"]) == pytest.approx(0.6) and float(dcgh["std"]) == pytest.approx(0.1)
    assert dcgh["n_seeds"] == "3" and dcgh["rank"] == "1"


def test_missing_cells_are_dashes_never_a_crash(tmp_path, grid_config):
    results = tmp_path / "results"
    write_record(results, grid_config, "dcgh", "synth-coco", 16, 0, 0.5)
    write_record(results, grid_config, "pairwise", "synth-nuswide", 32, 0, 0.6)
    build_report(results, tmp_path / "out")
    md = tmp_path / "out" / "tables" / "main_map.md"
    columns, rows = header(md), markdown_rows(md)
    assert rows["dcgh"][columns.index("I→T synth-nuswide 32 bits")] == "–"
    assert rows["pairwise"][columns.index("I→T synth-coco 16 bits")] == "–"
    assert "pairwise & -- &" in (tmp_path / "out" / "tables" / "main_map.tex").read_text()
    assert len((tmp_path / "out" / "tables" / "main_map.csv").read_text().splitlines()) == 1 + 4


def test_ablation_table_gives_the_difference_to_dcgh(tmp_path, grid_config):
    results = tmp_path / "results"
    for loss, value in (("dcgh", 0.5), ("dcgh-novar", 0.45), ("proxy", 0.52), ("pairwise", 0.9)):
        write_record(results, grid_config, loss, "synth-coco", 32, 0, value)
    written = build_report(results, tmp_path / "out")
    md = tmp_path / "out" / "tables" / "ablation_variance_map.md"
    rows = markdown_rows(md)
    assert list(rows) == ["dcgh", "dcgh-novar", "proxy"]  # only the ablation losses present, dcgh first
    assert rows["dcgh"][0] == "<u>0.5000</u>"
    assert rows["dcgh-novar"][0] == "0.4500 (Δ -0.0500)" and rows["proxy"][0] == "**0.5200** (Δ +0.0200)"
    assert (tmp_path / "out" / "figures" / "ablation_variance_map.png") in written.figures
    table = list(csv.DictReader(io.StringIO((tmp_path / "out" / "tables" / "ablation_variance_map.csv").read_text())))
    assert float(next(r for r in table if r["loss"] == "dcgh-novar")["delta_to_dcgh"]) == pytest.approx(-0.05)


def test_table_numbers_equal_the_records(tmp_path, grid_config):
    results = tmp_path / "results"
    rng = np.random.default_rng(0)
    for loss in ("pairwise", "triplet", "dcgh"):
        for dataset in ("synth-coco", "synth-nuswide"):
            for seed in (0, 1):
                write_record(results, grid_config, loss, dataset, 32, seed, float(rng.uniform(0.3, 0.8)),
                             float(rng.uniform(0.3, 0.8)))
    build_report(results, tmp_path / "out", metric="map_tie_aware")
    table = list(csv.DictReader(io.StringIO((tmp_path / "out" / "tables" / "main_map_tie_aware.csv").read_text())))
    records = [json.loads(p.read_text()) for p in (results / "runs").glob("*/record.json")]
    for row in table:
        values = [r["metrics"][row["direction"]]["map_tie_aware"] for r in records
                  if (r["spec"]["loss"], r["spec"]["dataset"], str(r["spec"]["bits"])) ==
                  (row["loss"], row["dataset"], row["bits"])]
        assert float(row["mean"]) == pytest.approx(np.mean(values), abs=1e-6)
        assert float(row["std"]) == pytest.approx(np.std(values, ddof=1), abs=1e-6)
    rows = markdown_rows(tmp_path / "out" / "tables" / "main_map_tie_aware.md")
    value = next(r["metrics"]["t2i"]["map_tie_aware"] for r in records
                 if (r["spec"]["loss"], r["spec"]["dataset"], r["spec"]["seed"]) == ("triplet", "synth-nuswide", 0))
    other = next(r["metrics"]["t2i"]["map_tie_aware"] for r in records
                 if (r["spec"]["loss"], r["spec"]["dataset"], r["spec"]["seed"]) == ("triplet", "synth-nuswide", 1))
    columns = header(tmp_path / "out" / "tables" / "main_map_tie_aware.md")
    cell = rows["triplet"][columns.index("T→I synth-nuswide 32 bits")]
    assert re.sub(r"[*<u>/]", "", cell).startswith(f"{np.mean([value, other]):.4f} ± ")


def test_figures_and_an_index_linking_only_existing_files(tmp_path, grid_config):
    results = tmp_path / "results"
    for loss in ("pairwise", "dcgh", "proxy"):
        write_record(results, grid_config, loss, "synth-coco", 16, 0, 0.5 + 0.01 * len(loss))
    broken = next(s for s in build_grid(grid_config).specs if s.loss == "triplet" and s.seed == 1)
    RunStore(results).write_failure(RunFailure(run_id=broken.run_id, spec=broken, grid_id=build_grid(grid_config).id,
                                               error="it broke", error_type="RuntimeError", traceback="",
                                               failed_at="2026-11-25T12:00:00+00:00"))
    written = build_report(results, tmp_path / "out", formats=["markdown", "csv"])
    figures = tmp_path / "out" / "figures"
    for stem in ("pr_synth-coco_16", "precision_at_n_synth-coco_16", "training_synth-coco_16", "ablation_variance_map"):
        for suffix in (".png", ".pdf"):
            assert (figures / f"{stem}{suffix}").stat().st_size > 1000, stem
    index = (tmp_path / "out" / "README.md").read_text()
    links = re.findall(r"\]\(([^)]+)\)", index)
    assert links and all((tmp_path / "out" / link).is_file() for link in links)
    assert not any(link.endswith(".tex") for link in links)  # no LaTeX asked for: none written, none linked
    assert "figures/pr_synth-coco_16.png" in links and "tables/main_map.csv" in links
    assert "SYNTHETIC stand-ins" in index and "honest" in index and "torch 2.13.0+cpu" in index
    assert "| pairwise |" in index  # the main table is inlined
    assert "3 of 60 runs of the grid have records" in index and "it broke" in index
    assert "Missing (not run yet):" in index and "- triplet synth-coco 16 bits seed 0" in index
    assert written.index == tmp_path / "out" / "README.md"


def test_latex_tables_compile(tmp_path, grid_config):
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex is not installed (apt-get install texlive-latex-base texlive-latex-recommended); "
                    "the Markdown and CSV tests cover the numbers")
    results = tmp_path / "results"
    for loss, value in (("dcgh", 0.5), ("dcgh-novar", 0.45), ("pairwise", 0.55)):
        for seed in (0, 1):
            write_record(results, grid_config, loss, "synth-coco", 16, seed, value + 0.01 * seed)
    build_report(results, tmp_path / "out", formats=["latex"])
    for table in ("main_map", "ablation_variance_map"):
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
    import os

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
