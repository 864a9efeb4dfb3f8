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
from ..core import MAX_DENSE_DIM, Landscape
from ..errors import InvalidParameterError, NonConvergenceWarning
from ..results import Record
from ._build import curvature_operator, dense_matrix
from ._inputs import ParamFilter
from .inertia import counts_around
from .thick_restart import WHICH, RitzPairs, thick_restart_lanczos, wanted_order
from .tolerances import default_tol, rounding_bound

#: Default Krylov basis size: max(2k + b, k + 2b, DEFAULT_NCV), capped at the dimension.
DEFAULT_NCV = 20
#: Default product budget: max(DEFAULT_MATVECS, 50 k b).
DEFAULT_MATVECS = 1000
#: ``dense=None`` takes the dense route (n products, one ``eigh``) for n <= DENSE_DIM:
#: there a Krylov run needs a basis of >= 20 vectors and, on the ill-conditioned spectra of
#: trained nets, hundreds of products (1000 without converging on a d = 66 MLP), while the
#: dense route needs n and returns every eigenvalue.
DENSE_DIM = 200
#: ``dense=None`` also takes the dense route when k >= DENSE_FRACTION * n (and n <=
#: MAX_DENSE_DIM): the Krylov basis (>= 2k) would then hold half the space or more.
DENSE_FRACTION = 0.25
#: What ``extremal`` says when nothing certifies that the values are the extreme ones.
NOT_CERTIFIED = "not certified (Krylov evidence only)"


#: ``which`` values that target small or negative eigenvalues: their ``converged`` flag
#: also needs the sign of each value to be certain.
SIGN_SENSITIVE = ("SA", "BE")


@dataclass(frozen=True, repr=False, kw_only=True)
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
            never reported as converged there. It never says that the value is the
            smallest or largest: see ``extremal_certified``.
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
        extremal_certified: whether the values are *proven* to be the extreme ones asked
            for (the k smallest for "SA", the k largest for "LA", ...), each within its
            error bound of the true one of that rank. ``converged`` and ``sign_certain``
            never say this: a Krylov run can converge to interior eigenvalues and miss
            the wanted end (it does on trained nets, whose tiny negative eigenvalues sit
            under a lambda_max 1e10 times larger). True on the dense route (the whole
            spectrum is computed) and when an LDL^T inertia count of ``H - sigma I``
            (Sylvester's law) finds exactly the returned number of eigenvalues beyond
            the returned values' error intervals, which must be disjoint.
        extremal: what certifies it, in words: ``"dense spectrum"``, ``"inertia count"``
            (with the shift and the count), or ``"not certified (Krylov evidence
            only)"`` with the reason (the count that failed, or why none was done).
        method: ``"dense"`` or ``"lanczos"``, the route taken.
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
    extremal_certified: bool = False
    extremal: str = NOT_CERTIFIED
    method: str = "lanczos"

    _repr_skip = ("eigenvectors", "blocks", "residual_norms", "gap_bounds", "wall_time",
                  "residuals", "curvature", "block_size", "scale")

    @property
    def all_converged(self) -> bool:
        """Whether every returned pair met the tolerance."""
        return bool(np.all(self.converged))

    def to_frame(self) -> pd.DataFrame:
        """One row per eigenpair: value, residuals, bounds, sign certainty, convergence.

        Returns:
            A pandas DataFrame, one row per eigenpair.
        """
        k = self.eigenvalues.size
        none = np.full(k, np.nan)
        return pd.DataFrame({
            "eigenvalue": self.eigenvalues, "relative_residual": self.residuals,
            "residual_norm": none if self.residual_norms is None else self.residual_norms,
            "gap_bound": none if self.gap_bounds is None else self.gap_bounds,
            "error_bound": none if self.error_bounds is None else self.error_bounds,
            "sign_certain": np.zeros(k, bool) if self.sign_certain is None else self.sign_certain,
            "converged": self.converged, "which": self.which, "curvature": self.curvature,
            "extremal_certified": self.extremal_certified, "method": self.method})


def error_bounds(values: np.ndarray, res: np.ndarray, others: np.ndarray | None,
                 other_res: np.ndarray | None, floor: float) -> tuple[np.ndarray, np.ndarray]:
    """Gap-based bounds ``r^2 / delta`` (inf where the gap is unknown) and the error bounds.

    Args:
        values: the Ritz values (k,).
        res: their absolute residual norms (k,).
        others: every Ritz value of the final basis (None: no gap information).
        other_res: the residual estimates of ``others`` (None with ``others``).
        floor: the rounding level added to every bound.

    Returns:
        The gap-based bounds and the error bounds (the smaller of the residual and the
        gap bound, at least ``floor``), each (k,).
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


def eigs(land: Landscape, theta: torch.Tensor, /, k: int = 6, which: str = "LA", *,
         tol: float | None = None, seed: int | torch.Generator | None = 0,
         num_matvecs: int | None = None, ncv: int | None = None,
         block_size: int = 1, param_filter: ParamFilter = None,
         curvature: str = "hessian", progress: bool | None = None,
         dense: bool | None = None, certify: bool | None = None) -> Eigenpairs:
    r"""The k extreme eigenpairs of the Hessian at theta by (block) thick-restart Lanczos,
    or from the dense matrix when it is small.

    Lanczos route: only Hessian-vector products are used (one vectorised batch of
    ``block_size`` per Lanczos step), the basis is kept fully orthogonal, and "SA" (the
    most negative eigenvalues) is targeted directly rather than by shifting. The loss is
    the landscape's, with its reduction (mean :math:`\frac1N\sum_i \ell_i` or sum).

    Dense route (``dense=None`` takes it when n <= :data:`DENSE_DIM` = 200, or when
    k >= :data:`DENSE_FRACTION` * n = n/4 and n <= ``MAX_DENSE_DIM``): the n x n matrix
    from n products, every eigenvalue by ``eigh``, the wanted ones returned
    (``method="dense"``, ``extremal_certified=True``; eigenvector signs fixed so that
    the largest-magnitude entry is positive).

    ``converged`` never means "the smallest" (or largest): a Ritz value can converge to
    an interior eigenvalue while the wanted end is missed. ``extremal_certified`` says
    whether the values are proven to be the extreme ones (see :class:`Eigenpairs`).

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
        dense: True: the dense route (n <= ``MAX_DENSE_DIM``); False: Lanczos; None:
            dense when n <= DENSE_DIM or k >= DENSE_FRACTION * n (see above).
        certify: Lanczos route only: build the dense matrix (n more products, counted in
            ``num_matvecs``) and certify the extremal property by an LDL^T inertia count.
            None: when that at most doubles the products (n <= the products the run
            spent) and n <= ``MAX_DENSE_DIM``.

    Returns:
        An :class:`Eigenpairs` (eigenvalues ascending, eigenvectors as columns) with
        per-value error bounds, ``sign_certain`` and ``extremal_certified``. For "is there
        negative curvature here?" use :func:`valleys.curvature.smallest_eigenvalue`, which keeps going until
        the sign is certain.

    Raises:
        InvalidParameterError: for k outside [1, n), an unknown ``which``, ``tol`` <= 0,
            ``num_matvecs`` < k, ``block_size`` outside [1, n], ``ncv`` < k + b, a bad
            ``param_filter``, ``dense`` or ``certify`` not True/False/None, or
            ``dense=True`` / ``certify=True`` above ``MAX_DENSE_DIM``.
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
    if certify is not None and not isinstance(certify, bool):
        msg = f"The 'certify' parameter of eigs must be True, False or None. Got {certify!r}."
        raise InvalidParameterError(msg)
    if certify and op.dim > MAX_DENSE_DIM:
        msg = (f"eigs(certify=True) needs the dense {op.dim} x {op.dim} matrix, above "
               f"MAX_DENSE_DIM = {MAX_DENSE_DIM}. Use certify=None or False.")
        raise InvalidParameterError(msg)
    if use_dense(op.dim, k, dense):
        ritz = dense_ritz(op, k, which, progress)
        return finish(ritz, op, k, which, tol, b, curvature, start, stacklevel=3,
                      method="dense")
    V0 = torch.randn(b, op.dim, generator=gen, dtype=torch.float64,
                     device=gen.device).to(device=op.device, dtype=op.dtype)
    with bar(budget, "eigs", progress, unit="hvp") as pbar:
        ritz = thick_restart_lanczos(op, k, which, tol, budget, V0, ncv, gen,
                                     on_step=lambda used: pbar.update(used - pbar.n))
    why_not = "certify=False"
    if certify is None:
        certify = op.dim <= min(op.num_matvecs, MAX_DENSE_DIM)
        why_not = (f"n = {op.dim} exceeds the {op.num_matvecs} products spent; pass "
                   f"certify=True" if op.dim <= MAX_DENSE_DIM else f"n > {MAX_DENSE_DIM}")
    return finish(ritz, op, k, which, tol, b, curvature, start, stacklevel=3,
                  certify=certify, progress=progress, why_not=why_not)


def use_dense(n: int, k: int, dense: bool | None) -> bool:
    """Whether eigs takes the dense route (see :func:`eigs`).

    Raises:
        InvalidParameterError: for ``dense`` not in (True, False, None), or ``dense=True``
            above ``MAX_DENSE_DIM``.

    Args:
        n: the operator's size.
        k: number of pairs.
        dense: the user's choice (None: by size).

    Returns:
        Whether the dense route is taken.
    """
    if dense is None:
        return n <= DENSE_DIM or (k >= DENSE_FRACTION * n and n <= MAX_DENSE_DIM)
    if not isinstance(dense, bool):
        msg = f"The 'dense' parameter of eigs must be True, False or None. Got {dense!r}."
        raise InvalidParameterError(msg)
    if dense and n > MAX_DENSE_DIM:
        msg = (f"eigs(dense=True) needs a dense {n} x {n} matrix, above MAX_DENSE_DIM = "
               f"{MAX_DENSE_DIM}. Use dense=False (Lanczos).")
        raise InvalidParameterError(msg)
    return dense


def _symmetric_dense(op, progress: bool | None) -> torch.Tensor:
    H = dense_matrix(op, progress, "eigs")
    return 0.5 * (H + H.T)


def dense_ritz(op, k: int, which: str, progress: bool | None) -> RitzPairs:
    """The wanted k eigenpairs of the dense matrix of ``op`` (every eigenvalue computed).

    Args:
        op: the curvature operator.
        k: number of pairs.
        which: ``"LA"``, ``"SA"``, ``"LM"`` or ``"BE"``.
        progress: a progress bar for building the dense matrix.

    Returns:
        The wanted pairs as :class:`~valleys.curvature.thick_restart.RitzPairs`.
    """
    H = _symmetric_dense(op, progress)
    values, vectors = np.linalg.eigh(H.cpu().numpy())
    values, vectors = values.astype(np.float64), vectors.astype(np.float64)
    keep = np.sort(wanted_order(torch.as_tensor(values), which)[:k].numpy())
    X = vectors[:, keep]
    peak = np.argmax(np.abs(X), axis=0)  # a deterministic sign: largest entry positive
    X = X * np.where(X[peak, np.arange(X.shape[1])] < 0, -1.0, 1.0)
    Hd = H.double().cpu().numpy()
    res = np.linalg.norm(Hd @ X - X * values[keep], axis=0)
    scale = float(np.abs(values).max()) if values.size else 0.0
    return RitzPairs(torch.as_tensor(values[keep]), torch.as_tensor(X), torch.as_tensor(res),
                     scale, op.num_matvecs, 0)


def finish(ritz, op, k: int, which: str, tol: float, b: int, curvature: str, start: float,
           stacklevel: int = 2, *, method: str = "lanczos", certify: bool = False,
           progress: bool | None = None, why_not: str = "certify=False") -> Eigenpairs:
    """Turn a thick-restart (or dense) run into :class:`Eigenpairs`: bounds, sign
    certainty, flags and the extremal certificate.

    Args:
        ritz: the pairs found.
        op: the curvature operator.
        k: number of pairs asked for.
        which: which end of the spectrum.
        tol: the relative residual tolerance.
        b: the block size.
        curvature: the curvature's name, stored in the result.
        start: the start time (perf_counter).
        stacklevel: for warnings.
        method: the route's name.
        certify: try the extremal certificate.
        progress: a progress bar.
        why_not: why no certificate was tried (when ``certify`` is False).

    Returns:
        The :class:`Eigenpairs`.
    """
    values = ritz.values.double().cpu().numpy()
    res_abs = ritz.residuals.double().cpu().numpy()
    residuals = res_abs / ritz.scale if ritz.scale > 0 else res_abs
    floor = rounding_bound(op.dtype, op.dim, ritz.scale)
    others = None if ritz.all_values is None else ritz.all_values.double().cpu().numpy()
    other_res = None if ritz.all_residuals is None else ritz.all_residuals.double().cpu().numpy()
    gap_b, bound = error_bounds(values, res_abs, others, other_res, floor)
    certain = bound < np.abs(values)
    converged = residuals <= tol
    if which in SIGN_SENSITIVE:
        converged = converged & certain
    if method == "dense":
        extremal_ok, extremal = True, f"dense spectrum (all {op.dim} eigenvalues computed)"
    elif certify:
        H = _symmetric_dense(op, progress)
        extremal_ok, extremal = inertia_certificate(H, values, np.maximum(res_abs, floor),
                                                    which, floor)
    else:
        extremal_ok, extremal = False, f"{NOT_CERTIFIED}: no inertia count ({why_not})"
    if not converged.all():
        warnings.warn(_unconverged_message(op, k, tol, residuals, converged, certain, which, method),
                      NonConvergenceWarning, stacklevel=stacklevel)
    return Eigenpairs(eigenvalues=values, eigenvectors=ritz.vectors.double().cpu().numpy(), residuals=residuals,
                      converged=converged, tol=tol, which=which, num_matvecs=op.num_matvecs,
                      wall_time=time.perf_counter() - start, blocks=op.blocks, curvature=curvature, block_size=b,
                      residual_norms=res_abs, gap_bounds=gap_b, error_bounds=bound, sign_certain=certain,
                      scale=float(ritz.scale), dtype=str(op.dtype).replace("torch.", ""),
                      extremal_certified=bool(extremal_ok), extremal=extremal, method=method)


def _unconverged_message(op, k, tol, residuals, converged, certain, which, method) -> str:
    uncertain = int((~certain & (residuals <= tol)).sum()) if which in SIGN_SENSITIVE else 0
    if method == "dense":
        return (f"eigs (dense route, all {op.dim} eigenvalues computed): {k - int(converged.sum())} "
                f"of the {k} values are not above their error bound (the resolution of "
                f"{op.dtype} at this scale): their sign is undetermined.")
    why = (f"; {uncertain} of them met the residual tolerance but their error bound "
           f"exceeds their magnitude (sign unknown: use smallest_eigenvalue)" if uncertain else "")
    return (f"eigs stopped after {op.num_matvecs} Hessian-vector products with "
            f"{int(converged.sum())} of {k} eigenpairs converged at relative residual <= "
            f"{tol:g} (largest {float(residuals.max()):.2e}){why}. Raise num_matvecs or tol.")


def inertia_certificate(H: torch.Tensor, values: np.ndarray, radii: np.ndarray, which: str,
                        floor: float) -> tuple[bool, str]:
    r"""Certify by Sylvester's law that Ritz values are the extreme eigenvalues asked for.

    Each interval :math:`[\theta_i - r_i, \theta_i + r_i]` (``radii``: residual norms,
    at least the rounding level) holds an eigenvalue (Weyl). If the intervals of the
    values at one end are disjoint, they hold as many distinct eigenvalues; if an
    LDL^T count of :math:`H - \sigma I`, with :math:`\sigma` just beyond the outermost
    interval (by ``floor``), finds no more eigenvalues beyond :math:`\sigma`, those are
    the extreme ones and the i-th value lies within :math:`r_i` of the i-th extreme
    eigenvalue. "LM" counts both sides of :math:`\pm(\min_i |\theta_i| - r_i)`.

    Returns:
        (certified, evidence in words).

    Args:
        H: the dense symmetric matrix.
        values: the Ritz values.
        radii: their residual norms.
        which: which end of the spectrum.
        floor: the rounding level.
    """
    order = np.argsort(values)
    lo, hi = values[order] - radii[order], values[order] + radii[order]
    if np.any(lo[1:] <= hi[:-1]):
        return False, f"{NOT_CERTIFIED}: the error intervals of the values overlap"
    k = values.size
    if which == "LM":
        a = float(np.min(np.abs(values) - radii)) - floor
        if a <= 0:
            return False, f"{NOT_CERTIFIED}: an error interval contains 0"
        below, above = counts_around(H, -a)[0], counts_around(H, a)[1]
        found = below + above
        where = f"|lambda| > {a:.3g}"
    else:
        n_top = k if which == "LA" else (k + 1) // 2 if which == "BE" else 0
        n_bottom = k - n_top
        found, parts = 0, []
        if n_bottom:
            sigma = float(hi[n_bottom - 1]) + floor
            found += counts_around(H, sigma)[0]
            parts.append(f"lambda < {sigma:.3g}")
        if n_top:
            sigma = float(lo[k - n_top]) - floor
            found += counts_around(H, sigma)[1]
            parts.append(f"lambda > {sigma:.3g}")
        where = " or ".join(parts)
    if found == k:
        return True, f"inertia count: LDL^T finds exactly {k} eigenvalues with {where}"
    missed = f" (the run missed {found - k})" if found > k else ""
    return False, (f"{NOT_CERTIFIED}: an LDL^T inertia count finds {found} eigenvalues with "
                   f"{where} where {k} were returned{missed}")
