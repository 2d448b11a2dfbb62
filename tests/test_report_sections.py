"""The report's sections as a registry of builders: a user's section lands in the report (its file and its entry
in the index), a name is registered once, and ``save_figure`` writes the files it returns."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pytest

from benchmark.config import load_config
from benchmark.files import write_text
from benchmark.report import ReportContext, Section, build_report, register_section, save_figure, section_names
from benchmark.report import sections
from tests.fake_records import write_record


@pytest.fixture
def registry():
    """Forget the sections a test registers."""
    before = section_names()
    yield
    for name in section_names():
        if name not in before:
            sections.SECTIONS.remove(name)


def per_loss_counts(context: ReportContext) -> Section:
    """A user's section: a table of the runs per loss, and a figure of them."""
    counts = context.frame.groupby("loss").run_id.nunique()
    markdown = "| Loss | runs |\n|---|---|\n" + "".join(f"| {loss} | {n} |\n" for loss, n in counts.items())
    table = write_text(context.out / "tables" / "per_loss_counts.md", markdown)
    fig, ax = plt.subplots()
    ax.bar(list(counts.index), list(counts.values))
    return Section("Runs per loss", markdown, [table], save_figure(fig, context.out / "figures", "per_loss_counts"))


def test_a_registered_section_is_built_after_the_others_and_indexed(tmp_path, registry):
    config = load_config("default", {"losses": ["pairwise", "dcgh"], "datasets": ["synth-coco"], "bits": [16],
                                     "replicates": 1, "references": False})
    for loss in ("pairwise", "dcgh"):
        write_record(tmp_path / "results", config, loss, "synth-coco", 16, 0, 0.5)
    built_in = section_names()
    assert built_in[:3] == ["main_table", "verdict", "ranks"] and built_in[-1] == "training_curves"

    assert register_section(per_loss_counts) is per_loss_counts
    assert section_names() == [*built_in, "per_loss_counts"]
    out = tmp_path / "out"
    report = build_report(tmp_path / "results", out, formats=["markdown"])

    assert out / "tables" / "per_loss_counts.md" in report.tables
    assert {out / "figures" / "per_loss_counts.png", out / "figures" / "per_loss_counts.pdf"} <= set(report.figures)
    index = (out / "README.md").read_text()
    headings = [line for line in index.splitlines() if line.startswith("## ")]
    assert headings[-2:] == ["## Training curves", "## Runs per loss"]
    user = index[index.index("## Runs per loss"):]
    assert "| dcgh | 1 |" in user and "[MD](tables/per_loss_counts.md)" in user
    assert "![per_loss_counts](figures/per_loss_counts.png)" in user and "[PDF](figures/per_loss_counts.pdf)" in user


def test_a_section_name_is_registered_once(registry):
    register_section(per_loss_counts)
    with pytest.raises(ValueError, match="per_loss_counts.*already registered"):
        register_section(per_loss_counts)
    with pytest.raises(ValueError, match="'ranks' is already registered"):
        register_section(lambda context: None, name="ranks")
    register_section(per_loss_counts, name="per_loss_counts_again")
    assert section_names()[-2:] == ["per_loss_counts", "per_loss_counts_again"]


def test_save_figure_writes_the_png_and_pdf_it_returns(tmp_path):
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    paths = save_figure(fig, tmp_path / "figures", "line")
    assert paths == [tmp_path / "figures" / "line.png", tmp_path / "figures" / "line.pdf"]
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and paths[1].read_bytes()[:5] == b"%PDF-"
    assert not plt.fignum_exists(fig.number)  # closed: a report draws many figures


def test_report_imports_a_plugin_whose_section_it_then_writes(tmp_path, registry, cli, monkeypatch):
    """``report --plugins MODULE``: a user's section in a module of its own, registered when the module is imported."""
    config = load_config("default", {"losses": ["pairwise"], "datasets": ["synth-coco"], "bits": [16],
                                     "replicates": 1, "references": False})
    write_record(tmp_path / "results", config, "pairwise", "synth-coco", 16, 0, 0.5)
    (tmp_path / "plugin").mkdir()
    (tmp_path / "plugin" / "my_report_section.py").write_text(
        "from benchmark.report import Section, register_section\n\n\n"
        "@register_section\n"
        "def my_note(context):\n"
        "    return Section('My note', f'{len(context.records)} records read')\n")
    monkeypatch.syspath_prepend(str(tmp_path / "plugin"))
    status, _, err = cli("report", "--results", tmp_path / "results", "--out", tmp_path / "out",
                         "--plugins", "my_report_section")
    assert status == 0, err
    index = (tmp_path / "out" / "README.md").read_text()
    assert "## My note" in index and "1 records read" in index
    status, _, err = cli("report", "--results", tmp_path / "results", "--plugins", "no_such_module_here")
    assert status == 2 and err.startswith("error: cannot import plugin module 'no_such_module_here'")
