"""Helpers shared by experiment modules: batched descent and figure creation."""

from __future__ import annotations

import torch
from matplotlib.figure import Figure

from ..core import Landscape


def descend(land: Landscape, starts: torch.Tensor, *, lr: float, steps: int,
            backtracking: bool = False, armijo: float = 1e-4, grow: float = 1.5) -> torch.Tensor:
    """Gradient descent from many starts at once: one vectorised update per step.

    Args:
        land: the landscape.
        starts: (B, d) starting points.
        lr: the step size (the initial one with ``backtracking``).
        steps: number of gradient steps.
        backtracking: give every start its own step size, halved until the Armijo
            condition L(t - s g) <= L(t) - armijo s ||g||^2 holds and grown by ``grow``
            after an accepted step. The direction is always -grad L.
    """
    theta = starts.to(land.dtype).clone()
    if not backtracking:
        for _ in range(steps):
            theta = theta - lr * land.grads(theta)
        return theta
    step = torch.full((len(theta),), float(lr), dtype=land.dtype)
    value = land.losses(theta)
    for _ in range(steps):
        g = land.grads(theta)
        g2 = (g * g).sum(1)
        for _ in range(40):
            trial = theta - step[:, None] * g
            new = land.losses(trial)
            bad = ~(new <= value - armijo * step * g2)
            if not bad.any():
                break
            step = torch.where(bad, 0.5 * step, step)
        ok = new <= value
        theta = torch.where(ok[:, None], trial, theta)
        value = torch.where(ok, new, value)
        step = torch.where(ok, step * grow, step)
    return theta


def figure(ncols: int = 1, *, width: float = 5.0, height: float = 4.0) -> tuple[Figure, list]:
    """A pyplot-free matplotlib figure with ``ncols`` axes (safe in any backend)."""
    fig = Figure(figsize=(width * ncols, height), layout="constrained")
    axes = [fig.add_subplot(1, ncols, i + 1) for i in range(ncols)]
    return fig, axes


def contour(ax, land: Landscape, lim: float, *, levels: int = 30, points: int = 201) -> None:
    """Filled contour of a 2-variable landscape on [-lim, lim]^2 (vectorised evaluation)."""
    g = torch.linspace(-lim, lim, points, dtype=land.dtype)
    U, V = torch.meshgrid(g, g, indexing="xy")
    Z = land.losses(torch.stack([U.reshape(-1), V.reshape(-1)], 1)).reshape(U.shape)
    cs = ax.contourf(U.numpy(), V.numpy(), torch.log10(Z + 1e-3).numpy(), levels=levels,
                     cmap="viridis")
    ax.figure.colorbar(cs, ax=ax, label="log10(L + 1e-3)")
