"""``valleys report``: rebuild the index of all runs (and with ``--all`` every run page)."""

from __future__ import annotations

import argparse
import sys

from .common import EXIT_OK, clean_line, store

HELP = "rebuild the index of all runs and print its path"


def add_command(add) -> None:
    """Register ``report`` through :func:`valleys.cli.build_parser`'s ``add``.

    Args:
        add: ``add(name, handler, help)``, which creates the subcommand's parser (with the
            common options) and returns it.
    """
    report = add("report", cmd_report, HELP)
    report.add_argument("--all", action="store_true",
                        help="also rebuild every run's report.html from its stored files")
    report.add_argument("--out", metavar="DIR", default=None,
                        help="write the index (and with --all the reports) into DIR instead of "
                             "the run store (works on a store you can only read)")
    report.add_argument("--max-surface-points", type=points, metavar="N", default=None,
                        help="with --all: the most grid points of the 3-D surfaces on one page "
                             "together (default 250000); larger surfaces are left out with a warning")


def cmd_report(args: argparse.Namespace) -> int:
    """``valleys report``: rebuild the index (and with --all every run page).

    Runs whose page cannot be rebuilt are skipped with a warning on stderr; the index's path
    is printed.

    Args:
        args: the parsed command line (``all``, ``out``, ``max_surface_points``).

    Returns:
        The exit status 0.
    """
    from ..runs.surface_cap import MAX_SURFACE_POINTS

    runs = store(args, read_only=None)
    cap = MAX_SURFACE_POINTS if args.max_surface_points is None else args.max_surface_points
    skipped = runs.rebuild_reports(out=args.out, max_surface_points=cap,
                                   warn=lambda note: print(f"valleys: warning: {clean_line(note)}",
                                                           file=sys.stderr)) if args.all else {}
    for run_id, why in skipped.items():
        print(f"valleys: warning: skipped run {run_id}: {clean_line(why)}", file=sys.stderr)
    print(runs.write_index(args.out, skip=frozenset(skipped)))
    return EXIT_OK


def points(text: str) -> int:
    """``--max-surface-points``: an integer >= 1.

    Args:
        text: the command-line value.

    Returns:
        The integer.

    Raises:
        argparse.ArgumentTypeError: if it is not an integer >= 1.
    """
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value
