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
