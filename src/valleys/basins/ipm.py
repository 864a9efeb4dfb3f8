"""A dense primal-dual interior-point method for the squared-loss basin program (SS-A3).

In the row-space coordinates of :class:`~valleys.basins.BasinSolver` (``c_j`` of neuron
group j, ``F`` the data in those coordinates, ``s_jt`` in {0, ±1} the output coefficient
of group j on sample t, ``a_jt`` in {±1} its sign):

.. math::
    \\min_c \\frac1m \\Big\\| \\sum_j s_j \\odot (F c_j) - y \\Big\\|^2
    \\quad\\text{s.t. } a_{jt} \\langle f_t, c_j \\rangle / \\|f_t\\| \\ge 0 .

Mehrotra's predictor-corrector on ``Q c + q = N^T lambda``, ``N c = s``, ``s, lambda >= 0``,
``s o lambda -> 0``. The Newton matrix ``Q + N^T D N`` is ``(k r) x (k r)``: ``Q`` is the
Gram matrix of the design and ``N^T D N`` is block diagonal with one ``r x r`` block per
group, positive definite because ``F`` has full column rank. So each iteration is one
dense Cholesky factorisation of a small matrix, and, unlike ADMM, the method converges
in a few tens of iterations whatever the conditioning of the data (tight clusters make
the constraint rows of a cluster nearly parallel; SS-T5).

The interior-point solution is not the certificate: it proposes the active set
(``lambda_t > s_t``, exact in the limit for the analytic centre of the optimal face),
which :class:`~valleys.basins.BasinSolver` solves exactly and certifies by the KKT
conditions.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.linalg import LinAlgError, cho_factor, cho_solve


def ipm_solve(XrT: np.ndarray, coef: np.ndarray, a: np.ndarray, y: np.ndarray, *, max_iter: int = 80,
              tol: float = 1e-13, zero: float = 0.0, accept=None, accept_tol: float = 1e-7
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, str]:
    """Solve the squared-loss basin program by a primal-dual interior-point method.

    Args:
        XrT: ``(r, m)`` the data in row-space coordinates, transposed.
        coef: ``(k, m)`` output coefficients (0 where group j is inactive on sample t).
        a: ``(k, m)`` signs (float).
        y: ``(m,)`` targets.
        max_iter: Iteration limit.
        tol: Relative tolerance on the residuals and the complementarity gap.
        zero: Stop at a feasible point whose objective is ``<= zero`` (the loss is >= 0).
        accept: Optional ``accept(c, slack, lam) -> c_exact | None``, tried once the
            relative error is below ``accept_tol`` (and every third iteration after that);
            the method stops with status ``"accepted"`` when it returns a point.
        accept_tol: See ``accept``.

    Returns:
        ``(c, slack, lam, iterations, status)``: the point ``(k, r)``, the slacks and
        multipliers ``(k, m)`` of the unit-normal constraints, and ``"converged"``,
        ``"zero"``, ``"accepted"``, ``"max iterations"`` or ``"stalled"``.
    """
    r, m = XrT.shape
    k = coef.shape[0]
    F = XrT.T
    Fn = F / np.linalg.norm(F, axis=1, keepdims=True)
    G = (coef[:, :, None] * F[None, :, :]).transpose(1, 0, 2).reshape(m, k * r)  # (m, k r)
    scale_y = max(float(np.abs(y).max()), 1e-300)
    yy = y / scale_y  # solve for y / scale, rescale at the end (the program is homogeneous)
    Q = (2.0 / m) * (G.T @ G)
    q = (-2.0 / m) * (G.T @ yy)
    qscale = 1.0 + float(np.abs(q).max())
    n = k * r
    z = np.zeros(n)
    s = np.ones((k, m))
    lam = np.ones((k, m))
    status = "max iterations"
    it = 0
    best = (np.inf, z, s, lam)
    tried = 0
    for it in range(1, max_iter + 1):
        C = z.reshape(k, r)
        Nz = a * (C @ Fn.T)
        rp = Nz - s
        NTlam = ((a * lam) @ Fn).reshape(-1)
        rd = Q @ z + q - NTlam
        mu = float((s * lam).mean())
        resid = G @ z - yy
        value = float(resid @ resid) / m
        err = max(float(np.abs(rp).max()) / (1.0 + float(np.abs(Nz).max())), float(np.abs(rd).max()) / qscale,
                  k * m * mu / (value + 1e-3 * tol))
        if err < best[0]:
            best = (err, z.copy(), s.copy(), lam.copy())
        if err <= tol:
            status = "converged"
            break
        if value * scale_y ** 2 <= zero and float(Nz.min()) >= -1e-12 * float(np.abs(Nz).max()):
            status = "zero"
            break
        if accept is not None and err <= accept_tol:
            if tried % 3 == 0:
                got = accept(z.reshape(k, r) * scale_y, s * scale_y, lam * scale_y)
                if got is not None:
                    return got, s * scale_y, lam * scale_y, it, "accepted"
            tried += 1
        D = lam / s
        K = Q.copy()
        blocks = np.einsum("km,mr,ms->krs", D, Fn, Fn)
        for j in range(k):
            K[j * r:(j + 1) * r, j * r:(j + 1) * r] += blocks[j]
        fac = _factor(K)
        if fac is None:
            status = "stalled"
            break
        state = (fac, rd, rp, s, lam, D, a, Fn)
        dz, ds, dl = _direction(state, s * lam)
        ap = _step(s, ds)
        ad = _step(lam, dl)
        mu_aff = float(((s + ap * ds) * (lam + ad * dl)).mean())
        sigma = (mu_aff / mu) ** 3 if mu > 0 else 0.0
        dz, ds, dl = _direction(state, s * lam + ds * dl - sigma * mu)
        alpha = 0.99 * min(_step(s, ds), _step(lam, dl))
        if alpha <= 1e-14:
            status = "stalled"
            break
        z = z + alpha * dz
        s = s + alpha * ds
        lam = lam + alpha * dl
    if status in ("max iterations", "stalled"):
        _, z, s, lam = best
    return z.reshape(k, r) * scale_y, s * scale_y, lam * scale_y, it, status


def _factor(K: np.ndarray):
    """Cholesky factor of the Newton matrix (a tiny diagonal shift if rounding made it
    indefinite: it only changes the search direction), or None."""
    for shift in (0.0, 1e-14, 1e-10):
        try:
            return cho_factor(K + np.eye(len(K)) * (shift * float(np.abs(np.diag(K)).max())) if shift else K,
                              lower=True, check_finite=False)
        except LinAlgError:
            continue
    return None


def _direction(state, rc: np.ndarray):
    """Newton direction ``(dz, ds, dlam)`` for the complementarity target ``rc``."""
    fac, rd, rp, s, lam, D, a, Fn = state
    k, r = a.shape[0], Fn.shape[1]
    rhs = -rd - (((a * (rc / s + D * rp)) @ Fn).reshape(-1))
    dz = cho_solve(fac, rhs, check_finite=False)
    ds = a * (dz.reshape(k, r) @ Fn.T) + rp
    dl = -(rc + lam * ds) / s
    return dz, ds, dl


def _step(v: np.ndarray, dv: np.ndarray) -> float:
    """Largest step in [0, 1] keeping ``v + step dv >= 0``."""
    neg = dv < 0
    if not neg.any():
        return 1.0
    return float(min(1.0, (-v[neg] / dv[neg]).min()))


def ipm_solve_batch(XrT: np.ndarray, coef: np.ndarray, a: np.ndarray, y: np.ndarray, *, max_iter: int = 80,
                    tol: float = 1e-13, zero: float = 0.0, accept=None, accept_tol: float = 1e-7,
                    prox: float = 1e-10, refine: int = 1
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """The interior-point method of :func:`ipm_solve` on many basins of one data set at once.

    The basins share the data and the reduced width k (their patterns differ), so every
    step is a stacked array operation over the batch. The Newton matrix of each basin is
    factored through its structure instead of densely: with ``B`` the block-diagonal
    constraint part (one ``r x r`` block ``Fn^T diag(lambda_j / s_j) Fn`` per group) and
    ``G`` the ``(m, k r)`` design,

    .. math::
        (B + \\tfrac2m G^\\top G)^{-1} = B^{-1} - B^{-1} G^\\top
            \\big(\\tfrac m2 I + G B^{-1} G^\\top\\big)^{-1} G B^{-1}

    (Woodbury), so one iteration costs k inversions of ``r x r`` blocks and one of an
    ``m x m`` matrix per basin, about ``2 k r m^2`` operations instead of the
    ``(k r)^3 / 3`` of a dense Cholesky factorisation. Basins leave the batch as they
    finish; the rest continue.

    Args:
        XrT: ``(r, m)`` the data in row-space coordinates, transposed (shared).
        coef: ``(B, k, m)`` output coefficients of each basin's groups.
        a: ``(B, k, m)`` signs (float).
        y: ``(m,)`` targets (shared).
        max_iter: Iteration limit.
        tol: Relative tolerance on the residuals and the complementarity gap.
        zero: A basin stops at a feasible point whose objective is ``<= zero``.
        accept: Optional ``accept(i, c, slack, lam) -> c_exact | None`` for basin ``i``,
            tried once its relative error is below ``accept_tol`` (and every third
            iteration after that); the basin stops with status ``"accepted"`` and the
            returned point when it returns one.
        accept_tol: See ``accept``.
        prox: Weight of a proximal term ``(rho / 2) ||c||^2`` added to the objective,
            relative to the largest curvature ``(2/m) sigma_max(X)^2``. The program's
            minimisers form an unbounded face when some direction of the cell changes no
            prediction; without the term the iterates run along it and the method stalls.
            It moves the minimiser by about ``prox`` (relative): the solution only proposes
            the active set, which is then solved exactly without it.
        refine: Steps of iterative refinement of the corrector's Newton solve (residual
            of the Newton matrix, applied directly, solved again; the predictor is not
            refined): the Woodbury solve loses accuracy as the multipliers spread over
            many orders of magnitude, and one refinement step was measured to turn stalls
            on the benchmark's basins into convergence.

    Returns:
        ``(c, slack, lam, iterations, status)``: points ``(B, k, r)``, slacks and
        multipliers ``(B, k, m)``, iterations ``(B,)`` and one status per basin
        (``"converged"``, ``"zero"``, ``"accepted"``, ``"max iterations"`` or ``"stalled"``;
        the last two return the iterate of smallest relative error; a basin whose Newton
        matrix cannot be factored stops as ``"stalled"``).
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small batched factorisations: threads only wait for each other
    try:
        return _ipm_batch(XrT, coef, a, y, max_iter, tol, zero, accept, accept_tol, prox, refine)
    finally:
        torch.set_num_threads(threads)


def _ipm_batch(XrT, coef, a, y, max_iter, tol, zero, accept, accept_tol, prox, refine):
    r, m = XrT.shape
    nb, k = coef.shape[0], coef.shape[1]
    F = XrT.T
    Fn = F / np.linalg.norm(F, axis=1, keepdims=True)
    scale_y = max(float(np.abs(y).max()), 1e-300)
    yy = y / scale_y
    qscale = 1.0 + (2.0 / m) * np.abs((coef * yy) @ F).max(axis=(1, 2))  # (B,)
    rho = prox * (2.0 / m) * float(np.linalg.norm(F, 2)) ** 2
    z = np.zeros((nb, k, r))
    s = np.ones((nb, k, m))
    lam = np.ones((nb, k, m))
    best_err = np.full(nb, np.inf)
    best = [z.copy(), s.copy(), lam.copy()]
    out_c, out_s, out_l = z.copy(), s.copy(), lam.copy()
    iters = np.zeros(nb, dtype=np.int64)
    status = ["max iterations"] * nb
    tried = np.zeros(nb, dtype=np.int64)
    act = np.arange(nb)
    for it in range(1, max_iter + 1):
        if len(act) == 0:
            break
        zc, sc, lc, cf, ac = z[act], s[act], lam[act], coef[act], a[act]
        iters[act] = it
        pre = zc @ Fn.T  # (b, k, m)
        Nz = ac * pre
        rp = Nz - sc
        resid = (cf * (zc @ XrT)).sum(1) - yy  # (b, m)
        rd = (2.0 / m) * ((cf * resid[:, None, :]) @ F) + rho * zc - (ac * lc) @ Fn  # (b, k, r)
        mu = (sc * lc).mean(axis=(1, 2))
        value = (resid * resid).mean(1)
        err = np.maximum.reduce([np.abs(rp).max(axis=(1, 2)) / (1.0 + np.abs(Nz).max(axis=(1, 2))),
                                 np.abs(rd).max(axis=(1, 2)) / qscale[act],
                                 k * m * mu / (value + 1e-3 * tol)])
        improved = err < best_err[act]
        if improved.any():
            idx = act[improved]
            best_err[idx] = err[improved]
            best[0][idx], best[1][idx], best[2][idx] = zc[improved], sc[improved], lc[improved]
        done = np.zeros(len(act), dtype=bool)
        feasible = Nz.min(axis=(1, 2)) >= -1e-12 * np.abs(Nz).max(axis=(1, 2))
        for pos in np.flatnonzero((err <= tol) | ((value * scale_y ** 2 <= zero) & feasible)):
            i = act[pos]
            status[i] = "converged" if err[pos] <= tol else "zero"
            out_c[i], out_s[i], out_l[i] = zc[pos], sc[pos], lc[pos]
            done[pos] = True
        if accept is not None:
            for pos in np.flatnonzero(~done & (err <= accept_tol)):
                i = act[pos]
                if tried[i] % 3 == 0:
                    got = accept(i, zc[pos] * scale_y, sc[pos] * scale_y, lc[pos] * scale_y)
                    if got is not None:
                        status[i] = "accepted"
                        out_c[i], out_s[i], out_l[i] = got / scale_y, sc[pos], lc[pos]
                        done[pos] = True
                tried[i] += 1
        # the Newton matrices, through Woodbury (see the docstring)
        D = lc / sc
        blocks = (Fn.T * D[:, :, None, :]) @ Fn + rho * np.eye(r)  # (b, k, r, r)
        solve, ok = _woodbury(blocks, cf, F, XrT)
        bad = ~done & ~ok

        def matvec(x, blocks=blocks, cf=cf):
            return (blocks @ x[..., None])[..., 0] + (2.0 / m) * ((cf * (cf * (x @ XrT)).sum(1)[:, None, :]) @ F)

        def direction(rc, refine=0, solve=solve, matvec=matvec, rd=rd, rp=rp, sc=sc, lc=lc, D=D, ac=ac):
            rhs = -rd - (ac * (rc / sc + D * rp)) @ Fn
            dz = solve(rhs)
            for _ in range(refine):  # iterative refinement: Woodbury loses accuracy as D spreads
                dz = dz + solve(rhs - matvec(dz))
            ds = ac * (dz @ Fn.T) + rp
            return dz, ds, -(rc + lc * ds) / sc

        keep = ~done & ~bad
        for pos in np.flatnonzero(bad):
            status[act[pos]] = "stalled"
        if keep.any():
            with np.errstate(all="ignore"):
                dz, ds, dl = direction(sc * lc)
                ap, ad = _step_batch(sc, ds), _step_batch(lc, dl)
                mu_aff = ((sc + ap[:, None, None] * ds) * (lc + ad[:, None, None] * dl)).mean(axis=(1, 2))
                sigma = np.where(mu > 0, (mu_aff / np.where(mu > 0, mu, 1.0)) ** 3, 0.0)
                dz, ds, dl = direction(sc * lc + ds * dl - (sigma * mu)[:, None, None], refine)
                alpha = 0.99 * np.minimum(_step_batch(sc, ds), _step_batch(lc, dl))
            finite = (np.isfinite(dz).all(axis=(1, 2)) & np.isfinite(ds).all(axis=(1, 2))
                      & np.isfinite(dl).all(axis=(1, 2)))
            stall = keep & ((alpha <= 1e-14) | ~finite)
            for pos in np.flatnonzero(stall):
                status[act[pos]] = "stalled"
            keep &= ~stall
            al = alpha[:, None, None]
            z[act[keep]] = (zc + al * dz)[keep]
            s[act[keep]] = (sc + al * ds)[keep]
            lam[act[keep]] = (lc + al * dl)[keep]
        act = act[keep]
    for i in range(nb):
        if status[i] in ("max iterations", "stalled"):
            out_c[i], out_s[i], out_l[i] = best[0][i], best[1][i], best[2][i]
    return out_c * scale_y, out_s * scale_y, out_l * scale_y, iters, status


def _woodbury(blocks: np.ndarray, cf: np.ndarray, F: np.ndarray, XrT: np.ndarray):
    """A solver of ``(B + (2/m) G^T G) x = v`` for a batch (see :func:`ipm_solve_batch`):
    Cholesky factors of the ``r x r`` blocks of B and of ``(m/2) I + G B^{-1} G^T``
    (torch's batched LAPACK calls); returns ``(solve, ok)`` with ``ok`` False for a basin
    whose factorisation failed."""
    m = F.shape[0]
    Bt = torch.from_numpy(np.ascontiguousarray(blocks))
    L, info = torch.linalg.cholesky_ex(Bt)
    ok = (info == 0).all(dim=1)
    if not bool(ok.all()):  # failed factors (their basins stop) are replaced to keep the rest finite
        L[info != 0] = torch.eye(L.shape[-1], dtype=L.dtype)
    cft = torch.from_numpy(np.ascontiguousarray(cf))
    Ft = torch.from_numpy(np.ascontiguousarray(F))
    Pt = Ft.T * cft[:, :, None, :]  # (b, k, r, m): G^T by group
    W = torch.linalg.solve_triangular(L, Pt, upper=False).reshape(len(cf), -1, m)  # L^{-1} G^T
    S = W.transpose(1, 2) @ W
    S.diagonal(dim1=1, dim2=2).add_(m / 2.0)
    LS, info_s = torch.linalg.cholesky_ex(S)
    if bool((info_s != 0).any()):
        LS[info_s != 0] = torch.eye(m, dtype=LS.dtype)
    ok = (ok & (info_s == 0)).numpy()

    def solve(v: np.ndarray) -> np.ndarray:
        # triangular solves, not explicit inverses: the blocks grow ill-conditioned as the
        # multipliers spread, and inverses lose the accuracy the steps need (measured stalls)
        u = torch.cholesky_solve(torch.from_numpy(np.ascontiguousarray(v))[..., None], L)  # B^{-1} v
        w = torch.cholesky_solve((cft * (u[..., 0] @ Ft.T)).sum(1)[..., None], LS)  # S^{-1} G B^{-1} v
        return (u - torch.cholesky_solve(((cft * w[:, None, :, 0]) @ Ft)[..., None], L))[..., 0].numpy()

    return solve, ok


def _step_batch(v: np.ndarray, dv: np.ndarray) -> np.ndarray:
    """Per basin, the largest step in [0, 1] keeping ``v + step dv >= 0`` (``(b, k, m)`` arrays)."""
    ratio = np.where(dv < 0, -v / np.where(dv < 0, dv, -1.0), np.inf)
    return np.minimum(1.0, ratio.min(axis=(1, 2)))
