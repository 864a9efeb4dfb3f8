"""Exact sign criteria for singleton (SS-T2) and full-rank (SS-T4) data, squared loss (SS-A4).

**Singleton data** (each ``x_t = s_t |x_t| e_{j_t}``). Neuron i is active on ``x_t`` iff
``sign(w_{i j_t}) = s_t``, and inside a basin the prediction on ``x_t`` is
``|x_t| q_g`` with ``g = (j_t, s_t)`` and ``q_g = sum_{i active on g} b_i |u_{i j_t}|``,
free in the cone spanned by the signs ``{b_i : sign(w_{i j}) = s}``: all of R, a half
line or ``{0}``. The groups decouple, so [derived]

.. math::
    \\mathrm{Bas}(W, v) = \\frac1m \\sum_g \\min_{q \\in \\mathrm{cone}_g(W, v)}
        \\sum_{t \\in g} (|x_t| q - y_t)^2,

and ``Bas = alpha`` iff every group whose unconstrained optimum ``q*_g`` is nonzero sees a
neuron with the right sign of ``w`` and ``b = sign(q*_g)``. With ``c`` neurons of a given
output sign, the signs of ``w_{ij}`` being uniform and independent given ``b``, the exact
probability is a sum over the number ``k`` of positive output weights.

**Full-rank data** (``rank X = m``): the pre-activations ``X w_i`` are free in ``R^m``,
so ``Bas = (1/m) sum_t y_t^2 [no neuron active on x_t has b_i = sign(y_t)]``, and
``alpha = 0`` for ``n >= 2`` (CLAIMS.md SS-T4).
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from ..curvature import matrix_rank
from ..errors import DataError
from .partition import as_data, as_targets


def singleton_structure(X) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(coordinate j_t, side s_t, magnitude |x_t|)`` of singleton rows.

    Args:
        X: Data ``(m, d)`` whose rows each have exactly one nonzero coordinate.

    Returns:
        ``(j, s, mag)``: the coordinate ``(m,)``, its sign ``(m,)`` and ``|x_t|`` ``(m,)``.

    Raises:
        DataError: If some row has more or fewer than one nonzero coordinate.
    """
    X = as_data(X, "singleton criterion")
    nnz = (X != 0).sum(axis=1)
    if not (nnz == 1).all():
        bad = np.flatnonzero(nnz != 1)[:5].tolist()
        msg = f"Singleton data need exactly one nonzero coordinate per row; rows {bad} have {nnz[bad].tolist()}."
        raise DataError(msg)
    j = np.argmax(X != 0, axis=1)
    val = X[np.arange(len(X)), j]
    return j, np.sign(val).astype(np.int64), np.abs(val)


class SingletonCriterion:
    """Exact basin values and probabilities on singleton data, squared loss.

    Groups are indexed ``2 j + (0 if side > 0 else 1)``; a group without points costs 0.
    ``cost[g]`` holds the group's best squared error over the four possible cones
    ``[R, [0, inf), (-inf, 0], {0}]``.

    Args:
        X: Singleton data ``(m, d)``.
        y: Targets ``(m,)``.

    Raises:
        DataError: If some row of X is not a singleton.
        ShapeError: If X and y do not match.
    """

    def __init__(self, X, y):
        self.X = as_data(X, "SingletonCriterion")
        self.y = as_targets(y, len(self.X), "SingletonCriterion")
        self.m, self.d = self.X.shape
        j, s, mag = singleton_structure(self.X)
        group = 2 * j + (s < 0)
        G = 2 * self.d
        saa = np.bincount(group, mag * mag, minlength=G)
        say = np.bincount(group, mag * self.y, minlength=G)
        syy = np.bincount(group, self.y * self.y, minlength=G)
        q = np.divide(say, saa, out=np.zeros(G), where=saa > 0)
        best = [q, np.maximum(q, 0.0), np.minimum(q, 0.0), np.zeros(G)]
        self.cost = np.stack([syy - 2 * b * say + b * b * saa for b in best], axis=1)  # (G, 4)
        self.q_star = q
        self.need = np.sign(q).astype(np.int64)  # the output sign each group needs (0: none)

    @property
    def alpha_wide(self) -> float:
        """``alpha(n)`` for ``n >= 4``: every group at its unconstrained optimum."""
        return float(self.cost[:, 0].sum() / self.m)

    def values(self, sign_w: np.ndarray, sign_b: np.ndarray) -> np.ndarray:
        r"""Exact basin values of D draws from their signs alone.

        Args:
            sign_w: Signs of the first-layer weights ``(D, n, d)``.
            sign_b: Signs of the output weights ``(D, n)``.

        Returns:
            \(\mathrm{Bas}(W, v)\) per draw, shape ``(D,)``.
        """
        pos = sign_w > 0
        bp = (sign_b > 0)[:, :, None]
        bm = ~bp
        has = {("+", 1): (pos & bp).any(1), ("+", -1): (pos & bm).any(1),
               ("-", 1): (~pos & bp).any(1), ("-", -1): (~pos & bm).any(1)}
        total = np.zeros(len(sign_w))
        for side, off in (("+", 0), ("-", 1)):
            hp, hm = has[(side, 1)], has[(side, -1)]
            idx = np.where(hp & hm, 0, np.where(hp, 1, np.where(hm, 2, 3)))  # (D, d)
            total += self.cost[2 * np.arange(self.d) + off][np.arange(self.d), idx].sum(1)
        return total / self.m

    def alpha(self, n: int) -> float:
        r"""The minimal objective \(\alpha(n)\) of width ``n`` (exact; enumeration for ``n < 4``).

        Args:
            n: Width >= 1.

        Returns:
            \(\alpha(n)\).
        """
        if n >= 4:
            return self.alpha_wide
        return min(self._per_b(np.array(b))[0] for b in itertools.product((-1, 1), repeat=n))

    def _per_b(self, b: np.ndarray) -> tuple[float, np.ndarray]:
        """For output signs b: the best value and, per coordinate, how many sign rows of
        ``w_{.j}`` (out of ``2^n``) reach the coordinate's best cost."""
        n = len(b)
        costs = np.zeros((self.d, 2 ** n))
        for col, sig in enumerate(itertools.product((-1, 1), repeat=n)):
            sig = np.array(sig)
            for off, side in ((0, 1), (1, -1)):
                present = b[sig == side]
                idx = 3 if len(present) == 0 else (0 if (present > 0).any() and (present < 0).any()
                                                   else (1 if (present > 0).all() else 2))
                costs[:, col] += self.cost[2 * np.arange(self.d) + off, idx]
        best = costs.min(1)
        counts = np.isclose(costs, best[:, None], rtol=1e-12, atol=1e-12).sum(1)
        return float(best.sum() / self.m), counts

    def probability(self, n: int) -> float:
        r"""Exact \(P[\mathrm{Bas}(W, v) \le \alpha(n)]\) under Assumption 1 (signs uniform, independent).

        Args:
            n: Width >= 1.

        Returns:
            The probability, a sum over the number of positive output weights.
        """
        if n < 4 and not math.isclose(self.alpha(n), self.alpha_wide, rel_tol=1e-12, abs_tol=1e-14):
            return self._probability_enumerated(n)
        need = self.need.reshape(self.d, 2)
        total = 0.0
        for k in range(n + 1):  # k neurons with b = +1
            count = {1: k, -1: n - k}
            logp = 0.0
            for nP, nN in need:
                p = _coordinate_probability(nP, nN, count)
                if p <= 0.0:
                    logp = -math.inf
                    break
                logp += math.log(p)
            if logp > -math.inf:
                total += math.exp(math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
                                  - n * math.log(2.0) + logp)
        return total

    def _probability_enumerated(self, n: int) -> float:
        alpha = self.alpha(n)
        total = 0.0
        for b in itertools.product((-1, 1), repeat=n):
            value, counts = self._per_b(np.array(b))
            if math.isclose(value, alpha, rel_tol=1e-12, abs_tol=1e-14):
                total += 2.0 ** -n * float(np.prod(counts / 2.0 ** n))
        return total

    @staticmethod
    def bound(n: int, d: int) -> float:
        r"""SS-T2's bound \(P[\mathrm{Bas} \le \alpha] \ge 1 - 2 d (3/4)^n\).

        Args:
            n: Width.
            d: Input dimension.

        Returns:
            \(1 - 2 d (3/4)^n\) (negative: vacuous).
        """
        return 1.0 - 2.0 * d * 0.75 ** n


def _coordinate_probability(need_pos: int, need_neg: int, count: dict[int, int]) -> float:
    """P[both groups of a coordinate get their sign], given the number of neurons per output sign."""
    if need_pos == 0 and need_neg == 0:
        return 1.0
    if need_pos == 0 or need_neg == 0:
        c = count[need_pos or need_neg]
        return 1.0 - 2.0 ** -c
    if need_pos != need_neg:
        return (1.0 - 2.0 ** -count[need_pos]) * (1.0 - 2.0 ** -count[need_neg])
    c = count[need_pos]
    return 0.0 if c == 0 else 1.0 - 2.0 ** (1 - c)


class FullRankCriterion:
    """Exact basin values on data with ``rank X = m`` (squared loss).

    Args:
        X: Data ``(m, d)`` of rank m.
        y: Targets ``(m,)``.
        rank_rtol: Relative singular-value threshold of the rank of X.

    Raises:
        DataError: If rank X < m (use the exact QP values instead).
        ShapeError: If X and y do not match.
    """

    def __init__(self, X, y, *, rank_rtol: float = 1e-10):
        self.X = as_data(X, "FullRankCriterion")
        self.y = as_targets(y, len(self.X), "FullRankCriterion")
        self.m = len(self.X)
        #: rank X (``"relative"`` policy, ``tau = rank_rtol``) with the gap that decides it
        self.rank = matrix_rank(self.X, tau=rank_rtol, warn=False)
        if self.rank.count != self.m:
            msg = (f"The full-rank criterion needs rank X = m = {self.m} (so m <= d); X has rank "
                   f"{self.rank.count} (gap ratio {self.rank.gap_ratio:.3g} at the cut). "
                   f"Use the exact basin values (method='qp') instead.")
            raise DataError(msg)
        self.sign_y = np.sign(self.y).astype(np.int64)

    def values(self, A: np.ndarray, sign_b: np.ndarray) -> np.ndarray:
        r"""Exact basin values of D draws.

        \(\mathrm{Bas} = \frac1m \sum_t y_t^2\, [\text{no neuron active on } x_t \text{ has }
        b_i = \mathrm{sign}(y_t)]\).

        Args:
            A: Activation patterns ``(D, n, m)``.
            sign_b: Output signs ``(D, n)``.

        Returns:
            \(\mathrm{Bas}\) per draw, shape ``(D,)``.
        """
        active = A > 0
        has_pos = (active & (sign_b > 0)[:, :, None]).any(1)
        has_neg = (active & (sign_b < 0)[:, :, None]).any(1)
        covered = np.where(self.sign_y > 0, has_pos, np.where(self.sign_y < 0, has_neg, True))
        return ((~covered) * self.y ** 2).sum(1) / self.m

    def alpha(self, n: int) -> float:
        r"""\(\alpha(n)\): 0 for ``n >= 2``; for one neuron the smaller of the two one-signed errors.

        Args:
            n: Width >= 1.

        Returns:
            \(\alpha(n)\).
        """
        if n >= 2:
            return 0.0
        return float(min((self.y[self.y < 0] ** 2).sum(), (self.y[self.y > 0] ** 2).sum()) / self.m)

    @staticmethod
    def bound(n: int, m: int) -> float:
        r"""SS-T4's bound \(P[\mathrm{Bas} \le \alpha] \ge 1 - m (3/4)^n\).

        Args:
            n: Width.
            m: Number of samples.

        Returns:
            \(1 - m (3/4)^n\) (negative: vacuous).
        """
        return 1.0 - m * 0.75 ** n
