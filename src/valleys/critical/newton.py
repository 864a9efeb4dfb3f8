r"""Newton-type saddle finders: they converge to critical points of any index.

* :func:`newton_mr` (Roosta, Liu, Xu & Mahoney, "Newton-MR", 2018): the step solves
  :math:`H s = -g` by MINRES on Hessian-vector products (a least-squares solution when
  H is singular or indefinite), and a backtracking line search decreases
  :math:`\|\nabla L\|^2`, not L.
* :func:`damped_newton`: Levenberg–Marquardt on the system :math:`\nabla L(\theta) = 0`
  with the dense Hessian, :math:`s = -(H^2 + \mu I)^{-1} H g`, with the damping
  :math:`\mu` adapted after every step (small d only).

Both stop with the finders' shared rule (see :mod:`valleys.critical.result`); the iterations
are :func:`valleys.optim.newton_mr` and :func:`valleys.optim.newton_lm` on the landscape.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import optim
from .._validation import check_float, check_int
from .result import (
    DEFAULT_GRAD_TOL,
    FinderResult,
    History,
    check_iterations,
    start_point,
    tolerance,
)

if TYPE_CHECKING:
    from ..core import Landscape


def newton_mr(land: Landscape, theta0, /, *, max_iter: int = 100, grad_tol: float = DEFAULT_GRAD_TOL,
              minres_rtol: float = 1e-10, minres_maxiter: int | None = None) -> FinderResult:
    r"""Newton-MR: MINRES Newton steps with a line search on the gradient norm.

    The line search accepts the largest :math:`\alpha \in \{1, 1/2, \dots\}` with
    :math:`\|g(\theta + \alpha s)\|^2 \le \|g\|^2 + 2 \rho \alpha \langle s, H g\rangle`
    (:math:`\rho` = :data:`valleys.optim.newton.ARMIJO`); when none of
    :data:`~valleys.optim.newton.MAX_BACKTRACKS` halvings is accepted the
    run ends with reason ``"stalled"``.

    Args:
        land: a :class:`~valleys.Landscape`.
        theta0: the start (d,).
        max_iter: the largest number of Newton steps.
        grad_tol: relative gradient tolerance (see :mod:`valleys.critical.result`).
        minres_rtol: relative residual tolerance of MINRES.
        minres_maxiter: MINRES iteration limit (default ``5 d``).

    Returns:
        A :class:`~valleys.critical.FinderResult`.

    Example:
        >>> import torch
        >>> from valleys import Landscape
        >>> land = Landscape.from_function(lambda t: (t[0] * t[1] - 1) ** 2, 2)
        >>> newton_mr(land, torch.tensor([0.1, -0.05])).theta.abs().max() < 1e-8
        tensor(True)
    """
    where = "newton_mr"
    max_iter = check_iterations(max_iter, where)
    minres_rtol = check_float(minres_rtol, "minres_rtol", where, min_val=0.0, open_min=True)
    inner = 5 * land.dim if minres_maxiter is None else check_int(
        minres_maxiter, "minres_maxiter", where, min_val=1)
    theta = start_point(land, theta0)
    tol = tolerance(land, theta, grad_tol, where)
    hist = History()
    out = optim.newton_mr(land.loss_and_grad, land.grad, land.hvp, land.operator, theta, grad_tol=tol,
                          max_iter=max_iter, minres_rtol=minres_rtol, minres_maxiter=inner,
                          callback=lambda x, value, g: hist.record(value, g.norm()))
    return hist.result(land, out.x, out.reason, tol, where)


def damped_newton(land: Landscape, theta0, /, *, max_iter: int = 200, grad_tol: float = DEFAULT_GRAD_TOL,
                  damping: float = 1e-3, max_dim: int = 2000) -> FinderResult:
    r"""Levenberg–Marquardt on :math:`\nabla L = 0` with the dense Hessian (small d).

    Step :math:`s = -(H^2 + \mu I)^{-1} H g` computed in the eigenbasis of H. A step that
    lowers ||g|| is taken and :math:`\mu` is divided by 3; otherwise :math:`\mu` is
    multiplied by 3 and the step is retried. The run ends ``"stalled"`` when
    :math:`\mu` exceeds :math:`10^{16}\max(1, \|H\|^2)`.

    Args:
        land: a :class:`~valleys.Landscape`.
        theta0: the start (d,).
        max_iter: the largest number of accepted steps.
        grad_tol: relative gradient tolerance (see :mod:`valleys.critical.result`).
        damping: the initial damping mu (> 0), relative to max(1, ||H||^2).
        max_dim: the largest d for which the dense Hessian is formed.

    Returns:
        A :class:`~valleys.critical.FinderResult`.

    Example:
        >>> import torch
        >>> from valleys import Landscape
        >>> land = Landscape.from_function(lambda t: t[0] ** 2 - t[1] ** 2 + t[1] ** 4, 2)
        >>> [round(x, 8) for x in damped_newton(land, torch.tensor([0.1, 0.6])).theta.tolist()]
        [0.0, 0.70710678]
    """
    where = "damped_newton"
    max_iter = check_iterations(max_iter, where)
    damping = check_float(damping, "damping", where, min_val=0.0, open_min=True)
    theta = start_point(land, theta0)
    tol = tolerance(land, theta, grad_tol, where)
    hist = History()
    out = optim.newton_lm(land.loss_and_grad, lambda x: land.hessian(x, max_dim=max_dim), theta,
                          grad_tol=tol, max_iter=max_iter, damping=damping,
                          callback=lambda x, value, g: hist.record(value, g.norm()))
    return hist.result(land, out.x, out.reason, tol, where)
