r"""Damped Newton (Levenberg–Marquardt on :math:`\nabla L = 0`) from many starts at once.

The batched twin of :func:`valleys.critical.damped_newton` for multi-start searches on
small landscapes: the Hessians of all starts are formed in one vmapped call, each
iteration tries one step :math:`s = -(H^2 + \mu I)^{-1} H g` per start, and each start keeps
its own damping :math:`\mu` (divided by 3 after an accepted step, which must lower
:math:`\|g\|`, multiplied by 3 after a rejected one). The iteration is
:func:`valleys.optim.newton_lm_batch`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch.func import vmap

from .._validation import check_float
from ..errors import ShapeError
from ..optim import newton_lm_batch
from ..results import Record
from .result import DEFAULT_GRAD_TOL, check_iterations

if TYPE_CHECKING:
    from ..core import Landscape


@dataclass(frozen=True, eq=False, repr=False)
class BatchNewton(Record):
    """End points of many damped-Newton runs.

    Attributes:
        thetas: final points (B, d).
        losses: final losses (B,).
        grad_norms: final gradient norms (B,).
        converged: (B,) bool: ``grad_norm <= tolerance``.
        stalled: (B,) bool: the damping grew past 1e16 * max(1, ||H||^2) without a step
            that lowers ||g||.
        tolerance: absolute gradient tolerance of each run,
            ``grad_tol * max(1, |L(theta0)|)`` (B,).
        iterations: number of batched iterations (tried steps) taken.
    """

    thetas: torch.Tensor
    losses: torch.Tensor
    grad_norms: torch.Tensor
    converged: torch.Tensor
    stalled: torch.Tensor
    tolerance: torch.Tensor
    iterations: int


def damped_newton_batch(land: Landscape, thetas, /, *, max_iter: int = 200,
                        grad_tol: float = DEFAULT_GRAD_TOL, damping: float = 1e-3,
                        max_dim: int = 200) -> BatchNewton:
    """Levenberg–Marquardt towards critical points of any index, from many starts at once.

    Args:
        land: a :class:`~valleys.Landscape`.
        thetas: starts (B, d).
        max_iter: the largest number of batched iterations (each tries one step per start).
        grad_tol: relative gradient tolerance per start (see :mod:`valleys.critical.result`).
        damping: initial damping relative to max(1, ||H||^2) of each start.
        max_dim: the largest d for which dense Hessians are formed.

    Returns:
        A :class:`BatchNewton`.

    Raises:
        ShapeError: if ``thetas`` is not (B, d).

    Example:
        >>> from valleys import Landscape
        >>> land = Landscape.from_function(lambda t: t[0] ** 3 - 3 * t[0], 1)
        >>> out = damped_newton_batch(land, torch.tensor([[0.5], [-3.0]]))
        >>> [round(x, 10) for x in out.thetas.reshape(-1).tolist()]
        [1.0, -1.0]
    """
    where = "damped_newton_batch"
    max_iter = check_iterations(max_iter, where)
    damping = check_float(damping, "damping", where, min_val=0.0, open_min=True)
    T = torch.as_tensor(thetas, dtype=land.dtype).detach().clone()
    if T.ndim != 2 or T.shape[1] != land.dim:
        msg = f"thetas must have shape (B, {land.dim}). Got {tuple(T.shape)}."
        raise ShapeError(msg)
    hessians = vmap(lambda th: land.hessian(th, max_dim=max_dim))
    tol = grad_tol * land.losses(T).abs().clamp_min(1.0)
    T, g, stalled, iterations = newton_lm_batch(land.grads, hessians, T, grad_tol=tol, max_iter=max_iter,
                                                damping=damping)
    gn = g.norm(dim=1)
    return BatchNewton(T, land.losses(T), gn, gn <= tol, stalled & (gn > tol), tol, iterations)
