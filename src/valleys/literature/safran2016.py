"""Safran & Shamir, "On the quality of the initial basin in overspecified neural networks" (ICML 2016).

:func:`rescaled_path` is their algorithm SS-A1 (CLAIMS.md §3.3), the construction behind SS-T1:
rescale the last layer along a given path so that the loss strictly decreases. It returns a
:class:`RescaledPath` whose ``path`` (a polygon) :func:`valleys.paths.certify` checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from .._validation import check_float
from ..errors import InvalidParameterError
from ..paths.path import Path, polygon

if TYPE_CHECKING:
    from ..core import Landscape


@dataclass(frozen=True, eq=False)
class RescaledPath:
    """Safran–Shamir algorithm SS-A1: a path with its last layer rescaled by c(lambda).

    Attributes:
        path: the polygon through the rescaled grid points.
        lam: the grid lambda_0..lambda_K.
        c: the scale of the last layer at each grid point.
        target: T(lambda), the strictly decreasing target losses.
        losses: the loss at the rescaled grid points.
        condition2: L(P(W0)) > L(0) held (hypothesis 2 of SS-T1).
        condition1: a bracket was found at every grid point (hypothesis 1, numerically).
    """

    path: Path | None
    lam: np.ndarray
    c: np.ndarray
    target: np.ndarray
    losses: np.ndarray
    condition1: bool
    condition2: bool

    def to_dict(self) -> dict:
        """The run's summary as plain data.

        Returns:
            ``condition1``, ``condition2``, the grid size and the range of the scales c.
        """
        return {"condition1": self.condition1, "condition2": self.condition2,
                "grid": len(self.lam), "c_min": float(np.min(self.c)) if len(self.c) else None,
                "c_max": float(np.max(self.c)) if len(self.c) else None}


def rescaled_path(land: Landscape, points, /, *, last: str, eta_frac: float = 0.5, c_max: float = 1e6,
                  bisect_steps: int = 200) -> RescaledPath:
    """SS-A1 on a discretised path ``points`` (K + 1, d) from W0 to W1 (CLAIMS.md §3.3).

    For each grid point, g(c) = L(c P_lambda) is convex in c; with h(lambda) = min_c g,
    H the non-increasing envelope max_{lambda' >= lambda} h, and
    T(lambda) = max((1 - lambda) L0 + lambda L1, H(lambda) + eta (1 - lambda)),
    c(lambda) is the root of g(c) = T(lambda) on the increasing branch (bisection). The
    returned polygon joins the rescaled points.

    Args:
        land: a landscape whose output is linear in the block ``last`` (a last layer
            without bias, as in SS: O_h = W_h O_{h-1}); scaling it by c scales the outputs.
        points: the grid points of the given path, W0 first.
        last: the name of the last-layer block.
        eta_frac: eta = eta_frac * (L0 - H(0)), in (0, 1).
        c_max: the largest scale searched for a bracket.
        bisect_steps: bisection steps per grid point.

    Returns:
        A :class:`RescaledPath`; ``path`` is None when hypothesis 2 fails (L0 <= L(0)),
        in which case SS-T1 does not apply (NG-1.2).

    Raises:
        InvalidParameterError: ``eta_frac`` is outside (0, 1), or ``points`` is not a
            ``(K + 1, d)`` array with K >= 1.
    """
    where = "rescaled_path"
    eta_frac = check_float(eta_frac, "eta_frac", where, min_val=0.0, max_val=1.0, open_min=True)
    P = torch.as_tensor(points, dtype=land.dtype)
    if P.ndim != 2 or P.shape[0] < 2 or P.shape[1] != land.dim:
        msg = f"points must have shape (K + 1, {land.dim}) with K >= 1. Got {tuple(P.shape)}."
        raise InvalidParameterError(msg)
    sl = land.layout.slice(last)
    K = P.shape[0]
    lam = np.linspace(0.0, 1.0, K)

    def g(cs: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        Q = P[rows].clone()
        Q[:, sl] = Q[:, sl] * cs[:, None]
        return land.losses(Q)

    rows = torch.arange(K)
    L0, L1 = float(land.loss(P[0])), float(land.loss(P[-1]))
    zero = P[0].clone()
    zero[sl] = 0.0
    L_zero = float(land.loss(zero))
    if not L0 > L_zero:
        return RescaledPath(None, lam, np.ones(K), np.full(K, L0), np.full(K, L0), False, False)
    # h(lambda) = min_{c >= 0} g: golden-section on [0, c_hi] for the convex g
    lo = torch.zeros(K, dtype=land.dtype)
    hi = torch.full((K,), 2.0, dtype=land.dtype)
    while True:  # grow hi until g is increasing there
        grow = g(hi * 1.01, rows) < g(hi, rows)
        if not bool(grow.any()) or float(hi.max()) > c_max:
            break
        hi = torch.where(grow, hi * 2, hi)
    a, b = lo.clone(), hi.clone()
    for _ in range(bisect_steps):
        m1, m2 = a + (b - a) / 3, b - (b - a) / 3
        left = g(m1, rows) < g(m2, rows)
        b = torch.where(left, m2, b)
        a = torch.where(left, a, m1)
    c_star = 0.5 * (a + b)
    h = g(c_star, rows).numpy()
    H = np.maximum.accumulate(h[::-1])[::-1]
    eta = eta_frac * (L0 - H[0])
    T = np.maximum((1 - lam) * L0 + lam * L1, H + eta * (1 - lam))
    T[0], T[-1] = L0, max(L1, T[-1])
    # root of g(c) = T on c >= c*: bracket [c*, c_hi] then bisect
    Tt = torch.as_tensor(T, dtype=land.dtype)
    top = torch.maximum(c_star * 2, torch.ones_like(c_star))
    while True:
        short = g(top, rows) < Tt
        if not bool(short.any()) or float(top.max()) > c_max:
            break
        top = torch.where(short, top * 2, top)
    bracket = bool((g(top, rows) >= Tt).all())
    a, b = c_star.clone(), top.clone()
    for _ in range(bisect_steps):
        mid = 0.5 * (a + b)
        below = g(mid, rows) < Tt
        a = torch.where(below, mid, a)
        b = torch.where(below, b, mid)
    c = 0.5 * (a + b)
    c[0] = 1.0  # L(P_0) > L(0) puts c = 1 on the increasing branch with T(0) = L0
    Q = P.clone()
    Q[:, sl] = Q[:, sl] * c[:, None]
    losses = land.losses(Q).numpy()
    return RescaledPath(polygon(Q, knots=lam, labels=[f"rescaled {k}" for k in range(K - 1)]),
                        lam, c.numpy(), T, losses, bracket, True)

