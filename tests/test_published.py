"""The field's published numbers shipped as data (benchmark/configs/published/): every table carries its provenance
and citation, the numbers are those of the sources' tables, and a file lacking any of it is refused naming it."""
from __future__ import annotations

import pytest

from benchmark.errors import ReportError
from benchmark.report.published import TABLE_FIELDS, packaged_published, read_published


def test_every_packaged_table_has_its_provenance_and_a_full_citation():
    tables, citations = packaged_published()
    assert [(t.method, t.table_of, t.protocol, t.metric) for t in tables] == [
        ("DCHMT", "tu2022dchmt", "dchmt", "map"), ("MITH", "liu2023mith", "mith", "map"),
        ("DCHMT", "liu2023mith", "mith", "map"), ("TwDH", "tu2024twdh", "twdh", "map@5000"),
        ("DCHMT", "tu2024twdh", "twdh", "map@5000")]
    for table in tables:
        assert all(getattr(table, name) not in (None, "", ()) for name in TABLE_FIELDS), table
        assert len(table.commit) == 40 and table.bits == (16, 32, 64)
        assert {table.cite, table.table_of} <= set(citations)
        assert {d: set(v) for d, v in table.values.items()} == {d: {"mirflickr25k", "nuswide", "coco"}
                                                                for d in ("i2t", "t2i")}
    for key, citation in citations.items():
        assert citation["bibtex"].startswith(("@inproceedings{" + key + ",", "@article{" + key + ","))
        assert len(citation["authors"]) == 5 and citation["year"] in (2022, 2023, 2024)


def test_the_same_method_reads_differently_under_each_protocol():
    """The issue's example, from the three tables: DCHMT, MIRFLICKR-25K, I->T, 16 bits."""
    tables, citations = packaged_published()
    dchmt = {t.protocol: t for t in tables if t.method == "DCHMT"}
    assert {p: t.values["i2t"]["mirflickr25k"][0] for p, t in dchmt.items()} == {
        "dchmt": 0.8263, "mith": 0.8217, "twdh": 0.8533}
    numbers = [n for t in tables for n in t.numbers(citations)]
    assert len(numbers) == 5 * 2 * 3 * 3
    last = next(n for n in numbers if n.source.startswith("TwDH's table") and (n.task, n.dataset, n.bits) ==
                ("t2i", "coco", 64) and n.method == "DCHMT")
    assert (last.value, last.metric, last.cite, last.protocol) == (0.7144, "map@5000", "tu2022dchmt", "twdh")


GOOD = """\
citations:
  a2020x: {method: X, title: T, authors: [A B], venue: V, year: 2020, bibtex: "@article{a2020x, title={T}}"}
tables:
  - {method: X, cite: a2020x, table_of: a2020x, source: "o/r f.png", commit: abc, protocol: dchmt, metric: map,
     bits: [16], values: {i2t: {coco: [0.5]}}}
"""


@pytest.mark.parametrize("change, message", [
    (("commit: abc, ", ""), "table 1 lacks commit"),
    (("cite: a2020x, table_of", "cite: b2020y, table_of"), "cites b2020y, which the file's citations do not define"),
    (("protocol: dchmt", "protocol: dchmtt"), "protocol 'dchmtt' is not a configuration"),
    (("[0.5]", "[82.63]"), "i2t coco must hold one mAP in \\[0, 1\\] per code length of \\[16\\], got \\[82.63\\]"),
    (("{coco:", "{cocoa:"), "unknown dataset 'cocoa'"),
    (("venue: V, ", ""), "citation a2020x lacks venue"),
    (("@article{a2020x,", "@article{other,"), "citation a2020x's BibTeX entry has another key")])
def test_a_published_file_missing_provenance_is_refused_naming_it(tmp_path, change, message):
    (tmp_path / "good.yaml").write_text(GOOD)
    assert len(read_published(tmp_path / "good.yaml")[0]) == 1
    (tmp_path / "bad.yaml").write_text(GOOD.replace(*change))
    with pytest.raises(ReportError, match=message):
        read_published(tmp_path / "bad.yaml")


def test_a_report_sets_a_published_row_only_where_its_protocol_was_followed(tmp_path):
    """Runs under --config dchmt on MIRFLICKR-25K get DCHMT's own number beside them, cited; MITH's and TwDH's
    numbers (another split, selection rule or metric) are listed as not comparable, with the reasons; the LaTeX
    and its references.bib compile (where pdflatex and bibtex exist)."""
    import dataclasses
    import shutil
    import subprocess

    from benchmark.config import load_config
    from benchmark.report import build_report
    from benchmark.store import RunStore
    from tests.fake_records import write_record

    results, out = tmp_path / "results", tmp_path / "out"
    config = load_config("dchmt", {"losses": ["dcgh"], "datasets": ["mirflickr25k"], "bits": [16], "replicates": 1,
                                   "references": False, "run": {"backbone": str(tmp_path)}})
    record = write_record(results, config, "dcgh", "mirflickr25k", 16, 0, 0.81)
    RunStore(results).write_record(dataclasses.replace(record, data={"n_query": 5120, "n_retrieval": 14895,
                                                                     "n_train": 10240, "n_val_query": 1000,
                                                                     "backbone_architecture": "ViT-B/32"}))
    build_report(results, out, formats=["latex", "markdown"])
    main = (out / "tables" / "main_map.md").read_text()
    assert "| *DCHMT [dchmt]*§ | 0.826 |" in main and "| *DCHMT [dchmt]*§ | 0.812 |" in main  # I->T, T->I
    assert "MITH" not in main.split("**I→T**")[1] and "TwDH" not in main.split("**I→T**")[1]
    index = (out / "README.md").read_text()
    assert ("- MITH [mith] (its own paper (ACM MM 2023), DarrenZZhang/MM23-MITH Fig/resultMITH.png (Table 1)): not "
            "comparable: query items 5120, mith's 2000; training items 10240, mith's 10000; split drawn legacy seed "
            "1814, mith's legacy seed 1; selection paper, mith's paper-sum") in index
    assert "- TwDH [twdh] (its own paper (IEEE TMM 2024), kalenforn/clip-based-cross-modal-hash runners/TwDH/data/" \
           "result.png (Table I)): not comparable: metric map@5000, this report's map; query items 5120, twdh's 5000" \
           in index
    latex = (out / "tables" / "main_map.tex").read_text()
    assert "\\textit{DCHMT [dchmt]}~\\cite{tu2022dchmt}$^\\S$ & 0.826" in latex
    assert "@inproceedings{tu2022dchmt," in (out / "references.bib").read_text()
    if shutil.which("pdflatex") and shutil.which("bibtex"):
        folder = out / "tables"
        shutil.copy(out / "references.bib", folder / "references.bib")
        (folder / "paper.tex").write_text(
            "\\documentclass[10pt,twocolumn]{article}\n\\usepackage{booktabs}\n\\usepackage{multirow}\n"
            "\\begin{document}\n\\input{main_map.tex}\nText.\n\\bibliographystyle{plain}\n\\bibliography{references}\n"
            "\\end{document}\n")
        for command in (["pdflatex"], ["bibtex"], ["pdflatex"], ["pdflatex"]):
            argument = "paper" if command == ["bibtex"] else "paper.tex"
            done = subprocess.run([*command, *(["-interaction=nonstopmode"] if command != ["bibtex"] else []),
                                   argument], cwd=folder, capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, done.stdout[-2000:]
        log = (folder / "paper.log").read_text(errors="replace")
        assert "Citation" not in log and "undefined" not in log, log[-2000:]


def test_a_synthetic_column_never_takes_a_published_number(tmp_path):
    from benchmark.config import load_config
    from benchmark.report import build_report
    from tests.fake_records import write_record

    config = load_config("default", {"losses": ["dcgh"], "datasets": ["synth-mirflickr25k"], "bits": [16],
                                     "replicates": 1, "references": False})
    write_record(tmp_path / "results", config, "dcgh", "synth-mirflickr25k", 16, 0, 0.81)
    build_report(tmp_path / "results", tmp_path / "out", formats=["markdown"])
    assert "§" not in (tmp_path / "out" / "tables" / "main_map.md").read_text()
    index = (tmp_path / "out" / "README.md").read_text()
    assert index.count("not comparable: no run on mirflickr25k (synthetic stand-ins never take published "
                       "numbers)") == 5  # each table of the packaged file
