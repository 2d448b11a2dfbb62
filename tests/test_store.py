"""The results store and the run record: round trips, atomic writes, records of another schema refused with a
message naming the file and the command that regenerates them, and a report that needs no torch."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmark.config import load_config
from benchmark.errors import RecordError
from benchmark.files import atomic_path, write_text
from benchmark.grid import build_grid
from benchmark.record import SCHEMA_VERSION, EpochLog, RunFailure
from benchmark.store import RunStore
from tests.fake_records import make_record, write_record

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def config():
    return load_config("default", {"losses": ["pairwise", "dcgh"], "datasets": ["synth-coco"], "bits": [16]})


def test_a_record_round_trips_through_the_store(tmp_path, config):
    record = write_record(tmp_path, config, "dcgh", "synth-coco", 16, 0, 0.5)
    store = RunStore(tmp_path)
    assert store.status(record.run_id) == "done"
    assert store.read_record(record.run_id) == record
    assert json.loads((store.folder(record.run_id) / "record.json").read_text())["schema_version"] == SCHEMA_VERSION
    assert store.contents().records == [record]


def test_a_stored_history_loads_as_epoch_logs_and_is_written_back_byte_for_byte(tmp_path, config):
    """A history as the trainer has always stored it (an epoch not evaluated, an honest and a paper evaluation)
    reads as ``EpochLog``s and writes back to the very same text."""
    record = write_record(tmp_path, config, "dcgh", "synth-coco", 16, 0, 0.5)
    path = RunStore(tmp_path).folder(record.run_id) / "record.json"
    stored = json.loads(path.read_text())
    stored["history"] = [
        {"epoch": 1, "loss": {"total": 0.75, "inter": 0.5, "intra": 0.25}, "seconds": 1.5},
        {"epoch": 2, "loss": {"total": 0.5, "inter": 0.25, "intra": 0.25}, "val_map_i2t": 0.25, "val_map_t2i": 0.5,
         "val_map": 0.375, "seconds": 2.0},
        {"epoch": 3, "loss": {"total": 0.25, "inter": 0.125, "intra": 0.125},
         "query_map": {"i2t": 0.5, "t2i": 0.25, "i2i": 0.75, "t2t": 0.625}, "seconds": 2.5}]
    text = json.dumps(stored, indent=1) + "\n"
    path.write_text(text)
    loaded = RunStore(tmp_path).read_record(record.run_id)
    assert loaded.history == [EpochLog(1, {"total": 0.75, "inter": 0.5, "intra": 0.25}, seconds=1.5),
                              EpochLog(2, {"total": 0.5, "inter": 0.25, "intra": 0.25}, val_map_i2t=0.25,
                                       val_map_t2i=0.5, val_map=0.375, seconds=2.0),
                              EpochLog(3, {"total": 0.25, "inter": 0.125, "intra": 0.125},
                                       query_map={"i2t": 0.5, "t2i": 0.25, "i2i": 0.75, "t2t": 0.625}, seconds=2.5)]
    assert [h.evaluated for h in loaded.history] == [False, True, True]
    assert loaded.history[1].validation_map == {"i2t": 0.25, "t2i": 0.5} and loaded.history[2].validation_map == {}
    assert [h.to_dict() for h in loaded.history] == stored["history"]
    assert loaded.to_json() == text


def test_a_record_replaces_the_failure_of_its_run(tmp_path, config):
    spec = build_grid(config).specs[0]
    store = RunStore(tmp_path)
    store.write_failure(RunFailure(run_id=spec.run_id, spec=spec, grid_id=None, error="boom", error_type="RuntimeError",
                                   traceback="Traceback ...", failed_at="2026-11-25T12:00:00+00:00"))
    assert store.status(spec.run_id) == "failed" and store.contents().failures[0].error == "boom"
    store.write_record(make_record(spec, 0.5))
    assert store.status(spec.run_id) == "done" and not (store.folder(spec.run_id) / "failed.json").exists()


def test_a_first_round_record_is_refused_naming_the_file_and_the_command(tmp_path, config, cli):
    record = write_record(tmp_path, config, "dcgh", "synth-coco", 16, 0, 0.5)
    path = RunStore(tmp_path).folder(record.run_id) / "record.json"
    old = json.loads(path.read_text())
    del old["schema_version"]
    path.write_text(json.dumps(old))
    with pytest.raises(RecordError) as error:
        RunStore(tmp_path).read_record(record.run_id)
    message = str(error.value)
    assert str(path) in message and "first version of the suite" in message and "python -m benchmark run" in message
    contents = RunStore(tmp_path).contents()
    assert contents.records == [] and contents.unreadable == [message]
    result = cli("report", "--results", tmp_path, "--out", tmp_path / "out")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: no run records in") and str(path) in result.stderr


@pytest.mark.parametrize("content,problem", [
    ("{not json", "is not valid JSON"),
    ("[1, 2]", "is not a JSON object"),
    (json.dumps({"schema_version": 99}), "schema version 99; this suite reads version"),
    (json.dumps({"schema_version": SCHEMA_VERSION, "run_id": "x"}), "is damaged (missing '"),
])
def test_damaged_records_are_named(tmp_path, content, problem):
    path = tmp_path / "runs" / "some-run" / "record.json"
    path.parent.mkdir(parents=True)
    path.write_text(content)
    (reason,) = RunStore(tmp_path).contents().unreadable
    assert str(path) in reason and problem in reason


@pytest.mark.parametrize("damage", ["truncated", "keyless"])
def test_a_record_that_does_not_load_is_set_aside_and_its_run_redone(tmp_path, config, capsys, damage):
    record = write_record(tmp_path, config, "dcgh", "synth-coco", 16, 0, 0.5)
    store = RunStore(tmp_path)
    path = store.folder(record.run_id) / "record.json"
    text = path.read_text()
    path.write_text(text[: len(text) // 2] if damage == "truncated" else "{}")
    assert store.status(record.run_id) == "pending"  # not done forever
    (aside,) = path.parent.glob("record.json.corrupt-*")
    assert not path.exists() and aside.read_text() != text  # kept, under a name that says what happened
    (line,) = capsys.readouterr().err.splitlines()
    assert str(path) in line and aside.name in line and "redone" in line
    old = tmp_path / "runs" / "old-run" / "record.json"  # another schema version: left alone, it says what to do
    old.parent.mkdir()
    old.write_text(json.dumps({"schema_version": 99}))
    assert store.status("old-run") == "done" and old.exists()


def test_the_report_skips_unreadable_records_and_names_them(tmp_path, config, cli):
    write_record(tmp_path, config, "dcgh", "synth-coco", 16, 0, 0.5)
    broken = tmp_path / "runs" / "broken-run" / "record.json"
    broken.parent.mkdir()
    broken.write_text("{")
    result = cli("report", "--results", tmp_path, "--out", tmp_path / "out", "--format", "csv")
    assert result.returncode == 0, result.stderr
    assert f"skipped: run record {broken} is not valid JSON" in result.stderr
    assert str(broken) in (tmp_path / "out" / "README.md").read_text()


def test_atomic_writes_leave_the_target_whole_or_untouched(tmp_path):
    target = write_text(tmp_path / "table.csv", "old\n")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed half-way")
    assert target.read_text() == "old\n" and list(tmp_path.iterdir()) == [target]
    with atomic_path(target) as first, atomic_path(target) as second:
        assert first != second and first.suffix == second.suffix == ".csv"  # np.savez / savemat keep the name
        first.write_text("first\n")
        second.write_text("second\n")
    assert target.read_text() == "first\n" and list(tmp_path.iterdir()) == [target]


def test_the_report_imports_neither_torch_nor_transformers():
    code = ("import sys, benchmark.report, benchmark.store; "
            "assert 'torch' not in sys.modules and 'transformers' not in sys.modules, "
            "sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'transformers'))[:5]")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
