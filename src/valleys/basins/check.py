"""Independent checks of basin values: projected gradient descent inside the basin, and alpha.

:func:`projected_descent` minimises the squared loss over the closed basin directly in
``u = |v| w`` space (no row-space reduction, no merging, no QP solver): accelerated
projected gradient (FISTA with adaptive restart), each projection onto a neuron's cone
``{u : a_t <u, x_t> >= 0}`` computed exactly by NNLS on its polar cone (Moreau).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import nnls

from .._validation import check_int, check_rng
from .criteria import FullRankCriterion, SingletonCriterion
from .montecarlo import detect_method, draw_init
from .partition import as_data, as_targets, basin_of, check_pattern, interior_margin
from .value import BasinSolver, BasinTolerances


def project_cone(w: np.ndarray, M: np.ndarray) -> np.ndarray:
    r"""Euclidean projection of ``w`` onto the cone \(\{u : M u \ge 0\}\) (Moreau).

    The projection is \(w + M^\top \lambda^*\) with
    \(\lambda^* = \arg\min_{\lambda \ge 0} \|M^\top \lambda + w\|\) (the polar-cone
    part, by NNLS).

    Args:
        w: Point ``(d,)``.
        M: Constraint rows ``(p, d)``.

    Returns:
        The projection, shape ``(d,)``.
    """
    lam, _ = nnls(M.T, -w)
    return w + M.T @ lam


def projected_descent(pattern, X, y, *, steps: int = 4000, seed=0, start: np.ndarray | None = None,
                      stop: float = 1e-13) -> tuple[float, np.ndarray]:
    """Minimise the squared loss over the closed basin by accelerated projected gradient.

    Args:
        pattern: A :class:`BasinPattern` or ``(A, b)``; the cell must be nonempty.
        X: Data ``(m, d)``.
        y: Targets ``(m,)``.
        steps: Gradient steps.
        seed: Seed of the random interior start (ignored when ``start`` is given).
        start: Optional start ``U`` of shape ``(n, d)`` inside the cone.
        stop: Stop when a step moves ``U`` by at most ``stop * (1 + ||U||)``.

    Returns:
        ``(value, U)``: the final loss and the final ``u`` (rows ``u_i = |v_i| w_i``).
    """
    Xa = as_data(X, "projected_descent")
    ya = as_targets(y, len(Xa), "projected_descent")
    pat = check_pattern(pattern, len(Xa), "projected_descent")
    steps = check_int(steps, "steps", "projected_descent", min_val=1)
    m, d = Xa.shape
    A = pat.A.astype(np.float64)
    coef = (A > 0) * pat.b[:, None]  # (n, m)
    Ms = [A[i][:, None] * Xa for i in range(pat.width)]
    if start is None:
        rng = check_rng(seed, "projected_descent")
        U = np.stack([project_cone(rng.standard_normal(d), M) + rng.uniform(0.1, 1.0)
                      * interior_margin(A[i], Xa)[1] for i, M in enumerate(Ms)])
    else:
        U = np.array(start, dtype=np.float64)

    def loss_grad(U):
        resid = ((U @ Xa.T) * coef).sum(0) - ya
        return float(np.mean(resid ** 2)), (2.0 / m) * (coef * resid) @ Xa

    # Lipschitz constant of the gradient: (2/m) ||G||^2 with G the (m, n d) design
    G = (coef.T[:, :, None] * Xa[:, None, :]).reshape(m, -1)
    step = 1.0 / ((2.0 / m) * np.linalg.norm(G, 2) ** 2)
    Z, t, f_prev = U.copy(), 1.0, np.inf
    for _ in range(steps):
        _, g = loss_grad(Z)
        U_new = np.stack([project_cone(Z[i] - step * g[i], M) for i, M in enumerate(Ms)])
        f_new, _ = loss_grad(U_new)
        if f_new > f_prev:  # adaptive restart
            t, Z = 1.0, U.copy()
            continue
        t_new = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t * t))
        Z = U_new + ((t - 1.0) / t_new) * (U_new - U)
        moved = np.linalg.norm(U_new - U)
        U, t, f_prev = U_new, t_new, f_new
        if moved <= stop * (1.0 + np.linalg.norm(U)):
            break
    return loss_grad(U)[0], U


@dataclass(frozen=True)
class MinimalObjective:
    """``alpha(n)``, the minimal objective at width n, and how it was obtained.

    Attributes:
        value: The minimal objective (or its best upper bound found).
        how: How it was obtained, in words.
        exact: Whether ``value`` is exact (a closed form, or a realizable 0).
        basins_searched: Random basins solved exactly (0 for a closed form).
    """

    value: float
    how: str
    exact: bool
    basins_searched: int = 0

    def to_dict(self) -> dict:
        """A JSON-ready form.

        Returns:
            The fields as a dict.
        """
        return {"value": self.value, "how": self.how, "exact": self.exact,
                "basins_searched": self.basins_searched}


def minimal_objective(X, y, n: int, *, draws: int = 200, seed=0, zero_tol: float = 1e-10,
                      tol: BasinTolerances | None = None) -> MinimalObjective:
    """``alpha(n)`` for the squared loss: exact for singleton and full-rank data, else the best
    exact basin value over ``draws`` random basins (an upper bound, exact when it is 0).

    Args:
        X: Data ``(m, d)``.
        y: Targets ``(m,)``.
        n: Width >= 1.
        draws: Random basins searched when no closed form is known.
        seed: Seed of the search.
        zero_tol: A best value ``<= zero_tol * max(1, mean y^2)`` is reported as 0 (realizable).
        tol: :class:`BasinTolerances` of the QPs.

    Returns:
        A :class:`MinimalObjective`.

    Raises:
        InvalidParameterError: If ``n`` or ``draws`` is not an int >= 1.
        ShapeError: If X and y do not match.
    """
    Xa = as_data(X, "minimal_objective")
    ya = as_targets(y, len(Xa), "minimal_objective")
    n = check_int(n, "n", "minimal_objective", min_val=1)
    draws = check_int(draws, "draws", "minimal_objective", min_val=1)
    method = detect_method(Xa)
    if method == "singleton":
        return MinimalObjective(SingletonCriterion(Xa, ya).alpha(n), "singleton sign criterion (exact)", True)
    if method == "full_rank":
        return MinimalObjective(FullRankCriterion(Xa, ya).alpha(n), "full-rank sign criterion (exact)", True)
    rng = check_rng(seed, "minimal_objective")
    solver = BasinSolver(Xa, ya, tol=tol)
    W, v = draw_init(draws, n, Xa.shape[1], "gaussian", rng)
    best = min(solver.value(basin_of(W[i], v[i], Xa), check_empty=False).value for i in range(draws))
    if best <= zero_tol * max(1.0, float(np.mean(ya ** 2))):
        return MinimalObjective(0.0, f"a basin of value {best:.1e} among {draws} random basins (realizable)",
                                True, draws)
    return MinimalObjective(best, f"best exact basin value over {draws} random basins (upper bound)",
                            False, draws)
