"""Helpers shared by experiment modules: figures (:mod:`valleys.record.figures`), contours, progress bars."""

from __future__ import annotations

import sys

import torch
from tqdm import tqdm

from ..core import Landscape
from ..nets.activations import ACTIVATIONS
from ..record.figures import figure

__all__ = ["ONE_OF_ACTIVATIONS", "figure", "contour", "progress"]

ONE_OF_ACTIVATIONS = "one of " + "|".join(ACTIVATIONS)
"""A ``Params.LIMITS`` clause accepting every registered activation name."""


def contour(ax, land: Landscape, lim: float, *, levels: int = 30, points: int = 201) -> None:
    r"""Filled contour of a 2-variable landscape on \([-\mathrm{lim}, \mathrm{lim}]^2\) (vectorised evaluation).

    The colour is \(\log_{10}(L + 10^{-3})\), with a colour bar added to ``ax``'s figure.

    Args:
        ax: the matplotlib axes to draw on.
        land: a landscape of exactly two parameters (the axes are its two coordinates).
        lim: half-width of the square window, in parameter units.
        levels: number of contour levels.
        points: grid points per axis (``points**2`` evaluations in one batch).
    """
    g = torch.linspace(-lim, lim, points, dtype=land.dtype)
    U, V = torch.meshgrid(g, g, indexing="xy")
    Z = land.losses(torch.stack([U.reshape(-1), V.reshape(-1)], 1)).reshape(U.shape)
    cs = ax.contourf(U.numpy(), V.numpy(), torch.log10(Z + 1e-3).numpy(), levels=levels,
                     cmap="viridis")
    ax.figure.colorbar(cs, ax=ax, label="log10(L + 1e-3)")


def progress(iterable, desc: str, total: int | None = None):
    """A progress bar over an experiment's outer loop (on stderr; silent when not a TTY).

    Args:
        iterable: the loop's items.
        desc: the label shown before the bar.
        total: the number of items, when ``iterable`` has no length (None: its ``len``, if any).

    Returns:
        A ``tqdm`` iterator yielding the items of ``iterable`` unchanged.
    """
    return tqdm(iterable, desc=desc, total=total, leave=False, file=sys.stderr, disable=None)
