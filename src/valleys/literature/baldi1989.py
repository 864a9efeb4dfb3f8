r"""Critical points of one-hidden-layer linear networks (Baldi & Hornik, Neural Networks 1989; Sun et al. T2.2).

Matrix convention of the seeds: samples are *columns*, :math:`X \in \mathbb{R}^{d_x\times N}`,
:math:`Y \in \mathbb{R}^{d_y\times N}`, and the loss is
:math:`L(W_1, W_2) = \|Y - W_2 W_1 X\|_F^2` with :math:`W_1 \in \mathbb{R}^{k\times d_x}`,
:math:`W_2 \in \mathbb{R}^{d_y\times k}` (a :func:`valleys.nets.deep_linear` net
``[d_x, k, d_y]`` on data ``(X.T, Y.T)`` with ``loss="mse", reduction="sum"``).

With :math:`\hat Y = Y X^T (X X^T)^{-1} X` and :math:`\Sigma = \hat Y \hat Y^T` (eigenvalues
:math:`\lambda_1 > \dots > \lambda_{d_y}`, eigenvectors :math:`u_i`), every index set
:math:`I` with :math:`|I| \le k` and invertible :math:`C \in \mathbb{R}^{k\times k}` gives the
critical point

.. math::
    W_2 = [U_I, 0]\, C, \qquad W_1 = C^{-1} [U_I, 0]^T Y X^T (X X^T)^{-1},

(zero columns when :math:`|I| < k`), with loss
:math:`\|Y - \hat Y\|_F^2 + \sum_{i \notin I} \lambda_i`. The top set :math:`I = \{1..k\}`
gives the global minimum, the reduced-rank regression value
:math:`\|Y - \hat Y\|_F^2 + \sum_{i > k} s_i(\hat Y)^2`; every other set is a saddle.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch

from .._validation import check_int
from ..curvature.rank import matrix_rank
from ..errors import InvalidParameterError, ShapeError
from ..results import Record


@dataclass(frozen=True, eq=False, repr=False)
class RegressionSpectrum(Record):
    """The least-squares fit of Y on X and the spectrum of its covariance.

    Attributes:
        eigenvalues: eigenvalues of Sigma = Yhat Yhat^T, descending (d_y,).
        eigenvectors: matching orthonormal eigenvectors as columns (d_y, d_y).
        fitted: Yhat = Y X^T (X X^T)^{-1} X (d_y, N).
        residual: ||Y - Yhat||_F^2.
        coefficients: Y X^T (X X^T)^{-1} (d_y, d_x).
    """

    eigenvalues: torch.Tensor
    eigenvectors: torch.Tensor
    fitted: torch.Tensor
    residual: float
    coefficients: torch.Tensor


@dataclass(frozen=True, eq=False, repr=False)
class BaldiHornikPoint(Record):
    """A constructed critical point of ||Y - W2 W1 X||_F^2.

    Attributes:
        index_set: 0-based indices into the descending eigenvalues of Sigma.
        W1: (k, d_x).
        W2: (d_y, k).
        loss: the closed-form loss ||Y - Yhat||^2 + sum of the eigenvalues not in I.
        is_top: I is {0, ..., k-1} (a global minimum).
    """

    index_set: tuple[int, ...]
    W1: torch.Tensor
    W2: torch.Tensor
    loss: float
    is_top: bool


def regression_spectrum(X, Y) -> RegressionSpectrum:
    """Least-squares fit and the eigen-decomposition of Sigma = Y X^T (X X^T)^{-1} X Y^T.

    Args:
        X: inputs (d_x, N), samples as columns, with X X^T invertible.
        Y: targets (d_y, N).

    Returns:
        A :class:`RegressionSpectrum`.

    Raises:
        ShapeError: if X and Y have different numbers of columns.
        InvalidParameterError: if X X^T is singular (fewer samples than inputs, or
            collinear inputs).
    """
    X, Y = _matrices(X, Y)
    XXt = X @ X.T
    rank = _rank(XXt)
    if rank < XXt.shape[0]:
        msg = (f"X X^T must be invertible (rank {XXt.shape[0]}): use at least d_x samples in "
               f"general position. Got rank {rank}.")
        raise InvalidParameterError(msg)
    coef = torch.linalg.solve(XXt, X @ Y.T).T
    fitted = coef @ X
    lam, U = torch.linalg.eigh(fitted @ fitted.T)
    order = torch.argsort(lam, descending=True)
    residual = float(((Y - fitted) ** 2).sum())
    return RegressionSpectrum(lam[order], U[:, order], fitted, residual, coef)


def reduced_rank_optimum(X, Y, r: int) -> float:
    r"""The minimum of :math:`\|Y - W X\|_F^2` over matrices W of rank at most r.

    .. math:: \|Y - \hat Y\|_F^2 + \sum_{i > r} s_i(\hat Y)^2

    Args:
        X: inputs (d_x, N), samples as columns.
        Y: targets (d_y, N).
        r: the rank bound (the narrowest width of the linear network), >= 0.

    Returns:
        The optimal value.

    Example:
        >>> X = torch.eye(2, dtype=torch.float64)
        >>> reduced_rank_optimum(X, torch.diag(torch.tensor([3.0, 1.0])), 1)
        1.0
    """
    r = check_int(r, "r", "reduced_rank_optimum", min_val=0)
    spec = regression_spectrum(X, Y)
    return spec.residual + float(spec.eigenvalues[r:].clamp_min(0.0).sum())


def baldi_hornik_point(X, Y, k: int, index_set, C=None) -> BaldiHornikPoint:
    """The critical point of ||Y - W2 W1 X||_F^2 for an index set I with |I| <= k.

    Args:
        X: inputs (d_x, N), samples as columns.
        Y: targets (d_y, N).
        k: the hidden width.
        index_set: distinct 0-based indices into the descending eigenvalues of Sigma.
        C: an invertible (k, k) matrix (identity if omitted).

    Returns:
        A :class:`BaldiHornikPoint`.

    Raises:
        InvalidParameterError: for |I| > k, repeated or out-of-range indices, or a
            singular C.
    """
    X, Y = _matrices(X, Y)
    k = check_int(k, "k", "baldi_hornik_point", min_val=1)
    spec = regression_spectrum(X, Y)
    index = _index_set(index_set, k, spec.eigenvalues.numel())
    C = torch.eye(k, dtype=X.dtype) if C is None else torch.as_tensor(C, dtype=X.dtype)
    if C.shape != (k, k) or _rank(C) < k:
        msg = f"C must be an invertible ({k}, {k}) matrix. Got shape {tuple(C.shape)}."
        raise InvalidParameterError(msg)
    U = torch.zeros(Y.shape[0], k, dtype=X.dtype)
    U[:, : len(index)] = spec.eigenvectors[:, list(index)]
    W2 = U @ C
    W1 = torch.linalg.solve(C, U.T @ spec.coefficients)
    rest = [i for i in range(spec.eigenvalues.numel()) if i not in index]
    loss = spec.residual + float(spec.eigenvalues[rest].sum())
    return BaldiHornikPoint(index, W1, W2, loss, index == tuple(range(k)))


def baldi_hornik_points(X, Y, k: int, C=None) -> list[BaldiHornikPoint]:
    """Every Baldi–Hornik critical point: one per index set of size 0, 1, ..., min(k, d_y).

    Args:
        X: inputs (d_x, N).
        Y: targets (d_y, N).
        k: the hidden width.
        C: the invertible (k, k) mixing matrix used for every point (identity if omitted).

    Returns:
        The points, ordered by size of I and then lexicographically.
    """
    X, Y = _matrices(X, Y)
    d_y = Y.shape[0]
    sets = itertools.chain.from_iterable(
        itertools.combinations(range(d_y), s) for s in range(min(k, d_y) + 1))
    return [baldi_hornik_point(X, Y, k, I, C) for I in sets]


def _matrices(X, Y) -> tuple[torch.Tensor, torch.Tensor]:
    X = torch.as_tensor(X, dtype=torch.float64)
    Y = torch.as_tensor(Y, dtype=torch.float64)
    if X.ndim != 2 or Y.ndim != 2 or X.shape[1] != Y.shape[1]:
        msg = (f"X (d_x, N) and Y (d_y, N) must be matrices with the same number of columns "
               f"(samples). Got shapes {tuple(X.shape)} and {tuple(Y.shape)}.")
        raise ShapeError(msg)
    return X, Y


def _index_set(index_set, k: int, d_y: int) -> tuple[int, ...]:
    index = tuple(sorted(int(i) for i in index_set))
    if len(set(index)) != len(index) or len(index) > k or any(i < 0 or i >= d_y for i in index):
        msg = (f"index_set must hold at most k = {k} distinct indices in [0, {d_y}). "
               f"Got {tuple(index_set)!r}.")
        raise InvalidParameterError(msg)
    return index


def _rank(A: torch.Tensor) -> int:
    """Numerical rank with LAPACK's default threshold, max(m, n) eps sigma_max (relative)."""
    return matrix_rank(A, tau=max(A.shape) * torch.finfo(A.dtype).eps, warn=False).count
