"""HTML reports: one page per run and an index of all runs (Jinja2, autoescaped)."""

from .environment import BADGES, format_value
from .index_report import render_index
from .page import RunPage
from .run_report import MAX_TABLE_ROWS, render_run

__all__ = ["RunPage", "render_run", "render_index", "format_value", "BADGES", "MAX_TABLE_ROWS"]
