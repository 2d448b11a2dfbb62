"""Guarantees proven by what a record says it did, not by its labels: every evaluation before ``final`` scored the
validation split (an honest run, a tuning trial), the final one the query set against the retrieval set (honest,
reference rows) or the validation split (a trial), each checked against the split recomputed here; and the report
never keeps one of two records silently for one table cell (runs differing only in the optimizer or the epochs are
different configurations; two records for one row, column and replicate are refused)."""
from __future__ import annotations

import hashlib
from dataclasses import asdict

import numpy as np
import pytest

from benchmark import data
from benchmark.config import ParameterSet, load_config
from benchmark.data.splits import SplitSettings, make_split
from benchmark.errors import ReportError
from benchmark.execution import RunContext
from benchmark.execution.one_run import execute_run
from benchmark.grid import build_grid
from benchmark.parameters import with_parameters
from benchmark.record import DIRECTIONS
from benchmark.report import selection
from benchmark.report.tables import table_statistics
from benchmark.report.tidy_data import tidy
from benchmark.store import RunStore
from benchmark.training.protocols import HonestProtocol, TrialProtocol
from tests.fake_records import make_record, write_record

# ------------------------------------------------------------------------------- what the evaluations scored


def fingerprint(indices) -> str:
    """SHA-256 of dataset indices in the order given, as little-endian int64 (computed here, not by the suite)."""
    return hashlib.sha256(np.asarray(indices).astype("<i8").tobytes()).hexdigest()


def recomputed_split(spec, cache) -> dict[str, np.ndarray]:
    """The split of run ``spec`` recomputed from its settings (not read from the cache's split file): its synthetic
    set loaded as the run loads it, then the seeded permutation of ``make_split``."""
    synthetic = spec.synthetic
    dataset = data.load(spec.dataset, root=cache, seed=synthetic.seed, size=synthetic.size, **synthetic.knobs)
    settings = data.default_split_settings(dataset, **asdict(spec.settings.split))
    return dataset, make_split(len(dataset), settings, dataset.name)


def scored(evaluation: dict) -> tuple:
    return (evaluation["query_items"], evaluation["query_sha256"], evaluation["database_items"],
            evaluation["database_sha256"])


def of(query, database) -> tuple:
    return len(query), fingerprint(query), len(database), fingerprint(database)


def check_scored(record, cache, final: str) -> None:
    """Every evaluation of ``record`` before ``final`` scored the validation queries against the validation database
    and was labelled so; the final ones (each direction once, last) scored ``final``: ``query`` (query set against
    retrieval set) or ``validation``."""
    dataset, split = recomputed_split(record.spec, cache)
    assert dataset.content_hash == record.data["dataset_hash"], "not the run's data"
    validation, query = of(split["val_query"], split["val_database"]), of(split["query"], split["retrieval"])
    assert validation != query
    log = record.evaluations
    before = [e for e in log if e["stage"] != "final"]
    finals = [e for e in log if e["stage"] == "final"]
    assert before and log[:len(before)] == before, "an evaluation after the final one"
    for entry in before:
        assert entry["set"] == "validation" and scored(entry) == validation, (record.run_id, entry)
    assert sorted(e["direction"] for e in finals) == sorted(DIRECTIONS)
    for entry in finals:
        assert entry["set"] == final and scored(entry) == (query if final == "query" else validation), entry
    epochs = {e["stage"] for e in before}
    assert epochs == {f"epoch {h.epoch}" for h in record.history if h.val_map is not None}
    assert all(sorted(e["direction"] for e in before if e["stage"] == s) == ["i2t", "t2i"] for s in epochs)


def test_an_honest_run_selected_on_the_validation_split_and_reported_the_query_set(tiny_grid, benchmark_cache):
    records = RunStore(tiny_grid.results).contents().records
    assert len(records) == 2
    for record in records:
        assert record.selection.protocol == "honest"
        check_scored(record, benchmark_cache, final="query")


def test_a_tuning_trial_scores_the_validation_split_only(tiny, benchmark_cache):
    config, results = tiny
    base = build_grid(load_config(str(config))).training_runs[0]
    head_lr = base.settings.optimizer.head_lr
    trial = with_parameters(base, {"run.optimizer.head_lr": head_lr * 2},
                            ParameterSet(name="trial", defaults={"run.optimizer.head_lr": head_lr}, study="test",
                                         trial=True), "the test")
    assert execute_run(trial, RunContext(results=results, progress=False)).status == "done"
    record = RunStore(results).read_record(trial.run_id)
    assert record.spec.parameter_set.trial and record.selection.protocol == "trial"
    check_scored(record, benchmark_cache, final="validation")
    _, split = recomputed_split(record.spec, benchmark_cache)
    assert record.metrics["i2t"]["n_queries"] == len(split["val_query"])
    # the per-epoch validation (mAP only, the pairs' relevance computed once per run) scored the selected state
    # exactly as the trial's full evaluation of that state on the same split does
    selected = next(h for h in record.history if h.epoch == record.selection.epochs["i2t"])
    assert (selected.val_map_i2t, selected.val_map_t2i) == (record.metrics["i2t"]["map"], record.metrics["t2i"]["map"])


def test_a_reference_row_scores_the_query_set_against_the_retrieval_set(tiny, benchmark_cache):
    config, results = tiny
    spec = next(s for s in build_grid(load_config(str(config), {"references": True})).specs if s.loss == "ref:lsh")
    assert execute_run(spec, RunContext(results=results, progress=False)).status == "done"
    record = RunStore(results).read_record(spec.run_id)
    _, split = recomputed_split(spec, benchmark_cache)
    assert sorted(e["direction"] for e in record.evaluations) == sorted(DIRECTIONS)
    for entry in record.evaluations:
        assert (entry["stage"], entry["set"]) == ("final", "query")
        assert scored(entry) == of(split["query"], split["retrieval"])
    graded = {"wmap"} | {f"{name}@{k}" for k in spec.settings.topk for name in ("ndcg", "acg", "wmap")}
    assert all(graded <= set(record.metrics[d]) for d in DIRECTIONS)  # the graded metrics reach the record


@pytest.mark.parametrize("row", ["ref:continuous", "ref:oracle"])
def test_a_cosine_row_is_computed_once_per_replicate_and_read_at_the_other_code_lengths(row, tiny, benchmark_cache,
                                                                                         monkeypatch):
    """The rows ranked by cosine do not depend on the code length: the first code length computes them, the others
    read the same metrics from the cache (nothing recomputed), so their records agree by construction."""
    from benchmark.training import reference_evaluation

    config, results = tiny
    grid = build_grid(load_config(str(config), {"references": True, "bits": [16, 32]}))
    specs = [s for s in grid.specs if s.loss == row]
    assert [s.bits for s in specs] == [16, 32]
    context = RunContext(results=results, progress=False)
    assert execute_run(specs[0], context).status == "done"
    monkeypatch.setattr(reference_evaluation, "cosine_ranking_metrics", None)  # any recomputation would fail
    assert execute_run(specs[1], context).status == "done"
    first, second = (RunStore(results).read_record(s.run_id) for s in specs)
    assert first.metrics == second.metrics and first.metrics["i2t"]["n_queries"] > 0
    assert {"wmap", *(f"ndcg@{k}" for k in specs[0].settings.topk)} <= set(first.metrics["t2i"])  # no gaps in tables


class FakeTrainer:
    """What a protocol asks of the trainer, recording which items each evaluation was given."""

    def __init__(self):
        self.calls = []

    def evaluate(self, stage, set_name, query, database, directions, full):
        self.calls.append((stage, set_name, np.array(query), np.array(database), tuple(directions), full))
        results = {d: {"map": 0.5} for d in directions}
        codes = {f"{p}_{m}": np.ones((2, 4), np.int8) for p in ("query", "retrieval") for m in ("image", "text")}
        return type("Evaluation", (), {"results": results, "codes": codes, "outputs": codes, "state_sha256": "s"})()

    def snapshot(self):
        return {}

    def restore(self, state):
        pass

    def kept_state(self):
        return {}


@pytest.fixture
def split():
    parts = make_split(100, SplitSettings(query_size=10, train_size=50, split_seed=3))
    return data.Split(**parts, settings=SplitSettings(query_size=10, train_size=50, split_seed=3), dataset_hash="d",
                      hash="h")


@pytest.mark.parametrize("protocol", [HonestProtocol, TrialProtocol])
def test_the_protocols_choose_the_epoch_on_the_validation_split(split, protocol):
    trainer = FakeTrainer()
    chosen = protocol(split)
    for epoch in (1, 2):
        entry = chosen.after_epoch(trainer, epoch)
        assert entry["val_map"] == 0.5
    chosen.finish(trainer)
    *epochs, final = trainer.calls
    assert [c[0] for c in epochs] == ["epoch 1", "epoch 2"]
    for stage, set_name, query, database, directions, full in epochs:
        assert set_name == "validation" and directions == ("i2t", "t2i") and not full
        assert np.array_equal(query, split.val_query) and np.array_equal(database, split.val_database)
    stage, set_name, query, database, directions, full = final
    assert stage == "final" and sorted(directions) == sorted(DIRECTIONS) and full
    expected = (split.query, split.retrieval) if protocol is HonestProtocol else (split.val_query, split.val_database)
    assert set_name == ("query" if protocol is HonestProtocol else "validation")
    assert np.array_equal(query, expected[0]) and np.array_equal(database, expected[1])


# ----------------------------------------------------------------------------------- one value per table cell

BASE = {"losses": ["pairwise"], "datasets": ["synth-coco"], "bits": [16], "replicates": 2, "references": False}


def records_of(overrides: dict, value: float) -> list:
    """The two replicates of pairwise on synth-coco at 16 bits under the default configuration with ``overrides``,
    each with I->T mAP ``value`` (+0.01 for replicate 1)."""
    grid = build_grid(load_config("default", {**BASE, **overrides}))
    return [make_record(spec, value + 0.01 * spec.replicate, grid_id=grid.id) for spec in grid.specs]


@pytest.mark.parametrize("overrides, key, value", [
    ({"run": {"optimizer": {"head_lr": 0.0123}}}, "run.optimizer.head_lr", 0.0123),
    ({"run": {"epochs": 7}}, "run.epochs", 7),
], ids=["head_lr", "epochs"])
def test_runs_differing_in_one_setting_are_separate_configurations(overrides, key, value):
    default, changed = records_of({}, 0.5), records_of(overrides, 0.7)
    assert {r.spec.replicate for r in changed} == {0, 1}
    assert all(a.run_id != b.run_id for a, b in zip(default, changed))
    assert selection.differences(selection.configuration(changed[0].spec),
                                 selection.configuration(default[0].spec)) == {key: value}
    groups = selection.configurations(default + changed)
    assert len(groups) == 2
    for group in groups:
        assert len(group.records) == 2
        table = table_statistics(tidy(group.records), "map")
        assert table.rows == ["pairwise"]
        for column in table.columns:
            cell = table.values[("pairwise", column)]
            expected = {r.spec.replicate: r.metrics[column[0]]["map"] for r in group.records}
            assert cell == pytest.approx(expected) and len(cell) == 2


def test_two_records_for_one_table_cell_are_refused():
    default, changed = records_of({}, 0.5), records_of({"run": {"optimizer": {"head_lr": 0.0123}}}, 0.7)
    with pytest.raises(ReportError) as raised:
        table_statistics(tidy(default + changed), "map")
    message = str(raised.value)
    first, second = default[0].run_id, changed[0].run_id
    for part in ("'pairwise'", "synth-coco", "16 bits", "replicate 0", first, second, "--where"):
        assert part in message, (part, message)


def test_the_report_command_says_so_in_one_line(tmp_path, cli, monkeypatch):
    """Were the configuration to forget the optimizer, the report would refuse the cell, not keep one learning
    rate's value: one line, a non-zero exit."""
    results = tmp_path / "results"
    for overrides, value in (({}, 0.5), ({"run": {"optimizer": {"head_lr": 0.0123}}}, 0.7)):
        write_record(results, load_config("default", {**BASE, **overrides}), "pairwise", "synth-coco", 16, 0, value)
    ok = cli("report", "--results", results, "--out", tmp_path / "report", "--format", "csv")
    assert ok.returncode == 0, ok.stderr
    configuration = selection.configuration
    monkeypatch.setattr(selection, "configuration", lambda spec: {
        k: v for k, v in configuration(spec).items() if not k.startswith("run.optimizer.")})
    status, _, err = cli("report", "--results", results, "--out", tmp_path / "broken", "--format", "csv")
    assert status == 2 and "two records for one table cell" in err and len(err.strip().splitlines()) == 1, err
