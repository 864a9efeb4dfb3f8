"""HTML reports: one page per run and an index of all runs (Jinja2, autoescaped).

This package is the run store's page renderer (see :mod:`valleys.runs.pages`): it has the
functions the store calls to render its pages.
"""

from .environment import BADGES, format_value
from .index_report import render_index
from .interactive import ensure_plotly_asset
from .page import RunPage
from .run_report import MAX_TABLE_ROWS, render_run
from .sweep_report import SweepPage, render_sweep, sweep_figures

__all__ = ["RunPage", "render_run", "render_index", "format_value", "BADGES", "MAX_TABLE_ROWS",
           "SweepPage", "render_sweep", "sweep_figures", "ensure_plotly_asset"]
