"""Gradient descent: one start with a history, or many starts in one vectorised update."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch

from .._validation import check_float, check_int
from ..errors import ShapeError
from ..results import Record
from .result import (
    DEFAULT_GRAD_TOL,
    DIVERGED,
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

#: Default norm of theta above which a descent run counts as diverged.
DEFAULT_BLOWUP = 1e8


def gradient_descent(land: Landscape, theta0, /, *, lr: float, max_iter: int = 10_000,
                     grad_tol: float = DEFAULT_GRAD_TOL,
                     blowup: float = DEFAULT_BLOWUP) -> FinderResult:
    r"""Plain gradient descent :math:`\theta_{k+1} = \theta_k - \eta \nabla L(\theta_k)`.

    Args:
        land: a :class:`~valleys.Landscape`.
        theta0: the start (d,).
        lr: the step size eta (> 0).
        max_iter: the largest number of steps.
        grad_tol: relative gradient tolerance; stops when
            ``||grad|| <= grad_tol * max(1, |L(theta0)|)``.
        blowup: stop with reason ``"diverged"`` when ``||theta|| > blowup`` or the loss is
            not finite.

    Returns:
        A :class:`~valleys.critical.FinderResult`; ``"stalled"`` means a step left theta
        unchanged in floating point.

    Example:
        >>> from valleys import Landscape
        >>> land = Landscape.from_function(lambda t: ((t - 1.0) ** 2).sum(), 2)
        >>> gradient_descent(land, torch.zeros(2), lr=0.25, max_iter=200).reason
        'gradient tolerance'
    """
    where = "gradient_descent"
    lr = check_float(lr, "lr", where, min_val=0.0, open_min=True)
    max_iter = check_iterations(max_iter, where)
    blowup = check_float(blowup, "blowup", where, min_val=0.0, open_min=True)
    theta = start_point(land, theta0)
    tol = tolerance(land, theta, grad_tol, where)
    hist, reason = History(), MAX_ITERATIONS
    for _ in range(max_iter + 1):
        value, g = land.loss_and_grad(theta)
        gnorm = float(g.norm())
        hist.record(value, gnorm)
        if not (torch.isfinite(value) and np.isfinite(gnorm)) or float(theta.norm()) > blowup:
            reason = DIVERGED
            break
        if gnorm <= tol:
            reason = GRADIENT_TOLERANCE
            break
        if len(hist.loss) > max_iter:
            break
        new = theta - lr * g
        if torch.equal(new, theta):
            reason = STALLED
            break
        theta = new
    return hist.result(land, theta, reason, tol, where)


@dataclass(frozen=True, eq=False, repr=False, kw_only=True)
class BatchDescent(Record):
    """The end of many gradient-descent runs advanced together.

    Attributes:
        thetas: final parameters (B, d) (the last finite iterate for diverged runs).
        losses: final losses (B,).
        grad_norms: final gradient norms (B,).
        diverged: (B,) bool, whether a run's norm exceeded ``blowup`` or became non-finite.
        diverged_at: (B,) step at which a run diverged (-1 if it did not).
        steps: number of steps taken (fewer than asked when every run diverged).
        lr: the step size.
        blowup: the divergence threshold on ||theta||.
        trajectory: (R, B, d) iterates at ``recorded_steps`` (empty when not recorded).
        recorded_steps: (R,) the step numbers of ``trajectory``.
    """

    thetas: torch.Tensor
    losses: torch.Tensor
    grad_norms: torch.Tensor
    diverged: torch.Tensor
    diverged_at: torch.Tensor
    steps: int
    lr: float
    blowup: float
    trajectory: torch.Tensor = field(repr=False)
    recorded_steps: np.ndarray = field(repr=False)


def gradient_descent_batch(land: Landscape, thetas, /, *, lr: float, steps: int,
                           blowup: float = DEFAULT_BLOWUP,
                           record_every: int = 0) -> BatchDescent:
    r"""Gradient descent from many starts at once: one vmapped update of all starts per step.

    Every start follows \(\theta_{k+1} = \theta_k - \eta \nabla L(\theta_k)\) with
    \(\eta\) = ``lr``.

    Args:
        land: a :class:`~valleys.Landscape`.
        thetas: starts (B, d).
        lr: the step size (> 0).
        steps: number of steps (>= 0).
        blowup: a run whose ||theta|| exceeds this (or becomes non-finite) is frozen at its
            last finite iterate and flagged as diverged.
        record_every: record all iterates every this many steps (0: do not record).

    Returns:
        A :class:`BatchDescent`.

    Raises:
        ShapeError: if ``thetas`` is not (B, d).

    Example:
        >>> from valleys import Landscape
        >>> land = Landscape.from_function(lambda t: (t ** 2).sum(), 1)
        >>> out = gradient_descent_batch(land, torch.tensor([[1.0], [-2.0]]), lr=0.5, steps=1)
        >>> out.thetas.reshape(-1).tolist()
        [0.0, 0.0]
    """
    where = "gradient_descent_batch"
    lr = check_float(lr, "lr", where, min_val=0.0, open_min=True)
    steps = check_int(steps, "steps", where, min_val=0)
    blowup = check_float(blowup, "blowup", where, min_val=0.0, open_min=True)
    record_every = check_int(record_every, "record_every", where, min_val=0)
    T = torch.as_tensor(thetas, dtype=land.dtype).detach().clone()
    if T.ndim != 2 or T.shape[1] != land.dim:
        msg = f"thetas must have shape (B, {land.dim}). Got {tuple(T.shape)}."
        raise ShapeError(msg)
    diverged_at = torch.full((T.shape[0],), -1, dtype=torch.long)
    frames, recorded, taken = [], [], 0
    for k in range(steps):
        if bool((diverged_at >= 0).all()):
            break  # every run has diverged: nothing moves any more
        if record_every and k % record_every == 0:
            frames.append(T.clone())
            recorded.append(k)
        new = T - lr * land.grads(T)
        bad = ~torch.isfinite(new).all(dim=1) | (new.norm(dim=1) > blowup)
        fresh = bad & (diverged_at < 0)
        diverged_at[fresh] = k + 1
        T = torch.where((diverged_at < 0)[:, None], new, T)
        taken = k + 1
    if record_every:
        frames.append(T.clone())
        recorded.append(taken)
    losses = land.losses(T)
    gnorms = land.grads(T).norm(dim=1)
    traj = torch.stack(frames) if frames else torch.zeros(0, *T.shape, dtype=T.dtype)
    return BatchDescent(thetas=T, losses=losses, grad_norms=gnorms, diverged=diverged_at >= 0,
                        diverged_at=diverged_at, steps=taken, lr=lr, blowup=blowup, trajectory=traj,
                        recorded_steps=np.asarray(recorded, dtype=int))


def armijo_descent_batch(land: Landscape, thetas, /, *, lr: float, steps: int, armijo: float = 1e-4,
                         grow: float = 1.5, max_halvings: int = 40) -> BatchDescent:
    """Gradient descent from many starts, each with its own backtracking step size.

    Every step moves along -grad L; a start's step size s is halved until the Armijo
    condition L(t - s g) <= L(t) - armijo * s * ||g||^2 holds and multiplied by ``grow``
    after an accepted step. All starts advance in one vectorised update per step.

    Args:
        land: a :class:`~valleys.Landscape`.
        thetas: starts (B, d).
        lr: the initial step size (> 0).
        steps: number of gradient steps (>= 0).
        armijo: sufficient-decrease constant in (0, 1).
        grow: factor by which an accepted step size grows (>= 1).
        max_halvings: most halvings of the step sizes within one step.

    Returns:
        A :class:`BatchDescent` (``lr`` is the initial step size; nothing diverges, since
        the loss never increases).

    Raises:
        InvalidParameterError: if ``lr``, ``steps``, ``armijo`` or ``grow`` is out of range.
        ShapeError: if ``thetas`` is not of shape (B, d) with d the landscape's dimension.

    Example:
        >>> from valleys import Landscape
        >>> land = Landscape.from_function(lambda t: (t ** 2).sum(), 1)
        >>> out = armijo_descent_batch(land, torch.tensor([[1.0], [-2.0]]), lr=0.5, steps=1)
        >>> out.thetas.reshape(-1).tolist()
        [0.0, 0.0]
    """
    where = "armijo_descent_batch"
    lr = check_float(lr, "lr", where, min_val=0.0, open_min=True)
    steps = check_int(steps, "steps", where, min_val=0)
    armijo = check_float(armijo, "armijo", where, min_val=0.0, max_val=1.0, open_min=True)
    grow = check_float(grow, "grow", where, min_val=1.0)
    T = torch.as_tensor(thetas, dtype=land.dtype).detach().clone()
    if T.ndim != 2 or T.shape[1] != land.dim:
        msg = f"thetas must have shape (B, {land.dim}). Got {tuple(T.shape)}."
        raise ShapeError(msg)
    step = torch.full((T.shape[0],), lr, dtype=land.dtype)
    value = land.losses(T)
    for _ in range(steps):
        g = land.grads(T)
        g2 = (g * g).sum(1)
        for _ in range(max_halvings):
            trial = T - step[:, None] * g
            new = land.losses(trial)
            short = ~(new <= value - armijo * step * g2)
            if not short.any():
                break
            step = torch.where(short, 0.5 * step, step)
        accept = new <= value
        T = torch.where(accept[:, None], trial, T)
        value = torch.where(accept, new, value)
        step = torch.where(accept, step * grow, step)
    never = torch.zeros(T.shape[0], dtype=torch.bool)
    return BatchDescent(thetas=T, losses=value, grad_norms=land.grads(T).norm(dim=1), diverged=never,
                        diverged_at=torch.full_like(never, -1, dtype=torch.long), steps=steps, lr=lr,
                        blowup=math.inf, trajectory=torch.zeros(0, *T.shape, dtype=T.dtype),
                        recorded_steps=np.zeros(0, dtype=int))
