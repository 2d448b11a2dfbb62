"""The report's "Selection rules compared" section: runs that differ from the reported configuration only in
``run.protocol`` are paired by replicate with the honest ones, against hand-computed differences."""
from __future__ import annotations

import math

import pandas as pd
import pytest
from scipy import stats

from benchmark.config import load_config
from benchmark.report import build_report
from tests.fake_records import write_record

HONEST = {"dcgh": [0.70, 0.72, 0.74], "triplet": [0.60, 0.61, 0.62]}
ADDED = {"dcgh": [0.03, 0.02, 0.04], "triplet": [0.01, -0.01, 0.0]}  # paper − honest, by replicate


def grid(protocol: str, **search):
    return load_config("default", {"losses": ["dcgh", "triplet"], "datasets": ["synth-coco"], "bits": [16],
                                   "replicates": 3, "references": False, "search": {"enabled": False},
                                   "run": {"protocol": protocol}})


def write_runs(results, protocols=("honest", "paper")):
    for protocol in protocols:
        config = grid(protocol)
        for loss, values in HONEST.items():
            for replicate, value in enumerate(values):
                added = ADDED[loss][replicate] if protocol != "honest" else 0.0
                write_record(results, config, loss, "synth-coco", 16, replicate, value + added)


def test_each_rule_is_paired_with_the_honest_runs_by_replicate(tmp_path):
    write_runs(tmp_path / "results")
    out = tmp_path / "report"
    build_report(tmp_path / "results", out, formats=["csv", "markdown", "latex"])
    table = pd.read_csv(out / "tables" / "selection_protocols_map.csv")
    assert set(table.protocol) == {"paper"} and set(table.reference) == {"honest"}
    assert len(table) == 4  # 2 losses x 2 directions
    for loss, added in ADDED.items():
        half = stats.t.ppf(0.975, 2) * stats.tstd(added) / math.sqrt(3)  # the slow, obvious reference
        p = stats.ttest_1samp(added, 0.0).pvalue if any(added) else 1.0
        for row in table[table.loss == loss].itertuples():
            assert row.delta == pytest.approx(sum(added) / 3, abs=1e-9)
            assert row.delta_ci == pytest.approx(half, abs=1e-6)
            assert row.p_holm == pytest.approx(p, abs=1e-6)  # one rule compared per cell: Holm changes nothing
            assert row.n == 3
            shift = 0.01 if row.direction == "t2i" else 0.0  # fake records: T->I is I->T - 0.01
            assert row.reference_mean == pytest.approx(sum(HONEST[loss]) / 3 - shift)
            assert row.protocol_mean == pytest.approx(sum(HONEST[loss]) / 3 + sum(added) / 3 - shift)
    index = (out / "README.md").read_text()
    assert "## Selection rules compared" in index
    assert "| DCGH: paper − honest | +0.030 ± 0.025 | +0.030 ± 0.025 |" in index
    assert "| Triplet: paper − honest | 0.000 ± 0.025 n.s. | 0.000 ± 0.025 n.s. |" in index
    assert "`paper` − `honest`: mean +0.015 over 4 cells" in index and "2 shown above zero, 0 below" in index
    assert "\\caption" in (out / "tables" / "selection_protocols_map.tex").read_text()
    assert ("`python -m benchmark report --where run.protocol=paper` (its losses are compared with these in "
            "*Selection rules compared*)") in index


def test_the_section_is_absent_with_one_rule_and_the_reference_is_honest_whichever_is_reported(tmp_path):
    write_runs(tmp_path / "one", protocols=("paper",))
    build_report(tmp_path / "one", tmp_path / "r1", formats=["csv"])
    assert not (tmp_path / "r1" / "tables" / "selection_protocols_map.csv").exists()
    write_runs(tmp_path / "two", protocols=("paper",))
    write_runs(tmp_path / "two", protocols=("honest",))
    build_report(tmp_path / "two", tmp_path / "r2", formats=["csv"], where=["run.protocol=paper"])
    table = pd.read_csv(tmp_path / "r2" / "tables" / "selection_protocols_map.csv")
    assert set(table.reference) == {"honest"} and table.delta.max() == pytest.approx(0.03)


def test_only_the_replicates_both_rules_ran_are_paired(tmp_path):
    results = tmp_path / "results"
    write_runs(results, protocols=("paper",))
    honest = grid("honest")
    for replicate in (0, 2):  # replicate 1 failed under the honest rule
        write_record(results, honest, "dcgh", "synth-coco", 16, replicate, HONEST["dcgh"][replicate])
        write_record(results, honest, "triplet", "synth-coco", 16, replicate, HONEST["triplet"][replicate])
    build_report(results, tmp_path / "report", formats=["csv"], where=["run.protocol=honest"])
    table = pd.read_csv(tmp_path / "report" / "tables" / "selection_protocols_map.csv")
    dcgh = table[(table.loss == "dcgh") & (table.direction == "i2t")].iloc[0]
    assert (dcgh.n, dcgh.delta) == (2, pytest.approx(0.035))
    assert dcgh.protocol_mean == pytest.approx((0.73 + 0.74 + 0.78) / 3)  # its own runs, all three
