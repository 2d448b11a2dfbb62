"""Faults around files (issue 31, items 3, 5 and 8): a full disk, a record that names another folder, temporary
files of killed writers, a dry run that must change nothing, and caches damaged on disk."""
from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmark import files
from benchmark.errors import RecordError
from benchmark.store import RunStore

ENOSPC = OSError(errno.ENOSPC, "No space left on device")  # as numpy's zip writer raises it: no file name


def _tree(folder: Path) -> dict[str, bytes | None]:
    """Every path under ``folder`` with its bytes (None for a folder)."""
    return {str(p.relative_to(folder)): None if p.is_dir() else p.read_bytes() for p in sorted(folder.rglob("*"))}


def _one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    return lines[0]


@pytest.fixture
def own_cache(tmp_path, monkeypatch) -> Path:
    """A cache folder of this test's own (so that what it damages or fills is not the session's)."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("BENCHMARK_CACHE", str(cache))
    return cache


# ------------------------------------------------------------------------------------------------- full disk

def test_full_disk_while_caching_is_one_line_naming_the_file(tiny, own_cache, cli, monkeypatch):
    config, results = tiny

    def full(*args, **kwargs):
        raise ENOSPC

    monkeypatch.setattr(np, "savez", full)
    result = cli("run", "--config", config, "--results", results, "--workers", 1, "--quiet")
    assert result.returncode == 2
    line = _one_error_line(result.stderr)
    assert str(own_cache / "synthetic") in line and "space" in line and "free" in line
    assert [p for p in own_cache.rglob("*") if p.is_file()] == []  # nothing half-written left behind


def test_full_disk_in_a_run_stops_with_the_original_error(tiny, cli, monkeypatch):
    config, results = tiny
    replace = os.replace

    def full_under_runs(source, target, *args, **kwargs):
        if (results / "runs") in Path(target).parents:
            raise ENOSPC
        return replace(source, target, *args, **kwargs)

    monkeypatch.setattr(os, "replace", full_under_runs)
    result = cli("run", "--config", config, "--results", results, "--workers", 1, "--quiet")
    assert result.returncode == 2
    line = _one_error_line(result.stderr)
    assert str(results / "runs") in line and "space" in line
    assert RunStore.FAILURE not in line  # the run's own error, not the failure record's
    assert [p.name for p in (results / "runs").rglob("*") if p.is_file()] == []


# ------------------------------------------------------------------------------------ a record's own run id

def test_a_record_naming_another_folder_is_damaged_and_nothing_is_written_outside(tiny_grid_copy, cli):
    store = RunStore(tiny_grid_copy)
    run_id = store.contents().records[0].run_id
    path = store.folder(run_id) / store.RECORD
    content = json.loads(path.read_text())
    content["run_id"] = "../../victim"
    path.write_text(json.dumps(content))
    victim = tiny_grid_copy.parent / "victim"  # where the record points: its kept files, so that it looks whole
    shutil.copytree(store.folder(run_id), victim, ignore=shutil.ignore_patterns("*.json"))
    before = _tree(victim)

    result = cli("diagnose", "--results", tiny_grid_copy)
    assert result.returncode == 0, result.stderr
    assert _tree(victim) == before
    assert str(path) in result.stderr  # said, not silently passed over
    with pytest.raises(RecordError, match="victim"):
        store.read_record(run_id)
    assert any(str(path) in line for line in store.contents().unreadable)
    assert store.status(run_id) == "pending"  # set aside: the run counts as not done and is redone
    assert list(store.folder(run_id).glob(f"{store.RECORD}.corrupt-*"))


# ------------------------------------------------------------------------------------ killed writers' leftovers

_KILLED_WRITER = """
import os, signal, sys
from pathlib import Path
from benchmark.files import atomic_folder, atomic_path
with atomic_path(Path(sys.argv[1])) as tmp, atomic_folder(Path(sys.argv[2]), "done") as folder:
    tmp.write_bytes(b"x" * 100_000)
    (folder / "arrays.npz").write_bytes(b"x" * 100_000)
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_temporary_files_of_dead_writers_are_swept_and_a_live_ones_kept(tiny_grid_copy, tiny_grid, benchmark_cache,
                                                                         cli):
    record = tiny_grid_copy / "runs" / "some-run" / "record.json"
    folder = benchmark_cache / "synthetic" / "killed-set"
    killed = subprocess.run([sys.executable, "-c", _KILLED_WRITER, record, folder], cwd=Path(__file__).parents[1])
    assert killed.returncode == -signal.SIGKILL
    dead = [*record.parent.iterdir(), *folder.parent.glob(f".{folder.name}.*")]
    assert len(dead) == 2
    with files.atomic_path(benchmark_cache / "features" / "live.npz") as live:
        live.write_bytes(b"being written")
        result = cli("run", "--config", tiny_grid.config, "--results", tiny_grid_copy, "--quiet")
        assert result.returncode == 0, result.stderr
        assert live.is_file()
    (benchmark_cache / "features" / "live.npz").unlink()
    assert [p for p in dead if p.exists()] == []


# ------------------------------------------------------------------------------------------------- dry run

def test_a_dry_run_changes_nothing_and_reports_damaged_records(tiny_grid_copy, tiny_grid, cli):
    store = RunStore(tiny_grid_copy)
    run_id = store.contents().records[0].run_id
    (store.folder(run_id) / store.RECORD).write_text('{"run_id": ')  # cut short
    before = _tree(tiny_grid_copy)
    result = cli("run", "--config", tiny_grid.config, "--results", tiny_grid_copy, "--dry-run")
    assert result.returncode == 0, result.stderr
    assert _tree(tiny_grid_copy) == before
    assert any("damaged" in line and run_id in line for line in result.stdout.splitlines())


# ------------------------------------------------------------------------------------------------- caches

def _flip(path: Path) -> None:
    """Flip one bit in the middle of ``path``, as a failing disk would."""
    content = bytearray(path.read_bytes())
    content[len(content) // 2] ^= 0x10
    path.write_bytes(bytes(content))


def test_a_bit_flipped_cache_is_set_aside_and_rebuilt(tiny, own_cache, cli):
    config, results = tiny
    first = cli("run", "--config", config, "--results", results, "--workers", 1, "--quiet")
    assert first.returncode == 0, first.stderr
    damaged = [next((own_cache / "synthetic").glob("*/captions.json")),
               next((own_cache / "backbones").glob("*/model.safetensors")),
               next((own_cache / "features").glob("*.npz")), next((own_cache / "splits").glob("*.npz"))]
    for path in damaged:
        _flip(path)
    again = cli("run", "--config", config, "--results", results.with_name("again"), "--workers", 1, "--quiet")
    assert again.returncode == 0, again.stderr
    for path in damaged:  # a damaged file, or the cache folder holding it, is set aside
        assert path.is_file()
        assert [*path.parent.glob(f"{path.name}.corrupt-*"), *path.parent.parent.glob(f"{path.parent.name}.corrupt-*")]
    metrics = [{r.run_id: r.metrics["i2t"]["map"] for r in RunStore(folder).contents().records}
               for folder in (results, results.with_name("again"))]
    assert metrics[0] == metrics[1]  # rebuilt as they were


def test_a_cache_file_is_hashed_once_per_process(tmp_path, monkeypatch):
    path = files.save_npz_cache(tmp_path / "cache.npz", values=np.arange(10))
    hashed = []
    digest = files.arrays_sha256
    monkeypatch.setattr(files, "arrays_sha256", lambda arrays: hashed.append(1) or digest(arrays))
    for _ in range(3):
        assert files.load_npz_cache(path, ("values",))["values"].tolist() == list(range(10))
    assert hashed == []  # checked when written, by this process
    os.utime(path, ns=(0, 0))  # another file, as far as this process can tell
    for _ in range(3):
        files.load_npz_cache(path, ("values",))
    assert hashed == [1]
