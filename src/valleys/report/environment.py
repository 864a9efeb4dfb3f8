"""The Jinja2 environment of the reports: package templates, autoescape on, value filters."""

from __future__ import annotations

import functools
import json
import math
from datetime import datetime
from typing import Any

import jinja2

from .. import __version__

BADGES = {"passed": "AGREES", "failed": "DISAGREES", "undecided": "UNDECIDED", "error": "ERROR", "stale": "STALE",
          "interrupted": "INTERRUPTED", "running": "RUNNING", "user-error": "USER ERROR",
          "crashed": "CRASHED", "measured": "MEASURED"}
"""Badge text of each run status (``error`` runs show as USER ERROR or CRASHED, see
:func:`badge_class`)."""

ANALYZE_PREFIX = "analyze-"
"""Experiment names of ``valleys analyze`` runs (badge MEASURED: no theorem is checked)."""

SHORT_VALUE = 36
"""Characters of a measured/expected value shown in a verdict table; longer values are
abbreviated with the full text on hover (``title``)."""

SHORT_SUMMARY = 160
"""Characters of a run's summary or error message shown in the index (and of a failed
task's message on a sweep page); longer texts open in full on click (``<details>``)."""

KIND_TITLES = {"hypothesis": "Hypotheses — checked on the generated instances (outside: not covered)",
               "evidence": "Evidence — could fail if the theorem were false",
               "consistency": "Consistency — identities and self-checks of the code",
               "erratum": "Errata — measured deviations from the seed text"}
"""Headings of the groups of checks, in display order."""

FLOAT_DIGITS = 6
"""Significant digits of floats shown in reports (the stored files keep full precision)."""


@functools.cache
def environment() -> jinja2.Environment:
    """The shared environment; every ``{{ value }}`` is HTML-escaped.

    Returns:
        The cached :class:`jinja2.Environment` of the report templates, with the filters
        ``fmt``, ``badge_text``, ``short_time``, ``seconds``, ``short``, ``badge_class``,
        ``check_groups`` and the globals ``valleys_version``, ``short_summary``.
    """
    env = jinja2.Environment(loader=jinja2.PackageLoader("valleys.report", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters.update(fmt=format_value, badge_text=badge_text, short_time=short_time,
                       seconds=format_seconds, short=short_value, badge_class=badge_class,
                       check_groups=check_groups)
    env.globals["valleys_version"] = __version__
    env.globals["short_summary"] = SHORT_SUMMARY
    return env


def format_value(value: Any, none: str = "—") -> str:
    """A short text for a measured/expected/parameter value (escaped by the template).

    Args:
        value: the value: None, bool, float (``FLOAT_DIGITS`` significant digits), list or
            tuple (each entry formatted), dict (sorted JSON) or anything with a ``str``.
        none: the text for None.

    Returns:
        The text.
    """
    if value is None:
        return none
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return f"{value:.{FLOAT_DIGITS}g}" if math.isfinite(value) else str(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def badge_text(status: str) -> str:
    """AGREES / DISAGREES / ERROR / ... for a run status (or a :func:`badge_class`).

    Args:
        status: a run status or badge class.

    Returns:
        Its text from ``BADGES``, or the status in capitals when it has none.
    """
    return BADGES.get(status, str(status).upper())


def badge_class(run: Any) -> str:
    """The badge of a run record: its status, except that an ``error`` run is a
    ``user-error`` (a ValleysError: bad input the user can fix) or ``crashed`` (anything
    else: a bug), told apart by the exception name that starts its message.

    A passed ``valleys analyze`` run (which checks no theorem) is ``measured``.

    Args:
        run: a run record (anything with ``status``, and optionally ``experiment`` and
            ``message`` attributes) or a bare status string.

    Returns:
        The badge's CSS class: the status, ``"measured"``, ``"user-error"`` or ``"crashed"``.
    """
    status = getattr(run, "status", run)
    if status == "passed" and str(getattr(run, "experiment", "")).startswith(ANALYZE_PREFIX):
        return "measured"  # an analysis of a user's model checks no theorem
    if status != "error":
        return str(status)
    name = str(getattr(run, "message", "") or "").split(":", 1)[0].strip()
    return "user-error" if name in _user_error_names() else "crashed"


@functools.cache
def _user_error_names() -> frozenset[str]:
    from ..errors import ValleysError

    names, todo = set(), [ValleysError]
    while todo:
        cls = todo.pop()
        names.add(cls.__name__)
        todo += cls.__subclasses__()
    return frozenset(names)


def short_value(value: Any, limit: int = SHORT_VALUE) -> str:
    """``format_value`` cut to ``limit`` characters (with an ellipsis) for narrow cells.

    Args:
        value: any value :func:`format_value` accepts.
        limit: the most characters of the result.

    Returns:
        The text, at most ``limit`` characters long.
    """
    text = format_value(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def check_groups(verdict: dict[str, Any]) -> list[tuple[str, str, list[dict[str, Any]]]]:
    """The checks of a verdict dict grouped by kind: (kind, heading, checks), in the order
    hypothesis, evidence, consistency, erratum; empty groups are left out (old runs: evidence).

    Args:
        verdict: a verdict as stored (a dict with a ``checks`` list of check dicts), or
            None/empty.

    Returns:
        A list of ``(kind, heading, checks)``; the heading is the kind's title with
        ``(passed/total passed)``.
    """
    checks = verdict.get("checks", []) if verdict else []
    groups = []
    for kind, title in KIND_TITLES.items():
        members = [c for c in checks if c.get("kind", "evidence") == kind]
        if members:
            passed = sum(bool(c.get("passed")) for c in members)
            groups.append((kind, f"{title} ({passed}/{len(members)} passed)", members))
    return groups


def short_time(iso: str | None) -> str:
    """``YYYY-mm-dd HH:MM:SS`` of an ISO time.

    Args:
        iso: an ISO 8601 time text, or None/empty.

    Returns:
        The time without fraction and zone, ``"—"`` for no time, or the text itself when it
        is not an ISO time.
    """
    if not iso:
        return "—"
    try:
        return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return str(iso)


def format_seconds(seconds: float | None) -> str:
    """``12.3 s`` (or a dash while running).

    Args:
        seconds: a duration in seconds, or None (still running).

    Returns:
        The duration with one decimal and the unit, or ``"—"``.
    """
    return "—" if seconds is None else f"{seconds:.1f} s"
