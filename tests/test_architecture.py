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
    ("benchmark/report", ("torch", "transformers", "optuna", "losses", "methods", "benchmark.execution",
                          "benchmark.experiments", "benchmark.grid", "benchmark.cli",
                          "benchmark.training", "benchmark.backbones", "benchmark.metrics",
                          "benchmark.parameters")),
])
def test_imports_flow_one_way(folder, forbidden):
    offending = {f"{path.relative_to(ROOT)}: {name}" for path in modules_under(folder)
                 for name in imported_modules(path) if name.split(".")[0] in forbidden or
                 any(name == f or name.startswith(f + ".") for f in forbidden)}
    assert not offending, sorted(offending)


def test_the_torch_free_layers_load_without_torch():
    modules = ["benchmark.errors", "benchmark.files", "benchmark.paths", "benchmark.config", "benchmark.record",
               "benchmark.store", "benchmark.data", "benchmark.report", "benchmark.registry", "benchmark.plugins",
               "benchmark.references", "benchmark.cli"]
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


def _strings(node: ast.AST) -> list[str]:
    """The string literals of ``node``: itself, or the members of a tuple, list or set literal."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return [s for element in node.elts for s in _strings(element)]
    return []


def _tested_literals(node: ast.AST) -> list[str]:
    """The string literals ``node`` tests a value against: a comparison's operands, ``startswith``/``endswith``
    arguments, an argparse ``choices=``."""
    if isinstance(node, ast.Compare):
        return [s for operand in (node.left, *node.comparators) for s in _strings(operand)]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("startswith",
                                                                                                 "endswith"):
        return [s for argument in node.args for s in _strings(argument)]
    if isinstance(node, ast.keyword) and node.arg == "choices":
        return _strings(node.value)
    return []


def _called(node: ast.AST) -> str | None:
    if isinstance(node, ast.Call):
        return node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
    return None


def test_datasets_and_reference_rows_are_read_from_their_registries():
    """Outside ``benchmark/data/`` no code asks whether a dataset is synthetic or tests its name (it reads the
    attributes of its registration), and outside ``benchmark/references.py`` none asks ``is_reference``."""
    from benchmark.data import dataset_names

    names = set(dataset_names())
    offending = []
    for path in modules_under("benchmark"):
        where = path.relative_to(ROOT).as_posix()
        for node in ast.walk(ast.parse(path.read_text())):
            line, called = f"{where}:{getattr(node, 'lineno', '?')}", _called(node)
            if not where.startswith("benchmark/data/"):
                if called == "is_synthetic":
                    offending.append(f"{line}: is_synthetic(")
                offending += [f"{line}: tests dataset name {s!r}" for s in _tested_literals(node)
                              if s in names or s.startswith("synth-")]
            if called == "is_reference" and where != "benchmark/references.py":
                offending.append(f"{line}: is_reference(")
    assert not offending, "\n".join(offending)


def _importers_of(target: str, folder: str = "benchmark") -> set[str]:
    return {path.relative_to(ROOT).as_posix() for path in modules_under(folder)
            if any(name == target or name.startswith(target + ".") for name in imported_modules(path))}


def test_only_the_top_floors_import_the_execution_layer():
    """``benchmark.execution`` is imported by the experiments and the command line only (and by itself); it imports
    neither of them, and the experiments never import the command line."""
    floors = ("benchmark/execution/", "benchmark/experiments/", "benchmark/cli/")
    assert {p for p in _importers_of("benchmark.execution") if not p.startswith(floors)} == set()
    upward = {p for p in modules_under("benchmark/execution") for name in imported_modules(p)
              if name.startswith(("benchmark.experiments", "benchmark.cli"))}
    assert upward == set()
    assert {p for p in _importers_of("benchmark.cli") if p.startswith("benchmark/experiments/")} == set()


#: Calls that would read the store's folders or write files: the command line leaves both to the store, the
#: experiments and the report.
FILE_CALLS = {"glob", "rglob", "iterdir", "scandir", "listdir", "walk", "open", "write_text", "write_bytes",
              "savefig", "to_latex", "mkdir", "write_json", "atomic_path", "atomic_folder"}


def test_the_command_line_neither_reads_the_store_folders_nor_writes_files():
    offending = [f"{path.relative_to(ROOT)}:{node.lineno}: {_called(node)}(" for path in modules_under("benchmark/cli")
                 for node in ast.walk(ast.parse(path.read_text())) if _called(node) in FILE_CALLS]
    offending += [f"{path.relative_to(ROOT)}: imports {name}" for path in modules_under("benchmark/cli")
                  for name in imported_modules(path) if name.startswith("benchmark.files")]
    assert not offending, offending
