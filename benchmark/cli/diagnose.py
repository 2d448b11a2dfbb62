"""``diagnose``: the code-space diagnostics of stored runs, recomputed from the codes they kept."""
from __future__ import annotations

import argparse
import sys

from .common import results_argument

NAME = "diagnose"
HELP = "recompute the code-space diagnostics of stored runs from the codes they kept"
DESCRIPTION = ("Recompute the diagnostics (docs/diagnostics.md) of every run in a results folder from the files it "
               "kept (codes.npz, and continuous.npz for the quantization gap), after checking them against their "
               "records' hashes; the records are rewritten in place.")
EXAMPLES = """examples:
  python -m benchmark diagnose                                 # every run in results/
  python -m benchmark diagnose --results /shared/results
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    results_argument(parser)


def handle(args: argparse.Namespace) -> int:
    from ..diagnose import diagnose

    outcome = diagnose(args.results)
    for reason in outcome.skipped:
        print(f"skipped {reason}", file=sys.stderr)
    print(f"recomputed the diagnostics of {len(outcome.updated)} runs in {args.results}"
          + (f"; {len(outcome.skipped)} skipped" if outcome.skipped else ""))
    return 0
