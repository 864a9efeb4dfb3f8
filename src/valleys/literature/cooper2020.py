r"""Cooper, "The critical locus of overparameterized neural networks" (arXiv 2020; document 002).

Cooper's critical loci of fully connected nets: star and core loci (COO-Def, COO-T3.x), their
dimensions (COO-Prop 6.1), the fibre decomposition over the last layer, and the straight
line to the least-squares last layer (:func:`cooper_line`, COO-C5.9).

Network: widths :math:`(m_0 = a, m_1, \dots, m_\ell = b)`, affine maps
:math:`A_i(x) = M_i x + b_i` (``W{i}``, ``b{i}`` of :func:`valleys.nets.mlp`), loss
:math:`L(p) = \sum_\alpha \|f_p(x_\alpha) - y_\alpha\|^2` (``Landscape(..., loss="mse",
reduction="sum")``).

* The locus :math:`C_{k_1 < \dots < k_j}` fixes :math:`M_\ell = 0`, :math:`b_\ell = \bar y`,
  :math:`M_{k_1} = \dots = M_{k_j} = 0` and :math:`b_{k_1} = \dots = b_{\ell-1} = 0`; all
  other coordinates are free. One index gives the star component :math:`S_k`, two a core
  component :math:`C_{i,j}` (Cooper §3.1.1). The paper writes :math:`b_\ell = \sum_\alpha
  y_\alpha`; criticality needs the mean (CLAIMS.md, COO-Def erratum), so samplers take
  ``bias_rule="mean" | "sum"``.
* Dimensions are computed three ways: counting free coordinates, the rank of the
  Jacobian of the (linear) constraint map, and the paper's formulas.
* The fibre decomposition :math:`p = (p_I, p_F)` with :math:`p_F = (M_\ell, b_\ell)`:
  on a fibre, :math:`L` is the quadratic :math:`\|M_\ell \Phi + b_\ell 1^T - Y^T\|_F^2` of
  the last-hidden features :math:`\Phi \in \mathbb{R}^{m_{\ell-1} \times n}`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch.func import jacrev

from .._validation import check_choice, check_float, check_generator, check_int
from ..core import Landscape, ParamLayout
from ..curvature.rank import DEFAULT_TAU, RankResult, matrix_rank, numerical_rank
from ..errors import InvalidParameterError, ModelError
from ..nets.models import check_widths, mlp_layout, widths_of
from ..paths.constructed import ConstructedPath
from ..paths.path import Path, Segment
from ..results import Record

BIAS_RULES = ("mean", "sum")


# ----------------------------------------------------------------------------- shapes
def equal_widths(a: int, b: int, m: int, depth: int) -> tuple[int, ...]:
    """Widths ``(a, m, ..., m, b)`` of a depth-``depth`` net (``depth - 1`` hidden layers of width m).

    Args:
        a: input dimension.
        b: output dimension.
        m: the common hidden width.
        depth: the net's depth l (>= 1).

    Returns:
        The widths tuple of length ``depth + 1``.
    """
    where = "equal_widths"
    a, b, m = (check_int(v, k, where, min_val=1) for k, v in (("a", a), ("b", b), ("m", m)))
    depth = check_int(depth, "depth", where, min_val=1)
    return (a,) + (m,) * (depth - 1) + (b,)


# ----------------------------------------------------------------------------- loci
@dataclass(frozen=True, repr=False)
class Locus(Record):
    """A component :math:`C_{k_1 < \\dots < k_j}` of Cooper's star/core loci.

    Attributes:
        ks: the zeroed hidden layers ``k_1 < ... < k_j`` (1-based, each <= l - 1).
            One index is a star component S_k, two a core component C_{i,j}.
    """

    ks: tuple[int, ...]

    def __post_init__(self):
        ks = tuple(int(k) for k in self.ks)
        if not ks or any(k < 1 for k in ks) or list(ks) != sorted(set(ks)):
            msg = f"A locus needs strictly increasing layer indices >= 1. Got {self.ks!r}."
            raise InvalidParameterError(msg)
        object.__setattr__(self, "ks", ks)

    @property
    def name(self) -> str:
        """``"S_k"`` for a star component, ``"C_{i,j,...}"`` otherwise."""
        if len(self.ks) == 1:
            return f"S_{self.ks[0]}"
        return "C_{" + ",".join(str(k) for k in self.ks) + "}"

    @property
    def kind(self) -> str:
        """``"star"`` (one index) or ``"core"`` (two or more)."""
        return "star" if len(self.ks) == 1 else "core"

    def check_depth(self, depth: int) -> None:
        """Raise :class:`InvalidParameterError` unless every index is at most ``depth - 1``.

        Args:
            depth: the net's depth l (number of affine layers).

        Raises:
            InvalidParameterError: if a zeroed layer index exceeds ``depth - 1``.
        """
        if self.ks[-1] > depth - 1:
            msg = (f"Locus {self.name} needs a hidden layer {self.ks[-1]}, but a depth-{depth} net "
                   f"has hidden layers 1..{depth - 1}. Got ks={self.ks}.")
            raise InvalidParameterError(msg)

    def zero_blocks(self, depth: int) -> tuple[str, ...]:
        """Blocks set to zero: ``W_l``, ``W_k`` for k in ks, ``b_{k_1}, ..., b_{l-1}``.

        Args:
            depth: the net's depth l.

        Returns:
            The block names of the parameter layout, weights first.
        """
        self.check_depth(depth)
        weights = [f"W{k}" for k in self.ks] + [f"W{depth}"]
        biases = [f"b{j}" for j in range(self.ks[0], depth)]
        return tuple(weights + biases)


def star_components(depth: int) -> list[Locus]:
    """The star components S_1, ..., S_{l-1} of a depth-``depth`` net.

    Args:
        depth: the net's depth l (>= 2).

    Returns:
        One :class:`Locus` per hidden layer k, in order.
    """
    depth = check_int(depth, "depth", "star_components", min_val=2)
    return [Locus((k,)) for k in range(1, depth)]


def core_components(depth: int, order: int = 2) -> list[Locus]:
    """The components C_{k_1<...<k_order} of the ``order``-core (order 2 is Cooper's core C).

    Args:
        depth: the net's depth l (>= 2).
        order: the number j of zeroed hidden layers, 1 <= j <= l - 1.

    Returns:
        One :class:`Locus` per increasing tuple of hidden layers, in lexicographic order.
    """
    depth = check_int(depth, "depth", "core_components", min_val=2)
    order = check_int(order, "order", "core_components", min_val=1, max_val=depth - 1)
    return [Locus(ks) for ks in itertools.combinations(range(1, depth), order)]


def locus_bias(targets: torch.Tensor, bias_rule: str = "mean") -> torch.Tensor:
    """The output bias b_l of a locus: the mean of the targets (correct) or their sum (the paper's typo).

    Args:
        targets: (n, b) targets.
        bias_rule: ``"mean"`` or ``"sum"``.

    Returns:
        The (b,) output bias.
    """
    bias_rule = check_choice(bias_rule, "bias_rule", "locus_bias", BIAS_RULES)
    targets = targets.reshape(targets.shape[0], -1)
    return targets.mean(0) if bias_rule == "mean" else targets.sum(0)


def locus_mask(layout: ParamLayout, locus: Locus) -> torch.Tensor:
    """Boolean mask of the coordinates a locus fixes (zeroed blocks and b_l).

    Args:
        layout: parameter layout of a biased MLP.
        locus: the component.

    Returns:
        A (d,) boolean tensor, True where the locus fixes the coordinate.
    """
    depth = len(layout.names) // 2
    return layout.mask(locus.zero_blocks(depth) + (f"b{depth}",))


def sample_locus(land: Landscape, /, locus: Locus, num_points: int = 1, *, bias_rule: str = "mean",
                 scale: float = 1.0, seed: int | torch.Generator | None = 0) -> torch.Tensor:
    """Algorithm C1: random points of a star or core component.

    Free coordinates are i.i.d. N(0, scale^2); the fixed ones are zero, except
    b_l = mean of the targets (``bias_rule="mean"``) or their sum (``"sum"``, the paper's
    typo, not critical).

    Args:
        land: landscape of ``valleys.nets.mlp(widths, bias=True)`` with targets (n, b).
        locus: the component, e.g. ``Locus((2,))`` for S_2 or ``Locus((2, 3))`` for C_{2,3}.
        num_points: how many points.
        bias_rule: ``"mean"`` or ``"sum"``.
        scale: standard deviation of the free coordinates.
        seed: int or ``torch.Generator``.

    Returns:
        Points of shape (num_points, d).

    Raises:
        ModelError: if ``land`` is not a biased MLP.
        InvalidParameterError: for an index beyond the last hidden layer or bad arguments.
    """
    where = "sample_locus"
    widths = widths_of(land)
    num_points = check_int(num_points, "num_points", where, min_val=1)
    scale = check_float(scale, "scale", where, min_val=0.0)
    bias = locus_bias(land.targets(), bias_rule).to(land.dtype)
    gen = check_generator(seed)
    thetas = scale * torch.randn(num_points, land.dim, generator=gen, dtype=land.dtype)
    thetas[:, locus_mask(land.layout, locus)] = 0.0
    thetas[:, land.layout.slice(f"b{len(widths) - 1}")] = bias
    return thetas


def constraint_residual(layout: ParamLayout, locus: Locus, theta: torch.Tensor,
                        bias: torch.Tensor) -> torch.Tensor:
    """The constraint map g(theta): the fixed blocks minus their locus values, concatenated.

    A point lies on the locus iff g(theta) = 0; g is affine, so its Jacobian has
    rank = codimension of the locus.

    Args:
        layout: parameter layout of a biased MLP.
        locus: the component.
        theta: a point (d,).
        bias: the locus value of b_l (see :func:`locus_bias`).

    Returns:
        The constraint values, one per fixed coordinate.
    """
    depth = len(layout.names) // 2
    params = layout.unflatten(theta)
    parts = [params[name].reshape(-1) for name in locus.zero_blocks(depth)]
    parts.append(params[f"b{depth}"] - bias)
    return torch.cat(parts)


# ------------------------------------------------------------------------- dimensions
@dataclass(frozen=True, repr=False)
class LocusDimension(Record):
    """The dimension of one component, computed independently three ways.

    Attributes:
        locus: the component.
        dim: total number of parameters d.
        by_count: d minus the number of fixed coordinates of the layout.
        by_jacobian: d minus the rank of the constraint Jacobian (None if not computed).
        by_formula: the paper's per-component expression (§3.1.1).
    """

    locus: Locus
    dim: int
    by_count: int
    by_jacobian: int | None
    by_formula: int

    @property
    def agree(self) -> bool:
        """Whether all computed values coincide."""
        values = {self.by_count, self.by_formula}
        if self.by_jacobian is not None:
            values.add(self.by_jacobian)
        return len(values) == 1


def locus_dim_formula(widths: Sequence[int], locus: Locus) -> int:
    r"""Cooper §3.1.1: :math:`d - ((m_{\ell-1}+1)m_\ell + \sum_{k\in ks} m_{k-1}m_k + \sum_{j=k_1}^{\ell-1} m_j)`.

    Args:
        widths: network widths ``(a, m_1, ..., m_{l-1}, b)``.
        locus: the component.

    Returns:
        The component's dimension by the source's formula.
    """
    w = tuple(check_widths(widths, "locus_dim_formula"))
    depth = len(w) - 1
    locus.check_depth(depth)
    codim = (w[depth - 1] + 1) * w[depth] + sum(w[k - 1] * w[k] for k in locus.ks)
    codim += sum(w[j] for j in range(locus.ks[0], depth))
    return param_count(w) - codim


def locus_dimension(widths: Sequence[int], locus: Locus, *, jacobian: bool = True,
                    tau: float = DEFAULT_TAU) -> LocusDimension:
    """Dimension of a component by counting, by constraint-Jacobian rank and by the formula.

    Args:
        widths: network widths ``(a, m_1, ..., m_{l-1}, b)``.
        locus: the component.
        jacobian: also compute the rank of the Jacobian of :func:`constraint_residual`
            (autodiff + SVD; cubic in the codimension).
        tau: relative threshold of the numerical rank of that Jacobian.

    Returns:
        A :class:`LocusDimension`.
    """
    layout = mlp_layout(widths)
    depth = len(layout.names) // 2
    locus.check_depth(depth)
    by_count = layout.dim - int(locus_mask(layout, locus).sum())
    by_jac = None
    if jacobian:
        bias = torch.zeros(widths[-1], dtype=torch.float64)
        J = jacrev(lambda t: constraint_residual(layout, locus, t, bias))(
            torch.zeros(layout.dim, dtype=torch.float64))
        by_jac = layout.dim - matrix_rank(J, tau=tau, warn=False).count
    return LocusDimension(locus, layout.dim, by_count, by_jac, locus_dim_formula(widths, locus))


def locus_dimensions(widths: Sequence[int], *, order: int | None = None,
                     jacobian_max_dim: int = 2000, tau: float = DEFAULT_TAU) -> list[LocusDimension]:
    """Dimensions of every star component (order 1) and core component (order 2).

    Args:
        widths: network widths.
        order: 1 (star), 2 (core) or None (both).
        jacobian_max_dim: compute the constraint-Jacobian rank only when d <= this
            (the SVD is cubic in the codimension).
        tau: relative threshold of the numerical rank.

    Returns:
        One :class:`LocusDimension` per component, stars first.
    """
    w = tuple(check_widths(widths, "locus_dimensions"))
    depth = len(w) - 1
    jacobian_max_dim = check_int(jacobian_max_dim, "jacobian_max_dim", "locus_dimensions", min_val=0)
    orders = (1, 2) if order is None else (check_int(order, "order", "locus_dimensions", min_val=1),)
    loci = [loc for o in orders if o <= depth - 1 for loc in core_components(depth, o)]
    use_jac = param_count(w) <= jacobian_max_dim
    return [locus_dimension(w, loc, jacobian=use_jac, tau=tau) for loc in loci]


def param_count(widths: Sequence[int]) -> int:
    r""":math:`d = \sum_{i=1}^{\ell} (m_{i-1} + 1) m_i`.

    Args:
        widths: network widths ``(a, m_1, ..., m_{l-1}, b)``.

    Returns:
        The number d of parameters of the biased MLP.
    """
    w = tuple(check_widths(widths, "param_count"))
    return sum((w[i - 1] + 1) * w[i] for i in range(1, len(w)))


def param_count_equal(a: int, b: int, m: int, depth: int) -> int:
    r"""Prop 6.1: :math:`d = (\ell-2)m^2 + (\ell+a+b-1)m + b` for equal hidden widths.

    Args:
        a: input dimension.
        b: output dimension.
        m: the common hidden width.
        depth: the net's depth l.

    Returns:
        The number d of parameters.
    """
    return (depth - 2) * m * m + (depth + a + b - 1) * m + b


def star_dim_formula(widths: Sequence[int]) -> int:
    """Cooper §3.1.1: dim S = max over k of the S_k expression.

    Args:
        widths: network widths ``(a, m_1, ..., m_{l-1}, b)``.

    Returns:
        The largest :func:`locus_dim_formula` over the star components.
    """
    depth = len(tuple(check_widths(widths, "star_dim_formula"))) - 1
    return max(locus_dim_formula(widths, loc) for loc in star_components(depth))


def core_dim_formula(widths: Sequence[int]) -> int:
    """Cooper §3.1.1: dim C = max over i < j of the C_{i,j} expression (needs l >= 3).

    Args:
        widths: network widths ``(a, m_1, ..., m_{l-1}, b)``.

    Returns:
        The largest :func:`locus_dim_formula` over the core components C_{i,j}.

    Raises:
        InvalidParameterError: if the net has fewer than two hidden layers.
    """
    depth = len(tuple(check_widths(widths, "core_dim_formula"))) - 1
    if depth < 3:
        msg = f"The core locus needs two hidden layers (depth >= 3). Got depth {depth}."
        raise InvalidParameterError(msg)
    return max(locus_dim_formula(widths, loc) for loc in core_components(depth, 2))


@dataclass(frozen=True, repr=False)
class Prop61(Record):
    """Cooper's Proposition 6.1 closed forms for equal hidden widths.

    Attributes:
        d: (l-2)m^2 + (l+a+b-1)m + b.
        dim_M: (l-2)m^2 + (a+b+l-1)m + b(1-n) (= d - bn).
        dim_S: (l-3)m^2 + (a+1)m (equals dim S_2, not the maximum over components).
        dim_C: (l-4)m^2 + (a+1)m (equals dim C_{2,3}, not the maximum).
    """

    d: int
    dim_M: int
    dim_S: int
    dim_C: int


def prop61(a: int, b: int, m: int, depth: int, n: int) -> Prop61:
    """Evaluate Prop 6.1's closed forms (see :class:`Prop61`).

    Args:
        a: input dimension.
        b: output dimension.
        m: the common hidden width.
        depth: the net's depth l (>= 2).
        n: number of samples.

    Returns:
        A :class:`Prop61`.
    """
    a, b, m, n = (check_int(v, k, "prop61", min_val=1) for k, v in (("a", a), ("b", b), ("m", m), ("n", n)))
    depth = check_int(depth, "depth", "prop61", min_val=2)
    lm = depth
    return Prop61(d=param_count_equal(a, b, m, lm),
                  dim_M=(lm - 2) * m * m + (a + b + lm - 1) * m + b * (1 - n),
                  dim_S=(lm - 3) * m * m + (a + 1) * m,
                  dim_C=(lm - 4) * m * m + (a + 1) * m)


def global_manifold_dim(widths: Sequence[int], n: int) -> int:
    """Cooper (Coo18): dim M = d - b n, the dimension of the zero-loss set for d > bn.

    Args:
        widths: network widths ``(a, m_1, ..., m_{l-1}, b)``.
        n: number of samples.

    Returns:
        d - b n (not positive when d <= bn).
    """
    n = check_int(n, "n", "global_manifold_dim", min_val=1)
    return param_count(widths) - widths[-1] * n


# ------------------------------------------------------------------------------ fibre
@dataclass(frozen=True, repr=False)
class FibreSplit(Record):
    """Algorithm C2: theta = (p_I, p_F) with p_F the last layer.

    Attributes:
        inner: p_I, every coordinate except W_l and b_l (I,).
        last_weight: M_l (m_l, m_{l-1}).
        last_bias: b_l (m_l,).
        features: Phi_{l-1}, the last-hidden outputs (m_{l-1}, n).
    """

    inner: torch.Tensor
    last_weight: torch.Tensor
    last_bias: torch.Tensor
    features: torch.Tensor

    @property
    def augmented(self) -> torch.Tensor:
        """Phi-hat = [Phi; 1^T], shape (m_{l-1} + 1, n)."""
        ones = torch.ones(1, self.features.shape[1], dtype=self.features.dtype)
        return torch.cat([self.features, ones])


def fibre_split(land: Landscape, theta: torch.Tensor, /) -> FibreSplit:
    """Split theta into the inner parameters and the last layer, with the features Phi_{l-1}.

    Args:
        land: landscape of a biased MLP.
        theta: the point (d,).

    Returns:
        A :class:`FibreSplit`.

    Raises:
        ModelError: if ``land`` is not a biased MLP with at least one hidden layer.
    """
    depth = len(widths_of(land)) - 1
    if depth < 2:
        msg = f"The fibre decomposition needs a hidden layer (depth >= 2). Got depth {depth}."
        raise ModelError(msg)
    params = land.layout.unflatten(theta.to(land.dtype))
    inner = theta[~land.layout.mask((f"W{depth}", f"b{depth}"))]
    Phi = land.features(theta, depth - 1).T
    return FibreSplit(inner, params[f"W{depth}"], params[f"b{depth}"], Phi)


@dataclass(frozen=True, repr=False)
class FibreMinimum(Record):
    """The least-squares last layer on the fibre of theta.

    Attributes:
        theta: (p_I, least-squares M_l, b_l), the minimum-norm global minimiser on the fibre.
        loss: its loss.
        rank: RankResult of Phi_{l-1} (r).
        rank_augmented: RankResult of [Phi_{l-1}; 1^T] (r-hat).
    """

    theta: torch.Tensor
    loss: float
    rank: RankResult
    rank_augmented: RankResult


def fibre_minimum(land: Landscape, theta: torch.Tensor, /, *, tau: float = 1e-10) -> FibreMinimum:
    r"""Solve the last layer by least squares: :math:`[M_\ell\ b_\ell]^T = [\Phi^T\ 1]^+ Y`.

    Args:
        land: landscape of a biased MLP with squared loss.
        theta: the point whose fibre is used.
        tau: relative singular-value threshold of the pseudo-inverse and of the ranks.

    Returns:
        A :class:`FibreMinimum`.
    """
    tau = check_float(tau, "tau", "fibre_minimum", min_val=0.0, max_val=1.0, open_min=True)
    split = fibre_split(land, theta)
    A = split.augmented.T
    sol = torch.linalg.pinv(A, rtol=tau) @ land.targets().reshape(A.shape[0], -1)
    depth = len(widths_of(land)) - 1
    new = theta.detach().clone().to(land.dtype)
    new[land.layout.slice(f"W{depth}")] = sol[:-1].T.reshape(-1)
    new[land.layout.slice(f"b{depth}")] = sol[-1]
    return FibreMinimum(new, float(land.loss(new)), matrix_rank(split.features, tau=tau, warn=False),
                        matrix_rank(split.augmented, tau=tau, warn=False))


@dataclass(frozen=True, repr=False)
class LineProfile(Record):
    """L along the straight line p + t (g - p) to the fibre minimum g (COO-C5.9).

    Attributes:
        t: the parameters t in [0, 1].
        losses: L(p + t (g - p)).
        predicted: (1 - t)^2 L(p), the profile when L(g) = 0.
        max_rel_error: max |losses - predicted| / L(p).
        end: the fibre minimum g.
    """

    t: torch.Tensor
    losses: torch.Tensor
    predicted: torch.Tensor
    max_rel_error: float
    end: FibreMinimum


def line_to_fibre_minimum(land: Landscape, theta: torch.Tensor, /, num: int = 51, *,
                          tau: float = 1e-10) -> LineProfile:
    """Evaluate L on the segment from theta to its fibre minimum (vectorised over t).

    Args:
        land: landscape of a biased MLP with squared loss and ``reduction="sum"`` or ``"mean"``.
        theta: the start p.
        num: number of equispaced t in [0, 1].
        tau: relative threshold of the least-squares solve.

    Returns:
        A :class:`LineProfile`.
    """
    num = check_int(num, "num", "line_to_fibre_minimum", min_val=2)
    end = fibre_minimum(land, theta, tau=tau)
    theta = theta.to(land.dtype)
    t = torch.linspace(0.0, 1.0, num, dtype=land.dtype)
    losses = land.losses(theta + t[:, None] * (end.theta - theta))
    predicted = (1 - t) ** 2 * losses[0]
    scale = max(float(losses[0]), math.ulp(1.0))
    return LineProfile(t, losses, predicted, float((losses - predicted).abs().max()) / scale, end)


# --------------------------------------------------------------------- flat fibre bounds
@dataclass(frozen=True, repr=False)
class FlatFibreBounds(Record):
    """Cooper T5.15/C5.16/C5.18 lower bounds on the number of zero Hessian eigenvalues.

    Attributes:
        r: rank Phi_{l-1}.
        r_hat: rank [Phi_{l-1}; 1^T] (r or r + 1).
        corrected: (m_{l-1} + 1 - r_hat) m_l, the dimension of the flat subspace of the fibre.
        literal: (m_{l-1} + 1 - r) m_l, the paper's formula (too large when 1 is not in
            the row space of Phi).
        uniform: (m_{l-1} + 1 - n) m_l, C5.18 (may be negative; then vacuous).
    """

    r: int
    r_hat: int
    corrected: int
    literal: int
    uniform: int


def flat_fibre_bounds(features: torch.Tensor, out_dim: int, *, tau: float = 1e-10) -> FlatFibreBounds:
    """The bounds of :class:`FlatFibreBounds` from Phi_{l-1} (m_{l-1}, n) and m_l.

    Both ranks use the same absolute threshold ``tau * sigma_max([Phi; 1^T])``, so that
    r <= r_hat <= r + 1 holds numerically as it does exactly (singular values interlace).

    Args:
        features: Phi_{l-1} of shape (m_{l-1}, n).
        out_dim: m_l (the number of outputs b).
        tau: relative singular-value threshold of the two ranks.

    Returns:
        A :class:`FlatFibreBounds`.
    """
    out_dim = check_int(out_dim, "out_dim", "flat_fibre_bounds", min_val=1)
    tau = check_float(tau, "tau", "flat_fibre_bounds", min_val=0.0, max_val=1.0, open_min=True)
    m, n = features.shape
    ones = torch.ones(1, n, dtype=features.dtype)
    sv_hat = torch.linalg.svdvals(torch.cat([features, ones]))
    r_hat = numerical_rank(sv_hat, tau=tau, warn=False).count
    r = _rank_below(features, tau * float(sv_hat[0]))
    return FlatFibreBounds(r, r_hat, (m + 1 - r_hat) * out_dim, (m + 1 - r) * out_dim,
                           (m + 1 - n) * out_dim)


# ------------------------------------------------------------------------- COO-C5.9
def cooper_line(land: Landscape, theta, /, *, tau: float = 1e-10) -> ConstructedPath:
    """COO-C5.9: the straight line from theta to (p_I, least-squares last layer).

    With full-rank last-hidden features (m_{l-1} >= n) the end is a global minimum
    (L = 0) and L(t) = (1 - t)^2 L(theta) along the line.

    Args:
        land: landscape of a biased MLP with squared loss.
        theta: the start p.
        tau: relative threshold of the least-squares solve and of the ranks.

    Returns:
        A :class:`~valleys.paths.ConstructedPath` with one segment; its target loss is 0 when
        rank [Phi; 1^T] = n, else None; ``info`` holds both ranks.
    """
    fm = fibre_minimum(land, torch.as_tensor(theta, dtype=land.dtype), tau=tau)
    start = torch.as_tensor(theta, dtype=land.dtype)
    path = Path([Segment(start, fm.theta, None, "line to the least-squares last layer")])
    return ConstructedPath(path, fm.theta, fm.loss, 0.0 if fm.rank_augmented.rank == land.n_samples else None,
                           {"rank": fm.rank.rank, "rank_augmented": fm.rank_augmented.rank})




def _rank_below(F: torch.Tensor, threshold: float) -> int:
    """Rank of ``F`` counting singular values above an absolute ``threshold`` (that of the
    augmented matrix, so that r and r_hat are counted alike)."""
    sv = torch.linalg.svdvals(F) if F.numel() else torch.zeros(0, dtype=F.dtype)
    if sv.numel() == 0 or float(sv[0]) <= threshold:
        return 0
    return numerical_rank(sv, tau=threshold / float(sv[0]), warn=False).count
