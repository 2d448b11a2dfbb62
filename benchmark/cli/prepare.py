"""``prepare``: a real dataset's files from its original download."""
from __future__ import annotations

import argparse
from pathlib import Path

NAME = "prepare"
HELP = "build a dataset's index/label/caption files from its original download"
DESCRIPTION = ("Build index.mat, label.mat and caption.mat (caption.txt for nuswide) from the original download of a "
               "dataset, with a summary of the items kept and dropped.")
EXAMPLES = """examples:
  python -m benchmark prepare mirflickr25k --raw ~/downloads/mirflickr25k --out data/mirflickr25k
  python -m benchmark prepare nuswide --raw ~/downloads/NUS-WIDE --out data/nuswide
  python -m benchmark prepare coco --raw ~/downloads/coco2017 --out data/coco
  python -m benchmark prepare nuswide --variant mith --raw ~/downloads/mith/nuswide --images ~/downloads/nus_images \
      --out data/nuswide

--raw holds the original download:
  mirflickr25k  mirflickr/im*.jpg, mirflickr25k_annotations_v080/*.txt, mirflickr/meta/tags/tags*.txt
  nuswide       the image folder, All_Tags.txt, Imagelist.txt, AllLabels/Labels_*.txt
  coco          train2017/, val2017/, annotations/instances_*.json, annotations/captions_*.json
  --variant mith  MITH's released all_imgs.txt, all_labels.txt, all_tags.txt (all_txts.txt for coco), the images
                in --images (docs/protocols.md)
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..data.prepare import convertible
    from ..data.variants import VARIANTS

    parser.add_argument("name", choices=convertible(), help="the dataset")
    parser.add_argument("--raw", type=Path, required=True, help="folder of the original download")
    parser.add_argument("--out", type=Path, required=True, help="folder to write the files into")
    parser.add_argument("--drop-untagged", action="store_true",
                        help="mirflickr25k: drop labelled images without tags (kept with an empty text by default, "
                             "as the released data scripts of the DCMH/DCHMT code do)")
    parser.add_argument("--variant", choices=list(VARIANTS), default="official",
                        help="official: from the original download (default); mith: MITH's cleaned set from its "
                             "released lists, its published count checked")
    parser.add_argument("--images", type=Path, default=None,
                        help="--variant mith: the folder holding every image the lists name (default --raw)")


def handle(args: argparse.Namespace) -> int:
    from ..data.prepare import prepare

    summary = prepare(args.name, args.raw, args.out, drop_untagged=args.drop_untagged, variant=args.variant,
                      images=args.images)
    print(f"{args.name}: kept {summary['kept']} of {summary['items_seen']} items; files written to {args.out}")
    for reason, count in summary["dropped"].items():
        print(f"  dropped {count}: {reason}")
    if "published_items" in summary:
        published, kept = summary["published_items"], summary["kept"]
        print(f"  variant {summary['variant']}: published count {published:,}; " + (
            "this set has the same" if summary["as_published"] else
            f"this set has {kept:,} ({kept - published:+,}): not the published set, so neither its split nor its "
            "numbers are the source's"))
    if "untagged" in summary:  # labelled items without text: kept with an empty one unless --drop-untagged
        untagged = summary["untagged"]
        print(f"  labelled without text: {untagged['kept']} kept (empty text), {untagged['dropped']} dropped"
              + ("" if args.drop_untagged or args.variant != "official" else "; --drop-untagged drops them"))
    cardinality = summary["label_cardinality"]
    print(f"  labels per item: mean {cardinality['mean']}, min {cardinality['min']}, max {cardinality['max']}")
    config = f"--config {args.variant} " if args.variant != "official" else ""  # the preset that assumes it
    if args.out.resolve().name == args.name:  # where --data-root looks: <data root>/<name>
        print(f"Run on it: python -m benchmark run {config}--datasets {args.name} --data-root {args.out.parent}")
    else:
        print(f"Run on it: move or link {args.out} to <folder>/{args.name}, then python -m benchmark run "
              f"{config}--datasets {args.name} --data-root <folder>")
    return 0
