"""``valleys sweep NAME``: run an experiment (or analyze) over a grid of parameters and seeds.

Nothing heavy is imported at module level: torch, pandas and Dask load only when the
command runs, so ``valleys --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from .._deprecations import moved_names
from .common import EXIT_DISAGREES, EXIT_OK, count, squeezed, store

HELP = "run an experiment (or analyze) over a grid of parameters and seeds"


def add_command(add) -> None:
    """Register ``sweep`` through :func:`valleys.cli.build_parser`'s ``add``.

    Args:
        add: ``add(name, handler, help)``, which creates the subcommand's parser (with the
            common options) and returns it.
    """
    sweep = add("sweep", cmd_sweep, HELP)
    sweep.add_argument("name", metavar="NAME",
                       help="experiment name (see 'valleys list'), or 'analyze' with --set "
                            "model=SPEC data=FILE|NAME and a grid over its options")
    sweep.add_argument("--grid", dest="grid", metavar="KEY=V1,V2,...", action="append", default=[],
                       help="a parameter and its values (repeat for a product grid); tuples as "
                            "(8,8),(16,16)")
    sweep.add_argument("--seeds", metavar="SEEDS",
                       help="seeds: a range 0..9 (inclusive) or a list 0,3,7 (default: the "
                            "preset's seed)")
    sweep.add_argument("--quick", action="store_true", help="start from the quick preset")
    sweep.add_argument("--set", dest="assignments", metavar="KEY=VALUE", nargs="+",
                       action="extend", default=[], help="override parameters of every task")
    sweep.add_argument("--workers", type=count, metavar="N",
                       help="local worker processes (default: the number of cores; 0 runs "
                            "the tasks in this process)")
    sweep.add_argument("--threads", type=positive, metavar="T",
                       help="torch threads per task (default: cores // workers locally)")
    sweep.add_argument("--scheduler", metavar="ADDRESS",
                       help="run on a Dask cluster, e.g. tcp://host:8786 (pip install "
                            "'valleys[dist]')")
    sweep.add_argument("--connect-timeout", type=seconds, metavar="S",
                       help="seconds to wait for the scheduler (default: 10, "
                            "valleys.runs.executors.DEFAULT_CONNECT_TIMEOUT_S)")
    sweep.add_argument("--worker-timeout", type=seconds, metavar="S",
                       help="seconds to wait for a first worker to join the scheduler "
                            "(default: 60, valleys.runs.executors.DEFAULT_WORKER_TIMEOUT_S)")
    sweep.add_argument("--retry-failed", action="store_true",
                       help="rerun the tasks that failed in an earlier attempt of this sweep")


def cmd_sweep(args: argparse.Namespace) -> int:
    """``valleys sweep NAME --grid ... --seeds ...``: validate, run the missing tasks, merge.

    Tasks run on a Dask cluster (``--scheduler``), in local worker processes, or in this
    process (``--workers 0``).

    Args:
        args: the parsed command line of ``valleys sweep``.

    Returns:
        The exit status: 0 when the sweep is complete and every task's verdict agrees,
        else 1.
    """
    from ..runs.executors import (
        DEFAULT_CONNECT_TIMEOUT_S,
        DEFAULT_WORKER_TIMEOUT_S,
        DaskExecutor,
        InlineExecutor,
        LocalPool,
        available_cores,
        connect_scheduler,
    )
    from ..runs.sweep import Sweeps, build_sweep

    spec, tasks = build_sweep(args.name, args.grid, args.seeds, quick=args.quick,
                              fixed=args.assignments)
    if args.scheduler is not None:
        timeout = DEFAULT_CONNECT_TIMEOUT_S if args.connect_timeout is None else args.connect_timeout
        workers_s = DEFAULT_WORKER_TIMEOUT_S if args.worker_timeout is None else args.worker_timeout
        client = connect_scheduler(args.scheduler, timeout, worker_timeout=workers_s,
                                   on_wait=lambda note: print(f"valleys: {note}", file=sys.stderr,
                                                              flush=True))
        executor: Any = DaskExecutor(client, threads=args.threads)
    else:
        workers = available_cores() if args.workers is None else args.workers
        executor = (InlineExecutor(args.threads) if workers == 0
                    else LocalPool(min(workers, len(tasks)), args.threads))
    try:
        sweeps = Sweeps(store(args))

        def started(record, n_todo: int) -> None:
            failed = (f", {record.n_failed} failed before (--retry-failed reruns them)"
                      if record.n_failed else "")
            print(f"sweep {record.sweep_id}: {len(tasks)} task(s), {record.n_done} already "
                  f"stored{failed}, {n_todo} to run on {executor.description}", flush=True)

        record = sweeps.run(spec, tasks, executor, retry_failed=args.retry_failed,
                            on_start=started)
    finally:
        executor.close()
    rows = sweeps.tasks(record.sweep_id)
    agree = sum(1 for t in rows if t.status == "done" and t.passed)
    if spec.kind == "analyze":
        print(f"{record.sweep_id} {record.status}: {record.summary}; measured (no theorem "
              f"checked) in {record.n_done} done task(s)")
    else:
        print(f"{record.sweep_id} {record.status}: {record.summary}; verdict agrees in "
              f"{agree}/{record.n_done} done task(s)")
    for task in rows:
        if task.status == "failed":
            print(f"  FAILED task {task.idx} ({point_text(task.point)}): {squeezed(task.message)}")
    print(f"table:  {record.path / 'sweep.parquet'}")
    print(f"report: {record.path / 'report.html'}")
    all_good = record.status == "complete" and agree == record.n_tasks
    return EXIT_OK if all_good else EXIT_DISAGREES


def point_text(point: dict[str, Any]) -> str:
    """A task's grid point as ``key=value, ...`` (values as JSON).

    Args:
        point: parameter name → value.

    Returns:
        The text.
    """
    return ", ".join(f"{k}={json.dumps(v)}" for k, v in point.items())


def seconds(text: str) -> float:
    """An argument type: seconds > 0 (finite).

    Args:
        text: the command-line value.

    Returns:
        The number of seconds.

    Raises:
        argparse.ArgumentTypeError: if it is not a finite number > 0.
    """
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds > 0, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected seconds > 0, got {text!r}")
    return value


def positive(text: str) -> int:
    """An argument type: an integer >= 1.

    Args:
        text: the command-line value.

    Returns:
        The integer.

    Raises:
        argparse.ArgumentTypeError: if it is not an integer >= 1.
    """
    value = count(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


#: The names of the old ``valleys.cli_sweep`` that moved to the modules of their commands.
__getattr__ = moved_names(__name__, {"cmd_compare": "valleys.cli.compare", "describe": "valleys.cli.compare",
                                     "cmd_show_sweep": "valleys.cli.show", "sweep_lines": "valleys.cli.runs",
                                     "is_sweep_id": "valleys.cli.common"})
