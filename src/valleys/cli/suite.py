"""``valleys suite``: run every registered experiment, one line each."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from .common import EXIT_DISAGREES, EXIT_OK, EXIT_UNDECIDED, clean_line, store
from .run import add_preset_option

if TYPE_CHECKING:
    from ..record import Experiment
    from ..runs import RunStore

HELP = "run every registered experiment"


def add_command(add) -> None:
    """Register ``suite`` through :func:`valleys.cli.build_parser`'s ``add``.

    Args:
        add: ``add(name, handler, help)``, which creates the subcommand's parser (with the
            common options) and returns it.
    """
    add_preset_option(add("suite", cmd_suite, HELP))


def cmd_suite(args: argparse.Namespace) -> int:
    """``valleys suite``: every experiment, one line each, then a summary.

    Args:
        args: the parsed command line (``quick``).

    Returns:
        The exit status: 1 if any experiment disagrees or errs, else 4 if any is undecided,
        else 0.
    """
    from ..experiments import all_experiments

    runs = store(args)
    experiments = all_experiments()
    width = max((len(e.name) for e in experiments), default=0)
    counts = {"PASS": 0, "FAIL": 0, "UNDEC": 0, "ERROR": 0}
    from tqdm import tqdm

    bar = tqdm(experiments, desc="suite", unit="experiment", file=sys.stderr, disable=None,
               leave=False)
    for exp in bar:
        bar.set_postfix_str(exp.name)
        word, text = suite_one(runs, exp, args.quick)
        counts[word] += 1
        tqdm.write(f"{word:<5} {exp.name:<{width}}  {text}", file=sys.stdout)
    bar.close()
    index = runs.write_index()
    print(f"suite: {len(experiments)} experiments: {counts['PASS']} agree, "
          f"{counts['FAIL']} disagree, {counts['UNDEC']} undecided, {counts['ERROR']} errors. "
          f"Index: {index}")
    if counts["FAIL"] or counts["ERROR"]:
        return EXIT_DISAGREES
    return EXIT_UNDECIDED if counts["UNDEC"] else EXIT_OK


def suite_one(runs: RunStore, exp: Experiment, quick: bool) -> tuple[str, str]:
    """Run one experiment of the suite: ``(PASS|FAIL|UNDEC|ERROR, one line)``.

    An exception becomes ``ERROR`` with its one-line message: one failing experiment does
    not stop the suite.

    Args:
        runs: the run store.
        exp: the experiment.
        quick: run the quick preset.

    Returns:
        ``(word, line)``: the outcome word and the verdict summary, wall time and run id (or
        the error).
    """
    try:
        record = runs.execute(exp, exp.params.preset(quick), progress=False)
    except Exception as exc:  # one failing experiment must not stop the suite
        return "ERROR", clean_line(f"{type(exc).__name__}: {exc}")
    word = {"passed": "PASS", "undecided": "UNDEC"}.get(record.status, "FAIL")
    return word, f"{record.verdict_summary} ({record.wall_time:.1f} s) {record.run_id}"
