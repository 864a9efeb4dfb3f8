"""``valleys analyze``: measure a user's own model and store the run like an experiment's.

Nothing here imports torch until the command runs, so the argument parser stays light.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import sys
import warnings

from .common import EXIT_OK, clean_line

# valleys.analysis imports torch, so the parser states these defaults of it in words
# (tests check they agree); None leaves the default to AnalyzeParams.
_DEFAULT_DATA_SEED_TEXT = "0"
_MAX_PLANE_POINTS_TEXT = "40401 = 201 x 201"

ANALYZE_HELP = "measure your own model (factory + weights, or a .pt2 export) on your data"

_FLAGS_TEXT = """what to compute (default when none is given: --eigs 5 --trace):
  --eigs K         top and bottom K Hessian eigenpairs with absolute error bounds
  --trace          Hutch++ estimate of the Hessian trace with its standard error
  --density        spectral density by stochastic Lanczos quadrature (figure)
  --nullity        zero eigenvalues of the dense Hessian, with threshold and gap (d <= --max-dense)
  --classify       critical-point class: minimum, saddle, degenerate, not critical (dense)
  --plane GRID     filter-normalised 2-D surface around the weights, GRID = min:max:num
  --interpolate W  loss on the straight line to a second checkpoint W, and its barrier
  --certify        with --interpolate: certify the line (exact / bound / sampled)
  --connect W      a Bezier curve to a second checkpoint W and its barrier"""


def add_command(sub, common: argparse.ArgumentParser, epilog: str) -> argparse.ArgumentParser:
    """Register ``valleys analyze`` on the subparsers ``sub`` (its own help formatter).

    Args:
        sub: the subparsers action of the ``valleys`` parser.
        common: the parser of the options every command shares (``--debug``, ``--runs-dir``).
        epilog: the text shown after the command's help.

    Returns:
        The ``analyze`` parser.
    """
    cmd = sub.add_parser("analyze", parents=[common], help=ANALYZE_HELP, description=ANALYZE_HELP,
                         epilog=_FLAGS_TEXT + "\n\n" + epilog,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    cmd.set_defaults(handler=cmd_analyze)
    src = cmd.add_argument_group("model and data")
    src.add_argument("--model", required=True, metavar="SPEC",
                     help="PKG.MODULE:FACTORY, path/to/file.py:FACTORY, or an exported model.pt2")
    src.add_argument("--weights", metavar="CKPT",
                     help="state dict (.pt/.pth, loaded with weights_only=True) or .safetensors")
    src.add_argument("--data", required=True, metavar="FILE|NAME",
                     help="a .npz/.csv file, or a built-in data set (digits, mnist1d, ...)")
    src.add_argument("--task", default=None, choices=("classification", "regression"),
                     help="how a data file's targets are read: integer class labels "
                          "(classification, the default) or real values (regression)")
    src.add_argument("--label", default="y", metavar="NAME",
                     help="the target array (.npz) or column (.csv) of a data file (default y)")
    src.add_argument("--loss", default="ce", help="loss name: ce, mse, hinge, logistic, ... (default ce)")
    src.add_argument("--output", default="", metavar="INDEX|KEY",
                     help="for a model returning a tuple/list or dict: the item the loss takes "
                          "(e.g. 0 or logits)")
    src.add_argument("--n", type=int, default=0, metavar="N", help="analyse a random subset of N samples")
    src.add_argument("--data-seed", type=int, default=None, metavar="S",
                     help=f"seed of the --n subset (default {_DEFAULT_DATA_SEED_TEXT}; --seed leaves the "
                          "subset alone)")
    src.add_argument("--seed", type=int, default=0,
                     help="seed of every random draw of the measurements (probes, directions)")
    src.add_argument("--input-shape", default="", metavar="C,H,W",
                     help="reshape each input, e.g. 1,8,8 for a CNN on digits")
    src.add_argument("--batch-size", type=int, default=0, metavar="B",
                     help="stream the data in batches of B samples (default: one full batch)")
    src.add_argument("--dtype", default="float64", choices=("float64", "float32"))
    src.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    what = cmd.add_argument_group("what to compute")
    what.add_argument("--eigs", type=int, metavar="K", help="top and bottom K eigenpairs")
    what.add_argument("--eig-tol", type=float, default=0.0, metavar="TOL",
                      help="eigensolver tolerance (default: follows the dtype)")
    what.add_argument("--trace", action="store_true", help="Hutch++ trace with standard error")
    what.add_argument("--trace-matvecs", type=int, default=100, metavar="M")
    what.add_argument("--density", action="store_true", help="SLQ spectral density figure")
    what.add_argument("--nullity", action="store_true", help="dense nullity with threshold and gap")
    what.add_argument("--classify", action="store_true", help="critical-point class (dense)")
    what.add_argument("--plane", metavar="GRID", default="",
                      help="2-D surface on min:max:num (write --plane=-1:1:21 when min is negative)")
    what.add_argument("--interpolate", metavar="OTHER_WEIGHTS", default="",
                      help="straight line to a second checkpoint")
    what.add_argument("--certify", action="store_true", help="certify the --interpolate line")
    what.add_argument("--connect", metavar="OTHER_WEIGHTS", default="",
                      help="Bezier path to a second checkpoint")
    what.add_argument("--max-dense", type=int, default=3000, metavar="D",
                      help="largest d for --nullity/--classify (default 3000)")
    what.add_argument("--max-plane-points", type=int, default=None, metavar="P",
                      help=f"largest number of --plane grid points, num x num (default {_MAX_PLANE_POINTS_TEXT})")
    cmd.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    return cmd


def cmd_analyze(args: argparse.Namespace) -> int:
    """Check everything, run, store, and print a short table (or JSON).

    Without a measurement option the analysis measures the top 5 eigenvalues and the trace.

    Args:
        args: the parsed command line of ``valleys analyze``.

    Returns:
        The exit status, 0 once the analysis is stored (bad input raises a ValleysError).
    """
    from ..analysis import AnalyzeParams, run_stored
    from ..runs import RunStore

    chosen = any((args.eigs is not None, args.trace, args.density, args.nullity, args.classify,
                  args.plane, args.interpolate, args.connect))
    params = AnalyzeParams(
        model=args.model, weights=args.weights or "", data=args.data, n=args.n,
        input_shape=args.input_shape, loss=args.loss, dtype=args.dtype, device=args.device,
        batch_size=args.batch_size, eigs=(args.eigs or 0) if chosen else 5, eig_tol=args.eig_tol,
        trace=args.trace or not chosen, trace_matvecs=args.trace_matvecs, density=args.density,
        nullity=args.nullity, classify=args.classify, plane=args.plane,
        interpolate=args.interpolate, certify=args.certify, connect=args.connect,
        max_dense=args.max_dense, seed=args.seed, task=args.task or "", label=args.label,
        output=args.output,
        **{k: v for k, v in (("data_seed", args.data_seed), ("max_plane_points", args.max_plane_points))
           if v is not None})
    with captured_warnings() as caught:  # an error is one line: warnings are shown on success only
        runs_dir = getattr(args, "runs_dir", None)
        record, result = run_stored(params, lambda: RunStore(runs_dir), progress=None)
    for line in caught.lines():
        print(f"valleys: warning: {line}", file=sys.stderr)
    summary = result.metadata.get("summary", {})
    notes = result.metadata.get("notes", [])
    if args.json:
        out = {"run_id": record.run_id, "status": record.status, "folder": str(record.path),
               "summary": summary, "notes": notes, "params": params.to_dict()}
        json.dump(out, sys.stdout, indent=1, default=str)
        print()
        return EXIT_OK
    print(f"run {record.run_id}")
    for note in notes:
        print(f"  note: {note}")
    width = max((len(k) for k in summary), default=0)
    for key, value in summary.items():
        print(f"  {key:<{width}}  {_fmt(value)}")
    print(f"report: {record.report_path}")
    return EXIT_OK


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}" if math.isfinite(value) else str(value)
    return str(value)


class _Caught(logging.Handler):
    """Python warnings and torch's log records of one command, kept as clean lines."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(clean_line(record.getMessage()))

    def lines(self) -> list[str]:
        return list(dict.fromkeys(line for line in self.records if line))


@contextlib.contextmanager
def captured_warnings():
    """Keep Python warnings and torch's log records from reaching stderr.

    torch's loggers (``torch`` and its children with their own handlers, such as
    ``torch._export.non_strict_utils``) write to stderr directly; for the duration their
    handlers are swapped for one that records. Yields that handler: its
    :meth:`~_Caught.lines` are the caught messages (deduplicated, one clean line each),
    for the caller to show when the command succeeds.
    """
    caught = _Caught()
    loggers = [logging.getLogger("torch")] + [
        lg for name, lg in list(logging.Logger.manager.loggerDict.items())
        if name.startswith("torch.") and isinstance(lg, logging.Logger) and lg.handlers]
    saved = [(lg, list(lg.handlers), lg.propagate) for lg in loggers]
    for lg in loggers:
        lg.handlers, lg.propagate = [caught], False
    try:
        with warnings.catch_warnings(record=True) as found:
            warnings.simplefilter("default")
            try:
                yield caught
            finally:
                caught.records.extend(clean_line(f"{w.category.__name__}: {w.message}") for w in found)
    finally:
        for lg, handlers, propagate in saved:
            lg.handlers, lg.propagate = handlers, propagate
