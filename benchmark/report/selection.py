"""Which runs a report puts together: a table cell aggregates only the replicates of one configuration.

A run's *configuration* is everything that shapes its result besides its coordinates (loss, dataset, bits,
replicate) and its loss's own parameters: protocol, mode, epochs, optimizer, backbone, split, data options, what
its replicates vary, and the base seeds (its seeds less the replicate, for the sources the replicates vary). Runs
of one configuration share a table; within it each (loss, parameters) is a row. ``--where KEY=VALUE`` selects runs
by any configuration key (``run.protocol=paper``; a unique last part such as ``protocol=paper`` will do) or loss
parameter (``dcgh.gamma=0.5``: dcgh runs given gamma 0.5; other losses are kept), and by the coordinates (``loss``,
``family``, ``dataset``, ``bits``, ``replicate``: one value or a list) which pick a table's rows and columns (the
``report`` and ``results`` flags ``--losses``, ``--families``, ``--datasets``, ``--bits`` are their shorthand).
Tuning trials and runs with tuned parameters (``spec.parameter_set``) belong to the configuration they were tuned
in (``configuration``).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import pandas as pd
import yaml

from .. import references
from ..config import RunSpec
from ..errors import ReportError
from ..record import RunRecord
from ..yaml_input import parse_yaml, yaml_problem


def _flatten(tree: dict, prefix: str = "") -> dict[str, object]:
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = list(value) if isinstance(value, tuple) else value
    return flat


def configuration(spec: RunSpec) -> dict[str, object]:
    """The configuration of run ``spec``, as flat dotted keys (see the module docstring). A run with a parameter
    set (a tuning trial, tuned parameters) is in the configuration it was tuned in: the settings the set gives
    count with the values they have without it."""
    flat = _flatten({"run": asdict(spec.settings), "synthetic": asdict(spec.synthetic) if spec.synthetic else None})
    if spec.parameter_set is not None:
        flat.update({key: value for key, value in spec.parameter_set.defaults.items() if key in flat})
    searched = spec.parameter_set is not None and spec.parameter_set.searched
    # the search a run's setting comes from (its space): a searched grid is not mixed with an unsearched one
    flat["search"] = json.dumps(spec.parameter_set.space, sort_keys=True) if searched else None
    base = spec.base_seeds
    flat["run.split.split_seed"] = base["split"]
    if spec.synthetic is not None:
        flat["synthetic.seed"], flat["synthetic.backbone_seed"] = base["data"], base["backbone"]
    flat["init_seed"] = base["init"]
    flat["vary"] = list(spec.varies)
    return flat


def row_label(spec: RunSpec) -> str:
    """A table row: the loss, with the parameters it was given (``dcgh (gamma=0.5)``), or with the name of the
    parameter set they come from (``dcgh [tuned]``)."""
    if spec.parameter_set is not None and not spec.parameter_set.selected:
        return f"{spec.loss} [{spec.parameter_set.name}]"
    if not spec.loss_params:
        return spec.loss
    return f"{spec.loss} ({', '.join(f'{k}={v!r}' for k, v in sorted(spec.loss_params.items()))})"


@dataclass(frozen=True)
class Configuration:
    """A group of records sharing one configuration."""

    settings: dict[str, object]
    records: list[RunRecord]


def _key(settings: dict) -> str:
    return json.dumps(settings, sort_keys=True, default=str)


def in_configuration(spec: RunSpec, settings: dict[str, object]) -> bool:
    """Whether run ``spec`` belongs to the configuration ``settings``: its own, or for a reference row (which trains
    nothing, so no optimizer search changes it) the searched configuration of the same settings."""
    own = configuration(spec)
    if references.row_kind(spec.loss) == "reference":
        return own == {**settings, "search": None}
    return own == settings


def configurations(records: list[RunRecord]) -> list[Configuration]:
    """``records`` grouped by configuration, the group with the most runs of their configuration's own parameters
    (not tuning trials or tuned runs) first, then by number of records. A searched grid's group also holds the
    reference rows of its settings (they are the same runs with or without a search); a group left with reference
    rows only, all of them lent so, is dropped."""
    groups: dict[str, Configuration] = {}
    for record in records:
        settings = configuration(record.spec)
        groups.setdefault(_key(settings), Configuration(settings, [])).records.append(record)
    lent = set()
    for group in list(groups.values()):
        plain = groups.get(_key({**group.settings, "search": None}))
        if group.settings["search"] is not None and plain is not None:
            rows = [r for r in plain.records if references.row_kind(r.spec.loss) == "reference"]
            group.records.extend(rows)
            lent.update(r.run_id for r in rows)
    groups = {key: group for key, group in groups.items()
              if not all(r.run_id in lent for r in group.records)}

    def order(group: Configuration):
        own = sum(record.spec.parameter_set is None or record.spec.parameter_set.selected for record in group.records)
        return -own, -len(group.records), _key(group.settings)

    return sorted(groups.values(), key=order)


def differences(settings: dict[str, object], reference: dict[str, object]) -> dict[str, object]:
    """The keys of ``settings`` whose values differ from ``reference``'s."""
    return {k: v for k, v in settings.items() if reference.get(k, object()) != v}


def _condition(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ReportError(f"--where takes KEY=VALUE (e.g. run.protocol=paper or dcgh.gamma=0.5), got {text!r}")
    try:
        return key.strip(), parse_yaml(value)
    except yaml.YAMLError as exc:
        raise ReportError(f"--where {text}: the value is not valid YAML ({yaml_problem(exc)})") from None


#: The coordinates a ``--where`` selects rows and columns by, and how each is read from a record.
COORDINATES = {
    "loss": lambda r: r.spec.loss,
    "family": lambda r: getattr(r, "family", None),
    "dataset": lambda r: r.spec.dataset,
    "bits": lambda r: r.spec.bits,
    "replicate": lambda r: r.spec.replicate,
}


def _by_coordinate(records: list, text: str, coordinate: str, value, keep_references: bool) -> list:
    """The records whose ``coordinate`` is ``value`` (or one of its items, for a list); ReportError naming a value
    that no record has. With ``keep_references``, a selection by loss or family keeps the reference rows (they
    have neither: they are the table's yardstick)."""
    wanted = value if isinstance(value, list) else [value]
    read = COORDINATES[coordinate]
    present = {read(r) for r in records}
    missing = [v for v in wanted if v not in present]
    if missing:
        shown = ", ".join(sorted(map(str, present - {None}))) or "none"
        raise ReportError(f"--where {text}: no run has {coordinate} {', '.join(map(repr, missing))}; "
                          f"these runs have: {shown}")
    kept = keep_references and coordinate in ("loss", "family")
    return [r for r in records if read(r) in wanted or (kept and references.row_kind(r.spec.loss) == "reference")]


def select(records: list, where: list[str], keep_references: bool = False) -> list:
    """The records (or failure records: anything with a ``spec``) meeting every ``KEY=VALUE`` condition (see the
    module docstring): a coordinate (``loss``, ``family``, ``dataset``, ``bits``, ``replicate``; a YAML list for
    several values, ``bits=[16, 32]``), a loss parameter, or a configuration key. ``keep_references``: a selection
    by loss or family keeps the reference rows (a report's tables show them beside any losses)."""
    keys = sorted({k for r in records for k in configuration(r.spec)})
    losses = {r.spec.loss for r in records}
    for text in where:
        key, value = _condition(text)
        if key in COORDINATES:
            records = _by_coordinate(records, text, key, value, keep_references)
            continue
        loss, _, parameter = key.partition(".")
        if loss in losses and parameter:
            records = [r for r in records if r.spec.loss != loss or r.spec.loss_params.get(parameter) == value]
            continue
        matches = [k for k in keys if k == key or k.endswith("." + key)]
        if len(matches) != 1:
            found = f"it matches {', '.join(matches)}" if matches else "no configuration key or loss parameter has it"
            raise ReportError(f"--where {text}: {found}; keys: {', '.join(COORDINATES)}, {', '.join(keys)}; "
                              "or LOSS.PARAMETER")
        records = [r for r in records if configuration(r.spec).get(matches[0]) == value]
    return records


def describe(settings: dict[str, object]) -> str:
    return ", ".join(f"{k}={v}" for k, v in settings.items()) or "the same configuration"


def runs_table(records: list[RunRecord], failures: list) -> pd.DataFrame:
    """A row per finished or failed run: its coordinates, its status, its headline mAP (I->T, T->I) and the
    configuration keys and loss parameters that differ between the runs listed."""
    entries = [(r.spec, "done", r.metrics["i2t"]["map"], r.metrics["t2i"]["map"], r.run_id) for r in records]
    entries += [(f.spec, "failed", None, None, f.run_id) for f in failures]
    settings = [configuration(spec) for spec, *_ in entries]
    keys = sorted({k for s in settings for k in s})
    differing = [k for k in keys if len({json.dumps(s.get(k), default=str) for s in settings}) > 1]
    rows = []
    for (spec, status, i2t, t2i, run_id), flat in zip(entries, settings):
        rows.append({"run_id": run_id, "loss": row_label(spec), "dataset": spec.dataset, "bits": spec.bits,
                     "replicate": spec.replicate, "status": status, "map_i2t": i2t, "map_t2i": t2i,
                     **{k: flat.get(k) for k in differing}})
    columns = ["run_id", "loss", "dataset", "bits", "replicate", "status", "map_i2t", "map_t2i", *differing]
    # object columns: a setting some runs lack stays as each run gives it (an integer is never shown as 30.0000)
    table = pd.DataFrame(rows, columns=columns, dtype=object).astype({"map_i2t": float, "map_t2i": float})
    return table.sort_values(["dataset", "bits", "loss", "replicate"], kind="stable")
