"""``stress``: the grid along the values of one synthetic knob."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..report.stress import DEFAULT_DIAGNOSTICS
from .common import add_run_arguments, name_list, options_of, request_of

NAME = "stress"
HELP = "run the grid along the values of one synthetic knob and draw each loss's mAP and diagnostics against it"
DESCRIPTION = ("Run the grid once per value of one knob of the synthetic generator (docs/synthetic.md), replicated "
               "and resumable through the same runner as `run` (same --results), then write a table and one figure "
               "per dataset x bits of each loss's mAP and chosen diagnostics (mean ± 95% CI over replicates) against "
               "the knob.")
EXAMPLES = """examples:
  python -m benchmark stress cooccurrence=0,0.5,0.9 --datasets synth-coco --bits 32
  python -m benchmark stress dominant=0.3,0.55,0.8 --datasets synth-semantic-bias \\
      --losses dcgh,dcgh-novar,dcgh-labelvar --reference dcgh
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("knob", metavar="KNOB=V1,V2,...",
                        help="a synthetic knob and its values, e.g. cooccurrence=0,0.5,0.9")
    add_run_arguments(parser)
    parser.add_argument("--out", type=Path, default=Path("reports/stress"),
                        help="output folder (default: reports/stress/)")
    parser.add_argument("--diagnostics", type=name_list, default=list(DEFAULT_DIAGNOSTICS),
                        help=f"comma list of diagnostics to draw (docs/diagnostics.md); default "
                             f"{','.join(DEFAULT_DIAGNOSTICS)}")
    parser.add_argument("--reference", metavar="LOSS",
                        help="also tabulate each loss's paired difference to this one (paired t-test, Holm)")


def handle(args: argparse.Namespace) -> int:
    from ..experiments import stress

    return stress(args.knob, request_of(args), options_of(args), args.out, args.diagnostics, args.reference)
