"""A sweep's ``report.html`` and figures: each metric against each numeric grid parameter,
the mean over seeds with a confidence band.

The band at a grid value is the two-sided Student-t interval of the mean over the tasks at
that value (one per seed): ``mean ± t_{1-(1-CONFIDENCE)/2, n-1} · s / sqrt(n)``, drawn
only where ``n >= 2``. When other grid keys vary too, each of their combinations is its
own line (up to :data:`MAX_LINES`; beyond that the tasks are pooled into one line).
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from typing import Any

import markupsafe
import pandas as pd

from ..runs.pages import SweepPage
from .environment import environment

CONFIDENCE = 0.95
"""Coverage of the confidence bands over seeds."""

MAX_LINES = 6
"""Most lines (combinations of the other grid keys) drawn in one figure."""

MAX_METRICS = 6
"""Most metrics drawn (figures per numeric grid key): the pass fraction, then the numeric checks; the
table means only when no check is numeric. Every metric is in ``summary.parquet``."""

MAX_ROWS = 200
"""Task rows shown on the page (``summary.parquet`` holds all)."""

PANEL_SIZE = (4.8, 3.6)
"""Size (inches) of each figure of a sweep page: one metric against one grid key."""


def metric_columns(summary: pd.DataFrame) -> list[str]:
    """The metrics to draw: ``passed`` (fraction), then ``check:*`` (else the analyze
    headline numbers ``summary:*``, else ``mean:*``).

    An analyze sweep (``summary:*`` columns, no checks) gets no ``passed`` column.

    Args:
        summary: the sweep's summary table (one row per grid point).

    Returns:
        At most ``MAX_METRICS`` column names.
    """
    cols = [c for c in summary.columns if str(c).startswith("check:")]
    if not cols:
        headline = [c for c in summary.columns if str(c).startswith("summary:")]
        if headline:  # an analyze sweep: nothing is checked, so no pass fraction
            return headline[:MAX_METRICS]
    if not cols:
        cols = [c for c in summary.columns if str(c).startswith("mean:")]
    return ((["passed"] if "passed" in summary.columns else []) + cols)[:MAX_METRICS]


def band(values: Sequence[float]) -> tuple[float, float, float, int]:
    r"""Mean, lower and upper end of the CONFIDENCE t-interval of the mean, and n (finite values).

    Over the \(n\) finite values \(v_i\), the interval is
    \(\bar v \pm t_{(1+c)/2,\,n-1}\, s/\sqrt{n}\) with \(s\) the sample standard
    deviation (divisor \(n-1\)) and \(c\) = ``CONFIDENCE``.
    With fewer than two finite values the interval collapses to the mean.

    Args:
        values: numbers; None and non-finite values are ignored.

    Returns:
        ``(mean, lower, upper, n)``; all NaN and n = 0 when no value is finite.
    """
    from scipy import stats

    clean = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    n = len(clean)
    if n == 0:
        return float("nan"), float("nan"), float("nan"), 0
    mean = sum(clean) / n
    if n < 2:
        return mean, mean, mean, n
    sd = math.sqrt(sum((v - mean) ** 2 for v in clean) / (n - 1))
    half = stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1) * sd / math.sqrt(n)
    return mean, mean - half, mean + half, n


def sweep_figures(summary: pd.DataFrame, numeric_keys: Sequence[str],
                  grid_keys: Sequence[str]) -> dict[str, Any]:
    """One figure per numeric grid key and metric: mean ± band over seeds.

    Each figure is one readable panel (:data:`PANEL_SIZE`); the page lays them out in a
    responsive grid, each linking to its full-size PNG.

    Args:
        summary: one row per done task with the grid keys, ``seed`` and metric columns.
        numeric_keys: grid keys whose values are numbers (the x axes).
        grid_keys: every grid key (the others become separate lines).

    Returns:
        ``"<metric> vs <key>"`` -> matplotlib Figure (pyplot-free), by key, then metric.
    """
    from matplotlib.figure import Figure

    figures: dict[str, Any] = {}
    metrics = metric_columns(summary)
    if summary.empty or not metrics:
        return figures
    for key in numeric_keys:
        for metric in metrics:
            fig = Figure(figsize=PANEL_SIZE, layout="constrained")
            _draw(fig.add_subplot(1, 1, 1), summary, metric, key, [k for k in grid_keys if k != key])
            figures[f"{metric} vs {key}"] = fig
    return figures


def _draw(ax, summary: pd.DataFrame, metric: str, key: str, others: list[str]) -> None:
    frame = summary.copy()
    frame[metric] = frame[metric].astype(float)
    groups = [("all", frame)]
    if others:
        grouped = list(frame.groupby(others, sort=True, dropna=False))
        if len(grouped) <= MAX_LINES:
            groups = [(_label(others, g), part) for g, part in grouped]
    for label, part in groups:
        xs, means, lows, highs = [], [], [], []
        for x, at in sorted(part.groupby(key), key=lambda item: item[0]):
            mean, lo, hi, _ = band(at[metric].tolist())
            xs.append(float(x))
            means.append(mean)
            lows.append(lo)
            highs.append(hi)
        line = ax.plot(xs, means, marker="o", label=None if label == "all" else label)[0]
        ax.fill_between(xs, lows, highs, color=line.get_color(), alpha=0.2, linewidth=0)
    ax.set_xlabel(key)
    kind = "measured" if metric.startswith("check:") else "mean" if metric.startswith("mean:") else ""
    ax.set_ylabel("pass fraction" if metric == "passed" else kind)
    n_seeds = frame["seed"].nunique() if "seed" in frame else 0
    name = metric if len(metric) <= 90 else metric[:87] + "..."
    title = "\n".join(textwrap.wrap(name, width=45))
    ax.set_title(f"{title}\n(mean, {int(CONFIDENCE * 100)}% band, {n_seeds} seed(s))", fontsize=9)
    if len(groups) > 1:
        ax.legend(fontsize=8)


def _label(keys: list[str], values: Any) -> str:
    values = values if isinstance(values, tuple) else (values,)
    return ", ".join(f"{k}={v}" for k, v in zip(keys, values, strict=False))


def point_rows(summary: pd.DataFrame, tasks: Sequence[Any], grid_keys: Sequence[str]) -> list[dict]:
    """Per grid point: tasks done/failed, pass fraction of the done ones.

    Args:
        summary: the sweep's summary table (unused; kept for the call's symmetry).
        tasks: the sweep's task records (``point``, ``status``, ``passed``).
        grid_keys: the swept parameter names that label a point.

    Returns:
        One dict per grid point, in first-seen order: ``point`` (its label), and the
        counts ``done``, ``failed``, ``pending`` (and any other status) and ``passed``.
    """
    import json

    rows: dict[str, dict[str, Any]] = {}
    for task in tasks:
        point = {k: task.point.get(k) for k in grid_keys}
        label = ", ".join(f"{k}={json.dumps(v)}" for k, v in point.items()) or "(seeds only)"
        row = rows.setdefault(label, {"point": label, "done": 0, "failed": 0, "pending": 0,
                                      "passed": 0})
        row[task.status] = row.get(task.status, 0) + 1
        if task.status == "done" and task.passed:
            row["passed"] += 1
    return list(rows.values())


def render_sweep(page: SweepPage) -> str:
    """The HTML of a sweep's report page (every string escaped).

    Args:
        page: the sweep's :class:`~valleys.runs.pages.SweepPage`.

    Returns:
        The page's HTML text (the summary table cut to ``MAX_ROWS`` rows).
    """
    summary = page.summary.head(MAX_ROWS)
    table_html = markupsafe.Markup(summary.to_html(escape=True, index=False, border=0,
                                                   na_rep="NaN", float_format=lambda x: f"{x:.6g}"))
    failed = [t for t in page.tasks if t.status == "failed"]
    return environment().get_template("sweep.html").render(
        page=page, sweep=page.record, table_html=table_html,
        points=point_rows(page.summary, page.tasks, page.grid_keys), failed=failed,
        n_rows=len(page.summary), max_rows=MAX_ROWS, confidence=int(CONFIDENCE * 100))
