"""The README's two quick-start commands stay true: CI runs its test command (listing the slowest tests), its main
job works."""
from __future__ import annotations

import re
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def quick_start_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", section, flags=re.S)]


def test_readme_has_the_two_commands():
    commands = quick_start_commands()
    assert len(commands) == 2 and all("\n" not in c for c in commands), commands


def test_ci_runs_the_readme_test_command_last():
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    ci_commands = [line for line in ci_lines if line and not line.startswith("#")]
    assert ci_commands[-1] == f"{quick_start_commands()[1]} --durations=20"


def test_readme_main_job_is_the_default_grid(cli):
    """The main job resolves to the default grid: 5 losses x 3 sets x 3 bits x 3 replicates, and their reference
    rows (tests/test_runner.py runs grids end to end)."""
    main_job = quick_start_commands()[0].split("&&")[-1].strip()  # the part after the installs
    args = shlex.split(main_job)
    assert args[:4] == ["python", "-m", "benchmark", "run"], main_job
    result = cli(*args[3:], "--dry-run", "--results", "/nonexistent/results")
    assert result.returncode == 0, result.stderr
    assert "0 done, 243 to run (135 training runs, 108 reference rows)" in result.stdout
