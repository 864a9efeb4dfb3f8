"""``valleys compare A B``: two runs or sweeps side by side."""

from __future__ import annotations

import argparse
import json

from .common import EXIT_OK, check_word, is_sweep_id, squeezed, store

HELP = "show two runs or sweeps side by side"


def add_command(add) -> None:
    """Register ``compare`` through :func:`valleys.cli.build_parser`'s ``add``.

    Args:
        add: ``add(name, handler, help)``, which creates the subcommand's parser (with the
            common options) and returns it.
    """
    compare = add("compare", cmd_compare, HELP)
    compare.add_argument("first", metavar="RUN_A", help="run or sweep id (or unique prefix)")
    compare.add_argument("second", metavar="RUN_B", help="run or sweep id (or unique prefix)")


def cmd_compare(args: argparse.Namespace) -> int:
    """``valleys compare A B``: parameters, checks and status of two runs/sweeps side by side.

    Args:
        args: the parsed command line (``first``, ``second``).

    Returns:
        The exit status 0.
    """
    runs = store(args, read_only=None)
    left, right = describe(runs, args.first), describe(runs, args.second)
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


def describe(runs, ident: str) -> dict[str, str]:
    """Ordered field -> text of a run or a sweep, for :func:`cmd_compare`.

    Args:
        runs: the :class:`~valleys.runs.RunStore`.
        ident: a run or sweep id (or unique prefix).

    Returns:
        Field name → text: id, kind, experiment, status, summary, wall time, then
        ``param <name>`` and ``check <name>`` entries (a sweep: see :func:`describe_sweep`).
    """
    from ..report import format_value

    if is_sweep_id(ident):
        return describe_sweep(runs, ident)
    details = runs.details(ident)
    rec = details.record
    out = {"id": rec.run_id, "kind": "run", "experiment": rec.experiment, "status": rec.status,
           "summary": rec.verdict_summary or squeezed(rec.message or ""),
           "wall time (s)": "—" if rec.wall_time is None else f"{rec.wall_time:.2f}"}
    for key, value in sorted(details.params.items()):
        out[f"param {key}"] = format_value(value)
    for check in details.verdict.get("checks", []):
        word = check_word(check)
        out[f"check {check.get('name')}"] = f"{format_value(check.get('measured'))} {word}"
    return out


def describe_sweep(runs, ident: str) -> dict[str, str]:
    """Ordered field -> text of a sweep (spec and the bands of its summary).

    Args:
        runs: the :class:`~valleys.runs.RunStore`.
        ident: a sweep id (or unique prefix).

    Returns:
        Field name → text: id, kind, experiment, status, summary, wall time, preset, fixed,
        seeds, ``grid <key>``, and per metric its mean with the 95% t-interval and n (see
        :func:`valleys.report.sweep_report.band`).
    """
    from ..report.sweep_report import band
    from ..runs.sweep import Sweeps

    sweeps = Sweeps(runs, create=False)
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
