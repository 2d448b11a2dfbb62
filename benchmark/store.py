"""The results store: one folder per run under ``<results>/runs/`` and the grids that asked for them under
``<results>/grids/``.

``record.json`` in a run's folder is the only marker of a finished run and ``failed.json`` of a failed one; both
are written atomically (``benchmark.files``), so a run killed at any moment never leaves a record that looks
finished. Records are written and read only here. This module imports neither torch nor the loss registry, so a
report can be built on a machine that only has the records.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from .errors import RecordError
from .files import write_json, write_text
from .paths import DEFAULT_RESULTS
from .record import RunFailure, RunRecord


@dataclass
class Contents:
    """What a results folder holds: finished runs, failed runs (without a record), and the record files that
    could not be read (each with the reason, which names the file and what to do)."""

    records: list[RunRecord] = field(default_factory=list)
    failures: list[RunFailure] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)


class RunStore:
    """``<results>/runs/<run_id>/`` holding ``record.json`` (done) or ``failed.json``, and ``log.txt``."""

    RECORD, FAILURE, LOG = "record.json", "failed.json", "log.txt"

    def __init__(self, results: Path = DEFAULT_RESULTS):
        self.results = Path(results)
        self.root = self.results / "runs"

    def folder(self, run_id: str) -> Path:
        return self.root / run_id

    def status(self, run_id: str) -> str:
        """``done``, ``failed`` or ``pending``."""
        folder = self.folder(run_id)
        if (folder / self.RECORD).is_file():
            return "done"
        return "failed" if (folder / self.FAILURE).is_file() else "pending"

    def write_record(self, record: RunRecord) -> Path:
        path = write_text(self.folder(record.run_id) / self.RECORD, record.to_json())
        (path.parent / self.FAILURE).unlink(missing_ok=True)
        return path

    def write_failure(self, failure: RunFailure) -> Path:
        return write_text(self.folder(failure.run_id) / self.FAILURE, failure.to_json())

    def write_log(self, run_id: str, lines: list[str]) -> Path:
        return write_text(self.folder(run_id) / self.LOG, "\n".join(lines) + "\n")

    def read_record(self, run_id: str) -> RunRecord:
        path = self.folder(run_id) / self.RECORD
        return RunRecord.from_json(_read(path), str(path))

    def contents(self) -> Contents:
        """Every record and failure in the store, in run-id order; unreadable files are listed, not raised."""
        found = Contents()
        for folder in sorted(p for p in self.root.glob("*") if p.is_dir()):
            record, failure = folder / self.RECORD, folder / self.FAILURE
            try:
                if record.is_file():
                    found.records.append(RunRecord.from_json(_read(record), str(record)))
                elif failure.is_file():
                    found.failures.append(RunFailure.from_json(_read(failure), str(failure)))
            except RecordError as exc:
                found.unreadable.append(str(exc))
        return found

    # ----------------------------------------------------------------------------------------- grids

    def grid_path(self, grid_id: str) -> Path:
        return self.results / "grids" / f"{grid_id}.json"

    def write_grid(self, grid_id: str, runs: dict[str, str]) -> Path:
        """The runs a grid asks for (run id -> label), so a report can say what is missing."""
        path = self.grid_path(grid_id)
        return path if path.is_file() else write_json(path, {"grid_id": grid_id, "runs": runs})

    def read_grid(self, grid_id: str) -> dict[str, str] | None:
        """The runs of grid ``grid_id`` (run id -> label), or None when its file is missing or damaged."""
        try:
            return dict(json.loads(self.grid_path(grid_id).read_text())["runs"])
        except (OSError, ValueError, KeyError, TypeError):
            return None


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RecordError(f"cannot read {path}: {exc}") from exc
