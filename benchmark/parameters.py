"""Parameter sets: what tuning searches for a run (its loss's declared ranges and the shared optimizer parameters),
a run given a set of values, and the file of tuned parameters (``tune`` writes it, ``run --params`` reads it).

A parameter is named by its loss parameter's name (``margin``) or, for a shared one, by its configuration key
(``run.optimizer.head_lr``). Optuna is not needed here.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import yaml

import losses

from . import references
from .config import ParameterSet, RunSettings, RunSpec, _bounds, from_mapping, read_yaml
from .errors import ConfigError
from .files import write_text
from .grid import Grid

#: The parameters searched for every loss alike: the hash heads' learning rate and the weight decay.
SHARED_SPACE: dict[str, losses.Range] = {"run.optimizer.head_lr": losses.FloatRange(1e-4, 3e-1, log=True),
                                         "run.optimizer.weight_decay": losses.FloatRange(0.0, 0.5)}
#: What ``--params tuned`` reads: the file ``tune`` writes in the results folder.
TUNED = "tuned"
PARAMS_FILE = "tuned.yaml"


def search_space(loss: str) -> dict[str, losses.Range]:
    """Every parameter tuning searches for ``loss``: its own declared ranges, then the shared ones."""
    return {**losses.search_space(loss), **SHARED_SPACE}


def _setting(settings: RunSettings, key: str):
    value = settings
    for part in key.split(".")[1:]:
        value = getattr(value, part)
    return list(value) if isinstance(value, tuple) else value


def current_values(spec: RunSpec, keys) -> dict:
    """The value run ``spec`` has of each parameter ``keys`` names: its setting, its loss parameter, else the
    loss's default (None for a name the loss does not have: ``with_parameters`` refuses it)."""
    defaults = losses.defaults(spec.loss)
    return {key: _setting(spec.settings, key) if key.startswith("run.")
            else spec.loss_params.get(key, defaults.get(key)) for key in keys}


def _nested(key: str, value) -> dict:
    tree: dict = {}
    node = tree
    *parents, leaf = key.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value
    return tree


def _merge(base: dict, update: dict) -> dict:
    merged = dict(base)
    for key, value in update.items():
        nested = isinstance(value, dict) and isinstance(merged.get(key), dict)
        merged[key] = _merge(merged[key], value) if nested else value
    return merged


def with_parameters(spec: RunSpec, values: dict, parameter_set: ParameterSet, where: str) -> RunSpec:
    """Run ``spec`` given ``values`` (loss parameters by name, shared ones by configuration key), labelled with
    ``parameter_set``; every value checked as the configuration checks it (ConfigError naming ``where``)."""
    settings = asdict(spec.settings)
    params = dict(spec.loss_params)
    for key, value in values.items():
        if key.startswith("run."):
            settings = _merge(settings, _nested(key[len("run."):], value))
        else:
            params[key] = value
    try:
        losses.build(spec.loss, 2, 8, **params)  # refuses unknown parameters and bad values, naming them
    except losses.LossConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from exc
    return replace(spec, loss_params=params, settings=from_mapping(RunSettings, settings, where, "run."),
                   parameter_set=parameter_set)


# ------------------------------------------------------------------------------------ the tuned file


@dataclass(frozen=True)
class TunedEntry:
    """The parameters of one (loss, dataset, bits) in a parameters file: ``loss_params`` and ``run`` (as in a
    configuration: ``{optimizer: {head_lr: ...}}``), and where they come from: the study, its budget (``trials``
    of ``epochs`` each), the best trial's validation mAP and the defaults' (the first trial's)."""

    loss: str
    dataset: str
    bits: int = field(metadata=_bounds(1))
    loss_params: dict = field(default_factory=dict)
    run: dict = field(default_factory=dict)
    study: str | None = None
    trials: int | None = field(default=None, metadata=_bounds(1))
    epochs: int | None = field(default=None, metadata=_bounds(1))
    validation_map: float | None = None
    default_validation_map: float | None = None

    @property
    def key(self) -> tuple[str, str, int]:
        return self.loss, self.dataset, self.bits

    def values(self) -> dict:
        """The parameters, loss ones by name and shared ones by configuration key."""
        def flat(tree: dict, prefix: str) -> dict:
            found = {}
            for name, value in tree.items():
                found.update(flat(value, f"{prefix}{name}.") if isinstance(value, dict) else {prefix + name: value})
            return found

        return {**self.loss_params, **flat(self.run, "run.")}


def entry_of(loss: str, dataset: str, bits: int, values: dict, **details) -> TunedEntry:
    """The entry of ``values`` (loss parameters by name, shared ones by configuration key)."""
    run: dict = {}
    for key, value in values.items():
        if key.startswith("run."):
            run = _merge(run, _nested(key[len("run."):], value))
    return TunedEntry(loss, dataset, bits, {k: v for k, v in values.items() if not k.startswith("run.")}, run,
                      **details)


def parameters_path(params: str, results: Path) -> tuple[str, Path]:
    """The name and file of ``--params``: ``tuned`` is ``<results>/tuned.yaml``, anything else a YAML file."""
    if params == TUNED:
        return TUNED, Path(results) / PARAMS_FILE
    return Path(params).stem, Path(params)


def read_parameters(path: Path) -> list[TunedEntry]:
    """The entries of a parameters file; ConfigError naming the file and the entry when one is malformed."""
    if not Path(path).is_file():
        raise ConfigError(f"no parameters file {path}: run python -m benchmark tune (same flags, same --results) "
                          "first, or give --params FILE")
    content = read_yaml(Path(path))
    entries = content.get("parameters")
    if not isinstance(entries, list) or set(content) - {"parameters"}:
        raise ConfigError(f"parameters file {path} must hold one key, 'parameters': a list of entries with loss, "
                          "dataset, bits, loss_params and run")
    found = [from_mapping(TunedEntry, entry if isinstance(entry, dict) else {}, f"entry {i + 1} of {path}")
             for i, entry in enumerate(entries)]
    keys = [entry.key for entry in found]
    if len(set(keys)) != len(keys):
        raise ConfigError(f"parameters file {path} gives {next(k for k in keys if keys.count(k) > 1)} twice")
    return found


HEADER = """# Tuned parameters, written by `python -m benchmark tune` (docs/configuration.md, "Tuning"): per loss,
# dataset and code length, the parameters of the trial with the highest validation mAP, its study and budget.
# `python -m benchmark run --params tuned` runs the grid with them.
"""


def write_parameters(path: Path, entries: list[TunedEntry]) -> Path:
    """Write ``entries`` into the parameters file ``path``, keeping the entries it has of other (loss, dataset,
    bits)."""
    kept = {entry.key: entry for entry in (read_parameters(path) if Path(path).is_file() else [])}
    kept.update({entry.key: entry for entry in entries})
    ordered = [asdict(kept[key]) for key in sorted(kept, key=lambda k: (k[1], k[2], k[0]))]
    return write_text(Path(path), HEADER + yaml.safe_dump({"parameters": ordered}, sort_keys=False))


def grid_with_parameters(grid: Grid, name: str, path: Path) -> Grid:
    """``grid`` with the parameters of ``path`` given to each of its training runs (reference rows unchanged);
    ConfigError naming each (loss, dataset, bits) the file lacks."""
    entries = {entry.key: entry for entry in read_parameters(path)}
    missing = sorted({(s.loss, s.dataset, s.bits) for s in grid.training_runs} - set(entries))
    if missing:
        listed = ", ".join(f"{loss} on {dataset} at {bits} bits" for loss, dataset, bits in missing[:4])
        raise ConfigError(f"{path} has no parameters for {listed}" + (" ..." if len(missing) > 4 else "")
                          + "; tune them with python -m benchmark tune and the same grid flags")
    specs = []
    for spec in grid.specs:
        if references.row_kind(spec.loss) == "loss":
            entry = entries[(spec.loss, spec.dataset, spec.bits)]
            values = entry.values()
            parameter_set = ParameterSet(name=name, defaults=current_values(spec, values), study=entry.study,
                                         trials=entry.trials, epochs=entry.epochs)
            spec = with_parameters(spec, values, parameter_set, f"{path} ({spec.loss}, {spec.dataset}, {spec.bits})")
        specs.append(spec)
    return Grid(grid.config, tuple(specs))


def study_name(base: RunSpec, space: dict, sampler: dict) -> str:
    """The name of the study of ``base`` (replicate 0 of a cell, with its configuration's parameters): readable, and
    a hash of the run, the space searched and the sampler's settings, so that another configuration or space is
    another study."""
    content = json.dumps({"run": base.run_id, "space": {k: repr(v) for k, v in space.items()}, "sampler": sampler},
                         sort_keys=True)
    loss = re.sub(r"[^A-Za-z0-9-]+", "_", base.loss)
    return f"{base.dataset}-{base.bits}b-{loss}-{hashlib.sha256(content.encode()).hexdigest()[:10]}"
