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
from ..curvature.rank import RankResult, numerical_rank
from ..errors import ShapeError
from ..nets.activations import Activation, get_activation

DEFAULT_TAU = 1e-10
"""Relative singular-value threshold of the shift and bias-span ranks (float64)."""


def shift_matrix(activation: str | Activation, x: torch.Tensor, shifts: torch.Tensor) -> torch.Tensor:
    r"""The matrix :math:`[\sigma(x_g - a_i)]` of shape ``(G, len(shifts))``."""
    act = get_activation(activation)
    x, a = _vector(x, "x", "shift_matrix"), _vector(shifts, "shifts", "shift_matrix")
    return act(x[:, None] - a[None, :])


def bias_span_matrix(activation: str | Activation, v: torch.Tensor,
                     biases: torch.Tensor) -> torch.Tensor:
    r"""The matrix :math:`[\sigma(v + b_s 1_n)]` of shape ``(n, len(biases))``."""
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
        activation: the activation's name. kind: ``"shift"`` or ``"bias_span"``.
        size: the rank the lemma predicts for an activation satisfying Assumption 3.4.2
            (``p + 1`` shifts, or ``n``).
        rank: the :class:`~valleys.curvature.rank.RankResult`.
    """

    activation: str
    kind: str
    size: int
    rank: RankResult

    @property
    def full(self) -> bool:
        return self.rank.count == self.size

    def to_dict(self) -> dict:
        return {"activation": self.activation, "kind": self.kind, "size": self.size,
                "rank": self.rank.count, "gap_ratio": self.rank.gap_ratio,
                "threshold": self.rank.threshold, "ambiguous": self.rank.ambiguous}

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([self.to_dict()])

    def __repr__(self) -> str:
        return (f"SpanRank({self.kind}, {self.activation}: rank {self.rank.count} of "
                f"{self.size}, gap {self.rank.gap_ratio:.3g})")


def _rank(M: torch.Tensor, tau: float, gap_required: float) -> RankResult:
    sv = np.linalg.svd(M.numpy(), compute_uv=False)
    return numerical_rank(sv, policy="relative", tau=tau, gap_required=gap_required, warn=False)


def shift_rank(activation: str | Activation, p: int, *, seed: int | torch.Generator | None = 0,
               shift_lim: float = 3.0, x_lim: float = 6.0, grid_points: int = 2001,
               tau: float = DEFAULT_TAU, gap_required: float = 1e3) -> SpanRank:
    """Rank of ``[sigma(x_g - a_i)]`` for ``a_0 = 0`` and ``p`` random distinct shifts.

    The shifts are uniform in ``[-shift_lim, shift_lim]``; the grid is
    ``linspace(-x_lim, x_lim, grid_points)`` plus the midpoints between consecutive
    sorted shifts.
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
    return SpanRank(act.name, "shift", p + 1, _rank(shift_matrix(act, x, shifts), tau, gap_required))


def gap_biases(v: torch.Tensor, n_biases: int, gen: torch.Generator, margin: float = 1.0) -> torch.Tensor:
    """``n_biases`` biases: one uniform in each gap between consecutive sorted ``-v_i``, one
    below and one above them (within ``margin``), the rest uniform over that range."""
    t = torch.sort(-v).values
    edges = torch.cat([t[:1] - margin, t, t[-1:] + margin])
    lo, hi = edges[:-1], edges[1:]
    strat = lo + (hi - lo) * torch.rand(len(lo), generator=gen, dtype=torch.float64)
    rest = max(n_biases - len(strat), 0)
    extra = edges[0] + (edges[-1] - edges[0]) * torch.rand(rest, generator=gen, dtype=torch.float64)
    return torch.cat([strat, extra])[:max(n_biases, 1)]


def bias_span_rank(activation: str | Activation, n: int, n_biases: int = 200, *,
                   seed: int | torch.Generator | None = 0, tau: float = DEFAULT_TAU,
                   gap_required: float = 1e3) -> SpanRank:
    """Rank of ``[sigma(v + b_s 1_n)]`` for Gaussian ``v`` (distinct entries) and
    :func:`gap_biases` (``n_biases >= n + 1`` covers every gap)."""
    where = "bias_span_rank"
    act = get_activation(activation)
    n = check_int(n, "n", where, min_val=1)
    n_biases = check_int(n_biases, "n_biases", where, min_val=n + 1)
    gen = check_generator(seed, where)
    v = torch.randn(n, generator=gen, dtype=torch.float64)
    b = gap_biases(v, n_biases, gen)
    return SpanRank(act.name, "bias_span", n, _rank(bias_span_matrix(act, v, b), tau, gap_required))


def polynomial_shift_rank(degree: int, size: int) -> int:
    """The rank a polynomial of exact degree ``degree`` gives: ``min(degree + 1, size)``."""
    return min(check_int(degree, "degree", "polynomial_shift_rank", min_val=0) + 1, size)


__all__ = ["shift_matrix", "bias_span_matrix", "SpanRank", "shift_rank", "bias_span_rank",
           "gap_biases", "polynomial_shift_rank", "DEFAULT_TAU"]
