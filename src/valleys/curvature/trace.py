"""Stochastic trace estimates of the Hessian: Hutchinson and Hutch++.

Hutchinson (1990): tr(A) ~ (1/m) sum_i z_i^T A z_i with Rademacher z_i.
Hutch++ (Meyer, Musco, Musco & Woodruff 2021, "Hutch++: Optimal stochastic trace
estimation", Algorithm 1): a third of the budget sketches the top range Q of A, whose
trace is computed exactly, and Hutchinson estimates the trace of the deflated rest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .._validation import check_choice, check_generator, check_int
from ..core import Landscape
from ..results import Record
from ._build import curvature_operator
from ._inputs import ParamFilter
from ._operator import CurvatureOperator

#: Trace estimators.
METHODS = ("hutchinson", "hutch++")


@dataclass(frozen=True, repr=False, kw_only=True)
class TraceEstimate(Record):
    """A stochastic estimate of a trace with its standard error.

    Attributes:
        estimate: the trace estimate.
        std_error: standard error of the stochastic part (sample standard deviation of
            the probe values over sqrt(number of probes)); the exact part of Hutch++
            contributes none.
        num_matvecs: matrix-vector products used.
        method: "hutchinson" or "hutch++".
    """

    estimate: float
    std_error: float
    num_matvecs: int
    method: str


def rademacher(num: int, dim: int, gen: torch.Generator, dtype: torch.dtype,
               device: torch.device | str | None = None) -> torch.Tensor:
    """A (num, dim) matrix of independent +-1 entries, drawn on the generator's device and
    moved to ``device`` (the generator's by default).

    Args:
        num: number of rows.
        dim: number of columns.
        gen: the generator.
        dtype: the entries' dtype.
        device: where the result goes.

    Returns:
        The (num, dim) matrix.
    """
    bits = torch.randint(0, 2, (num, dim), generator=gen, device=gen.device)
    return (2 * bits - 1).to(device=device if device is not None else gen.device, dtype=dtype)


def _mean_and_se(values: torch.Tensor) -> tuple[float, float]:
    values = values.double()
    m = values.numel()
    return float(values.mean()), float(values.std(correction=1)) / math.sqrt(m)


#: Probes multiplied per call by :func:`hutchinson_trace`. One at a time is measured
#: fastest on CPU (``benchmarks/curvature.py``: a batched backward pass over 20 probes
#: took 2-3x the time of 20 single ones on an MLP 64-128-128-10 with N = 1797).
TRACE_BLOCK = 1


def hutchinson_trace(op: CurvatureOperator, num_matvecs: int, gen: torch.Generator,
                     block: int = TRACE_BLOCK) -> TraceEstimate:
    """Hutchinson's estimate with ``num_matvecs`` Rademacher probes, ``block`` per product call.

    Args:
        op: the symmetric operator.
        num_matvecs: number of probes.
        gen: the probes' generator.
        block: probes per product call.

    Returns:
        The :class:`TraceEstimate` (mean and standard error over probes).
    """
    before = op.num_matvecs
    Z = rademacher(num_matvecs, op.dim, gen, op.dtype, op.device)
    values = torch.cat([(op.matrows(C) * C).sum(1) for C in Z.split(max(1, int(block)))])
    est, se = _mean_and_se(values)
    return TraceEstimate(estimate=est, std_error=se, num_matvecs=op.num_matvecs - before, method="hutchinson")


def hutchpp_trace(op: CurvatureOperator, num_matvecs: int, gen: torch.Generator) -> TraceEstimate:
    """Hutch++ with ``s = num_matvecs // 3`` sketch vectors and the rest as probes.

    Budget: s products for ``A S``, s for ``A Q``, and ``num_matvecs - 2s`` for the
    deflated Hutchinson probes ``A (I - Q Q^T) G`` (fewer when s exceeds the size n,
    since Q then has only n columns).

    Args:
        op: the symmetric operator.
        num_matvecs: the product budget.
        gen: the generator.

    Returns:
        The :class:`TraceEstimate`.
    """
    before = op.num_matvecs
    s = num_matvecs // 3
    g = num_matvecs - 2 * s
    S = rademacher(s, op.dim, gen, op.dtype, op.device)
    G = rademacher(g, op.dim, gen, op.dtype, op.device)
    Q = torch.linalg.qr(op.matrows(S).T, mode="reduced")[0]  # (n, s)
    exact = float((op.matrows(Q.T) * Q.T).sum())
    Gp = G - (G @ Q) @ Q.T
    values = (op.matrows(Gp) * Gp).sum(1)
    est, se = _mean_and_se(values)
    return TraceEstimate(estimate=exact + est, std_error=se, num_matvecs=op.num_matvecs - before, method="hutch++")


def trace(land: Landscape, theta: torch.Tensor, /, method: str = "hutchinson", *,
          num_matvecs: int = 100, seed: int | torch.Generator | None = 0,
          param_filter: ParamFilter = None, curvature: str = "hessian") -> TraceEstimate:
    r"""Estimate :math:`\operatorname{tr} \nabla^2 L(\theta)` from Hessian-vector products.

    Args:
        land: the landscape (its reduction, mean or sum, fixes the scale of the Hessian).
        theta: the point, a flat tensor of length d.
        method: "hutchinson" (unbiased, error ~ 1/sqrt(num_matvecs)) or "hutch++"
            (error ~ 1/num_matvecs when the spectrum decays; Meyer et al. 2021).
        num_matvecs: the budget of Hessian-vector products (>= 2 for Hutchinson,
            >= 4 for Hutch++, which needs at least 2 probes for a standard error).
        seed: seed of the Rademacher probes.
        param_filter: block names (or a predicate): the trace of that principal sub-block.
        curvature: "hessian" or "ggn".

    Returns:
        A :class:`TraceEstimate` with the estimate and its standard error.

    Raises:
        InvalidParameterError: for an unknown method or too small a budget.
        ShapeError: if theta does not have length d.
        NonFiniteError: if the loss or gradient at theta is not finite.

    Example:
        >>> import torch
        >>> from valleys import Landscape
        >>> land = Landscape.from_function(lambda t: (t ** 2).sum(), 4)  # H = 2 I, tr = 8
        >>> trace(land, torch.zeros(4, dtype=torch.float64), num_matvecs=10).estimate
        8.0
    """
    method = check_choice(method, "method", "trace", METHODS)
    num_matvecs = check_int(num_matvecs, "num_matvecs", "trace",
                            min_val=2 if method == "hutchinson" else 4)
    op = curvature_operator(land, theta, curvature, param_filter, "trace")
    gen = check_generator(seed)
    if method == "hutchinson":
        return hutchinson_trace(op, num_matvecs, gen)
    return hutchpp_trace(op, num_matvecs, gen)
