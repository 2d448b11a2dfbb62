"""`python -m benchmark` as a user runs it, in a subprocess."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import losses

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "benchmark", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def test_list_losses_prints_every_registered_loss_with_a_description():
    result = run_cli("list", "losses")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for entry in losses.entries():
        line = next(line for line in lines if line.split() and line.split()[0] == entry.name)
        assert entry.description in line
    assert "dcgh-novar" in result.stdout and "gamma=0.0" in result.stdout


def test_bad_arguments_exit_non_zero_without_traceback():
    for args in (("list", "bogus"), ("no-such-command",), ()):
        result = run_cli(*args)
        assert result.returncode != 0
        assert "Traceback" not in result.stderr
        assert "usage:" in result.stderr


def test_help_shows_examples():
    result = run_cli("list", "--help")
    assert result.returncode == 0
    assert "python -m benchmark list losses" in result.stdout
