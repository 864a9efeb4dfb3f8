"""Exact basin values through the convex reformulation ``u_i = |v_i| w_i`` (SS-L1, SS-A3).

Inside the closed basin ``B^{A,b}`` of a two-layer bias-free ReLU net the objective is

.. math::
    \\mathrm{Bas}(B^{A,b}) = \\min_{u_1..u_n} \\frac1m \\sum_t
        \\ell\\Big(\\sum_{i:\\,a_{it}=+1} b_i \\langle u_i, x_t\\rangle,\\ y_t\\Big)
    \\quad\\text{s.t. } a_{it}\\langle u_i, x_t\\rangle \\ge 0,

a convex program (a QP for the squared loss). A minimiser maps back to the closed basin
by ``w_i = u_i / ||u_i||``, ``v_i = b_i ||u_i||`` (``w_i = 0, v_i = 0`` when ``u_i = 0``).

Structure reused across basins (:class:`BasinSolver`):

- ``u_i`` only matters through ``X u_i``, so it is restricted to the row space of X
  (``u_i = R c_i``, ``R`` an orthonormal ``(d, r)`` basis, ``r = rank X``);
- neurons with the same ``(a_i, b_i)`` are merged (a convex cone is closed under sums)
  and neurons inactive on every sample are dropped: an exact reduction;
- the program in ``(c, p)`` (``p`` the m predictions, tied to ``c`` by equalities) has a
  diagonal Hessian and a sparsity pattern fixed by (width, m, r) alone, so one OSQP
  workspace per reduced width is set up once and only its values are updated per basin
  (one numeric refactorisation, no symbolic analysis; warm-started).
- Squared loss: an approximate solver only proposes the active set, which
  :meth:`BasinSolver._polish` solves exactly (adding constraints the exact solution
  violates, for a few rounds) and the KKT conditions (NNLS multipliers) certify. On
  well-conditioned data OSQP proposes first (``osqp_iter`` iterations; skipped for the
  rest of a data set where it fails more often than it succeeds); otherwise, or when it
  fails, the dense interior-point method of :mod:`valleys.basins.ipm` (tight clusters,
  SS-T5: X nearly rank-deficient, the rows of a cluster nearly parallel, and ADMM
  stalls), and last the exact primal active-set method of
  :mod:`valleys.basins.active_set` from the interior-point solution projected on the
  cell. A value that none of them certifies keeps an ``"uncertified (...)"`` status.
- Many basins at once (:meth:`BasinSolver.values`, squared loss): one batched
  interior-point method (:func:`~valleys.basins.ipm.ipm_solve_batch`) whose Newton steps
  are factored through their structure (Woodbury: ``r x r`` blocks and one ``m x m``
  matrix per basin), basins padded to one reduced width; its solutions are certified like
  the single route's (a feasible zero, or an exact polish with a KKT certificate), and a
  basin it does not certify goes through the single route.
- Dense linear algebra runs with one BLAS thread (small matrices; many processes).

Non-quadratic losses (logistic / binary cross-entropy) are solved by damped Newton steps,
each a QP in the same workspace (sequential quadratic programming on a convex problem).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import osqp
import pandas as pd
import scipy.sparse as sp
from scipy.optimize import nnls

from .._blas import one_blas_thread
from ..curvature.rank import numerical_rank
from .active_set import active_set_solve, min_norm_lstsq
from .ipm import ipm_solve, ipm_solve_batch
from .losses import get_scalar_loss
from .partition import (
    BasinPattern,
    as_data,
    as_targets,
    check_pattern,
    empty_neurons,
    row_space,
)

#: singular-value cut of the exact least squares, relative to sigma_max(X) (see min_norm_lstsq)
_LSTSQ_RCOND = 1e-12


@dataclass(frozen=True)
class BasinTolerances:
    """Tolerances of the basin programs (float64 defaults).

    Attributes:
        eps: OSQP absolute and relative residual tolerance; its solution only proposes
            the active set, which is then solved exactly and certified.
        feasibility: largest allowed constraint violation ``max(0, -a_it <u_i, x_t>)``,
            relative to the largest ``|y_t|`` or ``|<u_i, x_t>|`` with ``a_it = +1``, for a
            solution to count as optimal (a point whose rounding error exceeds it is not
            certified).
        kkt: relative tolerance of the KKT certificate (stationarity residual with
            nonnegative NNLS multipliers on the tight constraints).
        zero_value: a feasible point with loss ``<= zero_value * max(1, mean y^2)``
            certifies the (nonnegative) squared-loss basin value to that accuracy.
        rank_rtol: singular values of X above ``rank_rtol * sigma_max`` span the row space.
        empty_margin: a sign row with LP margin ``<= empty_margin`` (relative) has no
            interior point: its cell is empty.
        newton_tol: non-quadratic losses stop when a Newton step lowers the objective by
            less than this.
        max_iter: OSQP iterations per solve.
        max_newton: Newton steps for non-quadratic losses.
        prox: proximal weight of the Newton subproblems (relative to the largest
            curvature), which keeps them bounded when the infimum is not attained.
        margin_at_infinity: a logistic solution with some ``|prediction|`` this large has
            run off along a ray of the cell (each such term is below ``e^-30``): the
            status is ``"not attained"`` and the value is the infimum to that accuracy.
        rho: OSQP's initial ADMM penalty (on its internally scaled problem; 1.0 measured
            fastest on random basins, against OSQP's default 0.1).
        polish_rounds: exact polishes per guessed active set, each adding the constraints
            the previous one violated.
        max_ipm: iterations of the interior-point method (squared loss).
        ipm: relative tolerance of the interior-point method (residuals and gap); its
            solution only proposes the active set.
        osqp_condition: squared loss: OSQP proposes the active set first when the condition
            number of X on its row space is at most this (ADMM is fast on well-conditioned
            data and slow on nearly rank-deficient data such as tight clusters, where the
            interior-point method goes first). A routing choice only: every accepted value
            is KKT-certified.
        osqp_iter: OSQP iterations when it proposes the active set of a squared-loss basin
            (``max_iter`` is for the Newton subproblems of non-quadratic losses).
        max_active_set: iterations of the exact active-set method that takes over when
            OSQP's active set does not certify.
    """

    eps: float = 1e-7
    feasibility: float = 1e-9
    kkt: float = 1e-8
    zero_value: float = 1e-8
    rank_rtol: float = 1e-12
    empty_margin: float = 1e-12
    newton_tol: float = 1e-13
    max_iter: int = 10_000
    max_newton: int = 200
    prox: float = 1e-6
    margin_at_infinity: float = 30.0
    rho: float = 1.0
    max_active_set: int = 5000
    osqp_condition: float = 50.0
    osqp_iter: int = 1000
    max_ipm: int = 80
    ipm: float = 1e-13
    polish_rounds: int = 10


@dataclass
class BasinValue:
    """The exact value of one basin and a minimiser in its closure.

    Attributes:
        value: ``Bas(B) = min_{(W,v) in B} L_S(W, v)`` (NaN when the cell is empty; for a
            loss whose infimum is not attained, the value reached).
        W: the hidden weights ``(n, d)`` of a minimiser in the closed basin (None when empty).
        v: the output weights ``(n,)`` of that minimiser (None when empty).
        status: ``"optimal"``, ``"empty"``, ``"not attained"`` (logistic loss decreasing
            to its infimum along a ray of the cell; ``value`` is the infimum to about
            ``e^-30``), ``"stalled"`` (logistic: no Newton step improves any more, the
            value is accurate to the subproblem tolerance) or ``"uncertified (...)"``
            (squared loss: no KKT certificate was found).
        violation: largest constraint violation ``max(0, -a_it <u_i, x_t>)`` of the
            minimiser, relative to the largest ``|y_t|`` or ``|<u_i, x_t>|`` with ``a_it = +1``
            (the pre-activations that build the prediction).
        empty_neurons: neurons whose sign row has no interior point (the cell is empty).
        iterations: solver iterations (summed over Newton steps).
        reduced_width: neurons left after merging equal patterns and dropping dead ones.
    """

    value: float
    W: np.ndarray | None
    v: np.ndarray | None
    status: str
    violation: float = 0.0
    empty_neurons: list[int] = field(default_factory=list)
    iterations: int = 0
    reduced_width: int = 0

    @property
    def empty(self) -> bool:
        """Whether the cell is empty (``status == "empty"``)."""
        return self.status == "empty"

    def to_dict(self) -> dict:
        """A JSON-ready form.

        Returns:
            The fields as a dict (W and v as nested lists, or None).
        """
        return {"value": self.value, "status": self.status, "violation": self.violation,
                "empty_neurons": list(self.empty_neurons), "iterations": self.iterations,
                "reduced_width": self.reduced_width,
                "W": None if self.W is None else self.W.tolist(),
                "v": None if self.v is None else self.v.tolist()}

    def to_frame(self) -> pd.DataFrame:
        """One row: value, status, violation, iterations, reduced width.

        Returns:
            A one-row DataFrame (W, v and the empty neurons left out).
        """
        row = {k: v for k, v in self.to_dict().items() if k not in ("W", "v", "empty_neurons")}
        return pd.DataFrame([row])

    def __repr__(self) -> str:
        return (f"BasinValue(value={self.value:.6g}, status={self.status!r}, "
                f"reduced_width={self.reduced_width}, violation={self.violation:.1e})")


class _Workspace:
    """One reduced width k: the pattern's signs, and (built on first use, for the Newton
    subproblems of non-quadratic losses) one OSQP problem in ``(c, p)`` whose values change
    per basin."""

    def __init__(self, Xr: np.ndarray, k: int, tol: BasinTolerances):
        m, r = Xr.shape
        self.m, self.r, self.k = m, r, k
        self.XrT = Xr.T
        self.tol = tol
        self._solver = None

    @property
    def solver(self):
        if self._solver is None:
            self._setup()
        return self._solver

    def _setup(self) -> None:
        m, r, k, tol = self.m, self.r, self.k, self.tol
        nc = k * r
        eq_rows = np.arange(m)
        cols_idx = [np.concatenate([eq_rows, m + i * m + eq_rows]) for i in range(k) for _ in range(r)]
        indices = np.concatenate(cols_idx + [eq_rows[t:t + 1] for t in range(m)])
        indptr = np.concatenate([[0], np.cumsum([2 * m] * nc + [1] * m)])
        self.A_shape = (m + k * m, nc + m)
        A0 = sp.csc_matrix((np.ones(len(indices)), indices, indptr), shape=self.A_shape)
        P0 = sp.identity(nc + m, format="csc")  # diagonal pattern: proximal c-part, loss p-part
        self.l = np.zeros(m + k * m)
        self.u = np.concatenate([np.zeros(m), np.full(k * m, np.inf)])
        self._solver = osqp.OSQP()
        settings = {"verbose": False, "polishing": False, "eps_abs": tol.eps, "eps_rel": tol.eps,
                    "max_iter": tol.max_iter, "warm_starting": True,
                    "rho": tol.rho}
        self._solver.setup(P0, np.zeros(nc + m), A0, self.l, self.u, **settings)

    def set_pattern(self, a: np.ndarray, b: np.ndarray) -> None:
        s = (a > 0).astype(np.float64)
        self.coef = s * b[:, None]
        self.a = a.astype(np.float64)

    def osqp_data(self) -> np.ndarray:
        """The values of OSQP's constraint matrix for the current pattern."""
        eq = -self.coef[:, None, :] * self.XrT[None, :, :]
        ineq = self.a[:, None, :] * self.XrT[None, :, :]
        data = np.concatenate([eq, ineq], axis=2).reshape(-1)
        return np.concatenate([data, np.ones(self.m)])

    def solve(self, h: np.ndarray, g: np.ndarray, prox: float = 0.0, center: np.ndarray | None = None):
        """Minimise ``1/2 p^T diag(h) p + g^T p (+ prox/2 ||c - center||^2)`` over the cell;
        returns (c, dual, info)."""
        nc = self.k * self.r
        qc = np.zeros(nc) if center is None else -prox * center.reshape(-1)
        Px = np.concatenate([np.full(nc, prox), h])
        self.solver.update(Px=Px, Ax=self.osqp_data(), q=np.concatenate([qc, g]))
        res = self.solver.solve(raise_error=False)
        x = res.x
        if x is None or not np.isfinite(x).all():
            return np.zeros((self.k, self.r)), np.zeros((self.k, self.m)), res.info
        return x[:nc].reshape(self.k, self.r), res.y[self.m:].reshape(self.k, self.m), res.info


class BasinSolver:
    """Exact basin values of many basins of one data set, reusing the problem structure.

    Args:
        X: Data ``(m, d)`` (no zero rows).
        y: Targets ``(m,)``.
        loss: ``"squared"`` (mean squared error, the document's normalisation),
            ``"logistic"`` (labels ±1) or ``"cross_entropy"`` (binary, labels 0/1), or a
            valleys :class:`~valleys.nets.Loss` of one of these; losses not convex in the
            prediction are refused.
        tol: :class:`BasinTolerances`.

    Raises:
        ShapeError: If X and y differ in length.
        InvalidParameterError: If the loss is not convex in the prediction or unsupported.
    """

    def __init__(self, X, y, loss="squared", *, tol: BasinTolerances | None = None):
        self.X = as_data(X, "BasinSolver")
        y = as_targets(y, len(self.X), "BasinSolver")
        self.loss, self.y = get_scalar_loss(loss, y, "BasinSolver")
        self.tol = tol if tol is not None else BasinTolerances()
        self.R = row_space(self.X, self.tol.rank_rtol)
        self.Xr = self.X @ self.R
        self.scale = float(np.linalg.norm(self.X, axis=1).max())
        sv = np.linalg.svd(self.Xr, compute_uv=False)
        self.condition = float(sv[0] / sv[-1])  # of X on its row space: picks the first solver
        self._cutoff = _LSTSQ_RCOND * float(sv[0])
        self._osqp_successes = self._osqp_failures = 0
        self._spaces: dict[int, _Workspace] = {}

    @property
    def m(self) -> int:
        return int(self.X.shape[0])

    def _workspace(self, k: int) -> _Workspace:
        if k not in self._spaces:
            self._spaces[k] = _Workspace(self.Xr, k, self.tol)
        return self._spaces[k]

    def value(self, pattern, *, check_empty: bool = True) -> BasinValue:
        """The exact value of one basin (see :func:`basin_value`).

        Args:
            pattern: A :class:`BasinPattern` or ``(A, b)`` of this data set.
            check_empty: Decide first, by LPs, whether the cell is empty.

        Returns:
            A :class:`BasinValue`.

        Raises:
            PatternError: If the pattern has the wrong shape or entries.
        """
        with one_blas_thread():  # the dense pieces are small
            return self._value(pattern, check_empty)

    def _value(self, pattern, check_empty: bool) -> BasinValue:
        pat = check_pattern(pattern, self.m, "basin_value")
        if check_empty:
            bad = empty_neurons(pat, self.X, self.tol.empty_margin)
            if bad:
                return BasinValue(math.nan, None, None, "empty", empty_neurons=bad)
        return self._solve(pat)

    def values(self, patterns, *, check_empty: bool = False) -> list[BasinValue]:
        """Exact values of many basins of this data set.

        Squared loss: the basins of each reduced width go through one batched
        interior-point method (:func:`~valleys.basins.ipm.ipm_solve_batch`), whose
        solution of each basin is certified like :meth:`value`'s (a feasible zero, or the
        exact polish of its active set with a KKT certificate); a basin it does not
        certify goes through :meth:`value`'s sequence of methods. Other losses: one
        basin at a time.

        Args:
            patterns: :class:`BasinPattern` or ``(A, b)`` pairs of this data set.
            check_empty: Decide first, by LPs, whether each cell is empty (patterns of
                initialisations are nonempty, so the default skips them).

        Returns:
            One :class:`BasinValue` per pattern, in order.

        Raises:
            PatternError: If a pattern has the wrong shape or entries.
        """
        with one_blas_thread():  # the dense pieces are small
            pats = [check_pattern(p, self.m, "basin_values") for p in patterns]
            out: list[BasinValue | None] = [None] * len(pats)
            todo = []
            for i, pat in enumerate(pats):
                if check_empty:
                    bad = empty_neurons(pat, self.X, self.tol.empty_margin)
                    if bad:
                        out[i] = BasinValue(math.nan, None, None, "empty", empty_neurons=bad)
                        continue
                red = self._reduce(pat)
                if red[-1] == 0 or self.loss.name != "squared":
                    out[i] = self._finish(pat, red, *self._minimise_reduced(red))
                else:
                    todo.append((i, pat, red))
            for i, pat, red, result in self._batch(todo):
                out[i] = self._finish(pat, red, *result)
            return out

    def _batch(self, items: list) -> list:
        """The batched interior-point method on basins of any reduced widths (padded to
        the largest with groups that are active on no sample: they leave the objective and
        the other groups' constraints unchanged), each solution certified, or the basin
        re-solved by :meth:`_minimise`."""
        if not items:
            return []
        floor = self.tol.zero_value * max(1.0, float(np.mean(self.y ** 2)))
        widths = [red[-1] for _, _, red in items]
        kmax = max(widths)
        coef = np.zeros((len(items), kmax, self.m))
        a = np.ones((len(items), kmax, self.m))
        for i, (_, _, red) in enumerate(items):
            groups, k = red[2], red[-1]
            coef[i, :k] = (groups[:, :-1] > 0) * groups[:, -1:].astype(np.float64)
            a[i, :k] = groups[:, :-1]

        def space(i):
            ws = self._workspace(widths[i])
            ws.coef, ws.a = coef[i, :widths[i]], a[i, :widths[i]]
            return ws

        def accept(i, c, slack, lam):
            k = widths[i]
            got = self._polish_rounds(space(i), lam[:k] > slack[:k], c[:k])
            if got is None:
                return None
            full = np.zeros_like(c)
            full[:k] = got
            return full

        ws0 = self._workspace(kmax)
        c, slack, lam, iters, status = ipm_solve_batch(ws0.XrT, coef, a, self.y, max_iter=self.tol.max_ipm,
                                                       tol=self.tol.ipm, zero=floor, accept=accept)
        done = []
        for i, (idx, pat, red) in enumerate(items):
            k, ws = widths[i], space(i)
            ci = c[i, :k]
            if status[i] == "accepted" or self._zero_certified(ws, ci, floor):
                done.append((idx, pat, red, (ci, "solved", int(iters[i]))))
                continue
            c_pol = self._polish_rounds(ws, lam[i, :k] > slack[i, :k], ci)
            if c_pol is not None:
                done.append((idx, pat, red, (c_pol, "solved", int(iters[i]))))
                continue
            c_seq, st, n_seq = self._minimise_reduced(red)
            done.append((idx, pat, red, (c_seq, st, n_seq + int(iters[i]))))
        return done

    def _reduce(self, pat: BasinPattern) -> tuple:
        """Merge neurons of equal ``(a_i, b_i)`` and drop the dead ones: ``(A, b, live,
        groups, inverse, k)`` with ``groups`` the ``(k, m + 1)`` distinct live rows of ``[A | b]``."""
        A, b = pat.A.astype(np.int64), pat.b.astype(np.int64)
        live = (A > 0).any(axis=1)
        rows = np.concatenate([A, b[:, None]], axis=1)[live]
        first: dict[bytes, int] = {}
        inverse = np.array([first.setdefault(row.tobytes(), len(first)) for row in rows], dtype=np.int64)
        groups = rows[np.unique(inverse, return_index=True)[1]] if len(rows) else rows
        return A, b, groups, live, inverse, len(groups)

    def _minimise_reduced(self, red: tuple) -> tuple[np.ndarray | None, str, int]:
        groups, k = red[2], red[-1]
        if k == 0:
            return None, "solved", 0
        ws = self._workspace(k)
        ws.set_pattern(groups[:, :-1], groups[:, -1].astype(np.float64))
        return self._minimise(ws)

    def _solve(self, pat: BasinPattern) -> BasinValue:
        red = self._reduce(pat)
        return self._finish(pat, red, *self._minimise_reduced(red))

    def _finish(self, pat: BasinPattern, red: tuple, c: np.ndarray | None, status: str, iters: int) -> BasinValue:
        """The :class:`BasinValue` of a solution ``c`` of the reduced program (None: every
        neuron dead, the net predicts 0)."""
        A, b, _, live, inverse, k = red
        W = np.zeros((pat.width, self.X.shape[1]))
        v = np.zeros(pat.width)
        if k == 0:  # every neuron is dead: the net predicts 0 on the data
            value = self.loss.mean(np.zeros(self.m), self.y)
            return BasinValue(value, W, v, "optimal", 0.0, [], 0, 0)
        U = c @ self.R.T  # (k, d)
        counts = np.bincount(inverse, minlength=k)
        live_idx = np.flatnonzero(live)
        U_neuron = U[inverse] / counts[inverse][:, None]
        norms = np.linalg.norm(U_neuron, axis=1)
        nz = norms > 0
        W[live_idx[nz]] = U_neuron[nz] / norms[nz, None]
        v[live_idx[nz]] = b[live_idx[nz]] * norms[nz]
        pre = W @ self.X.T
        upre = pre * np.abs(v)[:, None]  # <u_i, x_t>
        size = max(float(np.abs(self.y).max()), float(np.abs(upre[A > 0]).max(initial=0.0)), 1e-300)
        violation = float(np.maximum(0.0, -A * upre).max(initial=0.0)) / size
        if status == "solved" and violation > self.tol.feasibility:
            status = "infeasible solution"
        value = self.loss.mean(np.maximum(pre, 0.0).T @ v, self.y)
        return BasinValue(value, W, v, "optimal" if status == "solved" else status, violation, [],
                          iters, k)

    def _minimise(self, ws: _Workspace) -> tuple[np.ndarray, str, int]:
        if self.loss.name != "squared":
            return self._newton(ws)
        floor = self.tol.zero_value * max(1.0, float(np.mean(self.y ** 2)))
        iters, notes = 0, []
        if self.condition <= self.tol.osqp_condition and self._osqp_failures <= self._osqp_successes + 2:
            # 1. well-conditioned data: warm-started OSQP proposes the active set (skipped for
            # the rest of this data set once it fails more often than it succeeds)
            ws.solver.update_settings(eps_abs=self.tol.eps, eps_rel=self.tol.eps, max_iter=self.tol.osqp_iter)
            c, dual, info = ws.solve(np.full(self.m, 2.0 / self.m), -2.0 * self.y / self.m)
            iters += int(info.iter)
            if self._zero_certified(ws, c, floor):
                self._osqp_successes += 1
                return c, "solved", iters
            pre = ws.a * (c @ ws.XrT)
            for active in (dual < -self.tol.kkt * max(1.0, np.abs(dual).max()),
                           pre <= self.tol.kkt * max(1.0, np.abs(pre).max())):
                c_pol = self._polish_rounds(ws, active, c)
                if c_pol is not None:
                    self._osqp_successes += 1
                    return c_pol, "solved", iters
            self._osqp_failures += 1
            notes.append(f"OSQP: {info.status}")

        # 2. a dense interior-point solve proposes the active set (lambda_t > s_t), solved
        # exactly (adding the constraints it violates) and KKT-certified
        def accept(c, slack, lam):
            return self._polish_rounds(ws, lam > slack, c)

        c, slack, lam, n_ipm, how = ipm_solve(ws.XrT, ws.coef, ws.a, self.y, max_iter=self.tol.max_ipm,
                                              tol=self.tol.ipm, zero=floor * 1e-8, accept=accept)
        iters += n_ipm
        if how == "accepted" or self._zero_certified(ws, c, floor):
            return c, "solved", iters
        for active in (lam > slack, lam > 1e-3 * slack):
            c_pol = self._polish_rounds(ws, active, c)
            if c_pol is not None:
                return c_pol, "solved", iters
        notes.append(f"interior point: {how}")
        # 3. the exact active-set method from the interior-point solution, projected on the cell
        start = self._feasible_start(ws, c)
        c_as, status, n_as, working = active_set_solve(
            ws.XrT, ws.coef, ws.a, self.y, start, self._tight(ws, start), max_iter=self.tol.max_active_set,
            mult_tol=self.tol.kkt * 1e-2, step_tol=1e-13, cutoff=self._cutoff)
        iters += n_as
        if self._certified(ws, c_as):
            return c_as, "solved", iters
        # its working rows held their (tiny) start values: solve the working set exactly
        c_pol = self._polish_rounds(ws, working, c_as)
        if c_pol is not None:
            return c_pol, "solved", iters
        notes.append(f"active set: {status}")
        return c_as, "uncertified (" + "; ".join(notes) + ")", iters

    def _size(self, ws: _Workspace, pre: np.ndarray) -> float:
        """The scale of the tolerances on the pre-activations ``pre`` (k, m): the largest
        ``|y_t|`` or pre-activation on a sample where its group is active (those build the
        prediction). Pre-activations on inactive samples are left out: a minimiser may run
        far along a ray of the cell that changes no prediction, and tolerances relative to
        such a size would call every constraint tight and every point feasible."""
        live = np.abs(pre[ws.coef != 0]).max(initial=0.0)
        return max(float(np.abs(self.y).max()), float(live), 1e-300)

    def _precise(self, ws: _Workspace, c: np.ndarray, size: float) -> bool:
        """Whether rounding in ``<c_j, x_t>`` (about ``r eps ||c_j|| ||x_t||``) stays below the
        feasibility tolerance ``feasibility * size``: past that, no certificate is meaningful."""
        rounding = ws.r * np.finfo(np.float64).eps * float(np.linalg.norm(c, axis=1).max()) * self.scale
        return rounding <= self.tol.feasibility * size

    def _zero_certified(self, ws: _Workspace, c: np.ndarray, floor: float) -> bool:
        """A feasible point of loss <= floor certifies the (nonnegative) value to that accuracy."""
        raw = c @ ws.XrT
        size = self._size(ws, raw)
        return bool(self._precise(ws, c, size) and (ws.a * raw >= -self.tol.feasibility * size).all()
                    and self._squared(ws, c) <= floor)

    def _polish_rounds(self, ws: _Workspace, active: np.ndarray, c: np.ndarray) -> np.ndarray | None:
        """Exact polishes on ``active``, each adding the constraints the previous one violated;
        the first KKT-certified one, or None."""
        active = active.copy()
        for _ in range(self.tol.polish_rounds):
            c_pol = self._polish(ws, active, c)
            if self._certified(ws, c_pol):
                return c_pol
            raw = c_pol @ ws.XrT
            violated = ws.a * raw < -self.tol.feasibility * self._size(ws, raw)
            if not (violated & ~active).any():
                return None
            active |= violated
        return None

    def _tight(self, ws: _Workspace, c: np.ndarray) -> np.ndarray:
        raw = c @ ws.XrT
        return ws.a * raw <= self.tol.kkt * self._size(ws, raw)

    def _feasible_start(self, ws: _Workspace, c: np.ndarray) -> np.ndarray:
        """``c`` projected, group by group, onto the group's cone ``{c : a_t <x_t, c> >= 0}``
        (exactly, by NNLS on the polar cone), which keeps OSQP's tight constraints tight."""
        pre = ws.a * (c @ ws.XrT)
        out = c.copy()
        for j in np.flatnonzero((pre < 0).any(axis=1)):
            M = ws.a[j][:, None] * ws.XrT.T
            for _ in range(2):  # a second projection snaps rows left a hair outside by rounding
                lam, _ = nnls(M.T, -out[j])
                out[j] = out[j] + M.T @ lam
                viol = ws.a[j] * (out[j] @ ws.XrT)
                if (viol >= -self.tol.feasibility * max(float(np.abs(viol).max()), 1e-300)).all():
                    break
            else:
                out[j] = 0.0  # NNLS did not reach the cone to the tolerance: the apex is feasible
        return out

    def _squared(self, ws: _Workspace, c: np.ndarray) -> float:
        return float(np.mean((self._predict(ws, c) - self.y) ** 2))

    def _polish(self, ws: _Workspace, active: np.ndarray, c0: np.ndarray) -> np.ndarray:
        """Exact least squares with the active constraints of each neuron as equalities; of
        all minimisers, the one nearest to ``c0`` projected on the equalities (so that the
        inactive constraints keep their slack)."""
        bases = []
        for j in range(ws.k):
            rows = ws.a[j, active[j], None] * ws.XrT.T[active[j]]
            if len(rows) == 0:
                bases.append(np.eye(ws.r))
                continue
            _, sv, Vt = np.linalg.svd(rows, full_matrices=True)
            rank = numerical_rank(sv, tau=1e-12, warn=False).count
            bases.append(Vt[rank:].T)
        H = np.concatenate([ws.coef[j][:, None] * (ws.XrT.T @ N) for j, N in enumerate(bases)], axis=1)
        if H.shape[1] == 0:
            return np.zeros((ws.k, ws.r))
        w0 = np.concatenate([N.T @ c0[j] for j, N in enumerate(bases)])
        # singular values below 1e-12 sigma_max(X) are rounding of exact zeros (directions
        # that change no prediction): dividing by them would send c far along a free ray
        w = w0 + min_norm_lstsq(H, self.y - H @ w0, self._cutoff)
        out, pos = np.zeros((ws.k, ws.r)), 0
        for j, N in enumerate(bases):
            out[j] = N @ w[pos:pos + N.shape[1]]
            pos += N.shape[1]
        return out

    def _certified(self, ws: _Workspace, c: np.ndarray) -> bool:
        """KKT conditions: feasibility, and gradient = sum of nonnegative multiples of the
        tight constraint normals (NNLS), each neuron, to the tolerances."""
        pre = c @ ws.XrT  # (k, m)
        size = self._size(ws, pre)
        if not self._precise(ws, c, size) or (ws.a * pre < -self.tol.feasibility * size).any():
            return False
        resid = self._predict(ws, c) - self.y
        grad = (2.0 / self.m) * (ws.coef * resid) @ ws.XrT.T  # (k, r)
        gscale = max(1e-300, float(np.abs(resid).max()) * self.scale * 2.0 / self.m)
        for j in range(ws.k):
            tight = np.flatnonzero(np.abs(pre[j]) <= self.tol.kkt * size)
            g = grad[j]
            if len(tight) == 0:
                res = float(np.linalg.norm(g))
            else:
                M = (ws.a[j, tight][:, None] * ws.XrT.T[tight]).T
                res = float(nnls(M, g)[1])
            if res > self.tol.kkt * max(gscale, 1e-14):
                return False
        return True

    def _newton(self, ws: _Workspace) -> tuple[np.ndarray, str, int]:
        """Damped Newton (SQP) for a smooth convex loss: each step a QP in the cell."""
        m, loss, y = self.m, self.loss, self.y
        c = np.zeros((ws.k, ws.r))
        p = np.zeros(m)
        f = loss.mean(p, y)
        iters, status = 0, "solved"
        for _ in range(self.tol.max_newton):
            g1, g2 = loss.derivatives(p, y)
            h = np.maximum(g2, 1e-12)
            lin = g1 - h * p
            kappa = 1.0 / max(float(h.max()), float(np.abs(lin).max()), 1e-300)  # same minimiser
            prox = self.tol.prox * float((kappa * h).max())
            c_new, _, info = ws.solve(kappa * h, kappa * lin, prox, c)
            iters += int(info.iter)
            p_new = self._predict(ws, c_new)
            step, f_new = 1.0, loss.mean(p_new, y)
            while f_new > f and step > 1e-8:
                step *= 0.5
                f_new = loss.mean(p + step * (p_new - p), y)
            if f_new > f:  # the subproblem solution does not improve: OSQP's accuracy is reached
                status = "stalled"
                break
            decrease = f - f_new
            c, p, f = c + step * (c_new - c), p + step * (p_new - p), f_new
            if decrease <= self.tol.newton_tol:
                break
        else:
            status = "max Newton steps"
        if status == "solved" and float(np.abs(p).max()) >= self.tol.margin_at_infinity:
            status = "not attained"
        return c, status, iters

    @staticmethod
    def _predict(ws: _Workspace, c: np.ndarray) -> np.ndarray:
        return ((c @ ws.XrT) * ws.coef).sum(axis=0)


def basin_value(pattern, X, y, loss="squared", *, check_empty: bool = True,
                tol: BasinTolerances | None = None) -> BasinValue:
    """The exact basin value ``Bas(B^{A,b})`` and a minimiser in the closed basin (SS-L1).

    Args:
        pattern: A :class:`BasinPattern` or a pair ``(A, b)`` with ``A`` in
            ``{±1}^{n×m}`` and ``b`` in ``{±1}^n``.
        X: Data ``(m, d)``.
        y: Targets ``(m,)``.
        loss: ``"squared"``, ``"logistic"`` or ``"cross_entropy"`` (see :class:`BasinSolver`).
        check_empty: Decide first, by one LP per distinct sign row, whether the cell is
            empty (then ``status == "empty"`` and ``value`` is NaN).
        tol: :class:`BasinTolerances`.

    Returns:
        A :class:`BasinValue`.

    Raises:
        ShapeError: If X and y differ in length, or the pattern has the wrong shape.
        InvalidParameterError: If the loss is not convex in the prediction.

    Example:
        >>> import numpy as np
        >>> X = np.array([[1.0, 0.0], [-1.0, 0.0]]); y = np.array([1.0, 2.0])
        >>> A = np.array([[1, -1]]); b = np.array([1])      # one neuron, w_1 > 0
        >>> round(basin_value((A, b), X, y).value, 6)       # fits x_1, predicts 0 on x_2
        2.0
    """
    return BasinSolver(X, y, loss, tol=tol).value(pattern, check_empty=check_empty)


def basin_values(patterns, X, y, loss="squared", *, check_empty: bool = False,
                 tol: BasinTolerances | None = None) -> list[BasinValue]:
    """Exact values of many basins of one data set (one :class:`BasinSolver`; squared loss:
    one batched interior-point method, see :meth:`BasinSolver.values`).

    Args:
        patterns: :class:`BasinPattern` or ``(A, b)`` pairs.
        X: Data ``(m, d)``.
        y: Targets ``(m,)``.
        loss: ``"squared"``, ``"logistic"`` or ``"cross_entropy"`` (see :class:`BasinSolver`).
        check_empty: Decide first whether each cell is empty.
        tol: :class:`BasinTolerances`.

    Returns:
        One :class:`BasinValue` per pattern.

    Raises:
        ShapeError: If X and y differ in length, or a pattern has the wrong shape.
        InvalidParameterError: If the loss is not convex in the prediction.
    """
    return BasinSolver(X, y, loss, tol=tol).values(patterns, check_empty=check_empty)
