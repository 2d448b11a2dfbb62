"""``results``: the runs in a results folder, their differing settings, status and headline mAP."""
from __future__ import annotations

import argparse
import sys

from .common import results_argument, selected_where, selection_arguments

NAME = "results"
HELP = "list the runs in a results folder: their settings that differ, status and headline mAP"
DESCRIPTION = ("A table of the finished and failed runs in a results folder: loss (with its parameters), dataset, "
               "bits, replicate, status, I->T and T->I mAP, and every configuration key whose value differs between "
               "the runs listed, so that what a report would put together is visible first.")
EXAMPLES = """examples:
  python -m benchmark results                                  # every run in results/
  python -m benchmark results --where run.protocol=paper --csv > paper_runs.csv
  python -m benchmark results --losses triplet,dcgh --bits 64
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    results_argument(parser)
    parser.add_argument("--where", action="append", metavar="KEY=VALUE", help="only these runs (as for report)")
    selection_arguments(parser)
    parser.add_argument("--csv", action="store_true", help="print CSV instead of a table")


def handle(args: argparse.Namespace) -> int:
    import pandas as pd

    from ..report.selection import runs_table, select
    from ..store import RunStore

    contents = RunStore(args.results).contents()
    chosen = {id(item) for item in select([*contents.records, *contents.failures], selected_where(args))}
    table = runs_table([r for r in contents.records if id(r) in chosen],
                       [f for f in contents.failures if id(f) in chosen])
    for reason in contents.unreadable:
        print(f"skipped: {reason}", file=sys.stderr)
    if args.csv:
        print(table.to_csv(index=False, float_format="%.4f"), end="")
        return 0
    with pd.option_context("display.width", 250, "display.max_columns", None, "display.max_colwidth", 60):
        print(table.to_string(index=False, na_rep="", float_format=lambda v: f"{v:.4f}") if len(table) else
              f"no runs in {args.results}")
    return 0
