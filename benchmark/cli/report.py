"""``report``: tables, figures and an index from the run records."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .common import name_list, results_argument, selected_where, selection_arguments

NAME = "report"
#: Where reports go by default: a folder of its own, ignored by git, beside the tracked reports/README.md and example/.
DEFAULT_OUT = Path("reports") / "latest"
HELP = "build tables, figures and an index from the run records"
DESCRIPTION = ("Load every run record into one tidy table and write paper-style tables (LaTeX, Markdown, CSV), PR / "
               "precision@N / training figures (PNG, PDF) and README.md indexing them.")
EXAMPLES = """examples:
  python -m benchmark report                                   # results/ -> reports/latest/
  python -m benchmark report --results /shared/results --out paper/ --format latex
  python -m benchmark report --metric map_tie_aware
  python -m benchmark report --losses triplet,dcgh,center --datasets synth-coco --out paper/coco
  python -m benchmark report --metric ndcg@1000                # graded relevance: the labels shared
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    results_argument(parser)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"output folder (default: {DEFAULT_OUT}/, which holds nothing tracked: each report "
                             "replaces the files of the one before)")
    parser.add_argument("--format", default="latex,markdown,csv", help="comma list of latex, markdown, csv")
    parser.add_argument("--metric", default="map",
                        help="map (default), map_tie_aware, map_best, map_worst, map@K, or a graded-relevance metric "
                             "(relevance = labels shared): ndcg@K, acg@K, wmap (weighted mAP), wmap@K; K one of the "
                             "records' run.topk (default 1000, 5000)")
    parser.add_argument("--where", action="append", metavar="KEY=VALUE",
                        help="report the runs with this configuration value (run.protocol=paper, epochs=50) or loss "
                             "parameter (dcgh.gamma=0.5); repeatable. By default the configuration with the most "
                             "runs; the index lists the others")
    selection_arguments(parser)
    parser.add_argument("--decimals", type=int, choices=(3, 4), default=3,
                        help="decimals of the numbers in the LaTeX and Markdown tables (default 3: a LaTeX table of "
                             "3 datasets x 3 code lengths with intervals fits a two-column page; 4 does not)")
    parser.add_argument("--published", type=Path, metavar="FILE.yaml",
                        help="add rows quoting published numbers from this YAML file (a list of entries: method, "
                             "source, dataset, task, bits, value; docs/protocol.md, Reports)")
    parser.add_argument("--plugins", type=name_list,
                        help="comma list of modules to import first, whose register_section report sections are then "
                             "written too (docs/extending.md)")


def handle(args: argparse.Namespace) -> int:
    from ..plugins import load_plugins
    from ..report import build_report

    load_plugins(args.plugins or (), entry_points=False)  # the loss plugins would bring torch; a report needs none
    formats = [f.strip() for f in args.format.split(",") if f.strip()]
    report = build_report(args.results, args.out, formats, args.metric, selected_where(args), args.decimals,
                          args.published, say=lambda line: print(line, flush=True))
    for reason in report.skipped:
        print(f"skipped: {reason}", file=sys.stderr)
    print(f"wrote {len(report.tables)} table files and {len(report.figures)} figure files under {args.out}")
    print(f"index: {report.index}")
    return 0
