r"""What a critical-point finder returns, and the stopping rule shared by all finders.

Stopping rule (every finder): stop when

.. math::
    \|\nabla L(\theta_k)\| \le \text{grad\_tol} \cdot \max(1, |L(\theta_0)|),

so the tolerance scales with the loss of the problem (a loss of 10^4 summed over many
samples has proportionally larger gradients). The absolute tolerance actually used is
returned as :attr:`FinderResult.tolerance`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd
import torch

from .._validation import check_float, check_int
from ..errors import ShapeError
from ..results import Record

#: Default relative gradient tolerance of the finders.
DEFAULT_GRAD_TOL = 1e-10

#: Reasons a finder stops.
GRADIENT_TOLERANCE = "gradient tolerance"
MAX_ITERATIONS = "max iterations"
STALLED = "stalled"
DIVERGED = "diverged"


@dataclass(frozen=True, eq=False, repr=False, kw_only=True)
class FinderResult(Record):
    """The end point of a critical-point search and how the search went.

    Attributes:
        theta: the final parameters (d,).
        loss: L(theta).
        grad_norm: ||grad L(theta)||.
        iterations: number of iterations taken.
        reason: why the search stopped (``"gradient tolerance"``, ``"max iterations"``,
            ``"stalled"``, ``"diverged"``).
        history: one row per iteration: ``iteration``, ``loss``, ``grad_norm``.
        tolerance: the absolute gradient tolerance used (see the module docstring).
        method: the finder's name.
    """

    theta: torch.Tensor
    loss: float
    grad_norm: float
    iterations: int
    reason: str
    history: pd.DataFrame = field(repr=False)
    tolerance: float
    method: str

    _repr_skip = ("history",)

    @property
    def converged(self) -> bool:
        """Whether the gradient tolerance was met."""
        return self.reason == GRADIENT_TOLERANCE

    def _extra(self) -> dict:
        return {"converged": self.converged}

    def to_frame(self) -> pd.DataFrame:
        """The history (one row per iteration) with the method as a column."""
        return self.history.assign(method=self.method)


def start_point(land, theta0) -> torch.Tensor:
    """``theta0`` as a detached float tensor of the landscape's dtype, checked for length."""
    theta = torch.as_tensor(theta0, dtype=land.dtype).detach().clone().reshape(-1)
    if theta.numel() != land.dim:
        msg = f"theta0 must have the landscape's {land.dim} parameters. Got {theta.numel()}."
        raise ShapeError(msg)
    return theta


def tolerance(land, theta0: torch.Tensor, grad_tol: float, where: str) -> float:
    """The absolute gradient tolerance ``grad_tol * max(1, |L(theta0)|)``."""
    grad_tol = check_float(grad_tol, "grad_tol", where, min_val=0.0)
    value = float(land.loss(theta0))
    scale = max(1.0, abs(value)) if math.isfinite(value) else 1.0
    return grad_tol * scale


def check_iterations(max_iter: int, where: str) -> int:
    """``max_iter`` checked to be an int >= 1."""
    return check_int(max_iter, "max_iter", where, min_val=1)


class History:
    """Accumulates (loss, grad norm) per iteration and builds the result."""

    def __init__(self):
        self.loss: list[float] = []
        self.grad_norm: list[float] = []

    def record(self, loss: float, grad_norm: float) -> None:
        self.loss.append(float(loss))
        self.grad_norm.append(float(grad_norm))

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame({"iteration": range(len(self.loss)), "loss": self.loss,
                             "grad_norm": self.grad_norm})

    def result(self, land, theta: torch.Tensor, reason: str, tol: float,
               method: str) -> FinderResult:
        value, g = land.loss_and_grad(theta)
        return FinderResult(theta=theta.detach().clone(), loss=float(value), grad_norm=float(g.norm()),
                            iterations=max(len(self.loss) - 1, 0), reason=reason, history=self.frame(),
                            tolerance=tol, method=method)
