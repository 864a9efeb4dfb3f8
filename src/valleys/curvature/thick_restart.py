"""Block thick-restart Lanczos for a few extreme eigenpairs of a symmetric operator.

Wu & Simon (2000), "Thick-restart Lanczos method for large symmetric eigenvalue
problems", SIAM J. Matrix Anal. Appl. 22(2), in block form (Zhou & Saad 2008). Each step
multiplies a block of b vectors at once (one vectorised product); the basis is kept fully
orthogonal (every new block is orthogonalised twice against all previous vectors), the
projected matrix ``T = V A V^T`` is stored explicitly, and when the basis would exceed
``ncv`` vectors it is compressed to the most wanted Ritz vectors plus the pending residual
block. The wanted end of the spectrum ("SA": most negative) is targeted directly, without
shifts. Residuals reported are the true ``||A x - theta x||`` of the returned Ritz pairs.

A Krylov method with block size b sees at most b copies of a repeated eigenvalue, so
b must be at least the multiplicity expected among the wanted eigenvalues.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ._operator import CurvatureOperator
from .lanczos import BREAKDOWN_TOL

#: A Gram–Schmidt pass is repeated when a vector keeps at most this fraction of its norm
#: (DGKS, "twice is enough"). Measured: a laxer 1e-2 ... 0.3 cut the time outside the
#: products by a third but left residuals stuck 30x higher on a clustered spectrum
#: (1.7e-8 instead of 4.6e-10 after 1000 products), so the classical value stays.
REORTH_ETA = 2**-0.5
#: Columns of the basis transformed together at a restart.
RESTART_COLUMNS = 16384
#: Which end(s) of the spectrum each ``which`` targets.
WHICH = ("LA", "SA", "LM", "BE")


@dataclass(frozen=True)
class RitzPairs:
    """Ritz pairs of a thick-restart Lanczos run (internal result of :func:`eigs`).

    Attributes:
        values: Ritz values, ascending, shape (k,).
        vectors: Ritz vectors as columns, shape (n, k), orthonormal.
        residuals: absolute residual norms ``||A x_i - theta_i x_i||``, shape (k,).
        scale: ``max |theta|`` over all Ritz values of the final subspace (an estimate of
            ``||A||_2`` used to make residuals relative).
        num_matvecs: products with A done by the run.
        num_restarts: how many times the basis was compressed.
        all_values: every Ritz value of the final basis, ascending (for gap estimates).
        all_residuals: their residual norms from the Krylov relation (estimates).
    """

    values: torch.Tensor
    vectors: torch.Tensor
    residuals: torch.Tensor
    scale: float
    num_matvecs: int
    num_restarts: int
    all_values: torch.Tensor | None = None
    all_residuals: torch.Tensor | None = None


def wanted_order(theta: torch.Tensor, which: str) -> torch.Tensor:
    """Indices of Ritz values ``theta`` (ascending) from most to least wanted.

    "LA": largest first; "SA": smallest first; "LM": largest magnitude first; "BE":
    alternately from the top and the bottom end, starting at the top (so k wanted values
    are ceil(k/2) from the top and floor(k/2) from the bottom, as in ARPACK).

    Args:
        theta: Ritz values, ascending, shape (n,).
        which: "LA", "SA", "LM" or "BE".

    Returns:
        A permutation of ``range(n)`` (a long tensor), most wanted first.
    """
    n = theta.numel()
    if which == "LA":
        return torch.arange(n - 1, -1, -1, device=theta.device)
    if which == "SA":
        return torch.arange(n, device=theta.device)
    if which == "LM":
        return torch.argsort(theta.abs(), descending=True, stable=True)
    hi, lo = list(range(n - 1, -1, -1)), list(range(n))
    order, seen = [], set()
    for a, b in zip(hi, lo, strict=True):
        for i in (a, b):
            if i not in seen:
                seen.add(i)
                order.append(i)
    return torch.tensor(order[:n], device=theta.device)


class _Basis:
    """Orthonormal rows V, their products AV and the projection T = V A V^T.

    Rows ``V[:size]`` are the basis; rows ``V[size:size + pending]`` are the next block
    (orthogonal to the basis, not yet multiplied by A).
    """

    def __init__(self, ncv: int, block: int, n: int, dtype: torch.dtype,
                 device: torch.device | str = "cpu"):
        # every row is written before it is read (V by extend, AV by multiply): no zero fill
        self.V = torch.empty(ncv + block, n, dtype=dtype, device=device)
        self.AV = torch.empty(ncv, n, dtype=dtype, device=device)
        self.T = torch.zeros(ncv, ncv, dtype=dtype, device=device)
        self.size = 0
        self.pending = 0

    def orthogonalise(self, W: torch.Tensor, coefficients: torch.Tensor | None = None) -> torch.Tensor:
        """Remove from the rows of W their components along the basis.

        Classical Gram–Schmidt, repeated once unless every row kept more than
        ``REORTH_ETA`` of its norm ("twice is enough", Daniel, Gragg, Kaufman & Stewart
        1976). ``coefficients`` (= ``W @ V^T``, if already known) saves the first product.
        """
        return self._project_out(W, coefficients)[0]

    def _project_out(self, W: torch.Tensor, coefficients: torch.Tensor | None = None):
        """:meth:`orthogonalise`, also returning the row norms of W before and after (reused by
        :meth:`extend` instead of recomputing them)."""
        V = self.V[: self.size]
        before = torch.linalg.vector_norm(W, dim=1)
        W = torch.addmm(W, W @ V.T if coefficients is None else coefficients, V, alpha=-1)
        after = torch.linalg.vector_norm(W, dim=1)
        if torch.all(after > REORTH_ETA * before):
            return W, before, after
        W = torch.addmm(W, W @ V.T, V, alpha=-1)
        return W, before, None

    def multiply(self, op: CurvatureOperator) -> tuple[torch.Tensor, torch.Tensor]:
        """Multiply the pending block by A and extend T.

        Returns:
            The products W (c, n) and their coefficients ``W @ V^T`` on the new basis.
        """
        j, c = self.size, self.pending
        W = op.matrows(self.V[j: j + c])
        self.AV[j: j + c] = W
        H = W @ self.V[: j + c].T  # (c, j + c): entries v_i^T A v_{j + r}
        self.T[j: j + c, : j + c] = H
        self.T[: j + c, j: j + c] = H.T
        self.size, self.pending = j + c, 0
        return W, H

    def extend(self, W: torch.Tensor, H: torch.Tensor, block: int,
               gen: torch.Generator) -> torch.Tensor:
        """Store the next orthonormal block from the residuals of W; return its coefficients.

        Directions lost to a breakdown (an invariant subspace) are replaced by random
        vectors orthogonal to the basis. Returns ``C`` with ``F = C @ V_next`` where F
        are the residual rows of W (the Krylov relation ``A V = V T + F``).
        """
        n = W.shape[1]
        c = min(block, n - self.size, W.shape[0])
        if c <= 0:
            return torch.zeros(W.shape[0], 0, dtype=W.dtype, device=W.device)
        F, before, after = self._project_out(W, H)
        if F.shape[0] == 1:  # the QR factorisation of one column is its normalisation
            R = (torch.linalg.vector_norm(F, dim=1) if after is None else after)[:, None]
            Q = (F / R).T if R > 0 else torch.zeros_like(F).T
        else:
            Q, R = torch.linalg.qr(F.T)  # F^T (n, rows) = Q R
        Q = Q[:, :c]
        weak = R.diagonal()[:c].abs() <= BREAKDOWN_TOL * before.max()
        if weak.any():
            strong = Q[:, ~weak]
            fresh = torch.randn(n, int(weak.sum()), generator=gen, dtype=W.dtype,
                                device=gen.device).to(W.device)
            for _ in range(2):
                fresh = self.orthogonalise((fresh - strong @ (strong.T @ fresh)).T).T
            Q = torch.cat([strong, torch.linalg.qr(fresh)[0]], 1)
        self.V[self.size: self.size + c] = Q.T
        self.pending = c
        return F @ Q

    def restart(self, S: torch.Tensor, theta: torch.Tensor, keep: torch.Tensor) -> None:
        """Compress the basis to the Ritz vectors ``keep``, moving the pending block after them."""
        size, nk, c = self.size, keep.numel(), self.pending
        Yt = S[:, keep].T.contiguous()
        nxt = self.V[size: size + c].clone()
        # in place, one block of columns at a time: no full-size temporaries (whose fresh
        # pages cost more than the arithmetic; measured 1.3-1.6x faster at d = 269k)
        for lo in range(0, self.V.shape[1], RESTART_COLUMNS):
            cols = slice(lo, lo + RESTART_COLUMNS)
            self.V[:nk, cols] = Yt @ self.V[:size, cols]
            self.AV[:nk, cols] = Yt @ self.AV[:size, cols]
        self.T.zero_()
        self.T[:nk, :nk] = torch.diag(theta[keep])
        self.V[nk: nk + c] = nxt
        self.size = nk

    def ritz_residuals(self, S: torch.Tensor, theta: torch.Tensor, sel: torch.Tensor):
        """Ritz vectors (rows) of the columns ``sel`` of S and their true residual norms."""
        Yt = S[:, sel].T.contiguous()
        X = Yt @ self.V[: self.size]
        R = (Yt @ self.AV[: self.size]).addcmul_(theta[sel, None], X, value=-1)  # no (k, n) temporary
        return X, torch.linalg.vector_norm(R, dim=1)


def thick_restart_lanczos(op: CurvatureOperator, k: int, which: str, tol: float,
                          max_matvecs: int, V0: torch.Tensor, ncv: int,
                          gen: torch.Generator, on_step=None, accept=None) -> RitzPairs:
    """The k wanted eigenpairs of ``op`` by block thick-restart Lanczos.

    Arguments are pre-validated: ``V0`` is the start block (b, n) with b >= 1 rows,
    ``k + b <= ncv`` and ``max_matvecs >= k``. Stops when every wanted pair has
    ``||A x - theta x|| <= tol * max|theta|``, when the basis spans the whole space, or
    after ``max_matvecs`` products (the last block is shortened to fit the budget). A
    block of b vectors finds up to b copies of a repeated eigenvalue. ``on_step(used)``,
    if given, is called after each block product (progress bars). ``accept(values,
    residuals, scale)``, if given, replaces the stopping test: it receives the wanted Ritz
    values and their residual norms (estimates from the Krylov relation, then the true
    ones) and returns whether to stop.

    Args:
        op: the symmetric operator (rows in, rows out).
        k: the number of wanted eigenpairs.
        which: the wanted end of the spectrum, one of :data:`WHICH`.
        tol: the relative residual of the default stopping test.
        max_matvecs: the budget of products with A.
        V0: the start block, shape (b, n).
        ncv: the largest basis before a restart.
        gen: the generator of the random vectors that replace lost directions.
        on_step: called with the products used so far after each block product, or None.
        accept: the stopping test ``accept(values, residuals, scale) -> bool``, or None.

    Returns:
        The wanted Ritz pairs as :class:`RitzPairs` (values ascending).
    """
    if accept is None:
        def accept(values, res, scale):
            return bool(torch.all(res <= tol * scale))

    n, b = op.dim, V0.shape[0]
    ncv = min(ncv, n)
    n_keep = max(k, min(ncv - b, k + (ncv - k) // 2))
    basis = _Basis(ncv, b, n, op.dtype, V0.device)
    basis.V[:b] = torch.linalg.qr(V0.T)[0].T
    basis.pending = b
    used, restarts = 0, 0
    while True:
        W, H = basis.multiply(op)
        used += W.shape[0]
        if on_step is not None:
            on_step(used)
        last = slice(basis.size - W.shape[0], basis.size)
        theta, S = torch.linalg.eigh(basis.T[: basis.size, : basis.size])
        order = wanted_order(theta, which)
        sel = order[: min(k, basis.size)]
        scale = float(theta.abs().max())
        C = basis.extend(W, H, min(b, max_matvecs - used), gen)
        stop = basis.pending == 0
        if sel.numel() == k:
            estimate = torch.linalg.vector_norm(S[last][:, sel].T @ C, dim=1)
            if stop or accept(theta[sel], estimate, scale):
                X, res = basis.ritz_residuals(S, theta, sel)
                if stop or accept(theta[sel], res, scale):
                    idx = torch.argsort(theta[sel])
                    every = (torch.linalg.vector_norm(S[last].T @ C, dim=1) if C.numel()
                             else torch.zeros_like(theta))
                    return RitzPairs(theta[sel][idx], X[idx].T.contiguous(), res[idx], scale,
                                     used, restarts, theta.clone(), every)
        if basis.size + basis.pending > ncv:
            basis.restart(S, theta, order[:n_keep])
            restarts += 1
