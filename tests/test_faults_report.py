"""Faults on the reading side (issue 31): hostile names reach every table and figure escaped, an interrupted report
leaves the previous one intact, damaged or missing kept files are named (export, diagnose) or skip their figure
(report), and ``export --out DIR`` names real paths."""
from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from benchmark.codes import CODES, CONTINUOUS, export, write_run_files
from benchmark.config import load_config
from benchmark.diagnostics import diagnostics
from benchmark.errors import ConfigError
from benchmark.grid import build_grid
from benchmark.report import WRITTEN, build_report
from benchmark.store import RunStore
from tests.fake_records import make_record

#: Every character LaTeX, Markdown tables or matplotlib's mathtext treat specially; its two $...$ pairs make
#: matplotlib parse it as math, where \oops is an unknown symbol.
HOSTILE = r"evil & % # _ { } \textbf{x} | $x^2$ ~ ^ $\oops$"
PUBLISHED = """\
- {method: "Pub | & $\\\\oops$ #1", source: "A & B | 100% {x}", dataset: coco, task: i2t, bits: 16, value: 0.9}
"""


def _kept_files(folder: Path, seed: int) -> tuple[dict[str, str], dict]:
    """Random codes, labels and continuous outputs written as a run keeps them; their hashes and diagnostics."""
    rng = np.random.default_rng(seed)
    n, bits, classes = 40, 16, 4
    outputs = {name: rng.normal(size=(n, bits)) for name in ("query_image", "query_text", "retrieval_image",
                                                              "retrieval_text")}
    codes = {name: np.where(value > 0, 1, -1) for name, value in outputs.items()}
    labels = {name: (rng.random((n, classes)) < 0.4).astype(np.uint8) for name in ("query_labels",
                                                                                   "retrieval_labels")}
    for matrix in labels.values():
        matrix[np.arange(n), np.arange(n) % classes] = 1  # every item has a label
    files = write_run_files(folder, codes, labels, outputs)
    return files, diagnostics(codes["retrieval_image"], codes["retrieval_text"], labels["retrieval_labels"])


def write_results(results: Path, loss: str = HOSTILE, kept: bool = True, lift: float = 0.0) -> list:
    """Three losses (pairwise renamed ``loss``) on one dataset, 3 replicates, with their kept codes and
    diagnostics; ``lift`` raises every value (a second report that differs from the first)."""
    config = load_config("default", {"losses": ["pairwise", "triplet", "dcgh"], "datasets": ["synth-coco"],
                                     "bits": [16], "replicates": 3, "references": False})
    grid = build_grid(config)
    store = RunStore(results)
    specs = [replace(s, loss=loss) if s.loss == "pairwise" else s for s in grid.specs]
    store.write_grid(grid.id, {s.run_id: s.label for s in specs})
    base = {loss: 0.7, "triplet": 0.5, "dcgh": 0.4}
    records = []
    for i, spec in enumerate(specs):
        record = make_record(spec, base[spec.loss] + 0.01 * spec.replicate + lift, grid_id=grid.id)
        if kept:
            files, found = _kept_files(store.folder(spec.run_id), i)
            record = replace(record, files=files, diagnostics=found)
        store.write_record(record)
        records.append(record)
    return records


def table_shapes_hold(text: str) -> list[str]:
    """The lines of Markdown tables in ``text`` whose cell count differs from their header's."""
    bad, width = [], None
    for line in text.splitlines():
        if not line.startswith("|"):
            width = None
            continue
        cells = len(re.findall(r"(?<!\\)\|", line)) - 1  # unescaped pipes between the cells
        if width is None:
            width = cells
        elif cells != width:
            bad.append(line)
    return bad


@pytest.mark.filterwarnings("ignore::UserWarning")  # matplotlib's glyph warnings for the hostile characters
def test_hostile_names_are_escaped_in_every_table_and_figure(tmp_path):
    results, out = tmp_path / "results", tmp_path / "out"
    write_results(results)
    (tmp_path / "published.yaml").write_text(PUBLISHED)
    report = build_report(results, out, published=tmp_path / "published.yaml")
    assert report.figures and all(p.is_file() for p in report.figures)
    names = {p.name for p in report.figures}
    assert {"critical_difference_map.png", "training_synth-coco_16.png", "distances_synth-coco_16.png",
            "centroids_synth-coco_16.png", "pr_16.png"} <= names, names
    texts = sorted((out / "tables").glob("*.tex"))
    assert {p.name for p in texts} >= {"main_map.tex", "ranks_map.tex", "verdict.tex", "diagnostics_synth-coco_16.tex"}
    for path in texts:
        latex = path.read_text().replace(r" \\ ", " ")  # a long row label wraps onto lines of a nested tabular
        assert r"\textbf{x}" not in latex and "$x^2$" not in latex and r"\oops" not in latex, path.name
        assert r"evil \& \% \# \_ \{ \} \textbackslash{}textbf\{x\} \textbar{} \$x\^{}2\$" in latex, path.name
    # a published number never stands in a synthetic column: the index lists it, escaped
    assert r"- Pub \| & \$\\oops\$ #1 (A & B \| 100% {x}): not comparable: no run on coco" in \
        (out / "README.md").read_text()
    from benchmark.report.tables import Quoted, _quoted_label
    assert _quoted_label(Quoted("Pub | & $\\oops$ #1", "s", None, "mith", {}), "latex") == \
        r"\textit{Pub \textbar{} \& \$\textbackslash{}oops\$ \#1 [mith]}$^\S$"
    for path in [*sorted((out / "tables").glob("*.md")), out / "README.md"]:
        text = path.read_text()
        assert not table_shapes_hold(text), (path.name, table_shapes_hold(text))
        assert "$x^2$" not in text, path.name  # GitHub would set it as math
    assert r"evil & % # \_ { } \\textbf{x} \| \$x^2\$ \~ ^ \$\\oops\$" in (out / "tables" / "main_map.md").read_text()
    from tests.test_report_layout import assert_fits_a_paper
    assert_fits_a_paper(out / "tables")  # long, hostile names wrap instead of widening a table


def test_an_interrupted_report_leaves_the_previous_one_and_foreign_files_intact(tmp_path, monkeypatch):
    """The second report dies in its last section, after its tables were written: the first report is as it was,
    and files the report never wrote (a tracked README of another folder, notes) survive both reports."""
    from benchmark.report import figures

    results, out = tmp_path / "results", tmp_path / "reports"
    write_results(results, loss="pairwise", kept=False)
    (out / "example").mkdir(parents=True)
    (out / "example" / "verdict.md").write_text("kept example\n")
    (out / "tables").mkdir()
    (out / "tables" / "notes.tex").write_text("mine\n")
    build_report(results, out)
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert Path("tables/main_map.md") in before and Path("README.md") in before
    write_results(results, loss="pairwise", kept=False, lift=0.1)  # other numbers: a report that differs

    def dies(*args, **kwargs):
        raise RuntimeError("killed half-way")

    monkeypatch.setattr(figures, "training_figures", dies)
    with pytest.raises(RuntimeError, match="killed half-way"):
        build_report(results, out)
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before  # nothing of the half-made report, nothing of the first one lost
    assert [p.name for p in out.rglob(".*")] == [WRITTEN]  # no temporary folder left behind
    monkeypatch.undo()
    build_report(results, out)  # a complete second report replaces the first, and only what it owns
    assert (out / "tables" / "main_map.md").read_bytes() != before[Path("tables/main_map.md")]
    assert (out / "example" / "verdict.md").read_text() == "kept example\n"
    assert (out / "tables" / "notes.tex").read_text() == "mine\n"
    assert [p.name for p in out.rglob(".*")] == [WRITTEN]


_KILLED_REPORT = """
import os, signal, sys
from pathlib import Path
from benchmark.files import temporary_folder
staging = temporary_folder(Path(sys.argv[1]), "report")
(staging / "README.md").write_text("half a report")
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_the_staging_folder_of_a_killed_report_is_swept_by_the_next(tmp_path):
    results, out = tmp_path / "results", tmp_path / "reports"
    write_results(results, loss="pairwise", kept=False)
    killed = subprocess.run([sys.executable, "-c", _KILLED_REPORT, out], cwd=Path(__file__).parents[1])
    assert killed.returncode == -signal.SIGKILL
    assert len(list(out.glob(".report.tmp-*"))) == 1
    build_report(results, out)
    assert list(out.glob(".report.tmp-*")) == []
    assert (out / "README.md").read_text() != "half a report"


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def test_a_report_skips_the_figures_whose_codes_are_missing_or_damaged_and_lists_them(tmp_path, cli):
    results, out = tmp_path / "results", tmp_path / "out"
    records = write_results(results, loss="pairwise")
    store = RunStore(results)
    missing = next(r for r in records if r.spec.loss == "dcgh" and r.spec.replicate == 0)
    damaged = next(r for r in records if r.spec.loss == "pairwise" and r.spec.replicate == 0)
    (store.folder(missing.run_id) / CODES).unlink()
    _truncate(store.folder(damaged.run_id) / CODES)
    run = cli("report", "--results", results, "--out", out)
    assert run.returncode == 0, run.stderr
    index = (out / "README.md").read_text()
    for path in (store.folder(missing.run_id) / CODES, store.folder(damaged.run_id) / CODES):
        assert str(path) in run.stderr and str(path) in index, (path, run.stderr)
    for figure in ("embedding_synth-coco", "centroids_synth-coco_16"):
        assert figure in run.stderr and figure in index and not (out / "figures" / f"{figure}.png").exists()
    assert (out / "figures" / "distances_synth-coco_16.png").is_file()  # drawn from the records alone
    assert (out / "tables" / "main_map.md").is_file()


def test_export_and_diagnose_name_a_damaged_file_in_one_line(tmp_path, cli):
    results = tmp_path / "results"
    records = write_results(results, loss="pairwise")
    store = RunStore(results)
    codes = store.folder(records[0].run_id) / CODES
    _truncate(codes)
    run = cli("export", "--run", records[0].run_id, "--results", results, "--out", tmp_path / "x.mat")
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr
    assert run.stderr.count("\n") == 1 and str(codes) in run.stderr and "--force" in run.stderr, run.stderr
    continuous = store.folder(records[1].run_id) / CONTINUOUS
    _truncate(continuous)
    run = cli("diagnose", "--results", results)
    assert run.returncode == 0, run.stderr
    damaged = [line for line in run.stderr.splitlines() if str(continuous) in line]
    assert len(damaged) == 1 and "--force" in damaged[0], run.stderr
    assert f"recomputed the diagnostics of {len(records) - 2} runs" in run.stdout, run.stdout


def test_export_into_a_folder_names_the_file_it_wrote(tmp_path, cli):
    results = tmp_path / "results"
    records = write_results(results, loss="pairwise")
    folder = tmp_path / "exports"
    folder.mkdir()
    run = cli("export", "--run", records[0].run_id, "--results", results, "--out", folder, "--format", "npz")
    written = folder / f"{records[0].run_id}.npz"
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == f"wrote {written}" and written.is_file()
    with np.load(written) as arrays:
        assert set(arrays.files) == {"q_img", "q_txt", "r_img", "r_txt", "q_l", "r_l"}
    with pytest.raises(ConfigError, match="cannot write .*exports") as error:  # the library call: no folder there
        export(RunStore(results).folder(records[0].run_id), folder, "mat")
    assert ".tmp" not in str(error.value)
    blocked = tmp_path / "file.txt"
    blocked.write_text("not a folder")
    run = cli("export", "--run", records[0].run_id, "--results", results, "--out", blocked / "x.mat")
    assert run.returncode == 2 and ".tmp" not in run.stderr and str(blocked) in run.stderr, run.stderr


def test_a_report_removes_what_the_one_before_wrote_and_it_did_not_and_nothing_else(tmp_path):
    """The second report covers one dataset less: the figures of that dataset go, a foreign file stays, and a list
    of written files edited to point outside the folder removes nothing there."""
    results, out = tmp_path / "results", tmp_path / "reports"
    records = write_results(results, loss="pairwise", kept=False)
    extra = load_config("default", {"losses": ["pairwise", "triplet", "dcgh"], "datasets": ["synth-nuswide"],
                                    "bits": [16], "replicates": 3, "references": False})
    from tests.fake_records import write_record
    for loss in ("pairwise", "triplet", "dcgh"):
        for replicate in range(3):
            write_record(results, extra, loss, "synth-nuswide", 16, replicate, 0.5 + 0.01 * replicate)
    build_report(results, out)
    nuswide = [p for p in out.rglob("*synth-nuswide*") if p.is_file()]
    assert nuswide
    (out / "notes.md").write_text("mine\n")
    outside = tmp_path / "outside.txt"
    outside.write_text("keep\n")
    import json
    listed = json.loads((out / WRITTEN).read_text())
    (out / WRITTEN).write_text(json.dumps(listed + ["../outside.txt", str(outside)]))
    for path in (results / "runs").glob("synth-nuswide-*"):
        shutil.rmtree(path)
    build_report(results, out)
    assert [p for p in nuswide if p.exists()] == []
    assert (out / "notes.md").read_text() == "mine\n" and outside.read_text() == "keep\n"
    assert all((out / name).is_file() for name in json.loads((out / WRITTEN).read_text()))
    assert len(records) == 9


def test_the_default_report_folder_holds_nothing_tracked():
    import subprocess as sp

    from benchmark.cli.report import DEFAULT_OUT

    root = Path(__file__).parents[1]
    if sp.run(["git", "rev-parse"], cwd=root, capture_output=True).returncode != 0:
        pytest.skip("not a git checkout")
    assert sp.run(["git", "ls-files", str(DEFAULT_OUT)], cwd=root, capture_output=True, text=True).stdout == ""
    ignored = sp.run(["git", "check-ignore", "-q", str(DEFAULT_OUT / "README.md")], cwd=root)
    assert ignored.returncode == 0, f"{DEFAULT_OUT} is not ignored by git"
