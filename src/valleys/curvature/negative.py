r"""Is there negative curvature here? The smallest eigenvalue with a sign you can believe.

Two routes, chosen by size:

* **dense** (n <= ``max_dim``): the dense matrix, ``eigh``, and an LDLᵀ inertia count
  (Sylvester's law, an independent factorisation) of the eigenvalues below
  :math:`-b`, where :math:`b = \varepsilon\, n \max|\lambda|` bounds the eigenvalue
  errors caused by rounding (Golub & Van Loan, 4th ed., §8.1.2).
* **lanczos** (larger n): thick-restart Lanczos on the smallest algebraic end with a
  large basis, run until the *sign* is settled rather than until a relative residual is
  met. Two facts make the answer trustworthy:

  - a unit vector x with Rayleigh quotient :math:`x^\top H x < -\rho`
    (:math:`\rho = \varepsilon \sqrt n \max|\theta|`, the rounding level of the products)
    *proves* :math:`\lambda_{\min} \le x^\top H x < 0` (Courant–Fischer); the vector is
    returned as the certificate;
  - a Ritz value :math:`\theta > 0` with error bound :math:`e < \theta` (the residual norm,
    or the Kato–Temple :math:`r^2/\delta` with the gap :math:`\delta` to the next Ritz
    value) means the eigenvalue it approximates is positive; that this eigenvalue is
    the smallest one is the usual Krylov assumption (a random start vector misses an
    eigenvalue with probability zero), so a positive answer is evidence, not proof.

  Otherwise the sign is reported as undetermined (``sign = 0``) with the bound.

Which Lanczos variant converges in the fewest products on spectra whose smallest
eigenvalue is 1e-6 to 1e-11 times the largest (plain thick restart with a small or a large
basis, a shift by an upper bound of the largest eigenvalue, a Chebyshev filter) is
measured in ``benchmarks/curvature.py`` (``negative_curvature`` in
``benchmarks/results/curvature.json``); the default here is the winner there, the
large-basis thick restart (a shift does not change the Krylov space, and a filter of
degree q spends q products per Lanczos step without a better polynomial).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from .._progress import bar
from .._validation import check_choice, check_float, check_generator, check_int
from ..core import MAX_DENSE_DIM, Landscape
from ..results import Record
from ._build import curvature_operator
from ._inputs import ParamFilter
from ._operator import CurvatureOperator
from .eigs import error_bounds
from .inertia import ldl_inertia
from .thick_restart import thick_restart_lanczos
from .tolerances import machine_eps, rounding_bound

#: Routes of :func:`smallest_eigenvalue`.
METHODS = ("auto", "dense", "lanczos")
#: Default Krylov basis size of the Lanczos route.
DEFAULT_NCV = 60
#: Default product budget of the Lanczos route.
DEFAULT_MATVECS = 3000


@dataclass(frozen=True, repr=False, kw_only=True)
class SmallestEigenvalue(Record):
    r"""The smallest eigenvalue of a curvature matrix and how sure its sign is.

    Attributes:
        value: the estimate of :math:`\lambda_{\min}`.
        error_bound: absolute bound on ``|value - lambda_min|`` (see the module docstring).
        sign: -1 (negative curvature), +1 (positive) or 0 (undetermined: the bound is
            not below ``|value|``).
        sign_certain: ``sign != 0``.
        rigorous: the sign is proven (a Rayleigh-quotient certificate of negative
            curvature, or the dense route's LDLᵀ inertia), not only bounded.
        evidence: one sentence saying what decided the sign.
        method: "dense" or "lanczos".
        rayleigh_quotient: :math:`x^\top H x` of the returned unit vector.
        rounding: the rounding level :math:`\rho` used.
        scale: the estimate of ``||H||_2``.
        num_matvecs: matrix-vector products done.
        wall_time: seconds.
        vector: the unit vector x (the certificate when ``sign = -1``), shape (n,).
        dtype: the landscape's dtype.
    """

    value: float
    error_bound: float
    sign: int
    sign_certain: bool
    rigorous: bool
    evidence: str
    method: str
    rayleigh_quotient: float
    rounding: float
    scale: float
    num_matvecs: int
    wall_time: float
    vector: np.ndarray
    dtype: str

    _repr_skip = ("vector",)

    @property
    def negative_curvature(self) -> bool | None:
        """True (proven or bounded negative), False (positive), None (undetermined)."""
        return None if self.sign == 0 else self.sign < 0

    def _extra(self) -> dict:
        return {"negative_curvature": self.negative_curvature}

    def to_frame(self) -> pd.DataFrame:
        """One row with the value, its bound, the sign and the evidence.

        Returns:
            A pandas DataFrame with one row.
        """
        return pd.DataFrame([{k: v for k, v in self.to_dict(arrays=False, strict=False).items() if k != "vector"}])


def smallest_eigenvalue(land: Landscape, theta: torch.Tensor, /, *, method: str = "auto",
                        max_dim: int = 2000, tol: float | None = None,
                        num_matvecs: int = DEFAULT_MATVECS, ncv: int = DEFAULT_NCV,
                        seed: int | torch.Generator | None = 0,
                        param_filter: ParamFilter = None, curvature: str = "hessian",
                        progress: bool | None = None) -> SmallestEigenvalue:
    r"""The smallest eigenvalue of the Hessian at theta, run until its sign is settled.

    Args:
        land: the landscape.
        theta: the point, a flat tensor of length d.
        method: "auto" (dense when n <= ``max_dim``, else Lanczos), "dense" or "lanczos".
        max_dim: the largest n of the dense route under "auto" (at most
            :data:`valleys.core.MAX_DENSE_DIM`).
        tol: the Lanczos route also stops when the relative residual is <= tol (the
            value is then as resolved as the dtype allows); None:
            :math:`10\,\varepsilon\sqrt n`.
        num_matvecs: product budget of the Lanczos route.
        ncv: Krylov basis size of the Lanczos route (>= 3).
        seed: seed of the start vector.
        param_filter: block names (or a predicate) selecting a principal sub-block.
        curvature: "hessian" or "ggn".
        progress: a progress bar on stderr (None: only on a terminal).

    Returns:
        A :class:`SmallestEigenvalue`.

    Raises:
        InvalidParameterError: for a bad method, budget, basis size or tolerance.
        ShapeError: if theta does not have length d.
        NonFiniteError: if the loss or gradient at theta is not finite.

    Example:
        >>> import torch
        >>> from valleys import Landscape
        >>> land = Landscape.from_function(lambda t: t[0] ** 2 - 1e-9 * t[1] ** 2, 2)
        >>> r = smallest_eigenvalue(land, torch.zeros(2, dtype=torch.float64))
        >>> r.sign, r.sign_certain, round(r.value, 12)
        (-1, True, -2e-09)
    """
    where = "smallest_eigenvalue"
    start = time.perf_counter()
    method = check_choice(method, "method", where, METHODS)
    max_dim = check_int(max_dim, "max_dim", where, min_val=1, max_val=MAX_DENSE_DIM)
    num_matvecs = check_int(num_matvecs, "num_matvecs", where, min_val=2)
    ncv = check_int(ncv, "ncv", where, min_val=3)
    if tol is not None:
        tol = check_float(tol, "tol", where, min_val=0.0, open_min=True)
    op = curvature_operator(land, theta, curvature, param_filter, where)
    if method == "dense" or (method == "auto" and op.dim <= max_dim) or op.dim < 3:
        return _dense(op, start, progress)
    return _lanczos(op, tol, num_matvecs, ncv, check_generator(seed), start, progress)


def _dense(op: CurvatureOperator, start: float, progress) -> SmallestEigenvalue:
    with bar(1, "smallest eigenvalue (dense)", progress) as pbar:
        H = op.dense()
        pbar.update(1)
    lam, V = torch.linalg.eigh(H.double() if op.dtype == torch.float64 else H)
    lam, V = lam.double().numpy(), V.double().numpy()
    scale = float(np.abs(lam).max())
    bound = machine_eps(op.dtype) * op.dim * scale
    value, x = float(lam[0]), V[:, 0]
    rq = float(x @ (H.double().numpy() @ x))
    neg = ldl_inertia(H.double().numpy(), bound).negative
    if value < -bound and neg >= 1:
        sign, evidence = -1, (f"dense eigh gives lambda_min = {value:.3e} < -{bound:.2e} (the rounding "
                              f"bound eps*n*max|lambda|), and an LDL^T factorisation counts {neg} "
                              f"eigenvalue(s) below -{bound:.2e}")
    elif value > bound and neg == 0:
        sign, evidence = 1, (f"dense eigh gives lambda_min = {value:.3e} > {bound:.2e} (the rounding "
                             f"bound eps*n*max|lambda|), and an LDL^T factorisation counts no "
                             f"eigenvalue below -{bound:.2e}")
    else:
        sign, evidence = 0, (f"dense eigh gives lambda_min = {value:.3e}, within the rounding bound "
                             f"{bound:.2e} of zero: its sign cannot be resolved in "
                             f"{str(op.dtype).replace('torch.', '')}")
    return SmallestEigenvalue(value=value, error_bound=bound, sign=sign, sign_certain=sign != 0, rigorous=sign != 0,
                              evidence=evidence, method="dense", rayleigh_quotient=rq, rounding=bound, scale=scale,
                              num_matvecs=op.num_matvecs, wall_time=time.perf_counter() - start, vector=x,
                              dtype=str(op.dtype).replace("torch.", ""))


def _lanczos(op: CurvatureOperator, tol: float | None, budget: int, ncv: int,
             gen: torch.Generator, start: float, progress) -> SmallestEigenvalue:
    n = op.dim
    eps = machine_eps(op.dtype)
    tol = 10 * eps * math.sqrt(n) if tol is None else tol
    ncv = min(ncv, n)

    def settled(values, res, scale):
        lam, r = float(values[0]), float(res[0])
        rho = rounding_bound(op.dtype, n, scale)
        return lam < -rho or r < abs(lam) - rho or r <= tol * scale

    V0 = torch.randn(1, n, generator=gen, dtype=torch.float64).to(op.dtype)
    with bar(budget, "smallest eigenvalue (lanczos)", progress, unit="hvp") as pbar:
        ritz = thick_restart_lanczos(op, 1, "SA", tol, budget, V0, ncv, gen,
                                     on_step=lambda used: pbar.update(used - pbar.n),
                                     accept=settled)
    x = ritz.vectors[:, 0]
    x = x / torch.linalg.vector_norm(x)
    rq = float(x.double() @ op.matvec(x).double())
    value, r, scale = float(ritz.values[0]), float(ritz.residuals[0]), float(ritz.scale)
    rho = rounding_bound(op.dtype, n, scale)
    others = None if ritz.all_values is None else ritz.all_values.double().numpy()
    other_res = None if ritz.all_residuals is None else ritz.all_residuals.double().numpy()
    _, bound = error_bounds(np.array([value]), np.array([r]), others, other_res, rho)
    bound = float(bound[0])
    if rq < -rho:
        sign, rigorous = -1, True
        evidence = (f"Rayleigh quotient certificate: a unit vector x has x^T H x = {rq:.3e} < "
                    f"-{rho:.2e} (the rounding level), so lambda_min <= {rq:.3e} < 0")
    elif value - bound > 0:
        sign, rigorous = 1, False
        evidence = (f"Lanczos: lambda_min ~ {value:.3e} with error bound {bound:.2e} (residual "
                    f"{r:.2e}); positive unless the Krylov space missed a smaller eigenvalue")
    else:
        sign, rigorous = 0, False
        evidence = (f"undetermined: Lanczos lambda_min ~ {value:.3e} with error bound {bound:.2e} "
                    f">= |value| after {op.num_matvecs} products; raise num_matvecs or use the "
                    f"dense route")
    return SmallestEigenvalue(value=value, error_bound=bound, sign=sign, sign_certain=sign != 0, rigorous=rigorous,
                              evidence=evidence, method="lanczos", rayleigh_quotient=rq, rounding=rho, scale=scale,
                              num_matvecs=op.num_matvecs, wall_time=time.perf_counter() - start,
                              vector=x.double().numpy(), dtype=str(op.dtype).replace("torch.", ""))
