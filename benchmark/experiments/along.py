"""The ``stress`` and ``sweep`` experiments: a grid run once per value of one configuration key (a synthetic knob,
or a loss's parameter), then each loss's mAP and diagnostics drawn against it."""
from __future__ import annotations

import difflib
import sys
from pathlib import Path

import yaml

import losses

from .. import data
from ..config import load_config
from ..data.synthetic import KNOBS
from ..errors import ConfigError
from ..plugins import load_plugins
from ..report.stress import Axis, knob_axis, parameter_axis, write_stress_report
from ..store import RunStore
from ..yaml_input import parse_yaml, yaml_problem
from .request import GridRequest, RunOptions, build
from .run import run_grid


def name_values(text: str, command: str, placeholder: str, example: str, what: str, names: list[str],
                where: str = "") -> tuple[str, list]:
    """``NAME=v1,v2,...`` as the name (one of ``names``, the valid ones) and its values (YAML scalars), each once."""
    name, sep, values = text.partition("=")
    name = name.strip()
    if not sep or not values.strip():
        raise ConfigError(f"{command} takes {placeholder}=V1,V2,... (e.g. {example}), got {text!r}")
    if name not in names:
        hint = difflib.get_close_matches(name, names, n=1)
        raise ConfigError(f"unknown {what} {name!r}" + (f" (did you mean {hint[0]!r}?)" if hint else "")
                          + f"; valid: {', '.join(names) or '(none)'}{where}")
    parsed = []
    for item in values.split(","):
        try:
            parsed.append(parse_yaml(item))
        except yaml.YAMLError as exc:
            raise ConfigError(f"{command} {name}: value {item!r} is not valid YAML ({yaml_problem(exc)})") from None
    if len(set(map(repr, parsed))) != len(parsed):
        raise ConfigError(f"{command} {name}: a value is given twice in {values!r}")
    return name, parsed


def run_along(request: GridRequest, options: RunOptions, key: tuple[str, ...], values: list, axis: Axis,
              out_folder: Path, diagnostics: list[str], reference: str | None = None, out=None) -> int:
    """Run the grid of ``request`` at each of ``values`` of the configuration ``key``, then write the table and
    figures of its records along ``axis`` (``benchmark.report.stress``) under ``out_folder``."""
    out = out or sys.stdout
    grid, context = build(request, (key, values))
    ran = run_grid(grid, context, options, out)
    if not ran.finished:
        return ran.status
    ids = {spec.run_id for spec in grid.specs}
    records = [r for r in RunStore(context.results).contents().records if r.run_id in ids]
    for path in write_stress_report(records, axis, out_folder, diagnostics, reference):
        print(f"wrote {path}", file=out)
    return ran.status


def stress(knob_values: str, request: GridRequest, options: RunOptions, out_folder: Path, diagnostics: list[str],
           reference: str | None = None, out=None) -> int:
    """The grid once per value of a synthetic knob (``KNOB=V1,V2,...``, docs/synthetic.md)."""
    knob, values = name_values(knob_values, "stress", "KNOB", "cooccurrence=0,0.5,0.9", "synthetic knob",
                               list(KNOBS), " (docs/synthetic.md)")
    real = [d for d in load_config(request.config, request.overrides).datasets if not data.dataset_entry(d).generated]
    if real:
        raise ConfigError(f"stress varies a knob of the synthetic sets; {', '.join(real)} is not one: give "
                          "--datasets synth-... (python -m benchmark list datasets)")
    return run_along(request, options, ("synthetic", "knobs", knob), values, knob_axis(knob), out_folder,
                     diagnostics, reference, out)


def sweep(loss: str, parameter_values: str, request: GridRequest, options: RunOptions, out_folder: Path,
          diagnostics: list[str], out=None) -> int:
    """The grid of one loss once per value of one of its parameters (``NAME=V1,V2,...``), without reference rows:
    the parameter-sensitivity figure of papers."""
    load_plugins(request.overrides.get("plugins") or ())
    try:
        names = losses.parameters(loss)
    except losses.LossConfigError as exc:
        raise ConfigError(str(exc)) from None
    parameter, values = name_values(parameter_values, "sweep", "PARAMETER", "gamma=0,0.5,1",
                                    f"parameter of loss {loss!r}", names, " (docs/losses.md)")
    request = request.overridden("losses", [loss]).overridden("references", False)
    return run_along(request, options, ("loss_params", loss, parameter), values, parameter_axis(loss, parameter),
                     out_folder, diagnostics, None, out)
