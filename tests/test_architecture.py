"""The layers keep their direction of imports, the torch-free layers stay torch-free, and every reference to
the documentation points at a page that exists."""
from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def imported_modules(path: Path) -> set[str]:
    """The absolute names of the modules ``path`` imports (relative imports resolved)."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    if path.name != "__init__.py":
        package = package.rsplit(".", 1)[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[:len(package.split(".")) - node.level + 1] if node.level else []
            module = ".".join([*base, node.module] if node.module else base)
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def modules_under(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("folder,forbidden", [
    ("losses", ("methods", "benchmark")),
    ("methods", ("benchmark", "losses")),
    ("benchmark/data", ("methods", "losses", "torch", "transformers")),
    ("benchmark/report", ("torch", "transformers", "optuna", "losses", "methods", "benchmark.runner", "benchmark.grid",
                          "benchmark.training", "benchmark.backbones", "benchmark.metrics", "benchmark.tuning",
                          "benchmark.parameters")),
])
def test_imports_flow_one_way(folder, forbidden):
    offending = {f"{path.relative_to(ROOT)}: {name}" for path in modules_under(folder)
                 for name in imported_modules(path) if name.split(".")[0] in forbidden or
                 any(name == f or name.startswith(f + ".") for f in forbidden)}
    assert not offending, sorted(offending)


def test_the_torch_free_layers_load_without_torch():
    modules = ["benchmark.errors", "benchmark.files", "benchmark.paths", "benchmark.config", "benchmark.record",
               "benchmark.store", "benchmark.data", "benchmark.report"]
    code = (f"import sys\nfor m in {modules!r}: __import__(m)\n"
            "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'transformers', 'losses', 'methods',"
            " 'optuna'))\n"
            "assert not heavy, heavy[:5]")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def documentation_references() -> list[tuple[Path, str]]:
    found = []
    for path in [ROOT / "README.md", *ROOT.glob("docs/*.md"), *ROOT.glob("*/**/*.py"), *ROOT.glob("*/**/*.yaml")]:
        if ".git" in path.parts or "venv" in str(path):
            continue
        text = path.read_text(encoding="utf-8")
        found += [(path, ref) for ref in re.findall(r"docs/[\w-]+\.md", text)]
        if path.parent.name == "docs":
            found += [(path, f"docs/{ref}") for ref in re.findall(r"\]\(([\w-]+\.md)(?:#[\w-]+)?\)", text)]
    return found


def test_every_documentation_reference_exists():
    references = documentation_references()
    assert len(references) > 10
    missing = sorted({f"{path.relative_to(ROOT)} -> {ref}" for path, ref in references if not (ROOT / ref).is_file()})
    assert not missing, missing


def test_nothing_points_at_the_first_round_specification():
    stale = re.compile(r"\b(LOSSES|PROTOCOL|ARCHITECTURE)\.md\b|shared/(LOSSES|PROTOCOL|ARCHITECTURE)")
    offending = [str(p.relative_to(ROOT)) for p in [ROOT / "README.md", *ROOT.glob("*/**/*.py"), *ROOT.glob("docs/*.md")]
                 if stale.search(p.read_text(encoding="utf-8"))]
    assert not offending, offending
