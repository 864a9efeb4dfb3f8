"""The ``valleys`` command: list, run and report the registered experiments.

Exit status: 0 when the command succeeded (and, for ``run``/``suite``, every verdict
agrees), 1 when a run completed but its verdict disagrees (or a suite experiment failed),
2 on a user error (bad arguments, unknown experiment or run, bad ``--set``, unwritable run
store, bad data file), 3 when an experiment crashed with an internal error, 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import signal
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from . import __version__
from .cli_analyze import add_analyze_command, clean_line
from .cli_sweep import add_sweep_commands, cmd_show_sweep, is_sweep_id, sweep_lines
from .errors import ValleysError

if TYPE_CHECKING:  # the heavy modules (torch, pandas) are imported by the commands that need them
    from .experiments import Experiment, Params
    from .runs import RunStore

EXIT_OK, EXIT_DISAGREES, EXIT_USAGE, EXIT_CRASH, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

_EPILOG = ("exit status: 0 success / verdict agrees, 1 verdict disagrees, 2 user error, "
           "3 internal error in an experiment, 130 interrupted. Runs are stored in "
           "--runs-dir, else $VALLEYS_RUNS, else ./runs.")


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
    """The argument parser of ``valleys`` and its subcommands."""
    common = _Parser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show full tracebacks on errors")
    common.add_argument("--runs-dir", metavar="DIR", default=argparse.SUPPRESS,
                        help="run store folder (default: $VALLEYS_RUNS or ./runs)")
    parser = _Parser(prog="valleys", parents=[common], epilog=_EPILOG,
                                     description="Measure loss-landscape geometry and check "
                                                 "the landscape theorems of the literature.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, handler: Callable[[argparse.Namespace], int], text: str):
        cmd = sub.add_parser(name, parents=[common], help=text, description=text,
                             epilog=_EPILOG)
        cmd.set_defaults(handler=handler)
        return cmd

    listing = add("list", cmd_list, "list the registered experiments")
    listing.add_argument("--claim", metavar="ID",
                         help="only the experiments checking claim ID (e.g. SS-T3, or SS for a "
                              "document), with the module that defines each")
    run = add("run", cmd_run, "run one experiment and store its result")
    run.add_argument("name", metavar="NAME", nargs="?",
                     help="experiment name (see 'valleys list')")
    _add_preset_options(run)
    run.add_argument("--set", dest="assignments", metavar="KEY=VALUE", nargs="+",
                     action="extend", default=[],
                     help="override parameters (repeatable; NAME may also follow the values)")
    run.add_argument("--seed", type=int, help="random seed (same as --set seed=N)")
    suite = add("suite", cmd_suite, "run every registered experiment")
    _add_preset_options(suite)
    show = add("show", cmd_show, "show a stored run or sweep: parameters, checks, paths")
    show.add_argument("run_id", metavar="RUN_ID", help="run or sweep id (or a unique prefix)")
    runs = add("runs", cmd_runs, "list the stored runs, newest first")
    runs.add_argument("--experiment", metavar="NAME", help="only the runs of one experiment")
    report = add("report", cmd_report, "rebuild the index of all runs and print its path")
    report.add_argument("--all", action="store_true",
                        help="also rebuild every run's report.html from its stored files")
    report.add_argument("--out", metavar="DIR", default=None,
                        help="write the index (and with --all the reports) into DIR instead of "
                             "the run store (works on a store you can only read)")
    report.add_argument("--max-surface-points", type=_points, metavar="N", default=None,
                        help="with --all: the most grid points of the 3-D surfaces on one page "
                             "together (default 250000); larger surfaces are left out with a warning")
    add("version", cmd_version, "print the version of valleys and its dependencies")
    add_sweep_commands(add)

    add_analyze_command(sub, common, _EPILOG)
    return parser


def _add_preset_options(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument("--quick", action="store_true",
                     help="use the quick preset (well under a minute on 2 cores)")


# -- commands ---------------------------------------------------------------------------


def cmd_list(args: argparse.Namespace) -> int:
    """``valleys list``: name, source and claim of every experiment; with ``--claim ID`` name,
    defining module and claim of the experiments whose claim IDs include ID."""
    from .experiments import all_experiments

    experiments = all_experiments()
    if not experiments:
        print("No experiments registered.")
        return EXIT_OK
    claim = getattr(args, "claim", None)
    if claim is None:
        rows = [(e.name, e.source, e.claim) for e in experiments]
        headers = ("NAME", "SOURCE", "CLAIM")
    else:
        rows = [(e.name, e.module, e.claim) for e in experiments if _claims(e.claim, claim)]
        headers = ("NAME", "MODULE", "CLAIM")
        if not rows:
            from .errors import UnknownExperimentError

            raise UnknownExperimentError(f"No experiment checks a claim {claim!r}. Run 'valleys list' "
                                         "to see the claim IDs (before each claim's colon).")
    for line in _aligned(headers, rows):
        print(line)
    return EXIT_OK


def _claims(claim: str, claim_id: str) -> bool:
    """Whether ``claim_id`` (case-insensitive) is one of the IDs before the claim's colon, or
    their leading part up to a dash. An ID without a dash takes the prefix of the ID before it:
    ``COO-T3.2``, ``COO`` match ``COO-T3.1/T3.2: ...``; ``COO-T3`` does not."""
    import re

    ids, prefix = [], ""
    for token in re.split(r"[\s/,()]+", claim.split(":", 1)[0].upper()):
        if "-" in token:
            prefix = token.split("-", 1)[0]
        elif token:
            token = f"{prefix}-{token}"
        ids.append(token)
    wanted = claim_id.upper()
    return any(t == wanted or t.startswith(wanted + "-") for t in ids)


def cmd_run(args: argparse.Namespace) -> int:
    """``valleys run NAME``: run, print the checks, summary and report path.

    The parameters are checked (types and the experiment's LIMITS) before the run store is
    touched: a refused command leaves no run, log or index entry.
    """
    from .experiments import get_experiment

    name, assignments = _split_name(args.name, args.assignments)
    exp = get_experiment(name)
    params = _params(exp, args.quick, assignments, args.seed)
    store = _store(args)
    record = store.execute(exp, params, progress=True,
                           on_start=lambda r: print(f"run {r.run_id}", flush=True))
    details = store.details(record.run_id)
    for check in details.verdict.get("checks", []):
        print("  " + _check_line(check))
    n_warn = len(details.metadata.get("warnings", []))
    if n_warn:
        print(f"  ({n_warn} warning(s) recorded in {record.log_path})")
    print(f"{exp.name} {record.verdict_summary} in {record.wall_time:.1f} s")
    print(f"report: {record.report_path}")
    return EXIT_OK if record.status == "passed" else EXIT_DISAGREES


def cmd_suite(args: argparse.Namespace) -> int:
    """``valleys suite``: every experiment, one line each, then a summary."""
    from .experiments import all_experiments

    store = _store(args)
    experiments = all_experiments()
    width = max((len(e.name) for e in experiments), default=0)
    counts = {"PASS": 0, "FAIL": 0, "ERROR": 0}
    from tqdm import tqdm

    bar = tqdm(experiments, desc="suite", unit="experiment", file=sys.stderr, disable=None,
               leave=False)
    for exp in bar:
        bar.set_postfix_str(exp.name)
        word, text = _suite_one(store, exp, args.quick)
        counts[word] += 1
        tqdm.write(f"{word:<5} {exp.name:<{width}}  {text}", file=sys.stdout)
    bar.close()
    index = store.write_index()
    print(f"suite: {len(experiments)} experiments: {counts['PASS']} agree, "
          f"{counts['FAIL']} disagree, {counts['ERROR']} errors. Index: {index}")
    return EXIT_OK if counts["FAIL"] == counts["ERROR"] == 0 else EXIT_DISAGREES


def cmd_show(args: argparse.Namespace) -> int:
    """``valleys show RUN_ID``: parameters, checks and paths of a stored run."""
    from .report import format_value
    from .report.environment import check_groups

    if is_sweep_id(args.run_id):
        return cmd_show_sweep(args)
    details = _store(args, read_only=None).details(args.run_id)
    rec = details.record
    wall = "running" if rec.wall_time is None else f"{rec.wall_time:.1f} s"
    print(f"run:        {rec.run_id}")
    print(f"experiment: {rec.experiment}")
    print(f"status:     {rec.status}" + (f" — {rec.verdict_summary}" if rec.verdict_summary
                                         else ""))
    if rec.message:
        print(f"message:    {_one_line(rec.message)}")
    print(f"started:    {rec.started}")
    print(f"wall time:  {wall}")
    if details.params:
        print("params:")
        for key, value in sorted(details.params.items()):
            print(f"  {key} = {format_value(value)}")
    for _kind, title, checks in check_groups(details.verdict):
        print(f"{title.split(' — ')[0].lower()} checks ({title.rsplit('(', 1)[-1]}:")
        for check in checks:
            print("  " + _check_line(check))
    if rec.completed:
        print(f"folder:     {rec.path}")
        print(f"report:     {rec.report_path}")
    if rec.log_path.is_file():
        print(f"log:        {rec.log_path}")
    return EXIT_OK


def cmd_runs(args: argparse.Namespace) -> int:
    """``valleys runs``: the stored runs, newest first."""
    store = _store(args, read_only=None)
    records = store.list(args.experiment)
    sweeps = sweep_lines(store, args.experiment)
    if sweeps:
        for line in _aligned(("SWEEP", "STATUS", "SUMMARY"), sweeps):
            print(line)
        print()
    if not records:
        print("No runs stored.")
        return EXIT_OK
    rows = [(r.run_id, r.status, r.verdict_summary or _one_line(r.message or ""))
            for r in records]
    for line in _aligned(("RUN", "STATUS", "SUMMARY"), rows):
        print(line)
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    """``valleys report``: rebuild the index (and with --all every run page)."""
    from .runs.surface_cap import MAX_SURFACE_POINTS

    store = _store(args, read_only=None)
    cap = MAX_SURFACE_POINTS if args.max_surface_points is None else args.max_surface_points
    skipped = store.rebuild_reports(out=args.out, max_surface_points=cap,
                                    warn=lambda note: print(f"valleys: warning: {_one_line(note)}",
                                                            file=sys.stderr)) if args.all else {}
    for run_id, why in skipped.items():
        print(f"valleys: warning: skipped run {run_id}: {_one_line(why)}", file=sys.stderr)
    print(store.write_index(args.out, skip=frozenset(skipped)))
    return EXIT_OK


def cmd_version(args: argparse.Namespace) -> int:
    """``valleys version`` (reads package metadata; imports neither torch nor pandas)."""
    from .runs.provenance import package_versions

    versions = package_versions()
    deps = ", ".join(f"{k} {versions[k]}" for k in ("python", "torch", "numpy", "scipy"))
    print(f"valleys {__version__} ({deps})")
    return EXIT_OK


# -- helpers ----------------------------------------------------------------------------


def _points(text: str) -> int:
    """``--max-surface-points``: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


def _store(args: argparse.Namespace, *, read_only: bool = False) -> RunStore:
    from .runs import RunStore

    return RunStore(getattr(args, "runs_dir", None), read_only=read_only)


def _split_name(name: str | None, assignments: list[str]) -> tuple[str, list[str]]:
    """``valleys run --set k=v NAME``: ``--set`` takes one or more values, so a NAME after
    it lands among them; take it back (the one value without ``=``)."""
    if name is not None:
        return name, assignments
    bare = [a for a in assignments if "=" not in a]
    if len(bare) != 1:
        what = "no experiment name" if not bare else f"several values without '=': {', '.join(bare)}"
        raise _usage(f"run: {what}. Usage: valleys run [--quick] [--set KEY=VALUE ...] NAME")
    return bare[0], [a for a in assignments if "=" in a]


def _usage(message: str) -> ValleysError:
    from .errors import InvalidParameterError

    return InvalidParameterError(message)


def _params(exp: Experiment, quick: bool, assignments: list[str], seed: int | None) -> Params:
    params = exp.params.preset(quick).with_overrides(assignments)
    return params if seed is None else params.replace(seed=seed)  # replace() checks the seed


def _suite_one(store: RunStore, exp: Experiment, quick: bool) -> tuple[str, str]:
    try:
        record = store.execute(exp, exp.params.preset(quick), progress=False)
    except Exception as exc:  # one failing experiment must not stop the suite
        return "ERROR", _one_line(f"{type(exc).__name__}: {exc}")
    word = "PASS" if record.status == "passed" else "FAIL"
    return word, f"{record.verdict_summary} ({record.wall_time:.1f} s) {record.run_id}"


def _check_line(check: dict, kind: bool = False) -> str:
    from .report import format_value

    word = "PASS" if check.get("passed") else "FAIL"
    if kind:
        word += f" [{check.get('kind', 'evidence')}]"
    tol = format_value(check.get("tolerance"), none="exact")
    return (f"{word}  {check.get('name')}: measured {format_value(check.get('measured'))} "
            f"(expected {format_value(check.get('expected'))}, tolerance {tol})")


def _aligned(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Rows as aligned columns; the last column is cut to the terminal width on a TTY."""
    table = [tuple(map(str, headers))] + [tuple(map(str, r)) for r in rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(headers) - 1)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r[:-1], widths, strict=True)) + "  " + r[-1]
             for r in table]
    if sys.stdout.isatty():
        cols = shutil.get_terminal_size().columns
        lines = [ln if len(ln) <= cols else ln[: max(cols - 1, 10)] + "…" for ln in lines]
    return [ln.rstrip() for ln in lines]


def _one_line(text: str) -> str:
    """``text`` on one line, without ANSI escape sequences or other control characters."""
    return clean_line(text)


def _fail(exc: BaseException, status: int, debug: bool, prefix: str = "",
          suffix: str = "") -> int:
    if debug:
        traceback.print_exception(exc)
        suffix = ""
    print(f"valleys: error: {prefix}{_one_line(str(exc))}{suffix}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
