"""``python -m benchmark stress KNOB=...`` end to end on a tiny grid: the runs at each knob value get data generated
with that value, the table's means and intervals are those of the records, the figures are drawn, a rerun does
nothing; and the visible-label oracle reference (``ref:oracle``) against a per-query loop."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from benchmark import data
from benchmark.config import load_config
from benchmark.errors import ConfigError
from benchmark.grid import build_grid
from tests.reference_metrics import cosine_map
from tests.results_folder import read_records

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def stressed(tmp_path_factory, tiny_config, cli):
    """A stress run along ``hierarchy`` (0 and 0.8) of the tiny grid with two replicates and its reference rows,
    its records, and the output of a second run."""
    tmp = tmp_path_factory.mktemp("stress")
    config = tiny_config(tmp, replicates=2, references=True)
    args = ("stress", "hierarchy=0,0.8", "--config", config, "--results", tmp / "results", "--out", tmp / "out",
            "--quiet", "--reference", "pairwise")
    first = cli(*args)
    assert first.returncode == 0, first.stderr
    second = cli(*args)
    found = list(read_records(tmp / "results").values())
    return tmp, first, second, found


def test_each_value_runs_on_data_generated_with_it(stressed):
    _, first, second, found = stressed
    assert "0 done, 24 to run (8 training runs, 16 reference rows)" in first.stdout
    assert "24 done, 0 to run" in second.stdout
    assert len(found) == 24
    for record in found:
        assert record["data"]["summary"]["knobs"]["hierarchy"] == record["spec"]["synthetic"]["knobs"]["hierarchy"]
    hashes = {(r["spec"]["synthetic"]["knobs"]["hierarchy"], r["spec"]["replicate"]): r["data"]["dataset_hash"]
              for r in found}
    assert len(set(hashes.values())) == 4  # two values x two replicates: four different data draws


def test_the_table_holds_the_records_means_and_intervals(stressed):
    tmp, _, _, found = stressed
    table = pd.read_csv(tmp / "out" / "stress_hierarchy.csv")
    assert {"I→T mAP", "T→I mAP", "semantic_bias_spread"} <= set(table.quantity)
    for value in (0.0, 0.8):
        runs = [r for r in found if r["spec"]["loss"] == "pairwise" and r["spec"]["synthetic"]["knobs"]["hierarchy"] == value]
        maps = [r["metrics"]["i2t"]["map"] for r in runs]
        row = table[(table.row == "pairwise") & (table.hierarchy == value) & (table.quantity == "I→T mAP")].iloc[0]
        assert row["n"] == 2 and row["mean"] == pytest.approx(np.mean(maps))
        assert row["ci"] == pytest.approx(stats.t.ppf(0.975, 1) * np.std(maps, ddof=1) / math.sqrt(2))
        spread = {(r["spec"]["loss"], r["spec"]["replicate"]): r["diagnostics"]["semantic_bias_spread"]
                  for r in found if r["spec"]["synthetic"]["knobs"]["hierarchy"] == value and r["diagnostics"]}
        runs, base = ([spread[loss, k] for k in (0, 1)] for loss in ("proxy", "pairwise"))
        row = table[(table.row == "proxy") & (table.hierarchy == value) & (table.quantity == "semantic_bias_spread")].iloc[0]
        differences = [a - b for a, b in zip(runs, base)]
        assert row["delta"] == pytest.approx(np.mean(differences))
        assert row["delta_ci"] == pytest.approx(stats.t.ppf(0.975, 1) * np.std(differences, ddof=1) / math.sqrt(2))
        assert row["p_holm"] == pytest.approx(stats.ttest_rel(runs, base).pvalue)
    assert table[table.row == "pairwise"]["delta"].isna().all()
    assert "paired difference to pairwise" in (tmp / "out" / "stress_hierarchy.md").read_text()
    figures = sorted(p.name for p in (tmp / "out" / "figures").glob("*.png"))
    assert figures == ["stress_hierarchy_synth-nuswide_16b.png"]
    assert "hierarchy=0.8" in (tmp / "out" / "stress_hierarchy.md").read_text()


def test_the_oracle_ranks_the_classes_each_modality_shows(stressed, benchmark_cache):
    _, _, _, found = stressed
    record = next(r for r in found if r["spec"]["loss"] == "ref:oracle" and r["spec"]["replicate"] == 1
                  and r["spec"]["synthetic"]["knobs"]["hierarchy"] == 0.8)
    dataset = data.load("synth-nuswide", root=benchmark_cache, seed=1, size=300, hierarchy=0.8)
    split = data.load_or_create_split(dataset, data.default_split_settings(dataset), benchmark_cache)
    image, text = (dataset.visible[m].astype(int).tolist() for m in ("image", "text"))
    labels = dataset.labels.tolist()
    query, retrieval = split.query.tolist(), split.retrieval.tolist()
    expected = cosine_map([image[i] for i in query], [text[j] for j in retrieval], [labels[i] for i in query],
                         [labels[j] for j in retrieval])
    assert record["metrics"]["i2t"]["map"] == pytest.approx(expected, abs=1e-12)
    assert record["metrics"]["i2t"]["map"] > max(r["metrics"]["i2t"]["map"] for r in found
                                                 if r["spec"]["loss"] == "ref:random")


def test_real_datasets_have_no_oracle_row():
    specs = build_grid(load_config("default", {"datasets": ["coco"], "run": {"backbone": str(ROOT)},
                                               "losses": ["dcgh"]})).specs
    assert {s.loss for s in specs} == {"dcgh", "ref:random", "ref:lsh", "ref:continuous"}


@pytest.mark.parametrize("argument,message", [
    ("hierarchi=0,1", "unknown synthetic knob 'hierarchi' (did you mean 'hierarchy'?)"),
    ("hierarchy", "stress takes KNOB=V1,V2,..."),
    ("hierarchy=0,2", "synthetic.knobs: synthetic knob hierarchy must be a number in [0, 1], got 2"),
    ("hierarchy=0.5,0.5", "a value is given twice"),
])
def test_bad_knobs_are_one_line_and_exit_2(cli, argument, message):
    result = cli("stress", argument, "--dry-run")
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_a_knob_is_part_of_the_run_identity():
    def ids(knobs):
        return [s.run_id for s in build_grid(load_config("default", {"synthetic": {"knobs": knobs}})).specs]

    assert set(ids({})).isdisjoint(ids({"hierarchy": 0.6}))
    with pytest.raises(ConfigError, match="synthetic.knobs: unknown synthetic knob"):
        ids({"bogus": 1})
