"""``tune``: every loss's parameters tuned on the validation split with the same budget (Optuna)."""
from __future__ import annotations

import argparse
from pathlib import Path

from .common import add_run_arguments, options_of, request_of

#: Trials per study unless --trials says otherwise (small enough for a laptop).
DEFAULT_TRIALS = 8

NAME = "tune"
HELP = "tune every loss's parameters on the validation split with the same budget (Optuna), resumable"
DESCRIPTION = ("Per (loss, dataset, bits) of the grid, an Optuna study (TPE, seeded from the configuration) of the "
               "loss's declared search space and the shared optimizer parameters: the same --trials trials of the "
               "same epochs for every loss, the first being the defaults, each scored on validation mAP (the query "
               "set is never evaluated). Trials are runs in the same store; studies persist under <results>/tuning/. "
               "Writes the best parameters to <results>/tuned.yaml (run them with run --params tuned) and the "
               "sensitivity figures to --out.")
EXAMPLES = """examples:
  python -m benchmark tune --losses all --datasets synth-coco --bits 16          # 8 trials per loss
  python -m benchmark tune --losses dcgh,triplet --trials 20 --epochs 30
  python -m benchmark tune --losses all --shard 0/4                          # this process's quarter of the studies
  python -m benchmark run --params tuned --losses all --datasets synth-coco --bits 16   # then run the tuned grid

Finished trials are never repeated: the same command resumes; a larger --trials adds trials to every study.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_run_arguments(parser)
    parser.add_argument("--trials", type=int, default=DEFAULT_TRIALS,
                        help=f"trials per (loss, dataset, bits), the defaults included (default {DEFAULT_TRIALS})")
    parser.add_argument("--params-file", type=Path, help="where to write the best parameters (default: "
                        "<results>/tuned.yaml; entries of other losses, datasets or bits in it are kept)")
    parser.add_argument("--out", type=Path, default=Path("reports/tuning"),
                        help="folder of the sensitivity figures (default: reports/tuning/)")


def handle(args: argparse.Namespace) -> int:
    from ..experiments import build, tune

    options = options_of(args)
    grid, context = build(request_of(args))
    return tune(grid, context, trials=args.trials, options=options, params_file=args.params_file,
                figures=args.out / "figures")
