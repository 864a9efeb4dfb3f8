r"""Random features and the height of spurious valleys (document 000, VBB-T3.4, algorithm A5).

With the first layer fixed at random directions :math:`\tilde W` (rows uniform on the unit
sphere), the square loss is convex in the output weights :math:`u`, so the straight path
from any :math:`\tilde u` to the least-squares :math:`u^*` is a descent path. By the
decomposition :math:`L = \mathbb{E}|\Phi u - f^*|^2 + R` (VBB eq. 26–27, :math:`R = s^2`
for additive noise of variance :math:`s^2`), its end point lies
:math:`\min_u \mathbb{E}|\Phi u - f^*|^2` above the floor :math:`R`: the *excess*, which
VBB-T3.4 bounds by :math:`O(p^{-1+\delta})` for a teacher with a bounded density.

The excess at all widths ``p`` of a nested family of features comes from one Householder
QR: if :math:`\Phi = QR` (full :math:`Q`) and :math:`c = Q^T f`, the residual of the least
squares on the first :math:`p` columns is :math:`\sum_{i > p} c_i^2`, without cancellation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from .._validation import check_generator, check_int
from ..errors import InvalidParameterError, ShapeError
from ..nets.activations import Activation, get_activation

TEACHER_CHUNK = 4096
"""Teacher directions evaluated per block (bounds the memory of f*(X))."""


def sphere_directions(p: int, n: int, gen: torch.Generator) -> torch.Tensor:
    """``p`` directions uniform on the unit sphere of R^n, float64 ``(p, n)``.

    Args:
        p: the number of directions.
        n: the dimension.
        gen: the random generator.

    Returns:
        Normalised Gaussian rows, shape (p, n).
    """
    w = torch.randn(p, n, generator=gen, dtype=torch.float64)
    return w / w.norm(dim=1, keepdim=True)


@dataclass(frozen=True)
class Teacher:
    r"""The teacher :math:`f^*(x) = \frac1K \sum_k \rho_k \sigma(\langle w_k, x\rangle)`.

    Attributes:
        directions: ``(K, n)`` unit vectors \(w_k\).
        rho: ``(K,)`` coefficients \(\rho_k\) in [-1, 1].
        activation: the activation.
    """

    directions: torch.Tensor
    rho: torch.Tensor
    activation: Activation

    def __call__(self, X: torch.Tensor) -> torch.Tensor:
        out = torch.zeros(X.shape[0], dtype=torch.float64)
        for i in range(0, len(self.rho), TEACHER_CHUNK):
            W, r = self.directions[i:i + TEACHER_CHUNK], self.rho[i:i + TEACHER_CHUNK]
            out += self.activation(X @ W.T) @ r
        return out / len(self.rho)


def random_teacher(n: int, K: int, activation: str | Activation = "relu", *,
                   seed: int | torch.Generator | None = 0) -> Teacher:
    """A :class:`Teacher` with ``K`` sphere directions and ``rho_k`` uniform in [-1, 1].

    Args:
        n: the input dimension (>= 1).
        K: the number of directions (>= 1).
        activation: an activation name or :class:`~valleys.nets.Activation`.
        seed: seed of the draws.

    Returns:
        The :class:`Teacher`.

    Raises:
        InvalidParameterError: if ``n`` or ``K`` is not an int >= 1.
    """
    where = "random_teacher"
    n = check_int(n, "n", where, min_val=1)
    K = check_int(K, "K", where, min_val=1)
    gen = check_generator(seed, where)
    W = sphere_directions(K, n, gen)
    rho = 2 * torch.rand(K, generator=gen, dtype=torch.float64) - 1
    return Teacher(W, rho, get_activation(activation))


@dataclass(frozen=True)
class PrefixFit:
    """Least squares of targets on the nested column prefixes of a feature matrix.

    Attributes:
        widths: the prefix widths p.
        residuals: ``(len(widths), T)`` mean squared residual ``min_u (1/N)||Phi_p u - t||^2``
            for each target column t.
        qr: ``(a, tau)`` of :func:`torch.geqrf` (for :meth:`solution`).
        coef: ``Q^T T`` (N, T).
    """

    widths: tuple[int, ...]
    residuals: np.ndarray
    qr: tuple[torch.Tensor, torch.Tensor]
    coef: torch.Tensor

    def solution(self, p: int, column: int = 0) -> torch.Tensor:
        r"""The least-squares ``u*`` on the first ``p`` columns for target ``column``.

        Args:
            p: the prefix width (at most the matrix's rank-revealing size).
            column: the target column.

        Returns:
            \(u^* = R_p^{-1} (Q^T t)_{:p}\), a tensor of shape (p,).
        """
        R = torch.triu(self.qr[0][:p, :p])
        return torch.linalg.solve_triangular(R, self.coef[:p, column:column + 1], upper=True)[:, 0]


def prefix_least_squares(Phi: torch.Tensor, targets: torch.Tensor,
                         widths: Sequence[int]) -> PrefixFit:
    r"""Least-squares residuals of ``targets`` on ``Phi[:, :p]`` for every ``p`` in ``widths``.

    One Householder QR of ``Phi`` serves every prefix: with \(c = Q^T T\), the residual of
    width p is \(\frac1N \sum_{k \ge p} c_k^2\).

    Args:
        Phi: the feature matrix, shape (N, P).
        targets: the targets, shape (N,) or (N, T).
        widths: prefix widths, each in [1, min(N, P)].

    Returns:
        The :class:`PrefixFit`.

    Raises:
        ShapeError: if shapes disagree or a width exceeds the columns or the rows.
    """
    Phi = torch.as_tensor(Phi, dtype=torch.float64)
    T = torch.as_tensor(targets, dtype=torch.float64)
    T = T[:, None] if T.ndim == 1 else T
    N, P = Phi.shape
    widths = tuple(int(p) for p in widths)
    if T.shape[0] != N or not widths or min(widths) < 1 or max(widths) > min(N, P):
        msg = (f"prefix_least_squares needs targets with {N} rows and widths in [1, {min(N, P)}]. "
               f"Got targets {tuple(T.shape)} and widths {widths}.")
        raise ShapeError(msg)
    a, tau = torch.geqrf(Phi)
    c = torch.ormqr(a, tau, T, left=True, transpose=True)
    tail = torch.flip(torch.cumsum(torch.flip(c ** 2, [0]), 0), [0])  # tail[i] = sum_{k>=i} c_k^2
    res = np.stack([(tail[p] / N).numpy() for p in widths])
    return PrefixFit(widths, res, (a, tau), c)


def loglog_slope(x: Sequence[float], y: Sequence[float]) -> float:
    r"""Least-squares slope of log y against log x.

    Args:
        x: positive numbers (at least two).
        y: positive numbers, as many.

    Returns:
        The slope of the degree-1 least-squares fit of \(\log y\) on \(\log x\).

    Raises:
        InvalidParameterError: if there are fewer than two points or a value is not positive.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.size < 2 or np.any(x <= 0) or np.any(y <= 0):
        msg = f"loglog_slope needs >= 2 positive points. Got x={x.tolist()}, y={y.tolist()}."
        raise InvalidParameterError(msg)
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def interpolation_losses(Phi: torch.Tensor, y: torch.Tensor, u0: torch.Tensor,
                         u1: torch.Tensor, n_points: int) -> np.ndarray:
    r"""Mean squared loss along ``u(t) = (1 - t) u0 + t u1`` at ``n_points`` equidistant t.

    Args:
        Phi: the feature matrix, shape (N, p).
        y: the targets, shape (N,).
        u0: the first coefficient vector, shape (p,).
        u1: the second, shape (p,).
        n_points: the number of t in [0, 1] (>= 2).

    Returns:
        \(\frac1N \|\Phi u(t) - y\|^2\) at each t, an array of shape (n_points,).

    Raises:
        InvalidParameterError: if ``n_points`` is not an int >= 2.
    """
    n_points = check_int(n_points, "n_points", "interpolation_losses", min_val=2)
    t = torch.linspace(0, 1, n_points, dtype=torch.float64)
    U = (1 - t)[:, None] * u0[None] + t[:, None] * u1[None]
    return (((Phi @ U.T) - y[:, None]) ** 2).mean(0).numpy()


def random_feature_excess(teacher: Teacher, X: torch.Tensor, widths: Sequence[int], draws: int, *,
                          seed: int | torch.Generator | None = 0,
                          progress=None) -> pd.DataFrame:
    r"""Excess \(\min_u \frac1N\|\sigma(X W^T) u - f^*(X)\|^2\) over ``draws`` random ``W``.

    For each draw, ``max(widths)`` sphere directions are drawn once and the width-p model
    uses the first ``p`` of them (nested features; draws are independent).

    Args:
        teacher: the target function \(f^*\) (its activation is the features' too).
        X: inputs, shape (N, n).
        widths: the feature counts p.
        draws: the number of independent draws of W (>= 1).
        seed: seed of the draws.
        progress: a wrapper of the draws' iterable (e.g. ``tqdm``), or None.

    Returns:
        A tidy frame with columns ``draw``, ``p``, ``excess``.

    Raises:
        InvalidParameterError: if ``draws`` is not an int >= 1.
    """
    where = "random_feature_excess"
    draws = check_int(draws, "draws", where, min_val=1)
    gen = check_generator(seed, where)
    f = teacher(X)
    P = max(widths)
    rows = []
    it = range(draws) if progress is None else progress(range(draws))
    for d in it:
        W = sphere_directions(P, X.shape[1], gen)
        fit = prefix_least_squares(teacher.activation(X @ W.T), f, widths)
        rows += [{"draw": d, "p": p, "excess": float(r[0])}
                 for p, r in zip(widths, fit.residuals, strict=True)]
    return pd.DataFrame(rows)


__all__ = ["sphere_directions", "Teacher", "random_teacher", "PrefixFit", "prefix_least_squares",
           "loglog_slope", "interpolation_losses", "random_feature_excess", "TEACHER_CHUNK"]
