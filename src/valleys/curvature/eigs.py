"""A few extreme eigenpairs of the Hessian (or GGN), matrix-free."""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from .._progress import bar
from .._validation import check_choice, check_float, check_generator, check_int
from ..core import Landscape
from ..errors import InvalidParameterError, NonConvergenceWarning
from ..results import Record
from ._build import curvature_operator
from ._inputs import ParamFilter
from .thick_restart import WHICH, thick_restart_lanczos
from .tolerances import default_tol, rounding_bound

#: Default Krylov basis size: max(2k + b, k + 2b, DEFAULT_NCV), capped at the dimension.
DEFAULT_NCV = 20
#: Default product budget: max(DEFAULT_MATVECS, 50 k b).
DEFAULT_MATVECS = 1000


#: ``which`` values that target small or negative eigenvalues: their ``converged`` flag
#: also needs the sign of each value to be certain.
SIGN_SENSITIVE = ("SA", "BE")


@dataclass(frozen=True, repr=False)
class Eigenpairs(Record):
    r"""Extreme eigenpairs of a curvature matrix, with their accuracy and cost.

    Attributes:
        eigenvalues: shape (k,), ascending.
        eigenvectors: shape (n, k), orthonormal columns; n = d, or the number of selected
            parameters under a ``param_filter`` (coordinates in layout order).
        residuals: relative residual norms
            :math:`\|H v_i - \lambda_i v_i\| / \max_j |\theta_j|`, where the maximum runs
            over all Ritz values of the final Krylov basis (an estimate of ``||H||_2``).
        converged: per pair, whether its relative residual is <= ``tol`` AND, when
            ``which`` targets small or negative eigenvalues ("SA", "BE"), its error bound
            is below its magnitude (``sign_certain``): a value whose sign is unknown is
            never reported as converged there.
        tol: the residual tolerance used.
        which: the part of the spectrum asked for ("LA", "SA", "LM" or "BE").
        num_matvecs: Hessian-vector products actually done (counted at the operator).
        wall_time: seconds spent, including the products.
        blocks: the parameter blocks the operator acted on.
        curvature: "hessian" or "ggn".
        block_size: the Lanczos block size b used.
        residual_norms: absolute residual norms :math:`r_i = \|H v_i - \lambda_i v_i\|`.
            Some eigenvalue of H lies in :math:`[\lambda_i - r_i, \lambda_i + r_i]`
            (Weyl / Krylov–Bogoliubov), whatever else the run missed.
        gap_bounds: the sharper :math:`r_i^2 / \delta_i` (Kato–Temple), where
            :math:`\delta_i = \min_{j \ne i} (|\lambda_i - \theta_j| - r_j)` is the gap to the
            other Ritz values :math:`\theta_j` of the final basis less their residuals; inf
            where that gap is not known to exceed :math:`r_i`. It assumes, as ARPACK does,
            that no eigenvalue lies unseen between :math:`\lambda_i` and its neighbours.
        error_bounds: the absolute error bound of each eigenvalue,
            :math:`\max(\min(r_i, r_i^2/\delta_i), \varepsilon \sqrt{n} \max|\theta|)` (the
            last term is the rounding level of the products in the landscape's dtype).
        sign_certain: ``error_bounds < |eigenvalues|``: the eigenvalue's sign is known.
        scale: the estimate ``max |theta|`` of ``||H||_2`` that makes residuals relative.
        dtype: the landscape's dtype.
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
    residual_norms: np.ndarray | None = None
    gap_bounds: np.ndarray | None = None
    error_bounds: np.ndarray | None = None
    sign_certain: np.ndarray | None = None
    scale: float = float("nan")
    dtype: str = "float64"

    _repr_skip = ("eigenvectors", "blocks", "residual_norms", "gap_bounds", "wall_time")

    @property
    def all_converged(self) -> bool:
        """Whether every returned pair met the tolerance."""
        return bool(np.all(self.converged))

    def to_frame(self) -> pd.DataFrame:
        """One row per eigenpair: value, residuals, bounds, sign certainty, convergence."""
        k = self.eigenvalues.size
        none = np.full(k, np.nan)
        return pd.DataFrame({
            "eigenvalue": self.eigenvalues, "relative_residual": self.residuals,
            "residual_norm": none if self.residual_norms is None else self.residual_norms,
            "gap_bound": none if self.gap_bounds is None else self.gap_bounds,
            "error_bound": none if self.error_bounds is None else self.error_bounds,
            "sign_certain": np.zeros(k, bool) if self.sign_certain is None else self.sign_certain,
            "converged": self.converged, "which": self.which, "curvature": self.curvature})


def error_bounds(values: np.ndarray, res: np.ndarray, others: np.ndarray | None,
                 other_res: np.ndarray | None, floor: float) -> tuple[np.ndarray, np.ndarray]:
    """Gap-based bounds ``r^2 / delta`` (inf where the gap is unknown) and the error bounds.

    Args:
        values: the Ritz values (k,); ``res`` their absolute residual norms.
        others, other_res: every Ritz value of the final basis and its residual estimate
            (None: no gap information).
        floor: the rounding level added to every bound.
    """
    gap_b = np.full(values.shape, np.inf)
    if others is not None and others.size > 1:
        for i, (lam, r) in enumerate(zip(values, res, strict=True)):
            dist = np.abs(others - lam)
            mine = int(np.argmin(dist))  # the Ritz value this pair is
            rest = np.delete(np.arange(others.size), mine)
            if rest.size == 0:
                continue
            delta = float(np.min(dist[rest] - other_res[rest]))
            if delta > r and delta > 0:
                gap_b[i] = r * r / delta
    bound = np.maximum(np.minimum(res, gap_b), floor)
    return gap_b, bound


def _check_args(n: int, k, which, tol, num_matvecs, ncv, block_size):
    if n < 2:
        msg = f"eigs needs an operator of size >= 2 (k must satisfy 1 <= k < n). Got n = {n}; use spectrum."
        raise InvalidParameterError(msg)
    k = check_int(k, "k", "eigs", min_val=1, max_val=n - 1)
    which = check_choice(which, "which", "eigs", WHICH)
    if tol is not None:
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
         tol: float | None = None, seed: int | torch.Generator | None = 0,
         num_matvecs: int | None = None, ncv: int | None = None,
         block_size: int = 1, param_filter: ParamFilter = None,
         curvature: str = "hessian", progress: bool | None = None) -> Eigenpairs:
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
            :class:`Eigenpairs`) <= tol; None: :math:`\sqrt{\varepsilon}` of the
            landscape's dtype (1.5e-8 in float64, 3.5e-4 in float32; see
            :mod:`valleys.curvature.tolerances`).
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
        progress: a progress bar of the products on stderr (None: only on a terminal).

    Returns:
        An :class:`Eigenpairs` (eigenvalues ascending, eigenvectors as columns) with
        per-value error bounds and ``sign_certain``. For "is there negative curvature
        here?" use :func:`valleys.curvature.smallest_eigenvalue`, which keeps going until
        the sign is certain.

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
    tol = default_tol(op.dtype) if tol is None else tol
    gen = check_generator(seed)
    V0 = torch.randn(b, op.dim, generator=gen, dtype=torch.float64).to(op.dtype)
    with bar(budget, "eigs", progress, unit="hvp") as pbar:
        ritz = thick_restart_lanczos(op, k, which, tol, budget, V0, ncv, gen,
                                     on_step=lambda used: pbar.update(used - pbar.n))
    return finish(ritz, op, k, which, tol, b, curvature, start, stacklevel=3)


def finish(ritz, op, k: int, which: str, tol: float, b: int, curvature: str, start: float,
           stacklevel: int = 2) -> Eigenpairs:
    """Turn a thick-restart run into :class:`Eigenpairs`: bounds, sign certainty, flags."""
    values = ritz.values.double().numpy()
    res_abs = ritz.residuals.double().numpy()
    residuals = res_abs / ritz.scale if ritz.scale > 0 else res_abs
    floor = rounding_bound(op.dtype, op.dim, ritz.scale)
    others = None if ritz.all_values is None else ritz.all_values.double().numpy()
    other_res = None if ritz.all_residuals is None else ritz.all_residuals.double().numpy()
    gap_b, bound = error_bounds(values, res_abs, others, other_res, floor)
    certain = bound < np.abs(values)
    converged = residuals <= tol
    if which in SIGN_SENSITIVE:
        converged = converged & certain
    if not converged.all():
        uncertain = int((~certain & (residuals <= tol)).sum()) if which in SIGN_SENSITIVE else 0
        why = (f"; {uncertain} of them met the residual tolerance but their error bound "
               f"exceeds their magnitude (sign unknown: use smallest_eigenvalue)" if uncertain else "")
        msg = (f"eigs stopped after {op.num_matvecs} Hessian-vector products with "
               f"{int(converged.sum())} of {k} eigenpairs converged at relative residual <= "
               f"{tol:g} (largest {float(residuals.max()):.2e}){why}. Raise num_matvecs or tol.")
        warnings.warn(msg, NonConvergenceWarning, stacklevel=stacklevel)
    return Eigenpairs(values, ritz.vectors.double().numpy(), residuals, converged, tol, which,
                      op.num_matvecs, time.perf_counter() - start, op.blocks, curvature, b,
                      res_abs, gap_b, bound, certain, float(ritz.scale),
                      str(op.dtype).replace("torch.", ""))
