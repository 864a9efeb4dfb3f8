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
        """The history (one row per iteration) with the method as a column.

        Returns:
            The history :class:`pandas.DataFrame` (columns ``iteration``, ``loss``, ``grad_norm``)
            with a ``method`` column added.
        """
        return self.history.assign(method=self.method)


def start_point(land, theta0) -> torch.Tensor:
    """``theta0`` as a detached float tensor of the landscape's dtype, checked for length.

    Args:
        land: the :class:`~valleys.Landscape` to search.
        theta0: the start, any array-like of ``land.dim`` numbers (any shape; it is flattened).

    Returns:
        A fresh flat tensor of shape (d,) in the landscape's dtype.

    Raises:
        ShapeError: if ``theta0`` does not hold exactly ``land.dim`` numbers.
    """
    theta = torch.as_tensor(theta0, dtype=land.dtype).detach().clone().reshape(-1)
    if theta.numel() != land.dim:
        msg = f"theta0 must have the landscape's {land.dim} parameters. Got {theta.numel()}."
        raise ShapeError(msg)
    return theta


def tolerance(land, theta0: torch.Tensor, grad_tol: float, where: str) -> float:
    r"""The absolute gradient tolerance \(\tau \max(1, |L(\theta_0)|)\).

    A non-finite \(L(\theta_0)\) counts as scale 1.

    Args:
        land: the :class:`~valleys.Landscape` searched.
        theta0: the start, a flat tensor of shape (d,).
        grad_tol: the relative tolerance \(\tau \ge 0\).
        where: the caller's name, for the error message.

    Returns:
        The absolute tolerance on the gradient norm.

    Raises:
        InvalidParameterError: if ``grad_tol`` is not a float \(\ge 0\).
    """
    grad_tol = check_float(grad_tol, "grad_tol", where, min_val=0.0)
    value = float(land.loss(theta0))
    scale = max(1.0, abs(value)) if math.isfinite(value) else 1.0
    return grad_tol * scale


def check_iterations(max_iter: int, where: str) -> int:
    """``max_iter`` checked to be an int >= 1.

    Args:
        max_iter: the largest number of iterations.
        where: the caller's name, for the error message.

    Returns:
        ``max_iter`` as an int.

    Raises:
        InvalidParameterError: if it is not an int or is below 1.
    """
    return check_int(max_iter, "max_iter", where, min_val=1)


class History:
    """Accumulates (loss, grad norm) per iteration and builds the result."""

    def __init__(self):
        self.loss: list[float] = []
        self.grad_norm: list[float] = []

    def record(self, loss: float, grad_norm: float) -> None:
        """Append one iteration's loss and gradient norm.

        Args:
            loss: the loss at the iterate.
            grad_norm: the Euclidean norm of the gradient there.
        """
        self.loss.append(float(loss))
        self.grad_norm.append(float(grad_norm))

    def frame(self) -> pd.DataFrame:
        """The recorded iterations as a table.

        Returns:
            A :class:`pandas.DataFrame` with columns ``iteration`` (0, 1, ...), ``loss`` and
            ``grad_norm``, one row per :meth:`record` call.
        """
        return pd.DataFrame({"iteration": range(len(self.loss)), "loss": self.loss,
                             "grad_norm": self.grad_norm})

    def result(self, land, theta: torch.Tensor, reason: str, tol: float,
               method: str) -> FinderResult:
        """The finder's result at its final iterate, with this history.

        Args:
            land: the :class:`~valleys.Landscape` searched.
            theta: the final iterate, a flat tensor of the landscape's dimension.
            reason: why the finder stopped (``"converged"``, ``"max_iter"``, ...).
            tol: the absolute gradient tolerance used.
            method: the finder's name.

        Returns:
            A :class:`FinderResult` with the loss and gradient norm recomputed at ``theta``,
            ``iterations`` = number of recorded iterations minus one (at least 0) and the history
            table of :meth:`frame`.
        """
        value, g = land.loss_and_grad(theta)
        return FinderResult(theta=theta.detach().clone(), loss=float(value), grad_norm=float(g.norm()),
                            iterations=max(len(self.loss) - 1, 0), reason=reason, history=self.frame(),
                            tolerance=tol, method=method)
