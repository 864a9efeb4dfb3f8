"""What the commands of ``valleys`` share: exit codes, the run store, table and line output.

Nothing heavy is imported at module level: torch, pandas and Dask load only when a command
runs, so ``valleys --help`` stays fast.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..errors import ValleysError
    from ..runs import RunStore

EXIT_OK, EXIT_DISAGREES, EXIT_USAGE, EXIT_CRASH, EXIT_UNDECIDED, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130

EPILOG = ("exit status: 0 success / verdict agrees, 1 verdict disagrees, 2 user error, "
          "3 internal error in an experiment, 4 verdict undecided (not covered: no instance "
          "met the theorem's hypotheses; or inconclusive), 130 interrupted. Runs are stored in "
          "--runs-dir, else $VALLEYS_RUNS, else ./runs.")

#: Exit status of a completed run by its run status.
RUN_EXIT = {"passed": EXIT_OK, "failed": EXIT_DISAGREES, "undecided": EXIT_UNDECIDED}


def check_word(check: dict) -> str:
    """``PASS``, ``FAIL`` or the check's undecided status in capitals (``NOT COVERED``, ...).

    Args:
        check: a stored check dict (``passed``, ``status``).

    Returns:
        The word.
    """
    if check.get("passed"):
        return "PASS"
    status = check.get("status") or "failed"
    return "FAIL" if status == "failed" else status.upper()


def store(args: argparse.Namespace, *, read_only: bool | None = False) -> RunStore:
    """The run store of ``--runs-dir`` (else ``$VALLEYS_RUNS``, else ``./runs``).

    Args:
        args: the parsed command line.
        read_only: passed to :class:`~valleys.runs.RunStore` (None: read-only when the folder
            cannot be written).

    Returns:
        The :class:`~valleys.runs.RunStore`.
    """
    from ..runs import RunStore

    return RunStore(getattr(args, "runs_dir", None), read_only=read_only)


def usage(message: str) -> ValleysError:
    """A user error about the command line (exit status 2).

    Args:
        message: what is wrong and how to call the command.

    Returns:
        An :class:`~valleys.errors.InvalidParameterError` to raise.
    """
    from ..errors import InvalidParameterError

    return InvalidParameterError(message)


def check_line(check: dict, kind: bool = False) -> str:
    """One stored check as ``PASS  name: measured ... (expected ..., tolerance ...)``.

    Args:
        check: a stored check dict.
        kind: add the check's kind in brackets after the word.

    Returns:
        The line (``tolerance exact`` when it has none).
    """
    from ..report import format_value

    word = check_word(check)
    if kind:
        word += f" [{check.get('kind', 'evidence')}]"
    tol = format_value(check.get("tolerance"), none="exact")
    return (f"{word}  {check.get('name')}: measured {format_value(check.get('measured'))} "
            f"(expected {format_value(check.get('expected'))}, tolerance {tol})")


def aligned(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Rows as aligned columns; the last column is cut to the terminal width on a TTY.

    Args:
        headers: the column titles.
        rows: rows of cells (each converted with ``str``), as many as ``headers``.

    Returns:
        The header line and one line per row, columns separated by two spaces.
    """
    table = [tuple(map(str, headers))] + [tuple(map(str, r)) for r in rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(headers) - 1)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r[:-1], widths, strict=True)) + "  " + r[-1]
             for r in table]
    if sys.stdout.isatty():
        cols = shutil.get_terminal_size().columns
        lines = [ln if len(ln) <= cols else ln[: max(cols - 1, 10)] + "…" for ln in lines]
    return [ln.rstrip() for ln in lines]


_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")


def clean_line(text: str) -> str:
    """``text`` on one line, without ANSI escape sequences or other control characters.

    Args:
        text: any text (converted with ``str``).

    Returns:
        The text with non-printable characters as spaces and whitespace runs collapsed.
    """
    text = _ANSI.sub("", str(text))
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


def squeezed(text: str | None) -> str:
    """``text`` on one line: runs of whitespace (newlines included) become one space.

    Args:
        text: any text, or None (empty).

    Returns:
        The squeezed text.
    """
    return " ".join(str(text or "").split())


def is_sweep_id(text: str) -> bool:
    """Whether a command-line id names a sweep.

    Args:
        text: a run or sweep id (or prefix).

    Returns:
        True if it starts with the sweep prefix.
    """
    from ..runs.sweep_spec import SWEEP_PREFIX

    return str(text).startswith(SWEEP_PREFIX)


def count(text: str) -> int:
    """An argument type: an integer >= 0.

    Args:
        text: the command-line value.

    Returns:
        The integer.

    Raises:
        argparse.ArgumentTypeError: if it is not an integer or is negative.
    """
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value
