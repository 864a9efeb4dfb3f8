r"""Algorithm C4 of CLAIMS.md (document 002): critical points of wide nets by neuron duplication.

Train a narrow net (last hidden width m' < n) to a critical point, then add copies of
existing last-hidden neurons with *zero outgoing weights*. The function is unchanged,
the gradient with respect to a copy's outgoing weight equals that of its original
(zero at a critical point), and the gradient with respect to a copy's incoming weights
is proportional to its outgoing weight (zero): the embedded point is again critical.
With enough copies the wide net has m_{l-1} >= n + 1, the regime of Cooper's C5.18.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .._validation import check_float, check_int
from ..core import Landscape
from ..errors import InvalidParameterError, NonConvergenceWarning
from ..nets.models import mlp_layout, widths_of
from ..optim import lbfgs, shifted_newton
from ..results import Record

#: Default absolute gradient-norm tolerance of :func:`train_to_critical`.
TRAIN_GRAD_TOL = 1e-10


@dataclass(frozen=True, eq=False, repr=False)
class TrainedCritical(Record):
    """A critical point reached by L-BFGS followed by Newton polishing.

    Attributes:
        theta: the point (d,).
        loss: L(theta).
        grad_norm: ||grad L(theta)||.
        converged: ``grad_norm <= grad_tol``.
        lbfgs_iterations: iterations of L-BFGS.
        newton_steps: Newton steps taken after L-BFGS.
        grad_tol: the tolerance used.
    """

    theta: torch.Tensor
    loss: float
    grad_norm: float
    converged: bool
    lbfgs_iterations: int
    newton_steps: int
    grad_tol: float


def train_to_critical(land: Landscape, theta0: torch.Tensor, /, *, grad_tol: float = TRAIN_GRAD_TOL,
                      max_iter: int = 5000, max_newton: int = 50, damping: float = 1e-8,
                      warn: bool = True) -> TrainedCritical:
    """Find a critical point near ``theta0``: L-BFGS, then Newton steps on the dense Hessian.

    L-BFGS is :func:`valleys.optim.lbfgs` (SciPy engine); the Newton steps
    (:func:`valleys.optim.shifted_newton`) solve (H + mu max|H_ii| I) delta = -g; a step is kept
    when it lowers the loss or ||g||, and mu shrinks tenfold after a kept step and grows
    tenfold after a rejected one.

    Args:
        land: the landscape (small d: the Newton phase builds the dense Hessian).
        theta0: starting point (d,).
        grad_tol: stop when ||grad L|| <= grad_tol (absolute).
        max_iter: L-BFGS iteration budget.
        max_newton: Newton step budget (accepted and rejected steps).
        damping: initial relative damping mu of the Newton steps.
        warn: emit :class:`~valleys.errors.NonConvergenceWarning` if the tolerance is missed.

    Returns:
        A :class:`TrainedCritical`.
    """
    where = "train_to_critical"
    grad_tol = check_float(grad_tol, "grad_tol", where, min_val=0.0, open_min=True)
    max_iter = check_int(max_iter, "max_iter", where, min_val=0)
    max_newton = check_int(max_newton, "max_newton", where, min_val=0)
    damping = check_float(damping, "damping", where, min_val=0.0)
    land.layout.check(theta0)

    def fun(x):
        value, g = land.loss_and_grad(torch.as_tensor(x, dtype=land.dtype))
        return float(value), g.detach().numpy().astype(np.float64)

    res = lbfgs(fun, theta0.detach().double().numpy(), max_iter=max_iter, grad_tol=grad_tol / 10,
                value_tol=0.0, history_size=30)
    theta = torch.as_tensor(res.x, dtype=land.dtype)
    polish = shifted_newton(land.loss_and_grad, land.hessian, theta, grad_tol=grad_tol,
                            max_trials=max_newton, damping=damping)
    theta, steps = polish.x, polish.steps
    value, g = land.loss_and_grad(theta)
    gnorm = float(g.norm())
    converged = gnorm <= grad_tol
    if warn and not converged:
        msg = (f"train_to_critical stopped at ||grad|| = {gnorm:.3g} > grad_tol = {grad_tol:g}. "
               f"Raise max_iter or max_newton, or loosen grad_tol.")
        warnings.warn(msg, NonConvergenceWarning, stacklevel=2)
    return TrainedCritical(theta, float(value), gnorm, converged, res.iterations, steps, grad_tol)


@dataclass(frozen=True, eq=False, repr=False)
class DuplicationEmbedding(Record):
    """A narrow net's parameters embedded into a wider last hidden layer.

    Attributes:
        widths: the wide widths (last hidden width = m' + len(sources)).
        theta: the embedded parameters in the layout of ``mlp(widths)``.
        sources: for each added neuron, the index of the last-hidden neuron it copies.
    """

    widths: tuple[int, ...]
    theta: torch.Tensor
    sources: tuple[int, ...]


def duplicate_last_hidden(widths: Sequence[int], theta: torch.Tensor,
                          sources: Sequence[int]) -> DuplicationEmbedding:
    """Add copies of last-hidden neurons with zero outgoing weights.

    A copy of neuron j gets row j of W_{l-1}, entry j of b_{l-1} and a zero column in
    W_l, so the network function is unchanged.

    Args:
        widths: narrow widths ``(a, ..., m', b)`` (depth >= 2).
        theta: narrow parameters in the layout of ``mlp(widths, bias=True)``.
        sources: indices (0-based, < m') of the neurons to copy, one per new neuron.

    Returns:
        A :class:`DuplicationEmbedding`.

    Raises:
        InvalidParameterError: for depth < 2 or a source index out of range.
    """
    layout = mlp_layout(widths)
    depth = len(widths) - 1
    if depth < 2:
        msg = f"Neuron duplication needs a hidden layer (at least 3 widths). Got widths {tuple(widths)}."
        raise InvalidParameterError(msg)
    m_last = widths[-2]
    sources = tuple(check_int(s, "sources", "duplicate_last_hidden", min_val=0, max_val=m_last - 1)
                    for s in sources)
    params = dict(layout.unflatten(theta))
    idx = torch.tensor(sources, dtype=torch.long)
    W_in, b_in, W_out = params[f"W{depth - 1}"], params[f"b{depth - 1}"], params[f"W{depth}"]
    params[f"W{depth - 1}"] = torch.cat([W_in, W_in[idx]])
    params[f"b{depth - 1}"] = torch.cat([b_in, b_in[idx]])
    params[f"W{depth}"] = torch.cat([W_out, W_out.new_zeros(W_out.shape[0], len(sources))], 1)
    wide = tuple(widths[:-2]) + (m_last + len(sources), widths[-1])
    return DuplicationEmbedding(wide, mlp_layout(wide).flatten(params), sources)


def round_robin_sources(narrow_width: int, wide_width: int) -> tuple[int, ...]:
    r"""Sources 0, 1, ..., m-1, 0, 1, ... that grow a layer from ``narrow_width`` to ``wide_width``.

    New unit \(j\) (counting from 0 after the ``narrow_width`` = \(m\) old ones) copies
    old unit \(j \bmod m\).

    Args:
        narrow_width: the layer's width before growing, \(m \ge 1\).
        wide_width: its width after, at least ``narrow_width``.

    Returns:
        One source index per new unit: ``wide_width - narrow_width`` ints in \([0, m)\).

    Raises:
        InvalidParameterError: if a width is not an int or ``wide_width < narrow_width``.
    """
    narrow_width = check_int(narrow_width, "narrow_width", "round_robin_sources", min_val=1)
    wide_width = check_int(wide_width, "wide_width", "round_robin_sources", min_val=narrow_width)
    return tuple(i % narrow_width for i in range(wide_width - narrow_width))


@dataclass(frozen=True, eq=False, repr=False)
class DuplicationPoint(Record):
    """A critical point of a wide net built by neuron duplication (algorithm C4).

    Attributes:
        narrow: the narrow net's critical point.
        embedding: the wide parameters.
        landscape: the wide net's landscape (same data, loss and activation).
        loss: L at the wide point (equal to the narrow loss).
        grad_norm: ||grad L|| at the wide point.
    """

    narrow: TrainedCritical
    embedding: DuplicationEmbedding
    landscape: Landscape
    loss: float
    grad_norm: float


def duplication_critical_point(narrow_land: Landscape, wide_land: Landscape, theta0: torch.Tensor, *,
                               grad_tol: float = TRAIN_GRAD_TOL, max_iter: int = 5000,
                               warn: bool = True) -> DuplicationPoint:
    """Train the narrow net to a critical point and embed it into the wide net by duplication.

    Args:
        narrow_land: landscape of ``mlp(narrow_widths, act, bias=True)`` on the data.
        wide_land: landscape of ``mlp(wide_widths, act, bias=True)`` on the same data,
            where the wide widths differ only in the last hidden layer (wider).
        theta0: starting point of the narrow training.
        grad_tol: absolute gradient tolerance of the narrow training.
        max_iter: L-BFGS budget.
        warn: warn if the narrow training misses ``grad_tol``.

    Returns:
        A :class:`DuplicationPoint`.

    Raises:
        InvalidParameterError: if the widths are not a narrow/wide pair.
    """
    narrow_w, wide_w = widths_of(narrow_land), widths_of(wide_land)
    same_rest = narrow_w[:-2] == wide_w[:-2] and narrow_w[-1] == wide_w[-1]
    if len(narrow_w) != len(wide_w) or len(narrow_w) < 3 or not same_rest or wide_w[-2] < narrow_w[-2]:
        msg = (f"The wide net must equal the narrow one except for a wider last hidden layer. "
               f"Got narrow widths {narrow_w} and wide widths {wide_w}.")
        raise InvalidParameterError(msg)
    narrow = train_to_critical(narrow_land, theta0, grad_tol=grad_tol, max_iter=max_iter, warn=warn)
    emb = duplicate_last_hidden(narrow_w, narrow.theta, round_robin_sources(narrow_w[-2], wide_w[-2]))
    value, g = wide_land.loss_and_grad(emb.theta)
    return DuplicationPoint(narrow, emb, wide_land, float(value), float(g.norm()))
