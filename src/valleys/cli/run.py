"""``valleys run NAME``: run one experiment and store its result."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from .common import EXIT_DISAGREES, RUN_EXIT, check_line, store, usage

if TYPE_CHECKING:
    from ..record import Experiment, Params

HELP = "run one experiment and store its result"


def add_command(add) -> None:
    """Register ``run`` through :func:`valleys.cli.build_parser`'s ``add``.

    Args:
        add: ``add(name, handler, help)``, which creates the subcommand's parser (with the
            common options) and returns it.
    """
    run = add("run", cmd_run, HELP)
    run.add_argument("name", metavar="NAME", nargs="?",
                     help="experiment name (see 'valleys list')")
    add_preset_option(run)
    run.add_argument("--set", dest="assignments", metavar="KEY=VALUE", nargs="+",
                     action="extend", default=[],
                     help="override parameters (repeatable; NAME may also follow the values)")
    run.add_argument("--seed", type=int, help="random seed (same as --set seed=N)")


def add_preset_option(cmd: argparse.ArgumentParser) -> None:
    """``--quick``, shared by ``run`` and ``suite``.

    Args:
        cmd: the subcommand's parser.
    """
    cmd.add_argument("--quick", action="store_true",
                     help="use the quick preset (well under a minute on 2 cores)")


def cmd_run(args: argparse.Namespace) -> int:
    """``valleys run NAME``: run, print the checks, summary and report path.

    The parameters are checked (types and the experiment's LIMITS) before the run store is
    touched: a refused command leaves no run, log or index entry.

    Args:
        args: the parsed command line (``name``, ``assignments``, ``quick``, ``seed``).

    Returns:
        The exit status of the verdict: 0 agrees, 1 disagrees (or any other status), 4
        undecided.
    """
    from ..experiments import get_experiment

    name, assignments = split_name(args.name, args.assignments)
    exp = get_experiment(name)
    params = preset_params(exp, args.quick, assignments, args.seed)
    runs = store(args)
    record = runs.execute(exp, params, progress=True,
                          on_start=lambda r: print(f"run {r.run_id}", flush=True))
    details = runs.details(record.run_id)
    for check in details.verdict.get("checks", []):
        print("  " + check_line(check))
    n_warn = len(details.metadata.get("warnings", []))
    if n_warn:
        print(f"  ({n_warn} warning(s) recorded in {record.log_path})")
    print(f"{exp.name} {record.verdict_summary} in {record.wall_time:.1f} s")
    print(f"report: {record.report_path}")
    return RUN_EXIT.get(record.status, EXIT_DISAGREES)


def split_name(name: str | None, assignments: list[str]) -> tuple[str, list[str]]:
    """``valleys run --set k=v NAME``: ``--set`` takes one or more values, so a NAME after
    it lands among them; take it back (the one value without ``=``).

    Args:
        name: the positional NAME, or None when argparse gave it to ``--set``.
        assignments: the ``--set`` values.

    Returns:
        ``(name, assignments)`` with the name taken out of the assignments.

    Raises:
        InvalidParameterError: if there is no name, or several values without ``=``.
    """
    if name is not None:
        return name, assignments
    bare = [a for a in assignments if "=" not in a]
    if len(bare) != 1:
        what = "no experiment name" if not bare else f"several values without '=': {', '.join(bare)}"
        raise usage(f"run: {what}. Usage: valleys run [--quick] [--set KEY=VALUE ...] NAME")
    return bare[0], [a for a in assignments if "=" in a]


def preset_params(exp: Experiment, quick: bool, assignments: list[str], seed: int | None) -> Params:
    """The experiment's preset with ``--set`` overrides and ``--seed`` applied (and checked).

    Args:
        exp: the experiment.
        quick: start from the quick preset.
        assignments: ``key=value`` overrides.
        seed: the seed, or None to keep the preset's.

    Returns:
        The checked parameters.
    """
    params = exp.params.preset(quick).with_overrides(assignments)
    return params if seed is None else params.replace(seed=seed)  # replace() checks the seed
