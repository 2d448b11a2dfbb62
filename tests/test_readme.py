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
    """The main job resolves to the default grid: the search (6 losses x 3 sets x 16 settings on replicate 0 at 32
    bits), then 6 losses x 3 sets x 3 bits x 5 replicates of the selected settings, and the reference rows
    (tests/test_runner.py and tests/test_search.py run grids end to end)."""
    main_job = quick_start_commands()[0].split("&&")[-1].strip()  # the part after the installs
    args = shlex.split(main_job)
    assert args[:4] == ["python", "-m", "benchmark", "run"], main_job
    result = cli(*args[3:], "--dry-run", "--results", "/nonexistent/results")
    assert result.returncode == 0, result.stderr
    assert "search trials: 0 done, 288 to run" in result.stdout
    assert result.stdout.count("not run yet, ") == 18  # the 270 runs wait for their (loss, dataset)'s search
    assert "runs: 0 done, 180 to run (0 training runs, 180 reference rows)" in result.stdout


def test_readme_quotes_the_verdict_the_report_wrote_for_the_default_grid():
    """The README's verdict is the one ``report`` wrote from the regenerated default grid (kept as
    reports/example/verdict.md), sentence by sentence, not a hand-written one."""
    verdict = (ROOT / "reports" / "example" / "verdict.md").read_text()
    statements = [" ".join(line[2:].split()) for line in verdict.splitlines() if line.startswith("- ")]
    readme = " ".join((ROOT / "README.md").read_text().replace("\n>", "\n").split())
    assert statements and all(statement in readme for statement in statements)
