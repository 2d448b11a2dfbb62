"""The ``python -m benchmark`` command line. User errors print one line and exit non-zero; only bugs
show a traceback."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import losses

from . import data

EPILOG_LIST = """examples:
  python -m benchmark list losses
  python -m benchmark list datasets --data-root /datasets
"""
EPILOG_PREPARE = """examples:
  python -m benchmark prepare mirflickr25k --raw ~/downloads/mirflickr25k --out data/mirflickr25k
  python -m benchmark prepare nuswide --raw ~/downloads/NUS-WIDE --out data/nuswide
  python -m benchmark prepare coco --raw ~/downloads/coco2017 --out data/coco

--raw holds the original download:
  mirflickr25k  mirflickr/im*.jpg, mirflickr25k_annotations_v080/*.txt, mirflickr/meta/tags/tags*.txt
  nuswide       the image folder, All_Tags.txt, Imagelist.txt, AllLabels/Labels_*.txt
  coco          train2017/, val2017/, annotations/instances_*.json, annotations/captions_*.json
"""


def _list_losses(args: argparse.Namespace) -> str:
    entries = losses.entries()
    width = max(len(e.name) for e in entries) + 2
    lines = ["Loss families:"]
    lines += [f"  {e.name:<{width}}{e.description}" for e in entries if not e.is_variant]
    lines += ["Variants (ablations of a family, with the parameters they fix):"]
    for e in entries:
        if e.is_variant:
            fixed = ", ".join(f"{k}={v!r}" for k, v in e.fixed.items())
            lines.append(f"  {e.name:<{width}}{e.description} [{e.base}: {fixed}]")
    lines.append("Your own loss: name it package.module:ClassName (a losses.HashingLoss subclass)")
    return "\n".join(lines)


def _list_datasets(args: argparse.Namespace) -> str:
    rows = data.describe(args.data_root)
    width = max(len(r["name"]) for r in rows) + 2
    lines = [f"Datasets (real ones under {args.data_root or data.data_root()}/NAME, synthetic ones in {data.cache_dir()}):"]
    for r in rows:
        lines.append(f"  {r['name']:<{width}}{r['classes']:>3} classes  {r['status']}")
        lines.append(f"  {'':<{width}}    {r['location']}  ({r['files']})")
    lines.append("Build a real one from its original download: python -m benchmark prepare NAME --raw DIR --out DIR")
    return "\n".join(lines)


LISTINGS = {"losses": _list_losses, "datasets": _list_datasets}


def _cmd_list(args: argparse.Namespace) -> int:
    print(LISTINGS[args.what](args))
    return 0


def _cmd_prepare(args: argparse.Namespace) -> int:
    from .data.prepare import prepare

    summary = prepare(args.name, args.raw, args.out)
    print(f"{args.name}: kept {summary['kept']} of {summary['items_seen']} items; files written to {args.out}")
    for reason, count in summary["dropped"].items():
        print(f"  dropped {count}: {reason}")
    cardinality = summary["label_cardinality"]
    print(f"  labels per item: mean {cardinality['mean']}, min {cardinality['min']}, max {cardinality['max']}")
    print(f"Load it with: benchmark.data.load({args.name!r}, root={str(args.out)!r})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmark",
        description="Benchmark of hashing losses for cross-modal (image-text) retrieval.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p_list = sub.add_parser(
        "list",
        help="list what the suite knows (registered losses, ...)",
        description="List what the suite knows.",
        epilog=EPILOG_LIST,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p_list.add_argument("what", choices=sorted(LISTINGS), help="what to list")
    p_list.add_argument("--data-root", type=Path, default=None,
                        help="folder holding one folder per real dataset (default $BENCHMARK_DATA_ROOT or ./data)")
    p_list.set_defaults(func=_cmd_list)

    p_prepare = sub.add_parser(
        "prepare",
        help="build a dataset's index/label/caption files from its original download",
        description="Build index.mat, label.mat and caption.mat (caption.txt for nuswide) from the original "
                    "download of a dataset, with a summary of the items kept and dropped.",
        epilog=EPILOG_PREPARE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p_prepare.add_argument("name", choices=["mirflickr25k", "nuswide", "coco"], help="the dataset")
    p_prepare.add_argument("--raw", type=Path, required=True, help="folder of the original download")
    p_prepare.add_argument("--out", type=Path, required=True, help="folder to write the files into")
    p_prepare.set_defaults(func=_cmd_prepare)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ValueError as exc:  # errors a user can cause carry a message that says what to do
        print(f"error: {exc}", file=sys.stderr)
        return 1
