r"""The Newton family of valleys: every Newton-type step on plain callables.

* :func:`newton_lm`: Levenberg–Marquardt on the system :math:`\nabla F(x) = 0` with a dense
  Hessian, :math:`s = -(H^2 + \mu I)^{-1} H g` in the eigenbasis of H, on NumPy or torch
  vectors, optionally over an index subset (the other coordinates fixed). It converges to
  critical points of any index.
* :func:`newton_lm_batch`: the same iteration from many starts at once (torch, vmapped Hessians).
* :func:`shifted_newton`: damped Newton :math:`(H + \mu \max_i |H_{ii}| I)\,s = -g` (least
  squares), a step kept when it lowers the value or :math:`\|g\|` (a polish near a critical point).
* :func:`newton_mr`: Newton-MR (Roosta, Liu, Xu & Mahoney, 2018): MINRES on Hessian-vector
  products, backtracking on :math:`\|g\|^2`.
* :func:`gauss_newton_lm`: Levenberg–Marquardt for squared residuals in the output space,
  :math:`\delta = -G^T (K + \mu I)^{-1} r` with Nielsen's damping rule, with a mask.

The damped steps adapt :math:`\mu` after every trial; each function documents its rule.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse.linalg
import torch

from ..results import Record

#: Stop reasons of the Newton family.
CONVERGED = "gradient tolerance"
MAX_ITERATIONS = "max iterations"
STALLED = "stalled"
NO_PROGRESS = "no progress"
#: Damping above which (relative to max(1, ||H||^2), or to max diag K) no step can make progress.
MAX_DAMPING = 1e16
#: Armijo constant of the Newton-MR line search on ||grad||^2.
ARMIJO = 1e-4
#: Largest number of step halvings in one Newton-MR line search.
MAX_BACKTRACKS = 40


@dataclass(frozen=True, eq=False, repr=False)
class NewtonResult(Record):
    """The end of one Newton-type run.

    Attributes:
        x: the end point (same kind as the start: NumPy or torch).
        value: the objective at ``x``.
        grad_norm: the gradient norm at ``x`` (over the index subset when one was given).
        steps: accepted steps (:func:`shifted_newton`: trial steps).
        reason: ``"gradient tolerance"``, ``"stalled"`` or ``"max iterations"``.
        damping: the damping mu at the end (None where no step was tried).
    """

    x: np.ndarray | torch.Tensor
    value: float
    grad_norm: float
    steps: int
    reason: str
    damping: float | None


class _Ops:
    """The few array operations of the Newton iteration, for NumPy or torch vectors."""

    def __init__(self, x):
        self.torch = isinstance(x, torch.Tensor)

    def norm(self, v) -> float:
        return float(v.norm()) if self.torch else float(np.linalg.norm(v))

    def finite(self, v) -> bool:
        return bool(torch.isfinite(v).all()) if self.torch else bool(np.isfinite(v).all())

    def eigh(self, H):
        return torch.linalg.eigh(H) if self.torch else np.linalg.eigh(H)

    def block(self, H, idx):
        if idx is None:
            return H
        return H[idx][:, idx] if self.torch else H[np.ix_(idx, idx)]

    def largest(self, v) -> float:
        return float(v.abs().max()) if self.torch else float(np.abs(v).max())

    def minus(self, x, idx, step):
        if idx is None:
            return x - step
        out = x.clone() if self.torch else x.copy()
        out[idx] -= step
        return out


def newton_lm(fun_grad: Callable, hessian: Callable, x0, *, grad_tol: float, max_iter: int,
              damping: float = 1e-3, idx=None, relative: bool = False,
              callback: Callable | None = None) -> NewtonResult:
    r"""Levenberg–Marquardt on :math:`\nabla F = 0` with the dense Hessian (critical points of any index).

    Each iteration forms H (the ``idx`` block) once and tries steps
    :math:`s = -(H^2 + \mu I)^{-1} H g` until one lowers :math:`\|g\|` (then :math:`\mu \leftarrow \mu/3`)
    or :math:`\mu` exceeds :math:`10^{16}\max(1, \|H\|^2)` (the run ends ``"stalled"``); each
    rejected trial multiplies :math:`\mu` by 3. The first :math:`\mu` is
    ``damping`` :math:`\cdot \max(1, \|H\|^2)`.

    Args:
        fun_grad: ``x -> (value, gradient)`` (NumPy or torch, like ``x0``).
        hessian: ``x -> H`` (d, d).
        x0: the start (d,).
        grad_tol: stop when :math:`\|g\| \le` grad_tol (``relative``: grad_tol :math:`\max(1, |F(x)|)`).
        max_iter: the largest number of accepted steps.
        damping: the initial damping relative to :math:`\max(1, \|H\|^2)` (> 0).
        idx: indices of the coordinates that move (None: all); g and H are restricted to them.
        relative: measure grad_tol relative to the current value.
        callback: ``callback(x, value, g)`` at the start and after every accepted step.

    Returns:
        A :class:`NewtonResult`.

    Example:
        >>> fg = lambda x: (x[0] ** 2 - x[1] ** 2 + x[1] ** 4, np.array([2 * x[0], 4 * x[1] ** 3 - 2 * x[1]]))
        >>> hess = lambda x: np.diag([2.0, 12 * x[1] ** 2 - 2])
        >>> np.round(newton_lm(fg, hess, np.array([0.1, 0.6]), grad_tol=1e-12, max_iter=50).x, 8).tolist()
        [0.0, 0.70710678]
    """
    ops = _Ops(x0)
    x = x0
    value, g = fun_grad(x)
    g = g if idx is None else g[idx]
    if callback is not None:
        callback(x, value, g)

    def converged():
        return ops.norm(g) <= (grad_tol * max(1.0, abs(float(value))) if relative else grad_tol)

    mu, reason, steps = None, MAX_ITERATIONS, 0
    for _ in range(max_iter):
        if converged():
            reason = CONVERGED
            break
        lam, V = ops.eigh(ops.block(hessian(x), idx))
        scale = max(1.0, ops.largest(lam) ** 2)
        mu = damping * scale if mu is None else mu
        accepted = False
        while mu <= MAX_DAMPING * scale and not accepted:
            trial = ops.minus(x, idx, V @ ((lam / (lam ** 2 + mu)) * (V.T @ g)))
            v_new, g_new = fun_grad(trial)
            g_sub = g_new if idx is None else g_new[idx]
            accepted = ops.finite(g_new) and ops.norm(g_sub) < ops.norm(g)
            mu = mu / 3 if accepted else mu * 3
        if not accepted:
            reason = STALLED
            break
        x, value, g, steps = trial, v_new, g_sub, steps + 1
        if callback is not None:
            callback(x, value, g)
    else:
        reason = CONVERGED if converged() else MAX_ITERATIONS
    return NewtonResult(x=x, value=float(value), grad_norm=ops.norm(g), steps=steps, reason=reason,
                        damping=mu)


def newton_lm_batch(grads: Callable, hessians: Callable, X0: torch.Tensor, *,
                    grad_tol: torch.Tensor, max_iter: int, damping: float = 1e-3):
    r""":func:`newton_lm` from many starts at once (torch): one trial step per start and iteration.

    Each start keeps its own damping (divided by 3 after an accepted step, which must lower
    :math:`\|g\|`, multiplied by 3 after a rejected one) and is *stalled* once it exceeds
    :math:`10^{16}\max(1, \|H\|^2)`.

    Args:
        grads: ``X -> gradients`` (B, d) -> (B, d).
        hessians: ``X -> Hessians`` (B, d) -> (B, d, d).
        X0: the starts (B, d).
        grad_tol: absolute gradient tolerance per start (B,).
        max_iter: the largest number of batched iterations.
        damping: the initial damping relative to :math:`\max(1, \|H\|^2)` of each start.

    Returns:
        ``(X, G, stalled, iterations)``: end points, their gradients, the stalled flags and
        the number of batched iterations taken.
    """
    T = X0
    g = grads(T)
    mu = torch.full((T.shape[0],), -1.0, dtype=T.dtype)
    stalled = torch.zeros(T.shape[0], dtype=torch.bool)
    iterations = 0
    for iterations in range(1, max_iter + 1):
        active = (g.norm(dim=1) > grad_tol) & ~stalled
        if not bool(active.any()):
            iterations -= 1
            break
        lam, V = torch.linalg.eigh(hessians(T))
        scale = lam.abs().amax(dim=1).square().clamp_min(1.0)
        mu = torch.where(mu < 0, damping * scale, mu)
        coef = lam / (lam.square() + mu[:, None])
        s = -torch.einsum("bij,bj->bi", V, coef * torch.einsum("bji,bj->bi", V, g))
        g_new = grads(T + s)
        ok = active & torch.isfinite(g_new).all(dim=1) & (g_new.norm(dim=1) < g.norm(dim=1))
        T = torch.where(ok[:, None], T + s, T)
        g = torch.where(ok[:, None], g_new, g)
        mu = torch.where(ok, mu / 3, torch.where(active, mu * 3, mu))
        stalled = stalled | (mu > MAX_DAMPING * scale)
    return T, g, stalled, iterations


def shifted_newton(fun_grad: Callable, hessian: Callable, x0: torch.Tensor, *, grad_tol: float,
                   max_trials: int, damping: float) -> NewtonResult:
    r"""Damped Newton :math:`(H + \mu \max_i |H_{ii}|\, I)\,s = -g` (least squares, torch).

    A trial step is kept when it lowers the value or :math:`\|g\|` (then :math:`\mu \leftarrow \mu/10`);
    otherwise :math:`\mu \leftarrow 10\max(\mu, 10^{-12})`. The run ends when
    :math:`\|g\| \le` ``grad_tol`` or after ``max_trials`` trial steps (kept or not).

    Args:
        fun_grad: ``x -> (value, gradient)`` on torch vectors.
        hessian: ``x -> H`` (d, d).
        x0: the start (d,).
        grad_tol: absolute gradient tolerance.
        max_trials: the largest number of trial steps.
        damping: the initial relative damping mu (>= 0).

    Returns:
        A :class:`NewtonResult` (``steps`` counts trial steps).
    """
    x = x0
    value, g = fun_grad(x)
    steps, mu = 0, damping
    eye = torch.eye(x.shape[0], dtype=x.dtype)
    while steps < max_trials and float(g.norm()) > grad_tol:
        H = hessian(x)
        scale = float(H.diagonal().abs().max()) or 1.0
        delta = torch.linalg.lstsq(H + mu * scale * eye, -g[:, None], driver="gelsd").solution[:, 0]
        new_value, new_g = fun_grad(x + delta)
        steps += 1
        if float(new_value) < float(value) or float(new_g.norm()) < float(g.norm()):
            x, value, g, mu = x + delta, new_value, new_g, mu / 10
        else:
            mu = max(mu, 1e-12) * 10
    reason = CONVERGED if float(g.norm()) <= grad_tol else MAX_ITERATIONS
    return NewtonResult(x=x, value=float(value), grad_norm=float(g.norm()), steps=steps, reason=reason,
                        damping=mu)


def newton_mr(fun_grad: Callable, grad: Callable, hvp: Callable, operator: Callable, x0: torch.Tensor,
              *, grad_tol: float, max_iter: int, minres_rtol: float, minres_maxiter: int,
              callback: Callable | None = None) -> NewtonResult:
    r"""Newton-MR: MINRES Newton steps with a backtracking line search on :math:`\|g\|^2` (torch).

    The step solves :math:`H s = -g` by MINRES (a least-squares solution when H is singular
    or indefinite); the line search accepts the largest :math:`\alpha \in \{1, 1/2, \dots\}` with
    :math:`\|g(x + \alpha s)\|^2 \le \|g\|^2 + 2 \rho \alpha \min(\langle s, H g\rangle, 0)`
    (:math:`\rho` = ``ARMIJO``); when none of ``MAX_BACKTRACKS`` halvings is accepted the run
    ends ``"stalled"``.

    Args:
        fun_grad: ``x -> (value, gradient)``.
        grad: ``x -> gradient``.
        hvp: ``(x, v) -> H v``.
        operator: ``x -> H`` as a SciPy ``LinearOperator`` on float64 NumPy vectors.
        x0: the start (d,).
        grad_tol: absolute gradient tolerance.
        max_iter: the largest number of Newton steps.
        minres_rtol: relative residual tolerance of MINRES.
        minres_maxiter: MINRES iteration limit.
        callback: ``callback(x, value, g)`` at every visited point.

    Returns:
        A :class:`NewtonResult`.
    """
    x, reason, steps = x0, MAX_ITERATIONS, 0
    for _ in range(max_iter + 1):
        value, g = fun_grad(x)
        if callback is not None:
            callback(x, value, g)
        if float(g.norm()) <= grad_tol:
            reason = CONVERGED
            break
        if steps >= max_iter:
            break
        new = _mr_step(grad, hvp, operator, x, g, minres_rtol, minres_maxiter)
        if new is None:
            reason = STALLED
            break
        x, steps = new, steps + 1
    return NewtonResult(x=x, value=float(value), grad_norm=float(g.norm()), steps=steps, reason=reason,
                        damping=None)


def _mr_step(grad, hvp, operator, x, g, rtol, maxiter):
    g_np = g.detach().numpy().astype(np.float64)
    s_np, _ = scipy.sparse.linalg.minres(operator(x), -g_np, rtol=rtol, maxiter=maxiter)
    s = torch.from_numpy(s_np).to(x.dtype)
    slope = float(s @ hvp(x, g))
    g2 = float(g @ g)
    alpha = 1.0
    for _ in range(MAX_BACKTRACKS):
        trial = x + alpha * s
        gt = grad(trial)
        if torch.isfinite(gt).all() and float(gt @ gt) <= g2 + 2 * ARMIJO * alpha * min(slope, 0.0):
            return None if torch.equal(trial, x) else trial
        alpha *= 0.5
    return None


#: Initial damping of :func:`gauss_newton_lm` relative to the largest diagonal entry of K.
GN_DAMPING = 1e-3


def gauss_newton_lm(residual: Callable, gram: Callable, x0: torch.Tensor, mask: torch.Tensor,
                    weight: float, *, max_steps: int, check: Callable,
                    on_trial: Callable | None = None):
    r"""Levenberg–Marquardt for :math:`F = w\|r(x)\|^2`: damped Gauss–Newton in the output space.

    Each trial step minimises :math:`\|r + G\delta\|^2 + \mu\|\delta\|^2` over the unmasked
    coordinates, :math:`\delta = -G^T (K + \mu I)^{-1} r` with :math:`K = G G^T` (one Cholesky
    solve of the output size, one vector-Jacobian product). Nielsen's rule: after an
    accepted step with gain ratio :math:`\rho`, :math:`\mu \leftarrow \mu \max(1/3, 1 - (2\rho - 1)^3)`;
    after a rejected one :math:`\mu \leftarrow \nu\mu, \nu \leftarrow 2\nu`. The first :math:`\mu`
    is ``GN_DAMPING`` times the largest diagonal entry of K.

    Args:
        residual: ``x -> (r, pull)`` with ``pull(u) -> (G^T u,)`` (a ``torch.func.vjp`` pullback).
        gram: ``x -> K`` (the masked output Gram matrix).
        x0: the start (d,).
        mask: 1 for the coordinates that move, 0 for frozen ones.
        weight: w in :math:`F = w\|r\|^2`.
        max_steps: the largest number of trial steps.
        check: ``check(step, x, value, grad_norm, mu) -> reason or None`` after the start and
            after every round of trials; a reason ends the run.
        on_trial: called once per trial step (a progress bar).

    Returns:
        ``(x, reason, steps, mu)``: reason is ``check``'s, ``NO_PROGRESS`` (a non-finite
        Gram matrix, or the damping grew past ``1e16`` max diag K), or None (the budget ran out).
    """
    x = x0
    r, pull = residual(x)
    value = weight * float(r @ r)
    gnorm = float((2 * weight * pull(r)[0] * mask).norm())
    reason, step, mu, nu = check(0, x, value, gnorm, 0.0), 0, None, 2.0
    while reason is None and step < max_steps:
        K = gram(x)
        top = max(float(K.diagonal().max()), torch.finfo(K.dtype).tiny)
        if not math.isfinite(top):  # a non-finite Jacobian: no step can be trusted
            reason = NO_PROGRESS
            break
        mu = GN_DAMPING * top if mu is None else mu
        ceiling = MAX_DAMPING * top
        eye = torch.eye(K.shape[0], dtype=K.dtype)
        accepted = False
        while not accepted and step < max_steps and mu <= ceiling:
            step += 1
            if on_trial is not None:
                on_trial()
            chol, info = torch.linalg.cholesky_ex(K + mu * eye)
            if int(info) != 0:
                mu, nu = mu * nu, nu * 2
                continue
            u = torch.cholesky_solve(r[:, None], chol)[:, 0]
            delta = -pull(u)[0] * mask
            model = r - K @ u
            predicted = value - weight * float(model @ model)
            r_new, pull_new = residual(x + delta)
            new = weight * float(r_new @ r_new)
            rho = (value - new) / predicted if predicted > 0 and math.isfinite(new) else -1.0
            if rho > 0:
                x, r, pull, value = x + delta, r_new, pull_new, new
                mu, nu, accepted = mu * max(1 / 3, 1 - (2 * rho - 1) ** 3), 2.0, True
            else:
                mu, nu = mu * nu, nu * 2
        gnorm = float((2 * weight * pull(r)[0] * mask).norm())
        reason = check(step, x, value, gnorm, mu)
        if reason is None and not accepted and mu > ceiling:
            reason = NO_PROGRESS
    return x, reason, step, mu
