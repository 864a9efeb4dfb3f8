r"""Shift independence and bias span of an activation (Nguyen's thesis, chapter 3).

- NG-L3.4.3: continuous piecewise-linear activations with at least two pieces (ReLU,
  leaky-ReLU) and ELU are not finite combinations of their own distinct shifts
  (Assumption 3.4.2): the functions :math:`\sigma(x - a_0), \dots, \sigma(x - a_p)` are
  linearly independent, so the sampled matrix :math:`[\sigma(x_g - a_i)]` has rank
  :math:`p + 1`. A polynomial of degree :math:`d` violates it: its shifts span the
  polynomials of degree :math:`\le d`, rank :math:`\le d + 1`.
- NG-L3.4.11: for :math:`v \in \mathbb{R}^n` with distinct entries and such a
  :math:`\sigma`, :math:`\mathrm{span}\{\sigma(v + b 1_n) : b \in \mathbb{R}\} = \mathbb{R}^n`.
  For a polynomial of degree :math:`d` the span is that of :math:`v^{\circ 0}, \dots,
  v^{\circ d}`, of dimension :math:`\min(n, d + 1)`.

Sampling matters: the independence of piecewise activations comes from their kinks, so
the sample grid contains the midpoints between consecutive shifts, and the biases include
one point in each gap between consecutive :math:`-v_i` (the lemma is about all
:math:`b \in \mathbb{R}`; these samples make its span visible).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from .._validation import check_float, check_generator, check_int
from ..curvature.rank import RankResult, matrix_rank
from ..errors import ShapeError
from ..nets.activations import Activation, get_activation

DEFAULT_TAU = 1e-10
"""Relative singular-value threshold of the shift and bias-span ranks (float64)."""

HIGH_PRECISION_DPS = 50
"""Decimal digits to which the high-precision recomputation (mpmath) of a matrix whose
float64 rank falls short of full resolves sigma_min / sigma_max (relative to sigma_max)."""

GUARD_DIGITS = 10
"""Extra working digits of the high-precision recomputation, beyond twice its resolution:
they absorb the growth of rounding errors with the matrix size (see
:func:`sigma_ratio_high_precision`)."""

CERTIFY_TAU = 1e-30
"""Relative threshold of the high-precision check: sigma_min / sigma_max is resolved to
about 10^-HIGH_PRECISION_DPS, so a ratio above this is nonzero with twenty digits to
spare, for the float64 sample points as given; an exactly singular matrix gives a ratio
near 10^-HIGH_PRECISION_DPS or 0, far below it."""


def shift_matrix(activation: str | Activation, x: torch.Tensor, shifts: torch.Tensor) -> torch.Tensor:
    r"""The matrix :math:`[\sigma(x_g - a_i)]` of shape ``(G, len(shifts))``.

    Args:
        activation: an activation name or :class:`~valleys.nets.Activation`.
        x: the grid points x_g, shape (G,).
        shifts: the shifts a_i, shape (S,).

    Returns:
        A float64 tensor of shape (G, S).

    Raises:
        ShapeError: if ``x`` or ``shifts`` is not a non-empty vector.
    """
    act = get_activation(activation)
    x, a = _vector(x, "x", "shift_matrix"), _vector(shifts, "shifts", "shift_matrix")
    return act(x[:, None] - a[None, :])


def bias_span_matrix(activation: str | Activation, v: torch.Tensor,
                     biases: torch.Tensor) -> torch.Tensor:
    r"""The matrix :math:`[\sigma(v + b_s 1_n)]` of shape ``(n, len(biases))``.

    Args:
        activation: an activation name or :class:`~valleys.nets.Activation`.
        v: the vector v, shape (n,).
        biases: the biases b_s, shape (S,).

    Returns:
        A float64 tensor of shape (n, S).

    Raises:
        ShapeError: if ``v`` or ``biases`` is not a non-empty vector.
    """
    act = get_activation(activation)
    v, b = _vector(v, "v", "bias_span_matrix"), _vector(biases, "biases", "bias_span_matrix")
    return act(v[:, None] + b[None, :])


def _vector(x, name: str, where: str) -> torch.Tensor:
    x = torch.as_tensor(x, dtype=torch.float64)
    if x.ndim != 1 or x.numel() == 0:
        msg = f"The '{name}' parameter of {where} must be a nonempty 1-D vector. Got shape {tuple(x.shape)}."
        raise ShapeError(msg)
    return x


@dataclass(frozen=True)
class SpanRank:
    """The numerical rank of a shift or bias-span matrix.

    Attributes:
        activation: the activation's name.
        kind: ``"shift"`` or ``"bias_span"``.
        size: the rank the lemma predicts for an activation satisfying Assumption 3.4.2
            (``p + 1`` shifts, or ``n``).
        rank: the :class:`~valleys.curvature.rank.RankResult`.
    """

    activation: str
    kind: str
    size: int
    rank: RankResult
    sigma_ratio_hp: float | None = None
    """sigma_min / sigma_max recomputed with :data:`HIGH_PRECISION_DPS` digits (activation
    values and singular values), when the float64 rank is short of ``size`` and the
    activation has a high-precision form; None otherwise."""
    min_separation: float = float("nan")
    """Smallest distance between two of the sampled shifts a_i (or entries v_i): the lemmas
    need them distinct (> 0)."""

    @property
    def full(self) -> bool:
        return self.rank.count == self.size

    @property
    def full_hp(self) -> bool | None:
        """Full rank by the high-precision recomputation (None: not recomputed)."""
        if self.sigma_ratio_hp is None:
            return None
        return self.sigma_ratio_hp > CERTIFY_TAU

    def to_dict(self) -> dict:
        """The sizes and the rank decision as a flat JSON-able dict.

        Returns:
            A dict with ``activation``, ``kind``, ``size``, ``rank``, ``gap_ratio``,
            ``threshold``, ``ambiguous``, ``sigma_ratio_hp`` (NaN when not computed), ``full_hp``
            and ``min_separation``.
        """
        return {"activation": self.activation, "kind": self.kind, "size": self.size,
                "rank": self.rank.count, "gap_ratio": self.rank.gap_ratio,
                "threshold": self.rank.threshold, "ambiguous": self.rank.ambiguous,
                "sigma_ratio_hp": np.nan if self.sigma_ratio_hp is None else self.sigma_ratio_hp,
                "full_hp": self.full_hp, "min_separation": self.min_separation}

    def to_frame(self) -> pd.DataFrame:
        """One row: :meth:`to_dict`.

        Returns:
            A one-row :class:`pandas.DataFrame`.
        """
        return pd.DataFrame([self.to_dict()])

    def __repr__(self) -> str:
        return (f"SpanRank({self.kind}, {self.activation}: rank {self.rank.count} of "
                f"{self.size}, gap {self.rank.gap_ratio:.3g})")


def _rank(M: torch.Tensor, tau: float, gap_required: float) -> RankResult:
    """Relative-policy rank of M with the gap across its cut (reported, never warned)."""
    return matrix_rank(M, policy="relative", tau=tau, gap_required=gap_required, warn=False)


def shift_rank(activation: str | Activation, p: int, *, seed: int | torch.Generator | None = 0,
               shift_lim: float = 3.0, x_lim: float = 6.0, grid_points: int = 2001,
               tau: float = DEFAULT_TAU, gap_required: float = 1e3,
               high_precision: bool = True) -> SpanRank:
    """Rank of ``[sigma(x_g - a_i)]`` for ``a_0 = 0`` and ``p`` random distinct shifts.

    The shifts are uniform in ``[-shift_lim, shift_lim]``; the grid is
    ``linspace(-x_lim, x_lim, grid_points)`` plus the midpoints between consecutive
    sorted shifts. When the float64 rank is short of ``p + 1`` and ``high_precision``,
    sigma_min / sigma_max is recomputed with mpmath (:func:`sigma_ratio_high_precision`).

    Args:
        activation: an activation name or :class:`~valleys.nets.Activation`.
        p: the number of random shifts (>= 1).
        seed: seed of the shifts.
        shift_lim: the shifts' range (> 0).
        x_lim: the grid's range (> shift_lim).
        grid_points: the number of equispaced grid points (>= 2).
        tau: the relative singular-value threshold of the rank.
        gap_required: the singular-value gap ratio that makes the rank unambiguous.
        high_precision: recompute the singular-value ratio with mpmath when the rank is short.

    Returns:
        The :class:`SpanRank` (kind ``"shift"``, size p + 1).

    Raises:
        InvalidParameterError: if an option is out of range or the activation is unknown.
    """
    where = "shift_rank"
    act = get_activation(activation)
    p = check_int(p, "p", where, min_val=1)
    shift_lim = check_float(shift_lim, "shift_lim", where, min_val=0.0, open_min=True)
    x_lim = check_float(x_lim, "x_lim", where, min_val=shift_lim, open_min=True)
    grid_points = check_int(grid_points, "grid_points", where, min_val=2)
    gen = check_generator(seed, where)
    shifts = torch.cat([torch.zeros(1, dtype=torch.float64),
                        shift_lim * (2 * torch.rand(p, generator=gen, dtype=torch.float64) - 1)])
    s = torch.sort(shifts).values
    x = torch.cat([torch.linspace(-x_lim, x_lim, grid_points, dtype=torch.float64),
                   (s[1:] + s[:-1]) / 2])
    rank = _rank(shift_matrix(act, x, shifts), tau, gap_required)
    hp = None
    if high_precision and rank.count < p + 1:
        hp = sigma_ratio_high_precision(act, x[:, None] - shifts[None, :])
    return SpanRank(act.name, "shift", p + 1, rank, hp, float(torch.diff(s).min()))


def gap_biases(v: torch.Tensor, n_biases: int, gen: torch.Generator, margin: float = 1.0) -> torch.Tensor:
    """``n_biases`` biases: one uniform in each gap between consecutive sorted ``-v_i``, one
    below and one above them (within ``margin``), the rest uniform over that range.

    Args:
        v: the vector, shape (n,).
        n_biases: how many biases (the first n + 1 are the stratified ones).
        gen: the random generator.
        margin: how far below and above the extreme ``-v_i`` the range reaches.

    Returns:
        A float64 tensor of ``max(n_biases, 1)`` biases.
    """
    t = torch.sort(-v).values
    edges = torch.cat([t[:1] - margin, t, t[-1:] + margin])
    lo, hi = edges[:-1], edges[1:]
    strat = lo + (hi - lo) * torch.rand(len(lo), generator=gen, dtype=torch.float64)
    rest = max(n_biases - len(strat), 0)
    extra = edges[0] + (edges[-1] - edges[0]) * torch.rand(rest, generator=gen, dtype=torch.float64)
    return torch.cat([strat, extra])[:max(n_biases, 1)]


def bias_span_rank(activation: str | Activation, n: int, n_biases: int = 200, *,
                   seed: int | torch.Generator | None = 0, tau: float = DEFAULT_TAU,
                   gap_required: float = 1e3, high_precision: bool = True) -> SpanRank:
    r"""Rank of ``[sigma(v + b_s 1_n)]`` for Gaussian ``v`` (distinct entries) and
    :func:`gap_biases` (``n_biases >= n + 1`` covers every gap); recomputed in high
    precision like :func:`shift_rank` when the float64 rank is short of ``n``.

    Args:
        activation: an activation name or :class:`~valleys.nets.Activation`.
        n: the dimension (>= 1).
        n_biases: the number of biases (>= n + 1).
        seed: seed of v and the biases.
        tau: the relative singular-value threshold of the rank.
        gap_required: the singular-value gap ratio that makes the rank unambiguous.
        high_precision: recompute \(\sigma_{min}/\sigma_{max}\) with mpmath when the rank is
            short.

    Returns:
        The :class:`SpanRank` (kind ``"bias_span"``, size n).

    Raises:
        InvalidParameterError: if ``n`` < 1, ``n_biases`` < n + 1 or the activation is unknown.
    """
    where = "bias_span_rank"
    act = get_activation(activation)
    n = check_int(n, "n", where, min_val=1)
    n_biases = check_int(n_biases, "n_biases", where, min_val=n + 1)
    gen = check_generator(seed, where)
    v = torch.randn(n, generator=gen, dtype=torch.float64)
    b = gap_biases(v, n_biases, gen)
    rank = _rank(bias_span_matrix(act, v, b), tau, gap_required)
    hp = None
    if high_precision and rank.count < n:
        hp = sigma_ratio_high_precision(act, v[:, None] + b[None, :])
    sep = float(torch.diff(torch.sort(v).values).min()) if n > 1 else float("inf")
    return SpanRank(act.name, "bias_span", n, rank, hp, sep)


def _mp_activation(act: Activation):
    """The activation as a function of mpmath numbers, or None where none is known."""
    import mpmath

    name = act.name
    if name == "relu":
        return lambda t: t if t > 0 else mpmath.mpf(0)
    if name.startswith("leaky_relu"):
        alpha = mpmath.mpf(float(name[len("leaky_relu("):-1])) if "(" in name else mpmath.mpf("0.1")
        return lambda t: t if t > 0 else alpha * t
    if name == "elu" or name.startswith("elu("):
        alpha = mpmath.mpf(float(name[4:-1])) if "(" in name else mpmath.mpf(1)
        return lambda t: t if t > 0 else alpha * mpmath.expm1(t)
    return None


def sigma_ratio_high_precision(activation: str | Activation, args: torch.Tensor,
                               dps: int = HIGH_PRECISION_DPS) -> float | None:
    r"""sigma_min / sigma_max of ``[sigma(args_ij)]``, resolved to about ``10^-dps``.

    The arguments (float64 numbers, exactly representable) are taken as given. The
    activation values, the Gram matrix :math:`G = M^\top M` (or :math:`M M^\top`, the
    smaller, of order :math:`k`, from :math:`m` sample rows) and its eigenvalues are computed
    by mpmath with :math:`w = 2\,\mathrm{dps} + 10` working digits (:data:`GUARD_DIGITS`).
    The eigenvalues then carry absolute errors of about :math:`(m + k^2)\,10^{-w}
    \lambda_{\max}`, so :math:`\lambda_{\min} / \lambda_{\max} = (\sigma_{\min} /
    \sigma_{\max})^2` is resolved to that size and the ratio itself to its square root,
    :math:`\sqrt{m + k^2}\,10^{-\mathrm{dps} - 5}` (about ``1e-53`` for a 2001 x 31 matrix
    at ``dps = 50``). Squaring the singular values doubles the digits they need; computing
    the Gram matrix with only ``dps`` digits would resolve the ratio to ``10^(-dps/2)``, and
    an exactly singular matrix could then come out above :data:`CERTIFY_TAU`. This tells
    apart a matrix that is exactly singular from one whose float64 singular values fall
    below a float64 threshold.

    Args:
        activation: relu, leaky_relu or elu (others have no high-precision form here).
        args: the float64 arguments :math:`a_{ij}` of the matrix, shape ``(m, k)`` or
            ``(k, m)``.
        dps: the decimal digits to which the ratio is resolved (>= 1).

    Returns:
        The ratio, or None for an activation without a high-precision form (only relu,
        leaky_relu and elu have one).

    Raises:
        InvalidParameterError: ``dps`` is not an integer >= 1.
    """
    import mpmath

    dps = check_int(dps, "dps", "sigma_ratio_high_precision", min_val=1)
    fn = _mp_activation(get_activation(activation))
    if fn is None:
        return None
    A = args.detach().cpu().numpy()
    if A.shape[0] < A.shape[1]:
        A = A.T
    with mpmath.workdps(2 * dps + GUARD_DIGITS):
        cols = [[fn(mpmath.mpf(float(a))) for a in A[:, j]] for j in range(A.shape[1])]
        k = len(cols)
        gram = mpmath.matrix(k, k)
        for i in range(k):
            for j in range(i, k):
                gram[i, j] = gram[j, i] = mpmath.fdot(cols[i], cols[j])
        eig = sorted(mpmath.eigsy(gram, eigvals_only=True))
        top = eig[-1]
        if top <= 0:
            return 0.0
        return float(mpmath.sqrt(max(eig[0], mpmath.mpf(0)) / top))


def polynomial_shift_rank(degree: int, size: int) -> int:
    r"""The rank a polynomial of exact degree ``degree`` gives: ``min(degree + 1, size)``.

    Args:
        degree: the polynomial's degree (>= 0).
        size: the number of shifts.

    Returns:
        \(\min(\text{degree} + 1, \text{size})\).

    Raises:
        InvalidParameterError: if ``degree`` is not an int >= 0.
    """
    return min(check_int(degree, "degree", "polynomial_shift_rank", min_val=0) + 1, size)


__all__ = ["shift_matrix", "bias_span_matrix", "SpanRank", "shift_rank", "bias_span_rank",
           "gap_biases", "polynomial_shift_rank", "sigma_ratio_high_precision", "DEFAULT_TAU",
           "HIGH_PRECISION_DPS", "GUARD_DIGITS", "CERTIFY_TAU"]
