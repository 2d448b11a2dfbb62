"""``list``: what the suite knows (losses, datasets, configs)."""
from __future__ import annotations

import argparse
from pathlib import Path

from .. import data
from ..paths import cache_dir
from .common import name_list, results_argument

NAME = "list"
HELP = "list what the suite knows (registered losses, ...)"
DESCRIPTION = "List what the suite knows."
EXAMPLES = """examples:
  python -m benchmark list losses
  python -m benchmark list datasets --data-root /datasets
  python -m benchmark list configs
"""


def _losses(args: argparse.Namespace) -> str:
    import losses

    from ..plugins import load_plugins

    load_plugins(args.plugins or ())

    def describe(entry, mark: str = " ") -> list[str]:
        cited = entry.citation.full if entry.citation else entry.source
        source = f" [{cited}]" if cited else ""
        if entry.control:
            source += " (label-free control: reported beside the losses, never ranked or tested with them)"
        params = ", ".join(f"{k}={v!r}" for k, v in losses.defaults(entry.name).items())
        return [f"  {mark} {entry.name:<{width}}{entry.description}{source}"] + (
            [f"    {'':<{width}}parameters: {params}"] if params else [])

    entries = losses.entries()
    width = max(len(e.name) for e in entries) + 2
    lines = ["Losses by family (* stands for its family in --losses all; --losses zoo runs every loss, "
             "--losses family:NAME a family's):"]
    for family in losses.families():
        lines.append(f"{family}:")
        for entry in sorted((e for e in entries if e.family == family and not e.is_variant),
                            key=lambda e: (not e.representative, e.name)):
            lines += describe(entry, "*" if entry.representative else " ")
    others = [e for e in entries if e.family is None and not e.is_variant]
    if others:
        lines.append("other registered losses:")
        for entry in others:
            lines += describe(entry)
    lines.append("Variants (ablations of a loss, with the parameters they fix):")
    for entry in (e for e in entries if e.is_variant):
        fixed = ", ".join(f"{k}={v!r}" for k, v in entry.fixed.items())
        lines.append(f"    {entry.name:<{width}}{entry.description} [{entry.base}: {fixed}]")
    lines.append("Your own loss: name it package.module:ClassName (a losses.HashingLoss subclass); parameters go in "
                 "loss_params (docs/losses.md)")
    return "\n".join(lines)


def _datasets(args: argparse.Namespace) -> str:
    rows = data.describe(args.data_root, cache_dir(args.results))
    width = max(len(r["name"]) for r in rows) + 2
    lines = [f"Datasets (real ones under {args.data_root or data.data_root()}/NAME, synthetic ones in "
             f"{cache_dir(args.results)}):"]
    for r in rows:
        lines.append(f"  {r['name']:<{width}}{r['classes']:>3} classes  {r['status']}")
        lines.append(f"  {'':<{width}}    {r['location']}  ({r['files']})")
    lines.append("Build a real one from its original download: python -m benchmark prepare NAME --raw DIR --out DIR")
    return "\n".join(lines)


def _configs(args: argparse.Namespace) -> str:
    from ..config import CONFIG_DIR, describe_configs

    lines = [f"Configs (in {CONFIG_DIR}; --config NAME or --config path/to/file.yaml):"]
    lines += [f"  {name:<10}{description}" for name, description in describe_configs()]
    return "\n".join(lines)


LISTINGS = {"losses": _losses, "datasets": _datasets, "configs": _configs}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("what", choices=sorted(LISTINGS), help="what to list")
    parser.add_argument("--data-root", type=Path, default=None,
                        help="folder holding one folder per real dataset (default $BENCHMARK_DATA_ROOT or ./data)")
    parser.add_argument("--plugins", type=name_list, help="modules to import first (their losses are listed too)")
    results_argument(parser)


def handle(args: argparse.Namespace) -> int:
    print(LISTINGS[args.what](args))
    return 0
