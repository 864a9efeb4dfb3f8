"""The Jinja2 environment of the reports: package templates, autoescape on, value filters."""

from __future__ import annotations

import functools
import json
import math
from datetime import datetime
from typing import Any

import jinja2

from .. import __version__

BADGES = {"passed": "AGREES", "failed": "DISAGREES", "error": "ERROR", "stale": "STALE",
          "interrupted": "INTERRUPTED", "running": "RUNNING"}
"""Badge text of each run status."""

FLOAT_DIGITS = 6
"""Significant digits of floats shown in reports (the stored files keep full precision)."""


@functools.cache
def environment() -> jinja2.Environment:
    """The shared environment; every ``{{ value }}`` is HTML-escaped."""
    env = jinja2.Environment(loader=jinja2.PackageLoader("valleys.report", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters.update(fmt=format_value, badge_text=badge_text, short_time=short_time,
                       seconds=format_seconds)
    env.globals["valleys_version"] = __version__
    return env


def format_value(value: Any, none: str = "—") -> str:
    """A short text for a measured/expected/parameter value (escaped by the template)."""
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
    """AGREES / DISAGREES / ERROR / ... for a run status."""
    return BADGES.get(status, str(status).upper())


def short_time(iso: str | None) -> str:
    """``YYYY-mm-dd HH:MM:SS`` of an ISO time."""
    if not iso:
        return "—"
    try:
        return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return str(iso)


def format_seconds(seconds: float | None) -> str:
    """``12.3 s`` (or a dash while running)."""
    return "—" if seconds is None else f"{seconds:.1f} s"
