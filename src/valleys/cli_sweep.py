"""The ``valleys sweep`` and ``valleys compare`` commands (and the sweep parts of show/runs).

Nothing heavy is imported at module level: torch, pandas and Dask load only when a
command runs, so ``valleys --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

EXIT_OK, EXIT_DISAGREES = 0, 1


def add_sweep_commands(add: Callable[..., argparse.ArgumentParser]) -> None:
    """Register ``sweep`` and ``compare`` through ``cli.build_parser``'s ``add``."""
    sweep = add("sweep", cmd_sweep, "run an experiment (or analyze) over a grid of parameters and seeds")
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
    sweep.add_argument("--workers", type=_count, metavar="N",
                       help="local worker processes (default: the number of cores; 0 runs "
                            "the tasks in this process)")
    sweep.add_argument("--threads", type=_positive, metavar="T",
                       help="torch threads per task (default: cores // workers locally)")
    sweep.add_argument("--scheduler", metavar="ADDRESS",
                       help="run on a Dask cluster, e.g. tcp://host:8786 (pip install "
                            "'valleys[dist]')")
    sweep.add_argument("--connect-timeout", type=_seconds, metavar="S",
                       help="seconds to wait for the scheduler (default: 10, "
                            "valleys.runs.executors.DEFAULT_CONNECT_TIMEOUT_S)")
    sweep.add_argument("--worker-timeout", type=_seconds, metavar="S",
                       help="seconds to wait for a first worker to join the scheduler "
                            "(default: 60, valleys.runs.executors.DEFAULT_WORKER_TIMEOUT_S)")
    sweep.add_argument("--retry-failed", action="store_true",
                       help="rerun the tasks that failed in an earlier attempt of this sweep")
    compare = add("compare", cmd_compare, "show two runs or sweeps side by side")
    compare.add_argument("first", metavar="RUN_A", help="run or sweep id (or unique prefix)")
    compare.add_argument("second", metavar="RUN_B", help="run or sweep id (or unique prefix)")


def is_sweep_id(text: str) -> bool:
    """Whether a command-line id names a sweep."""
    from .runs.sweep_spec import SWEEP_PREFIX

    return str(text).startswith(SWEEP_PREFIX)


# -- commands ---------------------------------------------------------------------------


def cmd_sweep(args: argparse.Namespace) -> int:
    """``valleys sweep NAME --grid ... --seeds ...``: validate, run the missing tasks, merge."""
    from .runs import RunStore
    from .runs.executors import (
        DEFAULT_CONNECT_TIMEOUT_S,
        DEFAULT_WORKER_TIMEOUT_S,
        DaskExecutor,
        InlineExecutor,
        LocalPool,
        available_cores,
        connect_scheduler,
    )
    from .runs.sweep import Sweeps, build_sweep

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
        store = RunStore(getattr(args, "runs_dir", None))
        sweeps = Sweeps(store)

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
            print(f"  FAILED task {task.idx} ({_point(task.point)}): {_one_line(task.message)}")
    print(f"table:  {record.path / 'sweep.parquet'}")
    print(f"report: {record.path / 'report.html'}")
    all_good = record.status == "complete" and agree == record.n_tasks
    return EXIT_OK if all_good else EXIT_DISAGREES


def cmd_show_sweep(args: argparse.Namespace) -> int:
    """``valleys show SWEEP_ID``: spec, task counts, failed tasks and paths of a sweep."""
    from .runs import RunStore
    from .runs.sweep import Sweeps

    sweeps = Sweeps(RunStore(getattr(args, "runs_dir", None), read_only=None), create=False)
    rec = sweeps.get(args.run_id)
    tasks = sweeps.tasks(rec.sweep_id)
    wall = "running" if rec.wall_time is None else f"{rec.wall_time:.1f} s"
    print(f"sweep:      {rec.sweep_id}")
    print(f"{rec.kind + ':':<12}{rec.name}")
    print(f"status:     {rec.status} — {rec.summary}")
    if rec.message:
        print(f"message:    {_one_line(rec.message)}")
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
            print(f"  FAILED task {task.idx} ({_point(task.point)}): {_one_line(task.message)}")
    table = rec.path / "sweep.parquet"
    print(f"folder:     {rec.path}")
    if table.is_file():
        print(f"table:      {table}")
        print(f"report:     {rec.path / 'report.html'}")
    return EXIT_OK


def sweep_lines(store, experiment: str | None = None) -> list[tuple[str, str, str]]:
    """(id, status, summary) rows of the store's sweeps for ``valleys runs``."""
    from .runs.sweep import Sweeps

    records = Sweeps(store, create=False).list()
    return [(r.sweep_id, r.status, r.summary + (f" — {_one_line(r.message)}" if r.message else ""))
            for r in records if experiment is None or r.name == experiment]


def cmd_compare(args: argparse.Namespace) -> int:
    """``valleys compare A B``: parameters, checks and status of two runs/sweeps side by side."""
    from .runs import RunStore

    store = RunStore(getattr(args, "runs_dir", None), read_only=None)
    left, right = describe(store, args.first), describe(store, args.second)
    keys = list(left)
    keys += [k for k in right if k not in left]
    rows = []
    for key in keys:
        a, b = left.get(key, "—"), right.get(key, "—")
        rows.append(("*" if a != b else "", key, a, b))
    width = [max(len(r[i]) for r in rows + [("", "FIELD", "A", "B")]) for i in range(3)]
    print(f"{'':<{width[0]}} {'FIELD':<{width[1]}}  {'A':<{width[2]}}  B")
    for mark, key, a, b in rows:
        print(f"{mark:<{width[0]}} {key:<{width[1]}}  {a:<{width[2]}}  {b}".rstrip())
    n_diff = sum(1 for r in rows if r[0])
    print(f"({n_diff} of {len(rows)} fields differ, marked *)")
    return EXIT_OK


def describe(store, ident: str) -> dict[str, str]:
    """Ordered field -> text of a run or a sweep, for :func:`cmd_compare`."""
    from .report import format_value

    if is_sweep_id(ident):
        return _describe_sweep(store, ident)
    details = store.details(ident)
    rec = details.record
    out = {"id": rec.run_id, "kind": "run", "experiment": rec.experiment, "status": rec.status,
           "summary": rec.verdict_summary or _one_line(rec.message or ""),
           "wall time (s)": "—" if rec.wall_time is None else f"{rec.wall_time:.2f}"}
    for key, value in sorted(details.params.items()):
        out[f"param {key}"] = format_value(value)
    for check in details.verdict.get("checks", []):
        word = "PASS" if check.get("passed") else "FAIL"
        out[f"check {check.get('name')}"] = f"{format_value(check.get('measured'))} {word}"
    return out


def _describe_sweep(store, ident: str) -> dict[str, str]:
    from .report.sweep_report import band
    from .runs.sweep import Sweeps

    sweeps = Sweeps(store, create=False)
    rec = sweeps.get(ident)
    out = {"id": rec.sweep_id, "kind": "sweep", "experiment": rec.name, "status": rec.status,
           "summary": rec.summary,
           "wall time (s)": "—" if rec.wall_time is None else f"{rec.wall_time:.2f}",
           "preset": "quick" if rec.spec.get("quick") else "full",
           "fixed": " ".join(rec.spec.get("fixed", [])) or "—",
           "seeds": ",".join(map(str, rec.spec.get("seeds", [])))}
    for key, values in rec.spec.get("grid", []):
        out[f"grid {key}"] = ", ".join(json.dumps(v) for v in values)
    if (rec.path / "summary.parquet").is_file():
        summary = sweeps.summary(rec.sweep_id)
        for column in summary.columns:
            if column == "passed" or str(column).startswith(("check:", "mean:")):
                mean, lo, hi, n = band(summary[column].astype(float).tolist())
                label = "pass fraction" if column == "passed" else str(column)
                out[label] = f"{mean:.6g} [{lo:.6g}, {hi:.6g}] (n={n})"
    return out


def _point(point: dict[str, Any]) -> str:
    return ", ".join(f"{k}={json.dumps(v)}" for k, v in point.items())


def _one_line(text: str | None) -> str:
    return " ".join(str(text or "").split())


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds > 0, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected seconds > 0, got {text!r}")
    return value


def _positive(text: str) -> int:
    value = _count(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value
