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
    """Filled contour of a 2-variable landscape on [-lim, lim]^2 (vectorised evaluation)."""
    g = torch.linspace(-lim, lim, points, dtype=land.dtype)
    U, V = torch.meshgrid(g, g, indexing="xy")
    Z = land.losses(torch.stack([U.reshape(-1), V.reshape(-1)], 1)).reshape(U.shape)
    cs = ax.contourf(U.numpy(), V.numpy(), torch.log10(Z + 1e-3).numpy(), levels=levels,
                     cmap="viridis")
    ax.figure.colorbar(cs, ax=ax, label="log10(L + 1e-3)")


def progress(iterable, desc: str, total: int | None = None):
    """A progress bar over an experiment's outer loop (on stderr; silent when not a TTY)."""
    return tqdm(iterable, desc=desc, total=total, leave=False, file=sys.stderr, disable=None)
