"""The spectral density of the Hessian by stochastic Lanczos quadrature (SLQ).

Lin, Saad & Yang (2016), "Approximating spectral densities of large matrices", and its
use for neural-network Hessians by Ghorbani, Krishnan & Xiao (2019) and Papyan (2018).
Each normalised Rademacher probe v gives a Gauss quadrature (nodes = Ritz values of the
Lanczos tridiagonal T, weights = squared first components of T's eigenvectors) of the
measure :math:`\\sum_i (v^\\top u_i)^2 \\delta_{\\lambda_i}`, whose expectation is the
spectral density :math:`\\frac1n \\sum_i \\delta_{\\lambda_i}`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from matplotlib.figure import Figure

from .._progress import bar
from .._validation import check_float, check_generator, check_int
from ..core import Landscape
from ..errors import InvalidParameterError
from ..results import Record
from ._build import curvature_operator
from ._inputs import ParamFilter
from .lanczos import lanczos_tridiag
from .trace import rademacher

#: Default smoothing width as a fraction of the span of all quadrature nodes.
SIGMA_FRACTION = 0.01
#: Default number of grid points of the smoothed curve.
GRID_POINTS = 1000
#: Memory (bytes) allowed for the Lanczos vectors of the probes processed together.
BASIS_MEMORY = 512 * 2**20


@dataclass(frozen=True, repr=False, kw_only=True)
class Density(Record):
    r"""A stochastic-Lanczos-quadrature estimate of a spectral density.

    Attributes:
        nodes: quadrature nodes (Ritz values), shape (num_probes, m).
        weights: quadrature weights, shape (num_probes, m); each row sums to 1.
        grid: points where the smoothed density is evaluated, shape (G,).
        curve: the density :math:`\phi(t) = \frac1P \sum_{p,j} w_{pj}
            \mathcal N(t; \theta_{pj}, \sigma^2)` on the grid; it integrates to about 1.
        sigma: the Gaussian smoothing width.
        dim: the matrix size n.
        num_matvecs: matrix-vector products used (num_probes x m).
        blocks: the parameter blocks the operator acted on.
        curvature: "hessian" or "ggn".
    """

    nodes: np.ndarray
    weights: np.ndarray
    grid: np.ndarray
    curve: np.ndarray
    sigma: float
    dim: int
    num_matvecs: int
    blocks: tuple[str, ...]
    curvature: str

    _repr_skip = ("blocks",)

    def to_frame(self):
        """One row per quadrature node: ``probe``, ``node``, ``weight`` (tidy).

        Returns:
            A pandas DataFrame with columns ``probe``, ``node`` and ``weight``.
        """
        import pandas as pd

        P, m = self.nodes.shape
        return pd.DataFrame({"probe": np.repeat(np.arange(P), m), "node": self.nodes.reshape(-1),
                             "weight": self.weights.reshape(-1), "curvature": self.curvature})

    def curve_frame(self):
        """The smoothed density as a table: ``eigenvalue``, ``density``.

        Returns:
            A pandas DataFrame with columns ``eigenvalue`` and ``density``.
        """
        import pandas as pd

        return pd.DataFrame({"eigenvalue": self.grid, "density": self.curve})

    def _extra(self) -> dict:
        return {"mean": self.mean}

    @property
    def mean(self) -> float:
        r"""Mean of the estimated density, :math:`\frac1P\sum_{p,j} w_{pj}\theta_{pj}`
        (an unbiased estimate of tr(H)/n)."""
        return float((self.weights * self.nodes).sum() / self.nodes.shape[0])

    def figure(self, *, log: bool = True) -> Figure:
        """A matplotlib figure of the smoothed density (log scale on the y axis by default).

        Args:
            log: a log scale on the density axis.

        Returns:
            The matplotlib figure.
        """
        fig = Figure(figsize=(6, 3.5))
        ax = fig.add_subplot()
        ax.plot(self.grid, self.curve, color="C0", lw=1.2)
        if log:
            floor = max(float(self.curve.max()) * 1e-10, np.finfo(float).tiny)
            ax.set_yscale("log")
            ax.set_ylim(floor, float(self.curve.max()) * 3)
        ax.set_xlabel("eigenvalue")
        ax.set_ylabel("density")
        ax.set_title(f"{self.curvature} spectral density (SLQ, {self.nodes.shape[0]} probes, "
                     f"m = {self.nodes.shape[1]}, sigma = {self.sigma:.2g})", fontsize=9)
        fig.tight_layout()
        return fig


def smoothed_density(nodes: np.ndarray, weights: np.ndarray, grid: np.ndarray,
                     sigma: float) -> np.ndarray:
    """Average over probes of Gaussian mixtures with the given nodes and weights.

    Args:
        nodes: quadrature nodes (P, m), one row per probe.
        weights: their weights (P, m).
        grid: where to evaluate the density.
        sigma: the Gaussians' width.

    Returns:
        The density on ``grid``.
    """
    z = (grid[:, None, None] - nodes[None]) / sigma
    kernel = np.exp(-0.5 * z**2) / (sigma * np.sqrt(2 * np.pi))
    return (kernel * weights[None]).sum((1, 2)) / nodes.shape[0]


def _grid(nodes: np.ndarray, sigma: float, grid) -> np.ndarray:
    if grid is None or isinstance(grid, int | np.integer):
        points = GRID_POINTS if grid is None else check_int(grid, "grid", "density", min_val=2)
        return np.linspace(nodes.min() - 5 * sigma, nodes.max() + 5 * sigma, points)
    grid = np.asarray(grid, dtype=np.float64)
    if grid.ndim != 1 or grid.size < 2 or not np.all(np.isfinite(grid)):
        msg = (f"The 'grid' parameter of density must be an int or a finite 1-D array of >= 2 "
               f"points. Got shape {grid.shape}.")
        raise InvalidParameterError(msg)
    return grid


def _default_sigma(nodes: np.ndarray) -> float:
    span = float(nodes.max() - nodes.min())
    return SIGMA_FRACTION * span if span > 0 else max(abs(float(nodes.max())), 1.0) * SIGMA_FRACTION


def density(land: Landscape, theta: torch.Tensor, /, num_matvecs: int = 80, num_probes: int = 10, *,
            seed: int | torch.Generator | None = 0, sigma: float | None = None,
            grid: int | np.ndarray | None = None, param_filter: ParamFilter = None,
            curvature: str = "hessian", progress: bool | None = None) -> Density:
    """The Hessian's spectral density at theta by stochastic Lanczos quadrature.

    All probes run their Lanczos processes together (one vectorised product per step),
    with full reorthogonalisation; probes are processed in groups whose Lanczos vectors
    fit in :data:`BASIS_MEMORY`.

    Args:
        land: the landscape.
        theta: the point, a flat tensor of length d.
        num_matvecs: Lanczos steps m per probe (capped at the size n); the total number
            of Hessian-vector products is ``num_probes * m``.
        num_probes: number of Rademacher probes P.
        seed: seed of the probes.
        sigma: Gaussian smoothing width; default ``SIGMA_FRACTION`` x the span of the
            nodes.
        grid: an int (number of points over the node range +- 5 sigma; default
            ``GRID_POINTS``) or an explicit 1-D array of points.
        param_filter: block names (or a predicate) selecting a principal sub-block.
        curvature: "hessian" or "ggn".
        progress: a progress bar of the Lanczos steps on stderr (None: only on a terminal).

    Returns:
        A :class:`Density` (nodes, weights, smoothed curve, ``.mean``, ``.figure()``).

    Raises:
        InvalidParameterError: for non-positive counts, sigma <= 0 or a bad grid.
        ShapeError: if theta does not have length d.
        NonFiniteError: if the loss or gradient at theta is not finite.
    """
    num_matvecs = check_int(num_matvecs, "num_matvecs", "density", min_val=1)
    num_probes = check_int(num_probes, "num_probes", "density", min_val=1)
    if sigma is not None:
        sigma = check_float(sigma, "sigma", "density", min_val=0.0, open_min=True)
    op = curvature_operator(land, theta, curvature, param_filter, "density")
    m = min(num_matvecs, op.dim)
    gen = check_generator(seed)
    probes = rademacher(num_probes, op.dim, gen, op.dtype)
    group = max(1, BASIS_MEMORY // (m * op.dim * probes.element_size()))
    nodes, weights = [], []
    with bar(num_probes * m, "density", progress, unit="hvp") as pbar:
        for chunk in torch.split(probes, group):
            tri = lanczos_tridiag(op.matrows, chunk, m, seed=gen,
                                  on_step=lambda j, c=chunk.shape[0]: pbar.update(c))
            x, w = tri.ritz()
            nodes.append(x.double())
            weights.append(w.double())
    nodes, weights = torch.cat(nodes).numpy(), torch.cat(weights).numpy()
    sigma = _default_sigma(nodes) if sigma is None else sigma
    grid = _grid(nodes, sigma, grid)
    curve = smoothed_density(nodes, weights, grid, sigma)
    return Density(nodes=nodes, weights=weights, grid=grid, curve=curve, sigma=sigma, dim=op.dim,
                   num_matvecs=op.num_matvecs, blocks=op.blocks, curvature=curvature)
