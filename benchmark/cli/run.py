"""``run``: train and evaluate every pending run of a grid."""
from __future__ import annotations

import argparse

from .common import add_run_arguments, options_of, request_of

NAME = "run"
HELP = "train and evaluate a grid of losses x datasets x bits x replicates (resumable)"
DESCRIPTION = ("Train and evaluate every run of a grid. Values come from default.yaml, then --config, then these "
               "flags.")
EXAMPLES = """examples:
  python -m benchmark run --losses all                       # the default grid on the synthetic sets
  python -m benchmark run --losses dcgh,dcgh-novar --bits 64 --replicates 5
  python -m benchmark run --set run.optimizer.head_lr=3e-4 --set loss_params.dcgh.gamma=0.5
  python -m benchmark run --losses mypkg.losses:MyLoss,dcgh --datasets synth-coco
  python -m benchmark run --config real --backbone ~/clip-vit-base-patch32 --data-root /datasets
  python -m benchmark run --datasets mirflickr25k --data-root /datasets --backbone tiny --losses dcgh \
      --bits 16 --replicates 1 --set run.epochs=1 --set search.enabled=false --results /tmp/smoke  # a smoke test
  python -m benchmark run --losses all --dry-run             # the resolved config and each run's status
  python -m benchmark run --losses all --shard 0/4           # this process's quarter of the grid
  sbatch --array=0-7 job.sh                                  # job.sh: python -m benchmark run ... (shards itself)

Finished runs are skipped (their record.json exists); failed ones are retried; --force redoes them.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_run_arguments(parser)
    parser.add_argument("--params", metavar="tuned|FILE.yaml",
                        help="run with tuned parameters: 'tuned' (<results>/tuned.yaml, written by tune) or a file "
                             "of the same layout; each record names the set it used")


def handle(args: argparse.Namespace) -> int:
    from ..experiments import build, run_grid

    options = options_of(args)
    grid, context = build(request_of(args))
    return run_grid(grid, context, options).status
