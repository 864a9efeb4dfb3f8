"""A run's ``report.html``: verdict, parameters, figures, data and provenance."""

from __future__ import annotations

import re
from typing import Any

import markupsafe
import pandas as pd

from .environment import environment
from .interactive import plotly_src, surface_divs
from .page import RunPage

MAX_TABLE_ROWS = 200
"""Rows of the result table shown on the page (the Parquet file holds them all)."""

THRESHOLD_WORDS = frozenset({"tol", "atol", "rtol", "tolerance", "threshold", "thresh", "eps",
                             "epsilon", "tau", "gap", "cutoff", "alpha", "delta", "margin"})
"""Parameters with one of these words in their ``_``-separated name are listed as thresholds
in the provenance table (every parameter is also in the parameters table)."""


def render_run(page: RunPage) -> str:
    """The HTML of one run's report page.

    Every string coming from the experiment, its parameters or its data is escaped
    (Jinja2 autoescape; ``DataFrame.to_html(escape=True)`` for the table).

    Args:
        page: what to show.

    Returns:
        A complete HTML document. Figures are relative ``<img>`` links, so the page must
        sit in the run folder next to ``figures/``; interactive surfaces load the plotly
        bundle from ``../_assets/`` (see :mod:`.interactive`), which the run store writes.
    """
    template = environment().get_template("run.html")
    surfaces = surface_divs(page.surfaces)
    return template.render(page=page, table_html=_table_html(page),
                           table_note=_table_note(page), provenance=provenance_rows(page),
                           headline=headline_rows(page), surfaces=surfaces,
                           plotly_src=plotly_src() if surfaces else "")


def headline_rows(page: RunPage) -> list[tuple[str, Any]]:
    """(name, value) of the run's headline numbers, shown first on its page: the
    experiment metadata's ``summary`` dict (``valleys analyze``: loss, λ_max, trace, ...),
    its scalar entries only; empty when there is none.

    Args:
        page: the run's :class:`~valleys.runs.pages.RunPage`.

    Returns:
        ``(name, value)`` pairs, values None, bool, int, float or str.
    """
    result = page.metadata.get("result")
    summary = result.get("summary") if isinstance(result, dict) else None
    if not isinstance(summary, dict):
        return []
    return [(str(k), v) for k, v in summary.items() if v is None or isinstance(v, bool | int | float | str)]


def provenance_rows(page: RunPage) -> list[tuple[str, Any]]:
    """(key, value) rows: seed, wall time, thresholds, versions, host, experiment metadata.

    Args:
        page: the run's :class:`~valleys.runs.pages.RunPage`.

    Returns:
        ``(key, value)`` pairs in display order; nested dicts are flattened to dotted keys.
    """
    meta = page.metadata
    rows: list[tuple[str, Any]] = [("seed", page.params.get("seed")),
                                   ("wall time (s)", meta.get("wall_time_s"))]
    thresholds = {k: v for k, v in page.params.items() if is_threshold_name(k)}
    if thresholds:
        rows.append(("thresholds (parameters)", thresholds))
    rows += _flatten("version", meta.get("versions", {}))
    rows += _flatten("host", meta.get("host", {}))
    rows += _flatten("experiment", meta.get("result", {}))
    if meta.get("warnings"):
        rows.append(("warnings", meta["warnings"]))
    return rows


def is_threshold_name(name: str) -> bool:
    """Whether a parameter name reads as a tolerance or threshold (see THRESHOLD_WORDS).

    Args:
        name: a parameter name (split into words at underscores and non-word characters).

    Returns:
        True if one of its words is in ``THRESHOLD_WORDS``.
    """
    return any(word in THRESHOLD_WORDS for word in re.split(r"[_\W]+", name.lower()))


def _flatten(prefix: str, data: Any) -> list[tuple[str, Any]]:
    if not isinstance(data, dict):
        return [(prefix, data)]
    rows: list[tuple[str, Any]] = []
    for key in sorted(data, key=str):
        rows += _flatten(f"{prefix}.{key}", data[key])
    return rows


def _table_html(page: RunPage) -> markupsafe.Markup:
    table = page.table.head(MAX_TABLE_ROWS)
    show_index = table.index.name is not None or not _is_default_index(table)
    html = table.to_html(escape=True, index=show_index, border=0, na_rep="NaN",
                         float_format=lambda x: f"{x:.6g}", max_cols=None)
    return markupsafe.Markup(html)  # to_html(escape=True) escaped every cell


def _table_note(page: RunPage) -> str:
    n, m = page.table.shape
    shown = min(n, MAX_TABLE_ROWS)
    return (f"{n} rows × {m} columns; showing the first {shown}. "
            "The full table is results.parquet in the run folder.")


def _is_default_index(table: pd.DataFrame) -> bool:
    return table.index.equals(pd.RangeIndex(len(table)))
