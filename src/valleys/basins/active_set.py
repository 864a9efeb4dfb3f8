"""An exact primal active-set method for the squared-loss basin program (SS-A3).

The program, in the row-space coordinates of :class:`~valleys.basins.BasinSolver`
(``c_j`` of neuron group j, ``Xr`` the data in those coordinates, ``s_jt`` in {0, ±1} the
output coefficient of group j on sample t and ``a_jt`` in {±1} its sign), is

.. math::
    \\min_c \\frac1m \\Big\\| \\sum_j s_j \\odot (X_r c_j) - y \\Big\\|^2
    \\quad\\text{s.t. } a_{jt} \\langle x_t, c_j \\rangle \\ge 0 .

The method (Nocedal & Wright, Algorithm 16.3, for a positive semidefinite objective)
keeps a feasible point and a working set of tight, linearly independent constraints per
group. Each step solves the equality-constrained least squares on the working set
exactly (the minimum-norm correction in the null space of the working rows, so that the
step is bounded when the objective is only semidefinite), walks towards it until the
first constraint blocks (which joins the working set), and at a minimiser of the working
set drops the constraint with the most negative multiplier. It stops when every
multiplier is nonnegative: a KKT point, i.e. the exact minimum (convex program).

Unlike ADMM (OSQP), its accuracy does not degrade when the data is nearly rank-deficient
or its constraint rows are nearly parallel (tight clusters, SS-T5): every step is a dense
least-squares solve, accurate to rounding. It needs a feasible start; the basin solver
gives it OSQP's approximate solution pulled into the cell towards an interior point.
"""

from __future__ import annotations

import numpy as np

from ..curvature.rank import numerical_rank


def _null_basis(rows: np.ndarray, r: int) -> np.ndarray:
    """Orthonormal basis ``(r, r - rank)`` of the null space of ``rows`` (``(w, r)``)."""
    if len(rows) == 0:
        return np.eye(r)
    _, sv, Vt = np.linalg.svd(rows, full_matrices=True)
    rank = numerical_rank(sv, tau=1e-13, warn=False).count
    return Vt[rank:].T


def min_norm_lstsq(H: np.ndarray, rhs: np.ndarray, cutoff: float) -> np.ndarray:
    """The minimum-norm least-squares solution of ``H w = rhs``, singular values of H at most
    ``cutoff`` (an absolute scale) counted as zero.

    In the basin programs the columns of H are ``s_j \\odot (X_r N_j)`` for orthonormal
    ``N_j``: their natural scale is that of X, and a direction that changes no prediction
    gives a column that is exactly zero but, after rounding, of size ``eps ||X||``. A cut
    relative to the largest singular value of H (``numpy.linalg.lstsq``'s ``rcond``) keeps
    such columns when every column is of that kind, and dividing by them sends the solution
    along a free ray to ``~1e17``.

    Args:
        H: ``(m, p)`` matrix.
        rhs: ``(m,)`` right-hand side.
        cutoff: Absolute singular-value cut (e.g. ``1e-12 * sigma_max(X)``).

    Returns:
        ``w`` of shape ``(p,)``.
    """
    if H.shape[1] == 0:
        return np.zeros(0)
    U, sv, Vt = np.linalg.svd(H, full_matrices=False)
    keep = sv > cutoff
    return Vt[keep].T @ ((U[:, keep].T @ rhs) / sv[keep])


def active_set_solve(XrT: np.ndarray, coef: np.ndarray, a: np.ndarray, y: np.ndarray, c0: np.ndarray,
                     working: np.ndarray, *, max_iter: int, mult_tol: float, step_tol: float,
                     cutoff: float = 0.0) -> tuple[np.ndarray, str, int, np.ndarray]:
    """Minimise the squared-loss basin program from a feasible start.

    Args:
        XrT: ``(r, m)`` the data in row-space coordinates, transposed.
        coef: ``(k, m)`` output coefficients ``s_jt`` (0 where group j is inactive on t).
        a: ``(k, m)`` signs ``a_jt`` (float).
        y: ``(m,)`` targets.
        c0: ``(k, r)`` a feasible start.
        working: ``(k, m)`` bool, the initial working set (tight at ``c0``; rows of one group
            that are linearly dependent on earlier ones are left out).
        max_iter: Iteration limit.
        mult_tol: A multiplier below ``-mult_tol`` (relative to the gradient scale) is dropped.
        step_tol: A step that changes no pre-activation by more than ``step_tol`` times the
            largest pre-activation counts as zero (a minimiser of the working set).
        cutoff: Absolute singular-value cut of each step's least squares
            (:func:`min_norm_lstsq`); 0 keeps every nonzero singular value.

    Returns:
        ``(c, status, iterations, working)`` with status ``"kkt"`` (every multiplier
        nonnegative to the tolerance) or ``"max iterations"``, and the final working set.
    """
    k, r = c0.shape
    m = len(y)
    Xr = XrT.T
    c = c0.copy()
    work = _independent(working, a, Xr)
    for it in range(1, max_iter + 1):
        bases = [_null_basis(a[j, work[j], None] * Xr[work[j]], r) for j in range(k)]
        pre = c @ XrT
        resid = y - (pre * coef).sum(0)
        cols = [coef[j][:, None] * (Xr @ N) for j, N in enumerate(bases)]
        H = np.concatenate(cols, axis=1)
        dw = min_norm_lstsq(H, resid, cutoff)
        step = np.zeros((k, r))
        pos = 0
        for j, N in enumerate(bases):
            step[j] = N @ dw[pos:pos + N.shape[1]]
            pos += N.shape[1]
        dpre = step @ XrT
        size = max(float(np.abs(pre).max()), float(np.abs(dpre).max()), 1e-300)
        if float(np.abs(dpre).max()) > step_tol * size:
            slope = a * dpre
            blocking = (~work) & (slope < 0)
            alpha, hit = 1.0, None
            if blocking.any():
                ratios = np.full((k, m), np.inf)
                ratios[blocking] = np.maximum(a[blocking] * pre[blocking], 0.0) / -slope[blocking]
                hit = np.unravel_index(int(np.argmin(ratios)), ratios.shape)
                alpha = min(1.0, float(ratios[hit]))
            c = c + alpha * step
            if alpha < 1.0:
                work[hit] = True
                continue
            pre = c @ XrT
            resid = y - (pre * coef).sum(0)
        # a minimiser on the working set: multipliers of grad = sum_t lambda_t a_t x_t
        grad = (-2.0 / m) * (coef * resid) @ Xr  # (k, r)
        gscale = max(float(np.abs(resid).max()) * float(np.linalg.norm(Xr, axis=1).max()) * 2.0 / m, 1e-300)
        worst, drop = -mult_tol * gscale, None
        for j in range(k):
            idx = np.flatnonzero(work[j])
            if len(idx) == 0:
                continue
            normals = a[j, idx, None] * Xr[idx]  # (w, r)
            lam = np.linalg.lstsq(normals.T, grad[j], rcond=None)[0]
            lam = lam * np.linalg.norm(normals, axis=1)  # multipliers of unit normals
            t = int(np.argmin(lam))
            if lam[t] < worst:
                worst, drop = float(lam[t]), (j, int(idx[t]))
        if drop is None:
            return c, "kkt", it, work
        work[drop] = False
    return c, "max iterations", max_iter, work


def _independent(working: np.ndarray, a: np.ndarray, Xr: np.ndarray) -> np.ndarray:
    """Per group, a maximal linearly independent subset of the working rows (greedy, in order
    of increasing index; QR with column pivoting)."""
    from scipy.linalg import qr

    out = np.zeros_like(working, dtype=bool)
    for j in range(working.shape[0]):
        idx = np.flatnonzero(working[j])
        if len(idx) == 0:
            continue
        rows = a[j, idx, None] * Xr[idx]
        rows = rows / np.linalg.norm(rows, axis=1, keepdims=True)
        _, R, piv = qr(rows.T, mode="economic", pivoting=True)
        diag = np.abs(np.diag(R))
        rank = int((diag > 1e-10 * max(diag[0], 1e-300)).sum()) if len(diag) else 0
        out[j, idx[piv[:rank]]] = True
    return out
