"""The ``python -m benchmark`` command line. User errors print one line and exit non-zero; only bugs
show a traceback."""
from __future__ import annotations

import argparse
import sys

import losses

EPILOG_LIST = """examples:
  python -m benchmark list losses
"""


def _list_losses() -> str:
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


LISTINGS = {"losses": _list_losses}


def _cmd_list(args: argparse.Namespace) -> int:
    print(LISTINGS[args.what]())
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
    p_list.set_defaults(func=_cmd_list)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ValueError as exc:  # errors a user can cause carry a message that says what to do
        print(f"error: {exc}", file=sys.stderr)
        return 1
