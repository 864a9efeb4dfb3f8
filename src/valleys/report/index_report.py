"""The store's ``index.html``: every run, newest first, with verdict badges and links."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from .environment import badge_text, environment


def render_index(runs: Sequence[Any], sweeps: Sequence[Any] = ()) -> str:
    """The HTML of the index page.

    Args:
        runs: run records (e.g. :class:`valleys.runs.RunRecord`), shown in the given
            order; each needs ``run_id``, ``experiment``, ``status``, ``started``,
            ``wall_time``, ``verdict_summary``, ``message`` and ``completed``. Completed
            runs link to ``<run_id>/report.html`` relative to the index.
        sweeps: sweep records (:class:`valleys.runs.sweep_catalogue.SweepRecord`), listed
            above the runs, each linking to ``<sweep_id>/report.html``.

    Returns:
        A complete HTML document.
    """
    counts = Counter(badge_text(r.status) for r in runs)
    text = ", ".join(f"{n} {word.lower()}" for word, n in sorted(counts.items()))
    summary = f"{len(runs)} runs" + (f": {text}." if text else ".")
    return environment().get_template("index.html").render(runs=list(runs), counts=summary,
                                                         sweeps=list(sweeps))
