"""``valleys runs``: the stored runs and sweeps, newest first."""

from __future__ import annotations

import argparse

from .common import EXIT_OK, aligned, clean_line, squeezed, store

HELP = "list the stored runs, newest first"


def add_command(add) -> None:
    """Register ``runs`` through :func:`valleys.cli.build_parser`'s ``add``.

    Args:
        add: ``add(name, handler, help)``, which creates the subcommand's parser (with the
            common options) and returns it.
    """
    runs = add("runs", cmd_runs, HELP)
    runs.add_argument("--experiment", metavar="NAME", help="only the runs of one experiment")


def cmd_runs(args: argparse.Namespace) -> int:
    """``valleys runs``: the stored runs, newest first.

    The store's sweeps are listed first.

    Args:
        args: the parsed command line (``experiment``).

    Returns:
        The exit status 0.
    """
    runs = store(args, read_only=None)
    records = runs.list(args.experiment)
    sweeps = sweep_lines(runs, args.experiment)
    if sweeps:
        for line in aligned(("SWEEP", "STATUS", "SUMMARY"), sweeps):
            print(line)
        print()
    if not records:
        print("No runs stored.")
        return EXIT_OK
    rows = [(r.run_id, r.status, r.verdict_summary or clean_line(r.message or ""))
            for r in records]
    for line in aligned(("RUN", "STATUS", "SUMMARY"), rows):
        print(line)
    return EXIT_OK


def sweep_lines(runs, experiment: str | None = None) -> list[tuple[str, str, str]]:
    """(id, status, summary) rows of the store's sweeps for ``valleys runs``.

    Args:
        runs: the :class:`~valleys.runs.RunStore`.
        experiment: only the sweeps of this experiment, or None for all.

    Returns:
        One row per sweep (the summary followed by its message, if any).
    """
    from ..runs.sweep import Sweeps

    records = Sweeps(runs, create=False).list()
    return [(r.sweep_id, r.status, r.summary + (f" — {squeezed(r.message)}" if r.message else ""))
            for r in records if experiment is None or r.name == experiment]
