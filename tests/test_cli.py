"""`python -m benchmark` as a user runs it (in this process: the fixture ``cli``)."""
from __future__ import annotations

import argparse

import numpy as np
import pytest

import losses
from benchmark import cli as cli_module


def test_list_losses_groups_every_loss_by_family_with_its_source_and_parameters(cli):
    result = cli("list", "losses")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for entry in losses.entries():
        index = next(i for i, line in enumerate(lines) if line.lstrip("* ").split()[:1] == [entry.name])
        cited = entry.citation.full if entry.citation else (entry.source or "")
        assert entry.description in lines[index] and (entry.is_variant or cited in lines[index])
        if not entry.is_variant:
            family = max(i for i, line in enumerate(lines[:index]) if line.endswith(":") and not line.startswith(" "))
            assert lines[family] == f"{entry.family}:"
            assert lines[index].lstrip().startswith("*") == entry.representative
            defaults = losses.defaults(entry.name)
            assert all(f"{k}={v!r}" in lines[index + 1] for k, v in defaults.items())
    assert "dcgh-novar" in result.stdout and "gamma=0.0" in result.stdout


def test_bad_arguments_exit_non_zero_without_traceback(cli):
    for args in (("list", "bogus"), ("no-such-command",), ()):
        result = cli(*args)
        assert result.returncode != 0
        assert "Traceback" not in result.stderr
        assert "usage:" in result.stderr


def test_every_subcommand_has_help_with_examples(cli):
    commands = [a for a in cli_module.build_parser()._actions if isinstance(a, argparse._SubParsersAction)][0].choices
    assert len(commands) >= 11
    for command in commands:
        status, out, _ = cli(command, "--help")
        assert status == 0, command
        assert "examples:" in out and f"python -m benchmark {command}" in out, command


def test_list_configs(cli):
    result = cli("list", "configs")
    assert result.returncode == 0 and "default" in result.stdout and "paper" in result.stdout


def test_list_datasets_shows_each_dataset_with_its_location_and_status(tmp_path, cli):
    (tmp_path / "coco").mkdir()
    for name in ("index.mat", "label.mat", "caption.mat"):
        (tmp_path / "coco" / name).write_bytes(b"")
    result = cli("list", "datasets", "--data-root", tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for name in ("mirflickr25k", "nuswide", "coco", "synth-mirflickr25k", "synth-nuswide", "synth-coco"):
        assert any(line.split()[:1] == [name] for line in lines), name
    coco = next(line for line in lines if line.split()[:1] == ["coco"])
    assert "80 classes  found" in coco
    assert str(tmp_path / "nuswide") in result.stdout and "missing index.mat, label.mat, caption.txt" in result.stdout


def test_a_user_error_is_one_line_and_exit_2_and_a_bug_keeps_its_traceback(monkeypatch, cli, tmp_path):
    status, _, err = cli("report", "--results", tmp_path / "none", "--out", tmp_path / "out")
    assert status == 2 and err.startswith("error: no run records in") and err.count("\n") == 1

    def broken(args):
        return str(np.zeros(2) + np.zeros(3))  # a numpy ValueError: a bug, not a user's mistake

    monkeypatch.setitem(cli_module.listing.LISTINGS, "configs", broken)
    with pytest.raises(ValueError, match="could not be broadcast"):
        cli("list", "configs")


def test_unusable_folders_and_an_empty_format_list_are_one_line_and_exit_2(tmp_path, cli):
    """A results or output folder that is a file (or read-only) and `report --format ,` each print one line and
    exit 2, without a traceback and without writing anything."""
    from benchmark.config import load_config
    from tests.fake_records import write_record

    results = tmp_path / "results"
    write_record(results, load_config("default", {"losses": ["dcgh"], "datasets": ["synth-coco"], "bits": [16]}),
                 "dcgh", "synth-coco", 16, 0, 0.5)
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    cases = [
        (["report", "--results", str(results), "--out", str(tmp_path / "out"), "--format", ","],
         "error: --format names no format; give a comma list of one or more of latex, markdown, csv"),
        (["report", "--results", str(results), "--out", str(a_file)], f"error: cannot use {a_file}"),
        (["run", "--losses", "dcgh", "--datasets", "synth-coco", "--bits", "16", "--replicates", "1", "--quiet",
          "--results", str(a_file)], f"error: cannot use {a_file}"),
    ]
    for args, start in cases:
        status, _, err = cli(*args)
        lines = err.splitlines()
        assert status == 2 and lines[-1].startswith(start) and not any("Traceback" in line for line in lines), lines
    assert not (tmp_path / "out").exists()
    assert cli_module.os_error_line(OSError(5, "Input/output error", "x")) is None  # not the user's folder: a traceback


def test_a_reader_that_stops_reading_gets_no_traceback():
    """``python -m benchmark list configs | head -1``: the pipe's reader leaves; the command stops quietly with the
    status a shell gives a writer killed by SIGPIPE."""
    import subprocess
    import sys
    from pathlib import Path

    process = subprocess.Popen([sys.executable, "-m", "benchmark", "list", "configs"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, cwd=Path(__file__).resolve().parents[1])
    process.stdout.close()  # the reader is gone before anything is written
    _, errors = process.communicate(timeout=300)
    assert process.returncode == 141 and errors == b"", errors.decode()[-1500:]
