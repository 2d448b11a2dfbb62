"""``export``: a run's codes and labels as the field's PR-curve scripts read them."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import ConfigError, RecordError
from .common import results_argument

NAME = "export"
#: Where a run's export goes without --out: a folder of the results folder (the working folder is left alone).
EXPORTS = "exports"
#: The matches an ambiguous --run lists.
SHOWN = 8
HELP = "write a run's codes and labels as the field's PR-curve scripts read them (.mat or .npz)"
DESCRIPTION = ("Write the query and retrieval codes (q_img, q_txt, r_img, r_txt: +-1, float32, one row per item) and "
               "labels (q_l, r_l: 0/1 float32) of one run, the layout published cross-modal hashing code saves and "
               "its PR-curve and mAP scripts read.")
EXAMPLES = """examples:
  python -m benchmark export --run synth-coco-64b-dcgh-r0 --format mat
  python -m benchmark export --run synth-coco-64b-dcgh-r0-1a2b3c4d5e --format npz --out dcgh.npz
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", required=True, help="the run's id (its folder name), or a prefix of it naming one run")
    parser.add_argument("--format", choices=["mat", "npz"], default="mat", help="MATLAB .mat (default) or numpy .npz")
    parser.add_argument("--out", type=Path, help="output file, or a folder to write <run_id>.<format> into "
                        f"(default: <results>/{EXPORTS}/<run_id>.<format>)")
    results_argument(parser)


def handle(args: argparse.Namespace) -> int:
    from ..codes import export
    from ..store import RunStore

    store = RunStore(args.results)
    matches = store.finished_matching(args.run)
    if len(matches) != 1:
        raise ConfigError(f"--run {args.run!r} must name one finished run in {store.root} ({_found(store, matches)})")
    name = f"{matches[0]}.{args.format}"
    if args.out is None:
        out = args.results / EXPORTS / name
    else:
        out = args.out / name if args.out.is_dir() else args.out
    print(f"wrote {export(store.folder(matches[0]), out, args.format)}")
    return 0


def _found(store, matches: list[str]) -> str:
    """What a prefix matching no run or several says: each match with what the run is (a search trial, a tuned
    run share a default run's prefix), so that the user can give more of the id."""
    if not matches:
        return "none matches; see the folder names there"
    shown = []
    for run_id in matches[:SHOWN]:
        try:
            shown.append(f"{run_id} ({store.read_record(run_id).spec.label})")
        except RecordError:
            shown.append(f"{run_id} (damaged record)")
    more = f", and {len(matches) - SHOWN} more" if len(matches) > SHOWN else ""
    return f"{len(matches)} match, give more of the id: {'; '.join(shown)}{more}"
