"""`python -m benchmark` as a user runs it, in a subprocess."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import losses
from benchmark import cli

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "benchmark", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def test_list_losses_groups_every_loss_by_family_with_its_source_and_parameters():
    result = run_cli("list", "losses")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for entry in losses.entries():
        index = next(i for i, line in enumerate(lines) if line.lstrip("* ").split()[:1] == [entry.name])
        assert entry.description in lines[index] and (entry.is_variant or (entry.source or "") in lines[index])
        if not entry.is_variant:
            family = max(i for i, line in enumerate(lines[:index]) if line.endswith(":") and not line.startswith(" "))
            assert lines[family] == f"{entry.family}:"
            assert lines[index].lstrip().startswith("*") == entry.representative
            defaults = losses.defaults(entry.name)
            assert all(f"{k}={v!r}" in lines[index + 1] for k, v in defaults.items())
    assert "dcgh-novar" in result.stdout and "gamma=0.0" in result.stdout


def test_bad_arguments_exit_non_zero_without_traceback():
    for args in (("list", "bogus"), ("no-such-command",), ()):
        result = run_cli(*args)
        assert result.returncode != 0
        assert "Traceback" not in result.stderr
        assert "usage:" in result.stderr


def test_every_subcommand_has_help_with_examples():
    for command in ("list", "run", "report", "ablate", "prepare", "diagnose", "export", "results", "tune", "sweep"):
        result = run_cli(command, "--help")
        assert result.returncode == 0, command
        assert "examples:" in result.stdout and f"python -m benchmark {command}" in result.stdout, command


def test_list_configs():
    result = run_cli("list", "configs")
    assert result.returncode == 0 and "default" in result.stdout and "paper" in result.stdout


def test_list_datasets_shows_each_dataset_with_its_location_and_status(tmp_path):
    (tmp_path / "coco").mkdir()
    for name in ("index.mat", "label.mat", "caption.mat"):
        (tmp_path / "coco" / name).write_bytes(b"")
    result = run_cli("list", "datasets", "--data-root", str(tmp_path))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for name in ("mirflickr25k", "nuswide", "coco", "synth-mirflickr25k", "synth-nuswide", "synth-coco"):
        assert any(line.split()[:1] == [name] for line in lines), name
    coco = next(line for line in lines if line.split()[:1] == ["coco"])
    assert "80 classes  found" in coco
    assert str(tmp_path / "nuswide") in result.stdout and "missing index.mat, label.mat, caption.txt" in result.stdout


def test_a_user_error_is_one_line_and_exit_2_and_a_bug_keeps_its_traceback(monkeypatch, capsys, tmp_path):
    assert cli.main(["report", "--results", str(tmp_path / "none"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no run records in") and err.count("\n") == 1

    def broken(args):
        return str(np.zeros(2) + np.zeros(3))  # a numpy ValueError: a bug, not a user's mistake

    monkeypatch.setitem(cli.LISTINGS, "configs", broken)
    with pytest.raises(ValueError, match="could not be broadcast"):
        cli.main(["list", "configs"])
