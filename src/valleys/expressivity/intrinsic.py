r"""Intrinsic dimension of an activation (document 000, Venturi–Bandeira–Bruna §2).

The filter functions :math:`\psi_{\sigma,v}(x) = \sigma(\langle v, x\rangle)` span a space
:math:`V_\sigma` whose dimension :math:`\dim^*(\sigma, n)` is finite exactly when
:math:`\sigma` is a polynomial (VBB-T2.1). For :math:`\sigma(z) = \sum_k a_k z^k`,
scaling :math:`v \to tv` separates the degrees, and the homogeneous polynomials of
degree :math:`i` in :math:`n` variables have dimension :math:`\binom{n+i-1}{i}`, so

.. math:: \dim^*(\sigma, n) = \sum_{i \ge 0,\ a_i \ne 0} \binom{n+i-1}{i}

for any input distribution with infinite-dimensional :math:`L^2` (CLAIMS.md VBB-P2.1:
the seed's sum starts at :math:`i = 1` and misses the constant term).

Algorithm A6 estimates the dimension as the numerical rank of the filter matrix
:math:`[\sigma(\langle v_k, x_j\rangle)]_{j \le J, k \le K}` for Gaussian samples; it
saturates at the formula for polynomials and grows like :math:`\min(J, K)` otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import comb

import numpy as np
import pandas as pd
import torch

from .._validation import check_generator, check_int
from ..curvature.rank import RankResult, numerical_rank
from ..errors import InvalidParameterError, ShapeError
from ..nets.activations import Activation, get_activation


def polynomial_dimension(coeffs, n: int, *, include_constant: bool = True) -> int:
    r"""Dimension of :math:`\mathrm{span}\{\sigma(\langle v, \cdot\rangle)\}` for the
    polynomial :math:`\sigma(z) = \sum_i a_i z^i` on :math:`\mathbb{R}^n`.

    Args:
        coeffs: ``(a_0, a_1, ..., a_d)``.
        n: input dimension >= 1.
        include_constant: count the degree-0 term (the correct formula). ``False`` gives the
            seed's sum from ``i = 1`` (VBB-P2.1 as printed), for the erratum check.

    Returns:
        \(\sum_{i \ge i_0,\, a_i \ne 0} \binom{n + i - 1}{i}\) with \(i_0 = 0\)
        (``include_constant``) or 1.

    Raises:
        InvalidParameterError: if ``n`` is not an int >= 1, or ``coeffs`` is not a non-empty
            sequence of finite numbers.

    Example:
        >>> polynomial_dimension([0, 1, 1], 3), polynomial_dimension([1, 0, 1], 2)
        (9, 4)
        >>> polynomial_dimension([1, 0, 1], 2, include_constant=False)
        3
    """
    n = check_int(n, "n", "polynomial_dimension", min_val=1)
    a = np.asarray(coeffs, dtype=float)
    if a.ndim != 1 or a.size == 0 or not np.all(np.isfinite(a)):
        msg = f"The 'coeffs' parameter of polynomial_dimension must be finite numbers. Got {coeffs!r}."
        raise InvalidParameterError(msg)
    start = 0 if include_constant else 1
    return sum(comb(n + i - 1, i) for i in range(start, a.size) if a[i] != 0)


def filter_matrix(activation: str | Activation, X: torch.Tensor, V: torch.Tensor) -> torch.Tensor:
    r"""The matrix :math:`[\sigma(\langle v_k, x_j\rangle)]` of shape ``(J, K)``.

    Args:
        activation: an activation name or :class:`~valleys.nets.Activation`.
        X: the points x_j, shape (J, n).
        V: the directions v_k, shape (K, n).

    Returns:
        A float64 tensor of shape (J, K).

    Raises:
        ShapeError: if ``X`` ``(J, n)`` and ``V`` ``(K, n)`` do not share ``n``.
        InvalidParameterError: for an unknown activation name.
    """
    act = get_activation(activation)
    X, V = torch.as_tensor(X, dtype=torch.float64), torch.as_tensor(V, dtype=torch.float64)
    if X.ndim != 2 or V.ndim != 2 or X.shape[1] != V.shape[1]:
        msg = (f"filter_matrix needs X (J, n) and V (K, n) with the same n. "
               f"Got {tuple(X.shape)} and {tuple(V.shape)}.")
        raise ShapeError(msg)
    return act(X @ V.T)


@dataclass(frozen=True)
class IntrinsicRank:
    """The numerical rank of one filter matrix and the evidence behind it.

    Attributes:
        activation: the activation's name.
        n: input dimension.
        J: the number of samples x_j.
        K: the number of directions v_k.
        rank: the :class:`~valleys.curvature.rank.RankResult` of the singular values.
        singular_values: all singular values, descending.
    """

    activation: str
    n: int
    J: int
    K: int
    rank: RankResult
    singular_values: np.ndarray

    def to_dict(self) -> dict:
        """The sizes and the rank decision as a flat JSON-able dict.

        Returns:
            A dict with ``activation``, ``n``, ``J``, ``K``, ``rank``, ``threshold``,
            ``gap_ratio``, ``ambiguous`` and ``policy``.
        """
        return {"activation": self.activation, "n": self.n, "J": self.J, "K": self.K,
                "rank": self.rank.count, "threshold": self.rank.threshold,
                "gap_ratio": self.rank.gap_ratio, "ambiguous": self.rank.ambiguous,
                "policy": self.rank.policy}

    def to_frame(self) -> pd.DataFrame:
        """One row: :meth:`to_dict`.

        Returns:
            A one-row :class:`pandas.DataFrame`.
        """
        return pd.DataFrame([self.to_dict()])

    def __repr__(self) -> str:
        return (f"IntrinsicRank({self.activation}, n={self.n}, J={self.J}, K={self.K}: "
                f"rank {self.rank.count}, gap {self.rank.gap_ratio:.3g})")


def intrinsic_rank(activation: str | Activation, n: int, J: int, K: int, *,
                   seed: int | torch.Generator | None = 0, policy: str = "press",
                   tau: float = 1e-8, gap_required: float = 1e3) -> IntrinsicRank:
    """Algorithm A6: numerical rank of the filter matrix for Gaussian ``x_j`` and ``v_k``.

    Args:
        activation: an activation name or :class:`~valleys.nets.Activation`.
        n: input dimension >= 1.
        J: the number of samples x_j (>= 1).
        K: the number of directions v_k (>= 1).
        seed: seed of the Gaussian draws.
        policy: the rank policy of :func:`~valleys.curvature.rank.numerical_rank` (default:
            Press et al.'s machine-precision threshold, so a polynomial's rank is the exact
            dimension).
        tau: the relative threshold of the ``"relative"`` policy.
        gap_required: the singular-value gap ratio that makes the rank unambiguous.

    Returns:
        An :class:`IntrinsicRank`.

    Raises:
        InvalidParameterError: for an unknown activation or a size below 1.
    """
    where = "intrinsic_rank"
    act = get_activation(activation)
    n = check_int(n, "n", where, min_val=1)
    J = check_int(J, "J", where, min_val=1)
    K = check_int(K, "K", where, min_val=1)
    gen = check_generator(seed, where)
    X = torch.randn(J, n, generator=gen, dtype=torch.float64)
    V = torch.randn(K, n, generator=gen, dtype=torch.float64)
    M = filter_matrix(act, X, V)
    sv = np.linalg.svd(M.numpy(), compute_uv=False)
    res = numerical_rank(sv, policy=policy, tau=tau, shape=(J, K), gap_required=gap_required,
                         warn=False)
    return IntrinsicRank(act.name, n, J, K, res, sv)


def rank_growth(activation: str | Activation, n: int, sizes, *, seed: int = 0,
                **kwargs) -> pd.DataFrame:
    """:func:`intrinsic_rank` at ``J = K = s`` for each ``s`` in ``sizes`` (one row each).

    Args:
        activation: an activation name or :class:`~valleys.nets.Activation`.
        n: the input dimension.
        sizes: the values of s.
        seed: the seed of the first size; size i uses ``seed + i``.
        **kwargs: further options of :func:`intrinsic_rank` (policy, tau, gap_required).

    Returns:
        A :class:`pandas.DataFrame`, one row of :meth:`IntrinsicRank.to_dict` per size.
    """
    rows = []
    for i, s in enumerate(sizes):
        r = intrinsic_rank(activation, n, s, s, seed=seed + i, **kwargs)
        rows.append(r.to_dict())
    return pd.DataFrame(rows)


__all__ = ["polynomial_dimension", "filter_matrix", "IntrinsicRank", "intrinsic_rank",
           "rank_growth"]
