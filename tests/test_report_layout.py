"""The paper layout of the report: a full main table and the ablation compiled by pdflatex in a two-column paper
without an overfull box, column groups in the papers' order with synthetic sets flagged, display names, quoted
published numbers, Markdown tables of at most ten columns, --decimals, figures with a panel per dataset and
direction and one legend, and the coverage line when a user's loss is not importable here."""
from __future__ import annotations

import csv
import io
import shutil
import subprocess
import zlib
from dataclasses import replace
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from benchmark.config import load_ablation, load_config
from benchmark.errors import ReportError, UserError
from benchmark.grid import build_grid
from benchmark.record import RunFailure
from benchmark.report import ReportContext, ablation_section, build_report
from benchmark.report.comparison import main_table
from benchmark.report.figures import curve_figure, styles, training_figures
from benchmark.report.tidy_data import dataset_name, dataset_order, load_published
from benchmark.store import RunStore
from tests.fake_records import make_record, write_record
from tests.test_report import latex_rows, markdown_tables

PAPER_DATASETS = ["synth-mirflickr25k", "synth-nuswide", "synth-coco"]
REAL_DATASETS = ["mirflickr25k", "nuswide", "coco"]
#: 15 losses of the zoo and the two other ablation variants: 17 rows, as many as a paper's main table has.
ZOO = ["pairwise", "dch", "dchmt", "hashnet", "triplet", "dtsh", "center", "dpn", "orthohash", "proxy", "hyp2", "dsph",
       "proxy-anchor", "dcgh", "dcgh-novar", "dcgh-labelvar", "dcgh-nopair"]

PUBLISHED = """\
# mAP as published (values made up for the test)
- {method: DCMH, source: "Jiang & Li, CVPR 2017", cite: jiang2017dcmh, dataset: mirflickr25k, task: i2t, bits: 16,
   value: 0.9912}
- {method: DCMH, source: "Jiang & Li, CVPR 2017", cite: jiang2017dcmh, dataset: mirflickr25k, task: t2i, bits: 16,
   value: 0.7}
- {method: DCHMT, source: "Tu et al., ACM MM 2022", dataset: coco, task: i2t, bits: 64, value: 0.8}
- {method: DCHMT, source: "Tu et al., ACM MM 2022", dataset: coco, task: i2t, bits: 128, value: 0.81}
- {method: DCHMT, source: "Tu et al., ACM MM 2022", dataset: coco, task: t2i, bits: 64, value: 0.5, metric: map@50}
"""


def write_grid(results: Path, config, value) -> list:
    """A record for every run of ``config``'s grid, its I->T mAP ``value(spec)``; the records written."""
    grid = build_grid(config)
    store = RunStore(results)
    store.write_grid(grid.id, grid.runs())
    records = [make_record(spec, value(spec), grid_id=grid.id) for spec in grid.specs]
    for record in records:
        store.write_record(record)
    return records


def realistic(spec) -> float:
    """A loss's mean in a cell (0.3-0.9) plus noise by replicate, which gives every kind of mark."""
    cell = np.random.default_rng(zlib.crc32(f"{spec.loss} {spec.dataset} {spec.bits}".encode()))
    noise = np.random.default_rng(zlib.crc32(f"{spec.loss} {spec.dataset} {spec.bits} {spec.replicate}".encode()))
    return float(np.clip(0.3 + 0.6 * cell.random() + noise.normal(0, 0.04), 0.0, 1.0))


def compile_latex(folder: Path, tables: list[str]) -> str:
    """pdflatex's log of ``tables`` in a two-column 10pt paper with the narrowest text width of the common
    two-column templates (CVPR: 6.875 in; IEEE 7.16 in, ACM 7 in)."""
    document = folder / "paper.tex"
    document.write_text("\\documentclass[10pt,twocolumn,letterpaper]{article}\n"
                        "\\setlength{\\textwidth}{6.875in}\n\\setlength{\\textheight}{9in}\n"
                        "\\usepackage{booktabs}\n\\usepackage{multirow}\n\\begin{document}\n"
                        + "".join(f"\\input{{{table}}}\n" for table in tables)
                        + "Text.\n\\begin{thebibliography}{1}\\bibitem{jiang2017dcmh} DCMH.\\end{thebibliography}\n"
                        "\\end{document}\n")
    for _ in range(2):  # the second pass resolves the citation
        result = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", document.name],
                                cwd=folder, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stdout[-3000:]
    return document.with_suffix(".log").read_text(errors="replace")


def assert_fits_a_paper(folder: Path, tables: list[str] | None = None) -> None:
    """Every ``.tex`` in ``folder`` (or ``tables``) is ASCII, which pdflatex reads whatever its input encoding, and,
    where pdflatex exists, compiles in ``compile_latex``'s two-column paper with no overfull box and no float
    larger than the page."""
    tables = tables or sorted(p.name for p in folder.glob("*.tex"))
    for name in tables:
        text = (folder / name).read_text()
        assert text.isascii(), (name, sorted({c for c in text if not c.isascii()}))
    if shutil.which("pdflatex"):
        log = compile_latex(folder, tables)
        for problem in ("Overfull \\hbox", "Float too large", "Overfull \\vbox"):
            assert problem not in log, (problem, log[log.index(problem) - 2000:log.index(problem) + 500])


@pytest.mark.skipif(shutil.which("pdflatex") is None,
                    reason="pdflatex is not installed (apt-get install texlive-latex-base texlive-latex-recommended)")
def test_a_full_main_table_and_the_ablation_fit_a_two_column_paper(tmp_path):
    """3 datasets x 3 code lengths x 2 tasks, 17 losses with intervals and marks, quoted and reference rows."""
    config = load_config("default", {"losses": ZOO, "datasets": REAL_DATASETS, "bits": [16, 32, 64],
                                     "replicates": 3, "run": {"backbone": str(tmp_path)}})  # quoted rows need real sets
    records = write_grid(tmp_path / "results", config, realistic)
    out = tmp_path / "out"
    (tmp_path / "published.yaml").write_text(PUBLISHED)
    published = load_published(tmp_path / "published.yaml")
    context = ReportContext(records, RunStore(tmp_path / "results"), out, ["latex"], published=published)
    main, table = main_table(context), context.table
    ablation = ablation_section(context, load_ablation("variance"), "variance")
    assert len(table.rows) == 17 + 3 and len(table.columns) == 2 * 9 and len(table.quoted) == 2
    marks = {c.mark for c in table.comparisons.values()}
    assert marks == {"best", "not shown worse", ""}, marks  # the widest cells (bold, †) are all there
    latex = main.tables[0].read_text()
    assert latex.count("\\begin{tabular}") == 1
    assert "\\multirow{22}{*}{I$\\rightarrow$T}" in latex  # 17 losses, 2 quoted, 3 reference rows (no oracle)
    assert "\\multirow{21}{*}{T$\\rightarrow$I}" in latex  # DCHMT is quoted for I->T only
    assert_fits_a_paper(out / "tables", ["main_map.tex", ablation.tables[0].name])
    assert "Citation" not in compile_latex(out / "tables", ["main_map.tex"])  # \cite{jiang2017dcmh} resolved


def test_column_groups_follow_the_papers_and_are_split_to_stay_readable(tmp_path):
    config = load_config("default", {"losses": ["dcgh", "triplet"], "bits": [16, 32, 64], "replicates": 1,
                                     "datasets": ["synth-semantic-bias", "synth-coco", "synth-nuswide",
                                                  "synth-mirflickr25k"], "references": False})
    write_grid(tmp_path / "results", config, lambda spec: 0.5 + 0.01 * spec.bits / 16)
    build_report(tmp_path / "results", tmp_path / "out", formats=["latex", "markdown"])
    latex = (tmp_path / "out" / "tables" / "main_map.tex").read_text()
    groups = [line for line in latex.splitlines() if line.startswith("\\multirow{2}{*}{Task}")]
    assert groups == ["\\multirow{2}{*}{Task} & \\multirow{2}{*}{Method} & \\multicolumn{3}{c}{MIRFLICKR-25K "
                      "(synthetic)} & \\multicolumn{3}{c}{NUS-WIDE (synthetic)} & \\multicolumn{3}{c}{MS-COCO "
                      "(synthetic)} \\\\",
                      "\\multirow{2}{*}{Task} & \\multirow{2}{*}{Method} & \\multicolumn{3}{c}{Semantic bias "
                      "(synthetic)} \\\\"]
    assert "\\cmidrule(lr){3-5} \\cmidrule(lr){6-8} \\cmidrule(lr){9-11}" in latex
    assert "\\multirow{2}{*}{I$\\rightarrow$T} & Triplet &" in latex and "mAP of Hamming ranking" in latex
    tables = markdown_tables(tmp_path / "out" / "tables" / "main_map.md")
    assert [task for task, _, _ in tables] == ["I→T (1/2)", "I→T (2/2)", "T→I (1/2)", "T→I (2/2)"]
    assert tables[0][1][:4] == ["synth-mirflickr25k 16 bits", "synth-mirflickr25k 32 bits",
                                "synth-mirflickr25k 64 bits", "synth-nuswide 16 bits"]
    assert [len(head) + 1 for _, head, _ in tables] == [10, 4, 10, 4]  # the loss column and at most 9 values
    assert all(list(rows) == ["triplet", "dcgh"] for _, _, rows in tables)


def test_datasets_take_their_real_sets_place_and_name():
    assert sorted(["synth-semantic-bias", "coco", "synth-coco", "nuswide", "mirflickr25k", "synth-longtail",
                   "zeta-set"], key=dataset_order) == ["mirflickr25k", "nuswide", "coco", "synth-coco",
                                                       "synth-semantic-bias", "synth-longtail", "zeta-set"]
    assert [dataset_name(d) for d in ("coco", "synth-coco", "synth-longtail", "zeta-set")] == [
        "MS-COCO", "MS-COCO (synthetic)", "Long tail (synthetic)", "zeta-set"]


def test_published_numbers_are_quoted_never_marked_and_a_bad_file_is_named(tmp_path):
    results, out = tmp_path / "results", tmp_path / "out"
    config = load_config("default", {"losses": ["dcgh", "triplet"], "datasets": REAL_DATASETS, "bits": [16, 64],
                                     "replicates": 2, "references": False, "run": {"backbone": str(tmp_path)}})
    write_grid(results, config, lambda spec: 0.5 + 0.1 * (spec.loss == "dcgh") + 0.01 * spec.replicate)
    (tmp_path / "published.yaml").write_text(PUBLISHED)
    build_report(results, out, published=tmp_path / "published.yaml", formats=["latex", "markdown", "csv"])
    rows = next(rows for task, _, rows in markdown_tables(out / "tables" / "main_map.md") if task == "I→T")
    assert list(rows) == ["triplet", "dcgh", "*DCMH*§", "*DCHMT*§"]
    assert rows["*DCMH*§"] == ["0.991", "–", "–", "–", "–", "–"]  # above every loss, and not bold
    assert rows["*DCHMT*§"] == ["–", "–", "–", "–", "–", "0.800"]  # 128 bits and map@50: no place here
    assert rows["dcgh"][0] == "**0.605** ± 0.064"
    t2i = next(rows for task, _, rows in markdown_tables(out / "tables" / "main_map.md") if task == "T→I")
    assert list(t2i) == ["triplet", "dcgh", "*DCMH*§"]  # no row for a task without a number
    latex = (out / "tables" / "main_map.tex").read_text()
    assert "\\cmidrule{2-8}\n & \\textit{DCMH}~\\cite{jiang2017dcmh}$^\\S$ & 0.991 & -- &" in latex
    assert "\\S{} (italic): published numbers quoted from their sources (DCMH: Jiang \\& Li, CVPR 2017; DCHMT: Tu " \
           "et al., ACM MM 2022), each only where these runs were measured as it was" in latex
    index = (out / "README.md").read_text()  # the packaged numbers of the published protocols: other protocols
    assert ("- DCHMT [dchmt] (its own paper (ACM MM 2022), kalenforn/DCHMT data/result.png (Table 1)): not "
            "comparable: query items unknown, dchmt's 5120; training items unknown, dchmt's 10240; split drawn pcg64 "
            "seed 1818, dchmt's legacy seed 1814; selection honest, dchmt's paper; mode frozen, dchmt's finetune") \
        in index
    quoted = [r for r in csv.DictReader(io.StringIO((out / "tables" / "main_map.csv").read_text()))
              if r["mark"] == "quoted"]
    assert [(r["loss"], r["direction"], r["dataset"], r["bits"], r["source"]) for r in quoted] == [
        ("DCMH", "i2t", "mirflickr25k", "16", "Jiang & Li, CVPR 2017"),
        ("DCMH", "t2i", "mirflickr25k", "16", "Jiang & Li, CVPR 2017"),
        ("DCHMT", "i2t", "coco", "64", "Tu et al., ACM MM 2022")]
    ranks = (out / "tables" / "ranks_map.md").read_text()
    assert "DCMH" not in ranks and "DCHMT" not in ranks  # never tested or ranked
    for text, message in [("- {method: A, source: B, dataset: coco, task: i2t, bits: 16}", "entry 1 of .* lacks value"),
                          ("- {method: A, source: B, dataset: cocoa, task: i2t, bits: 16, value: 0.5}",
                           "unknown dataset 'cocoa'"),
                          ("- {method: A, source: B, dataset: coco, task: i2t, bits: 16, value: 71.2}",
                           "'value' in entry 1 of .* must be >= 0 and <= 1, got 71.2"),
                          ("method: A", "must be a list of entries"),
                          ("- [unclosed", "is not valid YAML")]:
        (tmp_path / "bad.yaml").write_text(text)
        with pytest.raises(UserError, match=message):
            build_report(results, out / "bad", published=tmp_path / "bad.yaml")


def test_the_command_line_takes_decimals_and_a_published_file(tmp_path, cli):
    results = tmp_path / "results"
    config = load_config("default", {"losses": ["dcgh"], "datasets": ["mirflickr25k"], "bits": [16],
                                     "replicates": 1, "references": False, "run": {"backbone": str(tmp_path)}})
    write_record(results, config, "dcgh", "mirflickr25k", 16, 0, 0.51234)
    (tmp_path / "published.yaml").write_text(PUBLISHED)
    args = ["report", "--results", results, "--out", tmp_path / "out", "--format", "markdown", "--published",
            tmp_path / "published.yaml"]
    result = cli(*args, "--decimals", "4")
    assert result.returncode == 0, result.stderr
    rows = next(rows for _, _, rows in markdown_tables(tmp_path / "out" / "tables" / "main_map.md"))
    assert rows == {"dcgh": ["**0.5123**"], "*DCMH*§": ["0.9912"]}
    wrong = cli(*args, "--decimals", "5")
    assert wrong.returncode == 2 and "--decimals: invalid choice: 5" in wrong.stderr
    with pytest.raises(ReportError, match="decimals must be 3 or 4"):
        build_report(results, tmp_path / "api", decimals=2)


def test_every_loss_keeps_a_distinct_marker_and_line_style():
    drawn = styles([f"loss{i}" for i in range(20)])
    assert len({(s["marker"], s["linestyle"]) for s in drawn.values()}) == 20


def test_pr_curves_have_a_panel_per_dataset_and_direction_and_one_legend(tmp_path):
    config = load_config("default", {"losses": ["dcgh", "dcgh-novar", "triplet"], "datasets": PAPER_DATASETS,
                                     "bits": [16, 32], "replicates": 1, "references": False})
    records = write_grid(tmp_path / "results", config, lambda spec: 0.4 + 0.01 * len(spec.loss) + spec.bits / 1600)
    fig = curve_figure([r for r in records if r.spec.bits == 16], 16, "pr_radius", "recall", "precision", "Recall",
                       "Precision", "Precision-recall by Hamming radius")
    axes = fig.axes
    assert [ax.get_title() for ax in axes] == [
        "MIRFLICKR-25K (synthetic), I→T", "NUS-WIDE (synthetic), I→T", "MS-COCO (synthetic), I→T",
        "MIRFLICKR-25K (synthetic), T→I", "NUS-WIDE (synthetic), T→I", "MS-COCO (synthetic), T→I"]
    assert [ax.get_xlabel() for ax in axes[3:]] == ["Recall"] * 3 and axes[0].get_ylabel() == "Precision"
    assert all(ax.get_legend() is None for ax in axes) and len(fig.legends) == 1
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["Triplet", "DCGH", "DCGH w/o var"]
    lines = axes[0].get_lines()
    assert len({(line.get_marker(), line.get_linestyle()) for line in lines}) == len(lines) == 3
    plt.close(fig)
    report = build_report(tmp_path / "results", tmp_path / "out", formats=["csv"])
    names = {p.name for p in report.figures}
    assert {"pr_16.png", "pr_32.pdf", "precision_at_n_16.png", "precision_at_n_32.pdf"} <= names
    assert not any(name.startswith("pr_synth") for name in names)


def test_training_curves_label_the_validation_map_and_mark_the_selected_epoch(tmp_path, monkeypatch):
    config = load_config("default", {"losses": ["dcgh"], "datasets": ["synth-coco"], "bits": [16], "replicates": 1,
                                     "references": False})
    record = write_record(tmp_path / "results", config, "dcgh", "synth-coco", 16, 0, 0.5)
    record = replace(record, selection=replace(record.selection, epochs={"i2t": 2, "t2i": 2}))
    drawn = []
    monkeypatch.setattr("benchmark.report.figures.save_figure", lambda fig, out, stem: drawn.append(fig) or [])
    training_figures([record], tmp_path)
    top, legend, bottom = drawn[0].axes
    assert bottom.get_ylabel() == "Validation mAP" and bottom.get_xlabel() == "Epoch"
    assert top.get_ylabel() == "Loss (weighted terms)" and top.get_title() == "DCGH (replicate 0)"
    labels = [t.get_text() for t in bottom.get_legend().get_texts()]
    assert labels == ["Validation, I→T", "Validation, T→I", "Selected epoch"]
    selected = [line for line in bottom.get_lines() if line.get_label() == "Selected epoch"]
    assert len(selected) == 1 and list(selected[0].get_xdata()) == [2, 2]
    assert [t.get_text() for t in legend.get_legend().get_texts()] == ["total", "term_a", "term_b"]
    plt.close(drawn[0])


def test_coverage_counts_a_users_loss_that_cannot_be_imported_here_once(tmp_path):
    """A grid of the default losses and one of a user's loss that this machine cannot import (the report never
    imports a loss), in one configuration; a failed run of another configuration is not this report's."""
    results, out = tmp_path / "results", tmp_path / "out"
    config = load_config("default", {"losses": ["pairwise", "dcgh"], "datasets": PAPER_DATASETS, "bits": [16, 32],
                                     "replicates": 2, "references": False})
    for loss in ("pairwise", "dcgh"):
        write_record(results, config, loss, "synth-coco", 16, 0, 0.5)
    grid = build_grid(config)
    users = [replace(spec, loss="my_pkg.losses:My_Loss") for spec in grid.specs if spec.loss == "pairwise"]
    store = RunStore(results)
    store.write_grid("users-grid", {spec.run_id: spec.label for spec in users})
    for spec in users[:2]:
        store.write_record(make_record(spec, 0.4, grid_id="users-grid"))
    paper = build_grid(load_config("default", {"losses": ["dcgh"], "datasets": ["synth-coco"], "bits": [16],
                                               "replicates": 1, "run": {"protocol": "paper"}}))
    store.write_failure(RunFailure(run_id=paper.specs[0].run_id, spec=paper.specs[0], grid_id=paper.id,
                                   error="elsewhere", error_type="RuntimeError", traceback="",
                                   failed_at="2026-11-25T12:00:00+00:00"))
    build_report(results, out, formats=["latex", "markdown"])
    index = (out / "README.md").read_text()
    assert f"4 of {len(grid.specs) + len(users)} runs of the grid have records." in index
    assert "elsewhere" not in index and "1 failed runs belong to other configurations" in index
    assert "| my_pkg.losses:My_Loss |" in index
    assert "& my\\_pkg.losses:My\\_Loss &" in (out / "tables" / "main_map.tex").read_text()


def test_the_ablation_follows_each_loss_with_its_difference_in_each_task_block(tmp_path):
    """The ablation's LaTeX rows: each loss, then its Δ to DCGH, per task."""
    results, out = tmp_path / "results", tmp_path / "out"
    config = load_config("default", {"losses": list(load_ablation("variance").losses), "datasets": ["synth-coco"],
                                     "bits": [16], "replicates": 2, "references": False})
    write_grid(results, config, lambda spec: 0.5 + 0.01 * spec.replicate + 0.001 * len(spec.loss))
    build_report(results, out, formats=["latex"])
    rows = latex_rows((out / "tables" / "ablation_variance_map.tex").read_text())
    block = ["DCGH", "DCGH w/o var", "\\quad $\\Delta$ to DCGH", "DCGH label var", "\\quad $\\Delta$ to DCGH",
             "DCGH w/o pair", "\\quad $\\Delta$ to DCGH", "Proxy (HyP$^2$)", "\\quad $\\Delta$ to DCGH"]
    assert rows == block * 2


def test_training_curves_with_eval_every_plot_the_evaluated_epochs(tmp_path, monkeypatch):
    """With run.eval_every = 2 only some epochs carry a validation mAP: the curves join those, not dropped."""
    config = load_config("default", {"losses": ["dcgh"], "datasets": ["synth-coco"], "bits": [16], "replicates": 1,
                                     "references": False})
    record = write_record(tmp_path / "results", config, "dcgh", "synth-coco", 16, 0, 0.5)
    history = list(record.history)  # epochs 1, 2, 3; epoch 1 not evaluated
    history[0] = replace(history[0], val_map_i2t=None, val_map_t2i=None, val_map=None)
    record = replace(record, history=history)
    drawn = []
    monkeypatch.setattr("benchmark.report.figures.save_figure", lambda fig, out, stem: drawn.append(fig) or [])
    training_figures([record], tmp_path)
    bottom = drawn[0].axes[2]
    curves = [line for line in bottom.get_lines() if line.get_label().startswith("Validation")]
    assert [list(line.get_xdata()) for line in curves] == [[2, 3], [2, 3]]
    plt.close(drawn[0])


def test_a_difference_that_rounds_to_zero_prints_as_zero_and_a_negative_one_with_a_minus_sign():
    from benchmark.report.latex import frame_latex, number_text
    from benchmark.report.tables import _render

    assert [number_text(v, 3, sign=True) for v in (-0.0004, 0.0004, 0.021, -0.004)] == [
        "0.000", "0.000", "+0.021", "-0.004"]
    assert [_render("latex", v, 3, sign=True) for v in (-0.0004, 0.021, -0.004)] == ["0.000", "+.021", "$-$.004"]
    assert _render("markdown", -0.0004, 3, sign=True) == "0.000"
    latex = frame_latex(pd.DataFrame({"Δ": ["-0.004 ± 0.002 n.s.", "–"]}, index=["a", "b"]), "c", "tab:x")
    assert "$-$0.004$_{\\pm.002}$ n.s. \\\\" in latex and "b & -- \\\\" in latex and latex.isascii()  # a dash is no minus
