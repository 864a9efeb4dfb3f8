"""The ``valleys`` command: list, run and report the registered experiments.

The application layer: one module per command (:mod:`.listing` for ``list``, :mod:`.run`, :mod:`.suite`,
:mod:`.show`, :mod:`.runs`, :mod:`.report`, :mod:`.version`, :mod:`.sweep`, :mod:`.compare`,
:mod:`.analyze`), what they share (:mod:`.common`), and the wiring of the task kinds and the
page renderer into the run store (:mod:`.wiring`). This module holds the parser and
:func:`main`.

Exit status: 0 when the command succeeded (and, for ``run``/``suite``, every verdict
agrees), 1 when a run completed but its verdict disagrees (or a suite experiment failed),
2 on a user error (bad arguments, unknown experiment or run, bad ``--set``, unwritable run
store, bad data file), 3 when an experiment crashed with an internal error, 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import traceback
from collections.abc import Callable, Sequence

from ..errors import ValleysError
from . import analyze, compare, listing, report, run, runs, show, suite, sweep, version
from .common import EPILOG, EXIT_CRASH, EXIT_INTERRUPTED, EXIT_USAGE, clean_line

COMMANDS = (listing, run, suite, show, runs, report, version, sweep, compare)
"""The command modules registered through ``add``, in the order ``valleys --help`` lists them
(``analyze``, with its own help formatter, comes last)."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``) and return the exit status.

    Args:
        argv: the arguments after the program name.

    Returns:
        The exit status (see the module docstring).
    """
    try:
        args = build_parser().parse_args(argv)
    except _UsageError as exc:
        print(f"valleys: error: {exc} (see 'valleys --help')", file=sys.stderr)
        return EXIT_USAGE
    debug = getattr(args, "debug", False)
    try:
        with _sigterm_as_interrupt():
            return args.handler(args)
    except ValleysError as exc:
        return _fail(exc, EXIT_USAGE, debug)
    except KeyboardInterrupt:
        print("valleys: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        return _fail(exc, EXIT_CRASH, debug, prefix=f"internal error: {type(exc).__name__}: ",
                     suffix=" (rerun with --debug for the traceback)")


class _UsageError(Exception):
    """An argument-parser error, reported on one line with exit status 2."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (no usage dump), like every other error."""

    def error(self, message: str):
        # main() prints "valleys: error: ...": name only the subcommand ("analyze: ...")
        command = self.prog.split(maxsplit=1)[1] + ": " if " " in self.prog else ""
        raise _UsageError(" ".join(f"{command}{message}".split()))


class _Interrupted(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C: the run in progress is stored as interrupted."""


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """Turn SIGTERM into KeyboardInterrupt while a command runs (main thread only)."""
    def handler(signum, frame):
        raise _Interrupted(f"signal {signum}")

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``valleys`` and its subcommands.

    Returns:
        The ``valleys`` parser; each subcommand's parser sets ``handler`` to its function.
    """
    common = _Parser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show full tracebacks on errors")
    common.add_argument("--runs-dir", metavar="DIR", default=argparse.SUPPRESS,
                        help="run store folder (default: $VALLEYS_RUNS or ./runs)")
    parser = _Parser(prog="valleys", parents=[common], epilog=EPILOG,
                     description="Measure loss-landscape geometry and check "
                                 "the landscape theorems of the literature.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, handler: Callable[[argparse.Namespace], int], text: str):
        cmd = sub.add_parser(name, parents=[common], help=text, description=text,
                             epilog=EPILOG)
        cmd.set_defaults(handler=handler)
        return cmd

    for command in COMMANDS:
        command.add_command(add)
    analyze.add_command(sub, common, EPILOG)
    return parser


def _fail(exc: BaseException, status: int, debug: bool, prefix: str = "",
          suffix: str = "") -> int:
    if debug:
        traceback.print_exception(exc)
        suffix = ""
    print(f"valleys: error: {prefix}{clean_line(str(exc))}{suffix}", file=sys.stderr)
    return status


__all__ = ["main", "build_parser"]
