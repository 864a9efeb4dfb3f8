"""The store's ``index.html``: every run, newest first, with verdict badges and links."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from typing import Any
from urllib.parse import quote

from .environment import badge_class, environment

_WORDS = {"passed": ("agrees", "agree"), "measured": ("analysis", "analyses"), "failed": ("disagrees", "disagree"),
          "undecided": ("undecided", "undecided"),
          "user-error": ("user error", "user errors"), "crashed": ("crash", "crashes"),
          "stale": ("stale", "stale"), "interrupted": ("interrupted", "interrupted"),
          "running": ("running", "running")}


def index_summary(runs: Sequence[Any]) -> str:
    """``"12 runs: 3 agree, 1 disagrees, 2 user errors, 1 crash."`` (plural-aware).

    Args:
        runs: run records (anything :func:`~valleys.report.environment.badge_class` accepts).

    Returns:
        One sentence: the number of runs and, per badge that occurs, its count.
    """
    counts = Counter(badge_class(r) for r in runs)
    order = list(_WORDS) + sorted(set(counts) - set(_WORDS))
    parts = []
    for key in order:
        n = counts.get(key, 0)
        if n:
            one, many = _WORDS.get(key, (key, key))
            parts.append(f"{n} {one if n == 1 else many}")
    head = f"{len(runs)} run" + ("" if len(runs) == 1 else "s")
    return head + (f": {', '.join(parts)}." if parts else ".")


def render_index(runs: Sequence[Any], *, links: Mapping[str, str] | None = None,
                 broken: Collection[str] = (), sweeps: Sequence[Any] = (),
                 sweep_links: Mapping[str, str | None] | None = None) -> str:
    """The HTML of the index page.

    Args:
        runs: run records (e.g. :class:`valleys.runs.RunRecord`), shown in the given
            order; each needs ``run_id``, ``experiment``, ``status``, ``started``,
            ``wall_time``, ``verdict_summary``, ``message`` and ``completed``. Completed
            runs link to ``<run_id>/report.html`` relative to the index.
        links: run id -> link target, overriding that default (an index written outside
            the store).
        broken: run ids whose folder is damaged: shown without a link, marked damaged.
        sweeps: sweep records (:class:`valleys.runs.sweep_catalogue.SweepRecord`), listed
            above the runs, each linking to ``<sweep_id>/report.html``.
        sweep_links: sweep id -> link target (``None``: no page to link to), overriding
            that default (an index written outside the store).

    Returns:
        A complete HTML document.
    """
    links = dict(links or {})
    rows = [{"run": r, "badge": badge_class(r),
             "link": None if (not r.completed or r.run_id in broken)
             else links.get(r.run_id, f"{r.run_id}/report.html"),
             "damaged": r.run_id in broken} for r in runs]
    sweep_links = dict(sweep_links or {})
    sweep_rows = [{"sweep": sw, "link": sweep_links.get(sw.sweep_id, f"{quote(str(sw.sweep_id))}/report.html")}
                  for sw in sweeps]
    return environment().get_template("index.html").render(rows=rows, counts=index_summary(runs),
                                                          sweeps=sweep_rows)
