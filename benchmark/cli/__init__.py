"""The ``python -m benchmark`` command line: one module per command, each holding its flags (``add_arguments``), its
handler (``handle``, which parses flags into the typed arguments of ``benchmark.experiments`` and prints what they
did) and its examples. A ``UserError`` prints as one line and exits 2; anything else is a bug and keeps its
traceback.

A new command is a module with ``NAME``, ``HELP``, ``DESCRIPTION``, ``EXAMPLES``, ``add_arguments(parser)`` and
``handle(args) -> int``, added to ``COMMANDS``.
"""
from __future__ import annotations

import argparse
import errno
import signal
import sys
import threading

from ..errors import UserError
from . import ablate, diagnose, export, listing, prepare, report, results, run, stress, sweep, tune

#: The commands in the order ``--help`` lists them.
COMMANDS = (listing, run, report, ablate, stress, tune, sweep, results, diagnose, export, prepare)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmark",
                                     description="Benchmark of hashing losses for cross-modal (image-text) retrieval.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        # RawDescription: each command's --help shows its examples as written
        child = sub.add_parser(command.NAME, help=command.HELP, description=command.DESCRIPTION,
                               epilog=command.EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
        command.add_arguments(child)
        child.set_defaults(func=command.handle)
    return parser


#: What the file system answers when a folder the user gave cannot be used (read-only, a file, full, missing).
OS_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.ENOTDIR, errno.EISDIR,
             errno.ENOENT, errno.EEXIST}
#: The remedy of the errors that say nothing about the path itself but about its disk or its rights.
_REMEDIES = {
    errno.ENOSPC: "free space on its disk, or give --results / $BENCHMARK_CACHE folders on another disk",
    errno.EDQUOT: "free space within your quota, or give --results / $BENCHMARK_CACHE folders on another disk",
    errno.EROFS: "its disk is read-only: give --results / --out / $BENCHMARK_CACHE folders you can write to",
    errno.EACCES: "give yourself the right to write there, or give --results / --out / $BENCHMARK_CACHE other folders",
}
_REMEDIES[errno.EPERM] = _REMEDIES[errno.EACCES]


def os_error_line(exc: OSError) -> str | None:
    """One line for a file-system error caused by a path or folder the user gave, or by its disk (full, read-only,
    not writable), naming it and what to do; None for any other OSError (a bug: it keeps its traceback)."""
    if exc.errno in _REMEDIES:  # a full disk's error may name no file (files.atomic_path adds it where it writes)
        where = exc.filename if exc.filename is not None else "a file of the results or cache folder"
        return f"cannot write {where}: {exc.strerror}; {_REMEDIES[exc.errno]}, then run the same command again"
    if exc.errno not in OS_ERRNOS or exc.filename is None:
        return None
    return (f"cannot use {exc.filename}: {exc.strerror}; check that --results / --out (and --data-root, the cache "
            "folder $BENCHMARK_CACHE) name folders that exist, are folders and that you can write to")


class Terminated(BaseException):
    """SIGTERM (a Slurm time limit, ``kill``), raised where the command is so that it unwinds as after Ctrl-C: the
    workers stopped and the claims this process holds released, which another host would otherwise wait for."""


def _terminated(signum, frame) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut the release of the claims short
    raise Terminated


def _discard_output() -> None:
    """Close stdout, whose reader has left, so that the interpreter's last flush at exit does not fail again (the
    close's own flush fails the same way; the stream is closed all the same)."""
    try:
        sys.stdout.close()
    except (BrokenPipeError, ValueError):
        pass


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # only the main thread may set a handler; the previous one comes back when the command ends (in the tests)
    previous = signal.signal(signal.SIGTERM, _terminated) if threading.current_thread() is threading.main_thread() \
        else None
    try:
        return args.func(args)
    except UserError as exc:  # errors a user can cause carry a message that says what to do
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # whoever read our output stopped reading (`| head`): nothing is wrong, say nothing
        _discard_output()
        return 128 + signal.SIGPIPE  # what a shell reports for a writer whose reader left
    except OSError as exc:
        message = os_error_line(exc)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished runs are kept; run the same command again to do the rest", file=sys.stderr)
        return 130
    except Terminated:
        print("terminated (SIGTERM): finished runs are kept and this process's claims released; run the same command "
              "again to do the rest", file=sys.stderr)
        return 128 + signal.SIGTERM
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
