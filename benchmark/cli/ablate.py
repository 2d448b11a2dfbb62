"""``ablate``: an ablation's grid, then its table and figure."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..config import ablation_names, load_ablation
from .common import add_run_arguments, options_of, request_of
from .report import DEFAULT_OUT

NAME = "ablate"
HELP = "run an ablation grid and write its table and figure"
EXAMPLES = """examples:
  python -m benchmark ablate variance                          # on the synthetic sets of the default config
  python -m benchmark ablate variance --bits 64 --replicates 5 --out reports/ablation
"""
DESCRIPTION = ("Run an ablation grid (benchmark/configs/ablations/NAME.yaml) through the same runner as `run` "
               "(resumable, same --results), then write its table and figure. "
               + " ".join(f"{name}: {', '.join(load_ablation(name).losses)}." for name in ablation_names()))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("what", choices=ablation_names(), help="which ablation")
    add_run_arguments(parser, losses=False)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default: {DEFAULT_OUT}/)")


def handle(args: argparse.Namespace) -> int:
    from ..experiments import ablate

    return ablate(args.what, request_of(args), options_of(args), args.out)
