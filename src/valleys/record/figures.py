"""Figures of a result: a pyplot-free matplotlib figure, and closing figures not saved."""

from __future__ import annotations

from typing import Any

from matplotlib.figure import Figure


def figure(ncols: int = 1, *, width: float = 5.0, height: float = 4.0) -> tuple[Figure, list]:
    """A pyplot-free matplotlib figure with ``ncols`` axes (safe in any backend).

    Args:
        ncols: the number of axes, side by side in one row.
        width: the width of each axis's share, in inches.
        height: the figure's height, in inches.

    Returns:
        ``(figure, axes)``: a constrained-layout :class:`matplotlib.figure.Figure` of size
        ``(width * ncols, height)`` and the list of its ``ncols`` axes.
    """
    fig = Figure(figsize=(width * ncols, height), layout="constrained")
    axes = [fig.add_subplot(1, ncols, i + 1) for i in range(ncols)]
    return fig, axes


def close_figures(figures: dict[str, Any]) -> None:
    """Close figures that will not be saved (the run failed, or a worker keeps only data).

    Args:
        figures: name → matplotlib Figure or Axes (an Axes closes its figure); may be empty.
    """
    if not figures:
        return
    import matplotlib.pyplot as plt

    for fig in figures.values():
        plt.close(fig if hasattr(fig, "savefig") else fig.figure)
