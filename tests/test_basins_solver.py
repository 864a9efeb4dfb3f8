"""The basin-program routes of valleys.basins on ill-conditioned data: tight clusters (SS-T5),
a degenerate QP that OSQP did not certify, and the exact active-set and interior-point
methods against independent computations (closed forms, CVXPY/Clarabel, each other)."""

import numpy as np
import pytest

from valleys import data
from valleys._validation import check_rng
from valleys.basins import BasinSolver, basin_of, draw_init, projected_descent
from valleys.basins.active_set import active_set_solve
from valleys.basins.ipm import ipm_solve


def _cvxpy_value(A, b, X, y):
    cp = pytest.importorskip("cvxpy")
    n, d = A.shape[0], X.shape[1]
    U = cp.Variable((n, d))
    pred = cp.sum(cp.multiply((A > 0) * b[:, None], U @ X.T), axis=0)
    prob = cp.Problem(cp.Minimize(cp.sum_squares(pred - y) / len(y)), [cp.multiply(A, U @ X.T) >= 0])
    # tight tolerances: the default absolute gap (1e-8) is the size of tight-cluster values
    prob.solve(solver="CLARABEL", tol_gap_abs=1e-15, tol_gap_rel=1e-12, tol_feas=1e-12, max_iter=500)
    return float(prob.value)


def test_single_tight_cluster_closed_form():
    """One cluster, one neuron active everywhere: Bas is the least-squares residual through
    the origin whenever that minimiser is feasible (checked), and scales as delta^2."""
    values = {}
    for delta in (1e-3, 1e-4):
        ds = data.clustered(30, 5, 1, delta, seed=3, lipschitz=1.0)
        X, y = ds.X.numpy(), ds.y.numpy() + 3.0  # positive targets: the LS fit is positive on the cluster
        u, *_ = np.linalg.lstsq(X, y, rcond=None)
        assert (X @ u > 0).all()
        ls = float(np.mean((X @ u - y) ** 2))
        solver = BasinSolver(X, y)
        assert solver.condition > solver.tol.osqp_condition  # the interior-point route
        res = solver.value((np.ones((1, 30), dtype=int), np.ones(1, dtype=int)))
        assert res.status == "optimal"
        assert res.value == pytest.approx(ls, rel=1e-9, abs=1e-20)
        values[delta] = res.value
    # fixed offsets scaled by delta: Bas(1e-3) / Bas(1e-4) = 100 up to O(delta)
    assert values[1e-3] / values[1e-4] == pytest.approx(100.0, rel=0.02)


def test_tight_clusters_equal_clarabel():
    ds = data.clustered(24, 4, 3, 1e-3, seed=7)
    X, y = ds.X.numpy(), ds.y.numpy()
    solver = BasinSolver(X, y)
    W, v = draw_init(3, 6, 4, "gaussian", np.random.default_rng(1))
    for i in range(3):
        pat = basin_of(W[i], v[i], X)
        res = solver.value(pat, check_empty=False)
        assert res.status == "optimal"
        # the minimiser lies in the closed basin and its loss is the value
        pre = res.W @ X.T
        assert (pat.A * pre * np.abs(res.v)[:, None] >= -1e-12).all()
        assert float(np.mean((np.maximum(pre, 0).T @ res.v - y) ** 2)) == pytest.approx(res.value, rel=1e-10)
        # Clarabel (an interior-point method, accurate to its gap) is an upper reference:
        # ours is never above it and within 1e-10 (absolute: values are ~1e-8 here) below it
        ref = _cvxpy_value(pat.A, pat.b, X, y)
        assert ref - 1e-10 <= res.value <= ref * (1 + 1e-9)
        # projected gradient descent inside the basin from our minimiser finds nothing lower
        lower, _ = projected_descent(pat, X, y, steps=300, start=np.abs(res.v)[:, None] * res.W)
        assert lower >= res.value * (1 - 1e-9)


def test_overspecification_regression_degenerate_qp():
    """Draw 778 of safran-shamir-overspecification's full preset (seed 0): OSQP stalled at
    max iterations (a flat, degenerate minimum) and its active set did not certify."""
    rng = check_rng(0)
    X = data.gaussian(12, 4, seed=int(rng.integers(2 ** 31))).X.numpy()
    y = rng.standard_normal(12)
    A = np.array([[1, -1, -1, -1, -1, -1, 1, -1, -1, -1, 1, 1], [1, 1, -1, -1, -1, -1, 1, -1, -1, -1, 1, 1],
                  [-1, 1, -1, -1, 1, 1, 1, -1, -1, 1, 1, -1], [-1, -1, -1, -1, -1, -1, 1, -1, -1, -1, 1, 1],
                  [1, 1, -1, -1, -1, -1, 1, 1, -1, 1, -1, 1], [-1, 1, -1, -1, -1, -1, -1, 1, -1, 1, -1, 1]])
    b = np.array([-1, 1, 1, -1, 1, -1])
    res = BasinSolver(X, y).value((A, b))
    assert res.status == "optimal"
    assert res.value == pytest.approx(_cvxpy_value(A, b, X, y), rel=1e-7)


def _problem(seed, m=14, d=5, n=4):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, d))
    y = rng.standard_normal(m)
    W, v = draw_init(1, n, d, "gaussian", rng)
    return X, y, W[0], v[0]


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_active_set_from_the_initialisation_equals_the_solver(seed):
    """The exact active-set method started at the initialisation itself (u_i = |v_i| w_i, an
    interior point), in the original coordinates, against the solver's certified value."""
    X, y, W, v = _problem(seed)
    pat = basin_of(W, v, X)
    a = pat.A.astype(float)
    coef = (a > 0) * pat.b[:, None].astype(float)
    start = np.abs(v)[:, None] * W
    c, status, _, _ = active_set_solve(X.T, coef, a, y, start, np.zeros_like(a, dtype=bool), max_iter=2000,
                                    mult_tol=1e-10, step_tol=1e-13)
    assert status == "kkt"
    assert (a * (c @ X.T) >= -1e-12).all()
    value = float(np.mean((((c @ X.T) * coef).sum(0) - y) ** 2))
    ref = BasinSolver(X, y).value(pat, check_empty=False)
    assert ref.status == "optimal"
    assert value == pytest.approx(ref.value, rel=1e-9, abs=1e-14)


@pytest.mark.parametrize("seed", [0, 1])
def test_interior_point_value_equals_the_solver(seed):
    X, y, W, v = _problem(seed)
    pat = basin_of(W, v, X)
    a = pat.A.astype(float)
    coef = (a > 0) * pat.b[:, None].astype(float)
    c, slack, lam, _, status = ipm_solve(X.T, coef, a, y, tol=1e-10)
    assert status == "converged"
    assert (slack >= 0).all() and (lam >= 0).all()
    value = float(np.mean((((c @ X.T) * coef).sum(0) - y) ** 2))
    ref = BasinSolver(X, y).value(pat, check_empty=False)
    assert value == pytest.approx(ref.value, rel=1e-7, abs=1e-12)


# The instance of safran-shamir-full-rank's full preset (m = 5, d = 10, n = 2) whose QP value
# was certified 1.5023 against the closed form 1.4244: the exact polish divided by a
# rounding-size singular value and sent c along a free ray to ~1e17, after which every
# constraint looked "tight" relative to that size and the KKT certificate passed.
_DRIFT_X = np.array([
    [-0.976613973875586, 1.869044643531161, -0.8711582429110448, -1.6239339167236995, -0.624081276946776,
     -0.2876843371586834, -1.701551954779299, -0.026499328510373527, 0.7217983108566387, -1.2704862731398807],
    [1.1418509416857237, -0.3578510532240461, 0.6301186974729832, -0.5127579335751044, 0.24238585522676345,
     -0.39098313027181947, 0.779305498531809, -1.046802214169327, -1.1271447146815337, 0.09526729744838006],
    [1.3691421885439363, -1.1044409825109809, -1.4815300678534709, -0.048969056515583, 0.29226762937198913,
     0.7037362930270242, -0.03889075598682313, 0.52673761114284, -0.9852249681018771, -0.13671314429297052],
    [-0.14945965880359113, -0.38185585031620295, 1.1009590518385661, -0.5762466919889101, 1.5174273282882993,
     0.21660303737523237, -1.521362093190052, -0.9834363816835309, 0.35982607778972797, -0.3316782481173787],
    [0.20191665631525396, 0.2097300223742361, 0.24063532587357334, -0.15182609276712233, 0.7700823023436004,
     0.036765965596836904, -0.20799396087797242, 0.3093547728331737, 0.4894871317856747, -0.0021156635384224445]])
_DRIFT_Y = np.array([-0.8033023487293277, 1.0342116357971962, -0.03514410761489498, -2.0522434527607247,
                     -1.0928568197457016])


def test_full_rank_preset_instance_equals_closed_form():
    from valleys.basins import FullRankCriterion

    A, b = np.array([[1, -1, 1, 1, 1], [1, -1, -1, 1, 1]]), np.array([1, 1])
    res = BasinSolver(_DRIFT_X, _DRIFT_Y).value((A, b), check_empty=False)
    closed = FullRankCriterion(_DRIFT_X, _DRIFT_Y).values(A[None], b[None])[0]
    # both output weights are positive and y_t > 0 only on a sample no neuron is active on:
    # the best is to predict 0 everywhere, Bas = mean y^2
    assert closed == pytest.approx(float(np.mean(_DRIFT_Y ** 2)), rel=1e-15)
    assert res.status == "optimal"
    assert res.value == pytest.approx(closed, abs=1e-9)
    assert np.abs(res.W @ _DRIFT_X.T * np.abs(res.v)[:, None]).max() < 1e3 * np.abs(_DRIFT_Y).max()


def test_full_rank_values_equal_closed_form_small_m():
    """Small full-rank data (m = 5, d = 10), widths 2 and 3: every certified QP value equals
    SS-T4's closed form (the sweep that showed the drift: 11 of 600 before the fix)."""
    from valleys.basins import FullRankCriterion

    worst = 0.0
    for seed in range(4):
        ds = data.full_rank(5, 10, 5, seed=seed)
        X, y = ds.X.numpy().astype(np.float64), ds.y.numpy().astype(np.float64)
        crit, solver = FullRankCriterion(X, y), BasinSolver(X, y)
        rng = np.random.default_rng(seed)
        for n in (2, 3):
            W, v = draw_init(30, n, 10, "gaussian", rng)
            closed = crit.values(np.sign(W @ X.T), np.sign(v))
            for i in range(30):
                res = solver.value(basin_of(W[i], v[i], X), check_empty=False)
                assert res.status == "optimal"
                worst = max(worst, abs(res.value - closed[i]))
    assert worst <= 1e-8


def test_batched_values_equal_one_at_a_time_and_clarabel():
    """BasinSolver.values (one batched interior-point method over basins of mixed reduced
    widths, each solution polished exactly and KKT-certified) against value() one basin at
    a time and against CVXPY/Clarabel, on the benchmark's family (positive inputs: most
    values zero, some positive) and on a tight cluster (the interior-point route)."""
    rng = np.random.default_rng(5)
    m, d, n = 30, 12, 10
    X = np.abs(rng.standard_normal((m, d)))
    y = 2.0 * rng.standard_normal(m)
    W, v = draw_init(12, n, d, "gaussian", rng)
    pats = [basin_of(W[i], v[i], X) for i in range(12)]
    batched = BasinSolver(X, y).values(pats)
    single = [BasinSolver(X, y).value(p, check_empty=False) for p in pats]
    assert {r.status for r in batched} == {"optimal"}
    assert len({r.reduced_width for r in batched}) > 1  # padding to a common width is exercised
    assert any(r.value > 1e-3 for r in batched) and any(r.value < 1e-8 for r in batched)
    for p, a, b in zip(pats, batched, single, strict=True):
        assert a.value == pytest.approx(b.value, abs=1e-7)
        ref = _cvxpy_value(p.A, p.b, X, y)
        assert a.value == pytest.approx(ref, abs=1e-7)
        assert a.value <= ref + 1e-7  # never above an independent solver's feasible value
        pre = a.W @ X.T
        assert float(np.mean((np.maximum(pre, 0).T @ a.v - y) ** 2)) == pytest.approx(a.value, rel=1e-9, abs=1e-15)

    ds = data.clustered(24, 4, 3, 1e-3, seed=7)
    Xc, yc = ds.X.numpy(), ds.y.numpy()
    W, v = draw_init(3, 6, 4, "gaussian", np.random.default_rng(1))
    pats = [basin_of(W[i], v[i], Xc) for i in range(3)]
    for p, res in zip(pats, BasinSolver(Xc, yc).values(pats), strict=True):
        assert res.status == "optimal"
        ref = _cvxpy_value(p.A, p.b, Xc, yc)
        assert ref - 1e-10 <= res.value <= ref * (1 + 1e-9)


@pytest.mark.parametrize("seed", [0, 1])
def test_batched_interior_point_equals_the_dense_one(seed):
    """ipm_solve_batch (Woodbury-factored Newton steps, several basins at once) against the
    dense ipm_solve, basin by basin. Near 1e-10 the batched steps collapse (the Woodbury
    solve loses accuracy as the multipliers spread: status "stalled", best iterate
    returned); its iterate only proposes the active set, which the solver polishes exactly,
    so the values need to agree to 1e-6 here, not to the polish's accuracy."""
    from valleys.basins.ipm import ipm_solve_batch

    probs = [_problem(100 * seed + i) for i in range(3)]
    X, y = probs[0][0], probs[0][1]
    coef, a = [], []
    for _, _, W, v in probs:
        pat = basin_of(W, v, X)
        a.append(pat.A.astype(float))
        coef.append((a[-1] > 0) * pat.b[:, None].astype(float))
    c, slack, lam, _, status = ipm_solve_batch(X.T, np.stack(coef), np.stack(a), y, tol=1e-10)
    assert (slack >= 0).all() and (lam >= 0).all()
    assert set(status) <= {"converged", "stalled"}
    for i in range(3):
        ci, _, _, _, st = ipm_solve(X.T, coef[i], a[i], y, tol=1e-10)
        assert st == "converged"
        val = float(np.mean((((c[i] @ X.T) * coef[i]).sum(0) - y) ** 2))
        ref = float(np.mean((((ci @ X.T) * coef[i]).sum(0) - y) ** 2))
        assert val == pytest.approx(ref, rel=1e-6, abs=1e-12)
