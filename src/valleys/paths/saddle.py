"""Refine the saddle of a band: Newton's method on grad L = 0 from the climbing image.

Nudged elastic bands converge linearly at best: the climbing image's force falls by a
constant factor per step, so the last digits of a saddle cost thousands of band steps
(``benchmarks/paths.py``). Near the saddle the gradient system is regular (the Hessian
has one negative and otherwise positive eigenvalues), so Newton's method from the
climbing image converges quadratically. :func:`refine_saddle` runs it
(:func:`valleys.critical.damped_newton` with the dense Hessian for small d, else
:func:`valleys.critical.newton_mr` on Hessian-vector products) and reports the Morse
index of the point it reaches, so a refinement that slid to a different critical point
(a minimum, or a saddle of higher index) is visible, never silently accepted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch

from .._validation import check_float, check_int
from ..errors import InvalidParameterError

if TYPE_CHECKING:
    from ..core import Landscape

DEFAULT_MAX_DENSE = 2000
"""Largest d for the dense route (Hessian eigenvalues and damped Newton)."""


@dataclass
class SaddleResult:
    """A critical point refined from a band's climbing image.

    Attributes:
        theta: the refined point (d,).
        loss: L(theta).
        band_saddle: the band's highest image loss before refinement.
        grad_norm: ||grad L(theta)||.
        converged: grad_norm <= the requested tolerance.
        index: the number of negative Hessian eigenvalues (below -eig_tol * max|lambda|);
            None when d > max_dense (not computed).
        eigenvalues: the lowest few Hessian eigenvalues (dense route), ascending.
        distance: ||theta - climbing image||.
        iterations: Newton steps.
        method: the finder used.
    """

    theta: torch.Tensor = field(repr=False)
    loss: float
    band_saddle: float
    grad_norm: float
    converged: bool
    index: int | None
    eigenvalues: np.ndarray = field(repr=False)
    distance: float
    iterations: int
    method: str

    @property
    def is_index_one(self) -> bool:
        """A first-order saddle: exactly one negative eigenvalue (the barrier's saddle)."""
        return self.index == 1

    def to_dict(self) -> dict:
        """The saddle's numbers as a JSON-able dict.

        Returns:
            A dict with ``loss``, ``band_saddle``, ``grad_norm``, ``converged``, ``index``, the
            5 ``lowest_eigenvalues``, ``distance``, ``iterations`` and ``method``.
        """
        return {"loss": self.loss, "band_saddle": self.band_saddle, "grad_norm": self.grad_norm,
                "converged": self.converged, "index": self.index,
                "lowest_eigenvalues": [float(v) for v in self.eigenvalues[:5]],
                "distance": self.distance, "iterations": self.iterations, "method": self.method}

    def __repr__(self) -> str:
        return (f"SaddleResult(loss={self.loss:.10g}, grad_norm={self.grad_norm:.2e}, index={self.index}, "
                f"distance={self.distance:.2e}, iterations={self.iterations})")


def refine_saddle(land: Landscape, band, /, *, grad_tol: float = 1e-10, max_iter: int = 200,
                  eig_tol: float | None = None, max_dense: int = DEFAULT_MAX_DENSE) -> SaddleResult:
    """Newton's method on grad L = 0 from the band's highest image.

    Args:
        land: the landscape.
        band: a :class:`~valleys.paths.neb.BandResult` (``neb``, ``autoneb``, ``fit_bezier``),
            or a point (d,) to start from.
        grad_tol: relative gradient tolerance of the finder (absolute tolerance
            ``grad_tol * max(1, |L|)``, see :mod:`valleys.critical.result`).
        max_iter: most Newton steps.
        eig_tol: relative threshold of the index (default: 1e-8 in float64, 1e-4 in float32).
        max_dense: largest d for the dense Hessian (index and damped Newton); above it
            Newton-MR runs on Hessian-vector products and the index is not computed.

    Returns:
        A :class:`SaddleResult`.
    """
    from ..critical import damped_newton, newton_mr

    where = "paths.refine_saddle"
    grad_tol = check_float(grad_tol, "grad_tol", where, min_val=0.0, open_min=True)
    max_iter = check_int(max_iter, "max_iter", where, min_val=1)
    max_dense = check_int(max_dense, "max_dense", where, min_val=1)
    if eig_tol is None:
        eig_tol = 1e-8 if land.dtype == torch.float64 else 1e-4
    eig_tol = check_float(eig_tol, "eig_tol", where, min_val=0.0)
    start, band_saddle = _start(land, band, where)
    dense = land.dim <= max_dense
    finder = damped_newton if dense else newton_mr
    res = finder(land, start, max_iter=max_iter, grad_tol=grad_tol)
    index, eig = None, np.array([])
    if dense:
        H = land.hessian(res.theta)
        eig = np.sort(np.linalg.eigvalsh(((H + H.T) / 2).detach().to(torch.float64).numpy()))
        scale = eig_tol * max(1.0, float(np.abs(eig).max()))
        index = int((eig < -scale).sum())
    return SaddleResult(res.theta, res.loss, band_saddle, res.grad_norm, res.converged, index, eig,
                        float((res.theta - start).norm()), res.iterations, res.method)


def _start(land, band, where: str) -> tuple[torch.Tensor, float]:
    if hasattr(band, "images") and hasattr(band, "saddle_index"):
        return band.images[band.saddle_index].detach().to(land.dtype).clone(), float(band.image_max)
    point = torch.as_tensor(band, dtype=land.dtype)
    if point.shape != (land.dim,):
        msg = (f"{where} needs a band (neb / autoneb / fit_bezier result) or a point of shape "
               f"({land.dim},). Got shape {tuple(point.shape)}.")
        raise InvalidParameterError(msg)
    return point.clone(), float(land.loss(point))
