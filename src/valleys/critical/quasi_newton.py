r"""L-BFGS on the loss (finds minima) and on the squared gradient norm (finds any critical point).

Both run :func:`valleys.optim.lbfgs` (SciPy engine, no bounds) on float64 NumPy copies
of theta and stop with the
finders' shared rule :math:`\|\nabla L\| \le \text{grad\_tol}\cdot\max(1, |L(\theta_0)|)`
(checked in the callback, which ends the run).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from .._validation import check_int
from ..optim import lbfgs as _lbfgs
from .result import (
    DEFAULT_GRAD_TOL,
    GRADIENT_TOLERANCE,
    MAX_ITERATIONS,
    STALLED,
    FinderResult,
    History,
    check_iterations,
    start_point,
    tolerance,
)

if TYPE_CHECKING:
    from ..core import Landscape


def lbfgs(land: Landscape, theta0, /, *, max_iter: int = 1000, grad_tol: float = DEFAULT_GRAD_TOL,
          history_size: int = 20) -> FinderResult:
    """Minimise L by L-BFGS (:func:`valleys.optim.lbfgs`: SciPy engine, no bounds, with its line search).

    Args:
        land: a :class:`~valleys.Landscape`.
        theta0: the start (d,).
        max_iter: the largest number of L-BFGS iterations.
        grad_tol: relative gradient tolerance (see :mod:`valleys.critical.result`).
        history_size: number of stored curvature pairs.

    Returns:
        A :class:`~valleys.critical.FinderResult`; ``"stalled"`` means the line search
        could not decrease L any further before the tolerance was met.

    Example:
        >>> from valleys import Landscape
        >>> land = Landscape.from_function(lambda t: (t[0] - 1) ** 2 + 10 * (t[1] + 2) ** 2, 2)
        >>> [round(x, 6) for x in lbfgs(land, torch.zeros(2)).theta.tolist()]
        [1.0, -2.0]
    """
    where = "lbfgs"

    def fun(x):
        value, g = land.loss_and_grad(torch.from_numpy(x).to(land.dtype))
        return float(value), g.detach().numpy().astype(np.float64)

    return _run(land, theta0, fun, where, max_iter, grad_tol, history_size)


def gradient_norm_min(land: Landscape, theta0, /, *, max_iter: int = 1000, grad_tol: float = DEFAULT_GRAD_TOL,
                      history_size: int = 20) -> FinderResult:
    r"""Find a critical point of any index by minimising :math:`\phi = \tfrac12\|\nabla L\|^2`.

    The gradient of :math:`\phi` is :math:`H \nabla L`, one Hessian-vector product, so no
    Hessian is formed. Minima of :math:`\phi` with :math:`\phi = 0` are the critical points
    of L (minima, saddles and maxima alike); a positive local minimum of :math:`\phi` ends
    with reason ``"stalled"``.

    Args:
        land: a :class:`~valleys.Landscape`.
        theta0: the start (d,).
        max_iter: the largest number of L-BFGS iterations.
        grad_tol: relative gradient tolerance (see :mod:`valleys.critical.result`).
        history_size: number of stored curvature pairs.

    Returns:
        A :class:`~valleys.critical.FinderResult` (its history records L and ||grad L||).

    Example:
        >>> from valleys import Landscape
        >>> land = Landscape.from_function(lambda t: t[0] ** 2 - t[1] ** 2, 2)
        >>> gradient_norm_min(land, torch.tensor([0.3, -0.2])).grad_norm < 1e-10
        True
    """
    where = "gradient_norm_min"

    def fun(x):
        theta = torch.from_numpy(x).to(land.dtype)
        g = land.grad(theta)
        return 0.5 * float(g @ g), land.hvp(theta, g).detach().numpy().astype(np.float64)

    return _run(land, theta0, fun, where, max_iter, grad_tol, history_size)


def _run(land, theta0, fun, where, max_iter, grad_tol, history_size) -> FinderResult:
    max_iter = check_iterations(max_iter, where)
    history_size = check_int(history_size, "history_size", where, min_val=1)
    theta = start_point(land, theta0)
    tol = tolerance(land, theta, grad_tol, where)
    hist = History()
    state = {"x": theta.numpy().copy(), "done": False}

    def observe(x) -> bool:
        value, g = land.loss_and_grad(torch.from_numpy(np.array(x)).to(land.dtype))
        gnorm = float(g.norm())
        hist.record(value, gnorm)
        state["x"] = np.array(x, dtype=np.float64)
        state["done"] = gnorm <= tol
        return state["done"]

    if not observe(state["x"]):
        out = _lbfgs(fun, state["x"], max_iter=max_iter, history_size=history_size, grad_tol=0.0,
                     value_tol=0.0, max_fun=20 * max_iter, callback=observe)
        if not state["done"] and not np.array_equal(out.x, state["x"]):
            observe(out.x)
    reason = GRADIENT_TOLERANCE if state["done"] else (
        MAX_ITERATIONS if len(hist.loss) > max_iter else STALLED)
    final = torch.from_numpy(state["x"]).to(land.dtype)
    return hist.result(land, final, reason, tol, where)
