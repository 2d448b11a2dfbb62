"""``sweep``: one loss along the values of one of its parameters."""
from __future__ import annotations

import argparse
from pathlib import Path

from .common import add_run_arguments, name_list, options_of, request_of

NAME = "sweep"
HELP = "run one loss along the values of one of its parameters and draw its mAP against it"
DESCRIPTION = ("Run the grid of one loss once per value of one of its parameters (replicated and resumable through "
               "the same runner as `run`, same --results; no reference rows), then write a table and one figure per "
               "dataset x bits of its query-set mAP (mean ± 95% CI over replicates) against the parameter: the "
               "parameter-sensitivity figure of papers.")
EXAMPLES = """examples:
  python -m benchmark sweep dcgh --param gamma=0,0.1,0.5,1,2 --datasets synth-coco --bits 32
  python -m benchmark sweep triplet --param margin=0.1,0.3,0.6 --replicates 5 --out reports/margin
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("loss", help="a loss (list losses), variant or package.module:Class")
    parser.add_argument("--param", required=True, metavar="NAME=V1,V2,...",
                        help="the parameter and its values, e.g. gamma=0,0.1,0.5,1,2")
    add_run_arguments(parser, losses=False)
    parser.add_argument("--out", type=Path, default=Path("reports/sweep"), help="output folder (default: reports/sweep/)")
    parser.add_argument("--diagnostics", type=name_list, default=[],
                        help="comma list of diagnostics to draw beside the mAP (docs/diagnostics.md); default none")


def handle(args: argparse.Namespace) -> int:
    from ..experiments import sweep

    return sweep(args.loss, args.param, request_of(args), options_of(args), args.out, args.diagnostics)
