"""The pages of the run store: what a run's and a sweep's report show, and who renders them.

This module imports nothing heavy (:mod:`valleys` imports it to register the renderer).

The run store writes ``report.html`` into each run (and sweep) folder and ``index.html``
into its root, but renders nothing itself: it builds the page data (:class:`RunPage`,
:class:`SweepPage`) and hands it to the *page renderer* the application layer registered
(:func:`register_renderer`; :mod:`valleys.report` is the one of valleys, registered by
:mod:`valleys.cli.wiring` when :mod:`valleys` is imported). A renderer is any object (a module
will do) with these functions:

- ``render_run(page: RunPage) -> str``: a run's ``report.html``;
- ``render_index(records, *, links, broken, sweeps, sweep_links) -> str``: ``index.html``;
- ``render_sweep(page: SweepPage) -> str``: a sweep's ``report.html``;
- ``sweep_figures(summary, numeric_keys, grid_keys) -> dict[str, Figure]``: its figures;
- ``ensure_plotly_asset(root) -> Path``: the script that interactive surfaces need.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import ValleysError

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class RunPage:
    """Everything one run's ``report.html`` displays.

    Args:
        run_id: the run id.
        experiment: the experiment name.
        source: the seed document and statement the experiment checks.
        claim: the claim ID(s) and statement.
        status: the run status (``passed`` / ``failed`` for completed runs).
        params: parameter name -> value.
        verdict: ``Verdict.to_dict()``.
        table: the result table (only the first rows are shown).
        figures: figure name -> path of its PNG relative to the report.
        metadata: provenance (versions, seed, wall time, host) and experiment metadata.
        started: ISO start time.
        surfaces: surface name -> ``{"x", "y", "losses"}`` arrays (2-D ones are shown as
            interactive 3-D surfaces).
        notes: what was left out of the page and why (unsafe or oversized stored files).
    """

    run_id: str
    experiment: str
    source: str
    claim: str
    status: str
    params: dict[str, Any]
    verdict: dict[str, Any]
    table: pd.DataFrame
    figures: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    started: str = ""
    surfaces: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class SweepPage:
    """What a sweep's report shows.

    Args:
        record: the sweep's catalogue record (:class:`valleys.runs.sweep_catalogue.SweepRecord`).
        tasks: its task rows.
        figures: figure name -> PNG path relative to the sweep folder.
        grid_keys: the grid keys in order.
        summary: one row per done task (``summary.parquet``).
    """

    record: Any
    tasks: Sequence[Any]
    figures: dict[str, str] = field(default_factory=dict)
    grid_keys: Sequence[str] = ()
    summary: pd.DataFrame = field(default_factory=lambda: _empty_frame())


def _empty_frame() -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame()


_RENDERER: dict[str, Any] = {}


def register_renderer(renderer: str | Any) -> None:
    """Set the page renderer: an object with the functions listed in the module docstring,
    or the dotted name of a module that has them (imported on first use).

    Args:
        renderer: the renderer object or module name.
    """
    _RENDERER.clear()
    _RENDERER["target"] = renderer


def renderer() -> Any:
    """The registered page renderer (its module imported on first use).

    Returns:
        The renderer (a module or object).

    Raises:
        ValleysError: none is registered (import :mod:`valleys`, which registers its own).
    """
    target = _RENDERER.get("target")
    if target is None:
        raise ValleysError("No report page renderer is registered; import valleys (which "
                           "registers its own) or call register_renderer().")
    if isinstance(target, str):
        target = importlib.import_module(target)
        _RENDERER["target"] = target
    return target
