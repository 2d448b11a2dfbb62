"""Bad inputs given on the command line end in one ``error:`` line that names the file, key or value and what to do,
with exit status 2 and no traceback; and inputs that used to be accepted while wrong are refused (issue 31)."""
from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
import yaml

from benchmark.config import load_config
from tests.fake_records import write_record

#: Run flags that stop once the grid is checked.
DRY = ("--dry-run", "--quiet")


def refused(result, *named: str) -> str:
    """The one error line of a refused command, checked to name each of ``named``."""
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), result
    for name in named:
        assert name in lines[0], lines[0]
    return lines[0]


def dry_run(cli, tiny, *flags):
    config, results = tiny
    return cli("run", "--config", config, "--results", results, *flags, *DRY)


def user_module(folder: Path, monkeypatch, source: str) -> str:
    """The name of a new module of ``source``, importable from ``folder`` (a new name each time: no module cache)."""
    name = f"user_{uuid.uuid4().hex[:10]}"
    (folder / f"{name}.py").write_text(source, encoding="utf-8")
    monkeypatch.syspath_prepend(str(folder))
    return name


# ----------------------------------------------------------------------------------------- files that are not text


def test_a_config_that_is_not_utf8_is_refused_naming_it(cli, tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("losses: [pairwise]\n# r\xe9glages\n".encode("latin-1"))
    line = refused(cli("run", "--config", path, *DRY), str(path), "UTF-8")
    assert "line 2" in line


def test_a_published_file_that_is_not_utf8_is_refused_naming_it(cli, tmp_path):
    path = tmp_path / "published.yaml"
    path.write_bytes("- method: M\xfcller\n".encode("latin-1"))
    refused(cli("report", "--results", tmp_path / "results", "--out", tmp_path / "out", "--published", path),
            str(path), "UTF-8")


def test_a_folder_given_as_config_is_called_a_folder(cli, tmp_path):
    refused(cli("run", "--config", tmp_path, *DRY), str(tmp_path), "is a folder")


# ------------------------------------------------------------------------------------------ users' modules


@pytest.mark.parametrize("flags,named", [
    (("--losses", "../../x:Y"), "'../../x'"),
    (("--plugins", "../plug"), "'../plug'"),
])
def test_a_file_path_given_as_module_is_refused(cli, tiny, flags, named):
    refused(dry_run(cli, tiny, *flags), named, "module name")


BROKEN_MODULES = {
    "RuntimeError": "raise RuntimeError('needs a GPU')\n",
    "SyntaxError": "def f(:\n    pass\n",
    "NameError": "value = undefined_name + 1\n",
}


@pytest.mark.parametrize("error", BROKEN_MODULES)
@pytest.mark.parametrize("flag", ["--plugins", "--losses"])
def test_a_module_raising_at_import_is_one_line(cli, tiny, tmp_path, monkeypatch, flag, error):
    name = user_module(tmp_path, monkeypatch, BROKEN_MODULES[error])
    refused(dry_run(cli, tiny, flag, name if flag == "--plugins" else f"{name}:MyLoss"), repr(name), error)


@pytest.mark.parametrize("error", ["RuntimeError", "ValueError"])
def test_a_user_loss_whose_constructor_raises_is_one_line(cli, tiny, tmp_path, monkeypatch, error):
    name = user_module(tmp_path, monkeypatch, f"""
from losses import HashingLoss


class MyLoss(HashingLoss):
    def __init__(self, n_classes, n_bits):
        raise {error}("cannot start")
""")
    refused(dry_run(cli, tiny, "--losses", f"{name}:MyLoss"), f"{name}:MyLoss", error, "cannot start")


# ----------------------------------------------------------------------------------------- damaged records


@pytest.fixture(scope="module")
def finished_record(tmp_path_factory) -> Path:
    """A results folder holding one hand-made record."""
    results = tmp_path_factory.mktemp("one-record") / "results"
    config = load_config("default", {"losses": ["pairwise"], "datasets": ["synth-nuswide"], "bits": [16],
                                     "replicates": 1, "references": False, "search": {"enabled": False}})
    write_record(results, config, "pairwise", "synth-nuswide", 16, 0, 0.5)
    return results


#: Valid JSON, wrong-typed fields of a record, and the key each damage is named by.
DAMAGES = {
    "metrics.i2t": lambda record: record["metrics"].update(i2t="high"),
    "history[0].loss": lambda record: record["history"][0].update(loss=3),
    "selection.epochs": lambda record: record["selection"].update(epochs="best"),
    "curves.i2t": lambda record: record["curves"].update(i2t=5),
    "environment": lambda record: record.update(environment="linux"),
}


@pytest.mark.parametrize("command", ["results", "report"])  # export reads the codes, not the record
@pytest.mark.parametrize("key", DAMAGES)
def test_a_record_with_wrong_typed_fields_is_a_damaged_record(cli, finished_record, tmp_path, command, key):
    import shutil

    results = shutil.copytree(finished_record, tmp_path / "results")
    (path,) = results.glob("runs/*/record.json")
    content = json.loads(path.read_text(encoding="utf-8"))
    DAMAGES[key](content)
    path.write_text(json.dumps(content), encoding="utf-8")
    damaged = f"run record {path} is damaged ('{key}'"
    if command == "results":  # a listing skips what it cannot read, saying so
        result = cli("results", "--results", results)
        assert "Traceback" not in result.stderr and result.returncode == 0
        assert f"skipped: {damaged}" in result.stderr
    else:  # no record left to report: the error lists what was skipped, a line each
        result = cli("report", "--results", results, "--out", tmp_path / "out")
        assert "Traceback" not in result.stderr and result.returncode == 2
        assert f"skipped: {damaged}" in result.stderr


# ------------------------------------------------------------------------------------------ numbers and sizes


@pytest.mark.parametrize("flags,named", [
    (("--set", "synthetic.size=1000000000"), "'synthetic.size'"),
    (("--set", "run.batch_size=100000000"), "'run.batch_size'"),
    (("--epochs", "1000000000"), "'run.epochs'"),
    (("--replicates", "1000000000"), "'replicates'"),
    (("--set", "search.replicates=1000000000"), "'search.replicates'"),
    (("--bits", "100000000"), "'bits'"),
    (("--set", "synthetic.pretrain_steps=1000000000"), "'synthetic.pretrain_steps'"),
])
def test_sizes_have_an_upper_bound_said_with_its_reason(cli, tiny, flags, named):
    line = refused(dry_run(cli, tiny, *flags), named, "<= ")
    assert "; " in line.split("<= ", 1)[1]  # the bound, then why


@pytest.mark.parametrize("value", [".inf", "-.inf", ".nan"])
@pytest.mark.parametrize("key", ["loss_params.pairwise.gamma", "run.optimizer.head_lr"])
def test_non_finite_numbers_are_refused(cli, tiny, key, value):
    shown = {".inf": "inf", "-.inf": "-inf", ".nan": "nan"}[value]
    refused(dry_run(cli, tiny, "--set", f"{key}={value}"), key.rsplit(".", 1)[-1], "must be a number", f"got {shown}")


# -------------------------------------------------------------------------------------------------- YAML


def test_a_key_given_twice_in_a_config_is_refused_naming_it_and_the_file(cli, tiny):
    config, results = tiny
    config.write_text(config.read_text(encoding="utf-8") + "replicates: 3\n", encoding="utf-8")
    refused(cli("run", "--config", config, "--results", results, *DRY), str(config), "'replicates'", "twice")


def test_a_key_given_twice_in_a_set_value_is_refused(cli, tiny):
    refused(dry_run(cli, tiny, "--set", "run={epochs: 1, epochs: 2}"), "--set", "'epochs'", "twice")


def test_a_key_given_twice_in_a_where_value_is_refused(cli, finished_record):
    refused(cli("results", "--results", finished_record, "--where", "run.split={val_max: 5, val_max: 9}"),
            "--where", "'val_max'", "twice")


def test_a_key_given_twice_in_a_published_file_is_refused(cli, tmp_path):
    path = tmp_path / "published.yaml"
    path.write_text("- {method: M, source: S, dataset: coco, task: i2t, bits: 16, value: 0.5, value: 0.7}\n")
    refused(cli("report", "--results", tmp_path / "results", "--out", tmp_path / "out", "--published", path),
            str(path), "'value'", "twice")


def _anchors(levels: int, width: int) -> str:
    """A YAML list whose first item expands to ``width ** (levels - 1)`` strings through aliases, anchored inline."""
    if levels == 0:
        return "&a0 xxxxxxxx"
    return f"&a{levels} [{_anchors(levels - 1, width)}{f', *a{levels - 1}' * (width - 1)}]"


def test_a_quoted_value_is_cut_to_a_readable_length(cli, tmp_path):
    path = tmp_path / "aliases.yaml"
    path.write_text(f"losses: {_anchors(4, 10)}\n", encoding="utf-8")
    assert len(repr(yaml.safe_load(path.read_text())["losses"][0])) > 10_000
    line = refused(cli("run", "--config", path, *DRY), "'losses'")
    assert len(line) < 400


def test_aliases_expanding_beyond_a_config_s_size_are_refused(cli, tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(f"losses: {_anchors(9, 9)}\n", encoding="utf-8")
    line = refused(cli("run", "--config", path, *DRY), str(path), "aliases expand to more than")
    assert len(line) < 400
