"""A few extreme eigenpairs of the Hessian (or GGN), matrix-free."""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import numpy as np
import torch

from .._validation import check_choice, check_float, check_generator, check_int
from ..core import Landscape
from ..errors import InvalidParameterError, NonConvergenceWarning
from ._build import curvature_operator
from ._inputs import ParamFilter
from .thick_restart import WHICH, thick_restart_lanczos

#: Default Krylov basis size: max(2k + b, k + 2b, DEFAULT_NCV), capped at the dimension.
DEFAULT_NCV = 20
#: Default product budget: max(DEFAULT_MATVECS, 50 k b).
DEFAULT_MATVECS = 1000


@dataclass(frozen=True)
class Eigenpairs:
    r"""Extreme eigenpairs of a curvature matrix, with their accuracy and cost.

    Attributes:
        eigenvalues: shape (k,), ascending.
        eigenvectors: shape (n, k), orthonormal columns; n = d, or the number of selected
            parameters under a ``param_filter`` (coordinates in layout order).
        residuals: relative residual norms
            :math:`\|H v_i - \lambda_i v_i\| / \max_j |\theta_j|`, where the maximum runs
            over all Ritz values of the final Krylov basis (an estimate of ``||H||_2``).
        converged: per pair, whether its relative residual is <= ``tol``.
        tol: the residual tolerance used.
        which: the part of the spectrum asked for ("LA", "SA", "LM" or "BE").
        num_matvecs: Hessian-vector products actually done (counted at the operator).
        wall_time: seconds spent, including the products.
        blocks: the parameter blocks the operator acted on.
        curvature: "hessian" or "ggn".
        block_size: the Lanczos block size b used.
    """

    eigenvalues: np.ndarray
    eigenvectors: np.ndarray
    residuals: np.ndarray
    converged: np.ndarray
    tol: float
    which: str
    num_matvecs: int
    wall_time: float
    blocks: tuple[str, ...]
    curvature: str = "hessian"
    block_size: int = 1

    @property
    def all_converged(self) -> bool:
        """Whether every returned pair met the tolerance."""
        return bool(np.all(self.converged))


def _check_args(n: int, k, which, tol, num_matvecs, ncv, block_size):
    if n < 2:
        msg = f"eigs needs an operator of size >= 2 (k must satisfy 1 <= k < n). Got n = {n}; use spectrum."
        raise InvalidParameterError(msg)
    k = check_int(k, "k", "eigs", min_val=1, max_val=n - 1)
    which = check_choice(which, "which", "eigs", WHICH)
    tol = check_float(tol, "tol", "eigs", min_val=0.0, open_min=True)
    b = check_int(block_size, "block_size", "eigs", min_val=1, max_val=n)
    if ncv is None:
        ncv = max(2 * k + b, k + 2 * b, DEFAULT_NCV)
    ncv = check_int(ncv, "ncv", "eigs", min_val=k + b)
    if num_matvecs is None:
        num_matvecs = max(DEFAULT_MATVECS, 50 * k * b)
    num_matvecs = check_int(num_matvecs, "num_matvecs", "eigs", min_val=k)
    return k, which, tol, num_matvecs, min(ncv, n), b


def eigs(land: Landscape, theta: torch.Tensor, k: int = 6, which: str = "LA", *,
         tol: float = 1e-8, seed: int | torch.Generator | None = 0,
         num_matvecs: int | None = None, ncv: int | None = None,
         block_size: int = 1, param_filter: ParamFilter = None,
         curvature: str = "hessian") -> Eigenpairs:
    r"""The k extreme eigenpairs of the Hessian at theta by (block) thick-restart Lanczos.

    Matrix-free: only Hessian-vector products are used (one vectorised batch of
    ``block_size`` per Lanczos step), the basis is kept fully orthogonal, and "SA" (the
    most negative eigenvalues) is targeted directly rather than by shifting. The loss is
    the landscape's, with its reduction (mean :math:`\frac1N\sum_i \ell_i` or sum).

    Args:
        land: the landscape.
        theta: the point, a flat tensor of length d.
        k: number of eigenpairs, 1 <= k < n.
        which: "LA" (largest algebraic), "SA" (smallest algebraic), "LM" (largest
            magnitude) or "BE" (both ends: ceil(k/2) from the top, floor(k/2) from the bottom).
        tol: stop when every wanted pair has a relative residual (see
            :class:`Eigenpairs`) <= tol. About 1e-5 is the floor for a float32 landscape.
        seed: seed of the start vector (and of the vectors used after a breakdown).
        num_matvecs: budget of Hessian-vector products; default max(1000, 50 k b). When it
            runs out, the best pairs found are returned with ``converged`` flags and a
            :class:`~valleys.errors.NonConvergenceWarning`.
        ncv: Krylov basis size before a restart; default max(2k + b, k + 2b, 20), capped
            at n; at least k + b.
        block_size: the block size b. A Krylov method finds at most b copies of a
            repeated eigenvalue, so use b >= the multiplicity expected among the wanted
            eigenvalues (for example the output dimension m for the last-layer block of
            an m-output squared-error network, whose Hessian is ``I_m (x) Phi^T Phi``).
        param_filter: block names (or a predicate) selecting a principal sub-block of the
            Hessian (per-layer spectra); None for the full matrix.
        curvature: "hessian" or "ggn" (generalized Gauss–Newton, see :func:`ggn_operator`).

    Returns:
        An :class:`Eigenpairs` (eigenvalues ascending, eigenvectors as columns).

    Raises:
        InvalidParameterError: for k outside [1, n), an unknown ``which``, ``tol`` <= 0,
            ``num_matvecs`` < k, ``block_size`` outside [1, n], ``ncv`` < k + b or a bad
            ``param_filter``.
        ShapeError: if theta does not have length d.
        NonFiniteError: if the loss or gradient at theta is not finite.

    Example:
        >>> import torch
        >>> from valleys import Landscape
        >>> land = Landscape.from_function(lambda t: (t ** 2 * torch.arange(1.0, 6.0)).sum(), 5)
        >>> pairs = eigs(land, torch.zeros(5, dtype=torch.float64), k=2, which="LA")
        >>> pairs.eigenvalues.round(10).tolist()
        [8.0, 10.0]
    """
    start = time.perf_counter()
    op = curvature_operator(land, theta, curvature, param_filter, "eigs")
    k, which, tol, budget, ncv, b = _check_args(op.dim, k, which, tol, num_matvecs, ncv,
                                                block_size)
    gen = check_generator(seed)
    V0 = torch.randn(b, op.dim, generator=gen, dtype=torch.float64).to(op.dtype)
    ritz = thick_restart_lanczos(op, k, which, tol, budget, V0, ncv, gen)
    residuals = (ritz.residuals / ritz.scale if ritz.scale > 0 else ritz.residuals).double()
    converged = (residuals <= tol).numpy()
    if not converged.all():
        msg = (f"eigs stopped after {op.num_matvecs} Hessian-vector products with "
               f"{int(converged.sum())} of {k} eigenpairs at relative residual <= {tol:g} "
               f"(largest {float(residuals.max()):.2e}). Raise num_matvecs or tol.")
        warnings.warn(msg, NonConvergenceWarning, stacklevel=2)
    return Eigenpairs(ritz.values.double().numpy(), ritz.vectors.double().numpy(),
                      residuals.numpy(), converged, tol, which, op.num_matvecs,
                      time.perf_counter() - start, op.blocks, curvature, b)
