"""The results store: one folder per run under ``<results>/runs/`` and the grids that asked for them under
``<results>/grids/``.

``record.json`` in a run's folder is the only marker of a finished run and ``failed.json`` of a failed one; both
are written atomically (``benchmark.files``), so a run killed at any moment never leaves a record that looks
finished. Records are written and read only here. This module imports neither torch nor the loss registry, so a
report can be built on a machine that only has the records.
"""
from __future__ import annotations

import glob
import json
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from .errors import RecordError
from .files import set_aside, write_json, write_text
from .paths import DEFAULT_RESULTS
from .record import SCHEMA_VERSION, RunFailure, RunRecord


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
        if (folder / self.RECORD).is_file() and not set_aside_if_damaged(folder / self.RECORD):
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
        return _read_record(self.folder(run_id) / self.RECORD)

    def read_failure(self, run_id: str) -> RunFailure:
        path = self.folder(run_id) / self.FAILURE
        return RunFailure.from_json(_read(path), str(path))

    def finished_matching(self, prefix: str) -> list[str]:
        """The ids of the finished runs whose id starts with ``prefix``, sorted."""
        return sorted(p.name for p in self.root.glob(f"{glob.escape(prefix)}*") if (p / self.RECORD).is_file())

    def contents(self) -> Contents:
        """Every record and failure in the store, in run-id order; unreadable files are listed, not raised."""
        found = Contents()
        for folder in sorted(p for p in self.root.glob("*") if p.is_dir()):
            record, failure = folder / self.RECORD, folder / self.FAILURE
            try:
                if record.is_file():
                    found.records.append(_read_record(record))
                elif failure.is_file():
                    found.failures.append(RunFailure.from_json(_read(failure), str(failure)))
            except RecordError as exc:
                found.unreadable.append(str(exc))
        return found

    def claim(self, run_id: str) -> "Claim | None":
        """Claim run ``run_id`` for this process (None: a live process holds it); see ``claim`` below."""
        return claim(self.folder(run_id))

    def claim_holder(self, run_id: str) -> dict | None:
        """Who holds run ``run_id`` now (host, pid, since, job), or None."""
        return claim_holder_of(self.folder(run_id) / CLAIM)

    # ----------------------------------------------------------------------------------------- grids

    def grid_path(self, grid_id: str) -> Path:
        return self.results / "grids" / f"{grid_id}.json"

    def write_grid(self, grid_id: str, runs: dict[str, str]) -> Path:
        """Add ``runs`` (run id -> label) to the runs grid ``grid_id`` asks for, so a report can say what is missing
        (a searched grid learns its runs once its search has chosen their settings)."""
        path = self.grid_path(grid_id)
        known = self.read_grid(grid_id) or {}
        if path.is_file() and set(runs) <= set(known):
            return path
        return write_json(path, {"grid_id": grid_id, "runs": {**known, **runs}})

    def read_grid(self, grid_id: str) -> dict[str, str] | None:
        """The runs of grid ``grid_id`` (run id -> label), or None when its file is missing or damaged."""
        try:
            return dict(json.loads(self.grid_path(grid_id).read_text())["runs"])
        except (OSError, ValueError, KeyError, TypeError):
            return None


def damaged_record(path: Path) -> str | None:
    """Why the record file ``path`` does not load (truncated, not JSON, keys missing), or None when it loads. A
    record of another schema version is not damaged: it says itself how to regenerate it."""
    try:
        _read_record(path)
    except RecordError as exc:
        try:
            content = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, UnicodeDecodeError):
            content = None
        if isinstance(content, dict) and content.get("schema_version") not in (None, SCHEMA_VERSION):
            return None
        return str(exc).split("; delete its folder")[0]
    return None


def set_aside_if_damaged(path: Path) -> bool:
    """Whether the record ``path`` did not load and was set aside: renamed to ``record.json.corrupt-<UTC time>``,
    said in one line on stderr (``benchmark.files.set_aside``), so that its run counts as not done and is redone."""
    problem = damaged_record(path)
    if problem is None:
        return False
    try:
        set_aside(path, problem, "its run will be redone")
    except OSError as exc:
        raise RecordError(f"{problem}; cannot set it aside ({exc.strerror}): delete {path} and run again") from None
    return True


def _read_record(path: Path) -> RunRecord:
    """The record ``path``; RecordError when it is damaged, or names another run than its folder's: whatever is
    written for a record goes to its folder, so a record naming another (``../..``) would be written outside."""
    record = RunRecord.from_json(_read(path), str(path))
    if record.run_id != path.parent.name:
        raise RecordError(f"record {path} is damaged (it names run {record.run_id!r}, not its folder's "
                          f"{path.parent.name!r}); delete its folder and run its grid again")
    return record


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RecordError(f"cannot read {path}: {exc}") from exc


# ------------------------------------------------------------------------------------------------ claims
#
# A run being trained is claimed: ``claim.json`` in its folder names the process (host, pid, start time, the
# Slurm job when there is one). It is created atomically (a hard link of a complete file, which fails when the
# name exists), so of several processes wanting one run exactly one gets it; the others skip the run. The holder
# touches the file every HEARTBEAT_S seconds and removes it when the run ends, failed or not. A claim whose holder
# is gone is taken over: on the same host, when its pid no longer runs; from another host (a Slurm node), when the
# file has not been touched for STALE_AFTER_S seconds. A study of ``tune`` is claimed the same way, by
# ``<results>/tuning/<study>.claim.json``, so that two processes never tune one study at once.

CLAIM = "claim.json"
#: The claim files under a results folder: of runs and of tuning studies.
CLAIM_FILES = (f"runs/*/{CLAIM}", f"tuning/*.{CLAIM}")
HEARTBEAT_S = 60.0
STALE_AFTER_S = 15 * 60.0


class Claim:
    """This process's claim on one run: ``release()`` it when the run ends (a context manager releases it too)."""

    def __init__(self, path: Path, token: str):
        self.path, self.token = path, token
        self._stop = threading.Event()
        self._beat = threading.Thread(target=self._heartbeat, daemon=True)
        self._beat.start()

    def _heartbeat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            try:
                os.utime(self.path)
            except OSError:
                return

    def held(self) -> bool:
        """Whether the claim file is still this process's (not taken over by another process meanwhile)."""
        holder = claim_holder_of(self.path, alive_only=False)
        return holder is not None and holder.get("token") == self.token

    def release(self) -> None:
        """Remove the claim file if it is still this process's (never one another process took over)."""
        self._stop.set()
        if self.held():
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> "Claim":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    except OSError:
        return False
    try:  # a zombie (killed, not yet reaped) holds its pid but runs nothing
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def claim_alive(holder: dict, touched: float) -> bool:
    """Whether the claim of ``holder`` (the file's content), last touched at ``touched``, still holds."""
    fresh = time.time() - touched < STALE_AFTER_S
    if holder.get("host") == socket.gethostname() and isinstance(holder.get("pid"), int):
        return fresh and pid_alive(holder["pid"])
    return fresh


def claim_holder_of(path: Path, alive_only: bool = True) -> dict | None:
    """The content of the claim file ``path`` (host, pid, since, job, token), or None when there is none (or,
    with ``alive_only``, when its holder is gone). A file still being written counts as alive for a minute."""
    touched = 0.0
    try:
        touched = path.stat().st_mtime
        holder = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(holder, dict):
            raise ValueError
    except FileNotFoundError:
        return None
    except (OSError, ValueError, UnicodeDecodeError):  # being written, or damaged
        return {} if not alive_only or time.time() - touched < HEARTBEAT_S else None
    return holder if not alive_only or claim_alive(holder, touched) else None


def describe_holder(holder: dict) -> str:
    job = f", job {holder['job']}" if holder.get("job") else ""
    return f"pid {holder.get('pid', '?')} on {holder.get('host', '?')}{job} since {holder.get('since', '?')}"


def current_job() -> str | None:
    """The Slurm or submitit job this process runs in, if any."""
    slurm = os.environ.get("SLURM_JOB_ID")
    if slurm:
        task = os.environ.get("SLURM_ARRAY_TASK_ID")
        return f"{os.environ.get('SLURM_ARRAY_JOB_ID', slurm)}_{task}" if task else slurm
    local = os.environ.get("SUBMITIT_LOCAL_JOB_ID")
    return f"submitit-local {local}" if local else None


def claim(folder: Path, name: str = CLAIM) -> Claim | None:
    """Claim the run whose folder is ``folder`` (or what the claim file ``folder/name`` stands for): a ``Claim`` when
    this process now holds it, None when a live process does. A claim whose holder is gone is taken over."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    token = uuid.uuid4().hex
    content = {"host": socket.gethostname(), "pid": os.getpid(), "job": current_job(),
               "since": datetime.now(timezone.utc).isoformat(timespec="seconds"), "token": token}
    for _ in range(3):
        if _create_exclusive(path, json.dumps(content, indent=1) + "\n", token):
            return Claim(path, token)
        holder = claim_holder_of(path, alive_only=False)
        if holder is None:
            continue  # released meanwhile: try again
        if claim_holder_of(path) is not None:
            return None  # a live process holds it
        _take_away(path, holder.get("token"))
    return None


def release_claims_of(results: Path, pids: set[int]) -> None:
    """Remove the claims under ``results`` (runs and studies) that the ended processes ``pids`` of this host held,
    so that no other host waits STALE_AFTER_S seconds for them (killed workers, whose runs left no record)."""
    host = socket.gethostname()
    for path in [path for pattern in CLAIM_FILES for path in Path(results).glob(pattern)]:
        holder = claim_holder_of(path, alive_only=False) or {}
        if holder.get("host") == host and holder.get("pid") in pids and not pid_alive(holder["pid"]):
            _take_away(path, holder.get("token"))


def _create_exclusive(path: Path, text: str, token: str) -> bool:
    """Create ``path`` holding ``text`` unless it exists, atomically: a complete file is linked to the name."""
    temporary = path.with_name(f".{path.name}.{token}")
    temporary.write_text(text, encoding="utf-8")
    try:
        os.link(temporary, path)
        return True
    except FileExistsError:
        return False
    except OSError:  # a file system without hard links: an exclusive create (briefly empty)
        try:
            descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
        return True
    finally:
        temporary.unlink(missing_ok=True)


def _take_away(path: Path, stale_token: str | None) -> None:
    """Remove the stale claim ``path`` (token ``stale_token``) so that it can be claimed again; when another
    process replaced it meanwhile by a claim of its own, that one is put back."""
    aside = path.with_name(f".{path.name}.stale.{uuid.uuid4().hex}")
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return
    moved = claim_holder_of(aside, alive_only=False) or {}
    if moved.get("token") != stale_token:  # not the stale claim: a fresh one, taken by mistake; put it back
        try:
            os.link(aside, path)
        except OSError:
            pass
    aside.unlink(missing_ok=True)
