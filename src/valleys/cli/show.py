"""``valleys show ID``: parameters, checks and paths of a stored run or sweep."""

from __future__ import annotations

import argparse
import json

from .common import EXIT_OK, check_line, clean_line, is_sweep_id, squeezed, store
from .sweep import point_text

HELP = "show a stored run or sweep: parameters, checks, paths"


def add_command(add) -> None:
    """Register ``show`` through :func:`valleys.cli.build_parser`'s ``add``.

    Args:
        add: ``add(name, handler, help)``, which creates the subcommand's parser (with the
            common options) and returns it.
    """
    show = add("show", cmd_show, HELP)
    show.add_argument("run_id", metavar="RUN_ID", help="run or sweep id (or a unique prefix)")


def cmd_show(args: argparse.Namespace) -> int:
    """``valleys show RUN_ID``: parameters, checks and paths of a stored run.

    A sweep id is shown by :func:`cmd_show_sweep`.

    Args:
        args: the parsed command line (``run_id``).

    Returns:
        The exit status 0.
    """
    from ..report import format_value
    from ..report.environment import check_groups

    if is_sweep_id(args.run_id):
        return cmd_show_sweep(args)
    details = store(args, read_only=None).details(args.run_id)
    rec = details.record
    wall = "running" if rec.wall_time is None else f"{rec.wall_time:.1f} s"
    print(f"run:        {rec.run_id}")
    print(f"experiment: {rec.experiment}")
    print(f"status:     {rec.status}" + (f" — {rec.verdict_summary}" if rec.verdict_summary
                                         else ""))
    if rec.message:
        print(f"message:    {clean_line(rec.message)}")
    print(f"started:    {rec.started}")
    print(f"wall time:  {wall}")
    if details.params:
        print("params:")
        for key, value in sorted(details.params.items()):
            print(f"  {key} = {format_value(value)}")
    for _kind, title, checks in check_groups(details.verdict):
        print(f"{title.split(' — ')[0].lower()} checks ({title.rsplit('(', 1)[-1]}:")
        for check in checks:
            print("  " + check_line(check))
    if rec.completed:
        print(f"folder:     {rec.path}")
        print(f"report:     {rec.report_path}")
    if rec.log_path.is_file():
        print(f"log:        {rec.log_path}")
    return EXIT_OK


def cmd_show_sweep(args: argparse.Namespace) -> int:
    """``valleys show SWEEP_ID``: spec, task counts, failed tasks and paths of a sweep.

    Args:
        args: the parsed command line (``run_id``, a sweep id).

    Returns:
        The exit status 0.
    """
    from ..runs.sweep import Sweeps

    sweeps = Sweeps(store(args, read_only=None), create=False)
    rec = sweeps.get(args.run_id)
    tasks = sweeps.tasks(rec.sweep_id)
    wall = "running" if rec.wall_time is None else f"{rec.wall_time:.1f} s"
    print(f"sweep:      {rec.sweep_id}")
    print(f"{rec.kind + ':':<12}{rec.name}")
    print(f"status:     {rec.status} — {rec.summary}")
    if rec.message:
        print(f"message:    {squeezed(rec.message)}")
    print(f"started:    {rec.started}")
    print(f"wall time:  {wall}")
    print(f"executor:   {rec.executor}")
    print(f"preset:     {'quick' if rec.spec.get('quick') else 'full'}"
          + (f" with {' '.join(rec.spec['fixed'])}" if rec.spec.get("fixed") else ""))
    print("grid:")
    for key, values in rec.spec.get("grid", []):
        print(f"  {key} = {', '.join(json.dumps(v) for v in values)}")
    print(f"  seeds = {', '.join(map(str, rec.spec.get('seeds', [])))}")
    agree = sum(1 for t in tasks if t.status == "done" and t.passed)
    print(f"verdicts:   agree in {agree}/{rec.n_done} done task(s)")
    for task in tasks:
        if task.status == "failed":
            print(f"  FAILED task {task.idx} ({point_text(task.point)}): {squeezed(task.message)}")
    table = rec.path / "sweep.parquet"
    print(f"folder:     {rec.path}")
    if table.is_file():
        print(f"table:      {table}")
        print(f"report:     {rec.path / 'report.html'}")
    return EXIT_OK
