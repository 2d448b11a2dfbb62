"""``export``: a run's codes and labels as the field's PR-curve scripts read them."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import ConfigError
from .common import results_argument

NAME = "export"
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
                        "(default: ./<run_id>.<format>)")
    results_argument(parser)


def handle(args: argparse.Namespace) -> int:
    from ..codes import export
    from ..store import RunStore

    store = RunStore(args.results)
    matches = store.finished_matching(args.run)
    if len(matches) != 1:
        found = f"{len(matches)} match: {', '.join(matches[:5])}" if matches else "none matches"
        raise ConfigError(f"--run {args.run!r} must name one finished run in {store.root} ({found}); "
                          "see the folder names there")
    name = f"{matches[0]}.{args.format}"
    out = args.out / name if args.out is not None and args.out.is_dir() else args.out or Path(name)
    print(f"wrote {export(store.folder(matches[0]), out, args.format)}")
    return 0
