"""Choosing what a report or listing holds (issue 30): rows and columns by loss, family, dataset and bits, from the
flags or ``--where``; a value no run has is refused naming what there is."""
from __future__ import annotations

import pytest

from benchmark.config import load_config
from benchmark.errors import ReportError
from benchmark.report.selection import select
from benchmark.store import RunStore
from tests.fake_records import write_record

LOSSES = {"pairwise": 0.6, "triplet": 0.7, "dcgh": 0.65}


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """Three losses (and the random-codes reference row) on two datasets at 16 and 32 bits, 2 replicates."""
    folder = tmp_path_factory.mktemp("selection") / "results"
    config = load_config("default", {"losses": list(LOSSES), "datasets": ["synth-coco", "synth-nuswide"],
                                     "bits": [16, 32], "replicates": 2, "search": {"enabled": False}})
    for loss, value in {**LOSSES, "ref:random": 0.4}.items():
        for dataset in ("synth-coco", "synth-nuswide"):
            for bits in (16, 32):
                for replicate in range(2):
                    write_record(folder, config, loss, dataset, bits, replicate, value + 0.01 * replicate)
    return folder


def _coordinates(records, *names):
    return {tuple(getattr(r.spec, n) for n in names) for r in records}


def test_coordinates_select_runs_and_a_list_takes_several(results):
    records = RunStore(results).contents().records
    chosen = select(records, ["loss=[triplet, dcgh]", "dataset=synth-coco", "bits=16"])
    assert _coordinates(chosen, "loss", "dataset", "bits") == {("triplet", "synth-coco", 16),
                                                              ("dcgh", "synth-coco", 16)}
    assert {r.spec.loss for r in select(records, ["family=triplet"])} == {"triplet"}
    assert {r.spec.bits for r in select(records, ["bits=[16, 32]"])} == {16, 32}
    kept = select(records, ["loss=triplet"], keep_references=True)  # a report keeps its yardstick rows
    assert {r.spec.loss for r in kept} == {"triplet", "ref:random"}


@pytest.mark.parametrize("where,named", [("loss=[triplet, tripplet]", "'tripplet'"), ("dataset=coco", "'coco'"),
                                         ("bits=64", "64"), ("family=contrastive", "'contrastive'")])
def test_a_value_no_run_has_is_refused_with_what_there_is(results, where, named):
    records = RunStore(results).contents().records
    with pytest.raises(ReportError, match="no run has") as caught:
        select(records, [where])
    assert named in str(caught.value) and "these runs have" in str(caught.value)


def test_report_flags_pick_the_rows_and_columns_of_every_table(results, cli, tmp_path):
    out = tmp_path / "report"
    done = cli("report", "--results", results, "--out", out, "--format", "markdown,csv",
               "--losses", "triplet,dcgh", "--datasets", "synth-coco", "--bits", "16")
    assert done.returncode == 0, done.stderr
    main = (out / "tables" / "main_map.md").read_text()
    rows = {line.split("|")[1].strip() for line in main.splitlines() if line.startswith("| ") and "Loss" not in line}
    assert rows == {"triplet", "dcgh", "*random codes*"}
    header = next(line for line in main.splitlines() if line.startswith("| Loss"))
    assert header.count("bits") == 1 and "synth-coco 16 bits" in header
    refused = cli("report", "--results", results, "--out", tmp_path / "none", "--losses", "nope")
    assert refused.returncode == 2 and "no run has loss 'nope'" in refused.stderr


def test_results_flags_list_only_the_chosen_runs(results, cli):
    listed = cli("results", "--results", results, "--families", "pairwise", "--bits", "32", "--csv")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.strip().splitlines()[1:]
    assert len(lines) == 4 and all(",pairwise,synth-" in line and ",32," in line for line in lines), lines
