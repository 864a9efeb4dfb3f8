"""valleys.basins against independent computations: projected descent, closed forms, SciPy."""

import math

import numpy as np
import pytest
from scipy.stats import binomtest

from valleys import data
from valleys.basins import (
    BasinSolver,
    FullRankCriterion,
    PatternError,
    SingletonCriterion,
    basin_of,
    basin_value,
    clopper_pearson,
    draw_init,
    initial_basin_quality,
)
from valleys.basins.assumptions import angular_bound, data_assumptions
from valleys.basins.check import minimal_objective, projected_descent
from valleys.errors import DataError, InvalidParameterError, ShapeError, ValleysError


def _random_basin(rng, n, d, X):
    W, v = draw_init(1, n, d, "gaussian", rng)
    return basin_of(W[0], v[0], X)


@pytest.mark.parametrize("seed", range(6))
def test_basin_value_equals_projected_descent_from_interior_starts(seed):
    rng = np.random.default_rng(seed)
    m, d, n = 8, 4, 3
    X = rng.standard_normal((m, d))
    y = rng.standard_normal(m)
    pat = _random_basin(rng, n, d, X)
    res = basin_value(pat, X, y)
    assert res.status == "optimal"
    for start in range(2):
        pgd, _ = projected_descent(pat, X, y, steps=3000, seed=100 * seed + start)
        assert abs(pgd - res.value) <= 1e-6, (pgd, res.value)


def test_minimiser_lies_in_the_closed_basin_and_attains_the_value():
    rng = np.random.default_rng(7)
    X = rng.standard_normal((10, 5))
    y = rng.standard_normal(10)
    pat = _random_basin(rng, 4, 5, X)
    res = basin_value(pat, X, y)
    pre = res.W @ X.T
    assert (pat.A * pre >= -1e-9).all() and (pat.b * res.v >= 0).all()
    pred = np.maximum(pre, 0).T @ res.v
    assert math.isclose(np.mean((pred - y) ** 2), res.value, rel_tol=1e-12, abs_tol=1e-14)


def test_closed_form_one_neuron_auer_pair():
    X = np.array([[1.0, 0.0], [-1.0, 0.0]])
    y = np.array([1.0, 2.0])
    # w_1 > 0: fits x_1 exactly, predicts 0 on x_2: (0 - 2)^2 / 2 = 2
    assert basin_value((np.array([[1, -1]]), np.array([1])), X, y).value == pytest.approx(2.0, abs=1e-9)
    # w_1 < 0 with v > 0: fits x_2 exactly, misses x_1: 1/2
    assert basin_value((np.array([[-1, 1]]), np.array([1])), X, y).value == pytest.approx(0.5, abs=1e-9)


def test_empty_basin_is_detected():
    X = np.array([[1.0, 0.0], [-1.0, 0.0]])
    res = basin_value((np.array([[1, 1]]), np.array([1])), X, np.array([1.0, 2.0]))
    assert res.empty and math.isnan(res.value) and res.empty_neurons == [0]


@pytest.mark.parametrize("seed", range(3))
def test_lemma2_monotone_under_overspecification(seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((10, 4))
    y = rng.standard_normal(10)
    solver = BasinSolver(X, y)
    for _ in range(10):
        pat = _random_basin(rng, 5, 4, X)
        subset = rng.choice(5, size=int(rng.integers(1, 5)), replace=False)
        assert solver.value(pat).value <= solver.value(pat.subset(subset)).value + 1e-9


def test_singleton_criterion_matches_qp_values():
    ds = data.singleton(12, 5, seed=2)
    X, y = ds.X.numpy(), ds.y.numpy()
    crit, solver = SingletonCriterion(X, y), BasinSolver(X, y)
    rng = np.random.default_rng(0)
    W, v = draw_init(30, 4, 5, "gaussian", rng)
    cv = crit.values(np.sign(W), np.sign(v))
    qv = np.array([solver.value(basin_of(W[i], v[i], X), check_empty=False).value for i in range(30)])
    np.testing.assert_allclose(cv, qv, atol=1e-7)
    alpha = crit.alpha(4)
    assert ((cv <= alpha + 1e-9) == (qv <= alpha + 1e-9)).all()


def test_full_rank_criterion_matches_qp_values():
    ds = data.full_rank(6, 9, seed=3)
    X, y = ds.X.numpy(), ds.y.numpy()
    crit, solver = FullRankCriterion(X, y), BasinSolver(X, y)
    rng = np.random.default_rng(1)
    W, v = draw_init(30, 3, 9, "gaussian", rng)
    cv = crit.values(np.sign(W @ X.T), np.sign(v))
    qv = np.array([solver.value(basin_of(W[i], v[i], X), check_empty=False).value for i in range(30)])
    np.testing.assert_allclose(cv, qv, atol=1e-7)
    assert ((cv <= 1e-9) == (qv <= 1e-9)).all()


def test_singleton_exact_probability_closed_form_vs_enumeration():
    ds = data.singleton(10, 4, seed=5)
    crit = SingletonCriterion(ds.X.numpy(), ds.y.numpy())
    for n in (1, 2, 3, 4, 5):
        assert crit.alpha(n) >= crit.alpha_wide - 1e-15
        assert crit.probability(n) == pytest.approx(crit._probability_enumerated(n), abs=1e-12)
    for n in (4, 8, 20):
        assert crit.probability(n) >= SingletonCriterion.bound(n, 4)


def test_singleton_monte_carlo_within_three_standard_errors_of_exact():
    ds = data.singleton(16, 6, seed=1)
    q = initial_basin_quality(ds.X, ds.y, (2, 6, 12), 4000, "sphere", seed=0)
    assert q.method == "singleton"
    se = np.sqrt(q.table["exact"] * (1 - q.table["exact"]) / 4000)
    assert ((q.table["estimate"] - q.table["exact"]).abs() <= 3 * se + 1e-12).all()


def test_auer_single_neuron_optimal_basin_is_all_negative_signs():
    ds = data.auer_singleton(5)
    crit = SingletonCriterion(ds.X.numpy(), ds.y.numpy())
    signs = np.array(np.meshgrid(*[[-1.0, 1.0]] * 5)).reshape(5, -1).T  # all 32 sign rows
    vals = crit.values(signs[:, None, :], np.ones((32, 1)))
    assert (vals <= vals.min() + 1e-12).sum() == 1  # probability 2^-d
    assert np.allclose(signs[vals.argmin()], -1.0)


@pytest.mark.parametrize("k,n", [(0, 10), (3, 10), (10, 10), (17, 40), (1, 1)])
def test_clopper_pearson_matches_scipy(k, n):
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
    assert clopper_pearson(k, n) == pytest.approx((ci.low, ci.high), abs=1e-12)


def test_data_assumptions_theorem5_satisfied_and_violated():
    d = 3
    bound = angular_bound(d)
    good = data.clustered(30, d, 3, 0.5 * bound, seed=0)
    bad = data.clustered(30, d, 3, 2.0 * bound, seed=0)
    C = good.meta["centers"].numpy()
    rep_good = data_assumptions(good.X.numpy(), good.y.numpy(), centers=C)
    rep_bad = data_assumptions(bad.X.numpy(), bad.y.numpy(), centers=bad.meta["centers"].numpy())
    assert rep_good.holds("SS-T5")
    assert not rep_bad.holds("SS-T5") and rep_bad.failed("SS-T5") == ["max delta_j / ||c_j||"]
    assert data_assumptions(data.full_rank(3, 5).X, data.full_rank(3, 5).y).holds("SS-T4")
    assert data_assumptions(data.singleton(5, 3).X, data.singleton(5, 3).y).holds("SS-T2")


def test_data_assumption_ranks_come_from_matrix_rank_with_their_gap():
    """Issue 19 item 5: the ranks of SS-T4 and SS-T5 are curvature.matrix_rank's, with the gap."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((6, 2)) @ rng.standard_normal((2, 5))  # rank 2 < m = 6
    C = np.vstack([np.eye(3, 5), [[1.0, 1.0, 0.0, 0.0, 0.0]]])  # 4 centres in R^5: rank 3 < k
    rep = data_assumptions(X, rng.standard_normal(6), centers=C)
    rank_x, rank_c = rep.ranks["rank X"], rep.ranks["rank C (centres in general position)"]
    assert (rank_x.count, rank_c.count) == (2, 3) == (np.linalg.matrix_rank(X), np.linalg.matrix_rank(C))
    assert rank_x.gap_ratio > 1e8 and rank_c.gap_ratio > 1e8 and not rank_x.ambiguous
    rows = {r["assumption"]: r["value"] for r in rep.rows}
    assert rows["rank X"] == 2 and rows["rank C (centres in general position)"] == 3
    assert FullRankCriterion(X[:2], np.ones(2)).rank.count == 2
    with pytest.raises(DataError, match="gap ratio"):
        FullRankCriterion(X, np.ones(6))


def test_minimal_objective_exact_for_full_rank_and_search_otherwise():
    ds = data.full_rank(4, 6, seed=0)
    assert minimal_objective(ds.X, ds.y, 3).value == 0.0
    rng = np.random.default_rng(0)
    X = rng.standard_normal((8, 2))
    res = minimal_objective(X, rng.standard_normal(8), 2, draws=10)
    assert not res.exact and res.value > 0 and res.basins_searched == 10


def test_bad_input_raises_one_line_valleys_errors():
    X = np.random.default_rng(0).standard_normal((4, 3))
    pat = (np.ones((2, 4), int), np.ones(2, int))
    errors = []
    with pytest.raises(ShapeError) as e:
        basin_value(pat, X, np.zeros(5))
    errors.append(e.value)
    with pytest.raises(PatternError) as e:
        basin_value((np.ones((2, 3), int), np.ones(2, int)), X, np.zeros(4))
    errors.append(e.value)
    with pytest.raises(PatternError) as e:
        basin_value((np.zeros((2, 4), int), np.ones(2, int)), X, np.zeros(4))
    errors.append(e.value)
    with pytest.raises(InvalidParameterError) as e:
        basin_value(pat, X, np.zeros(4), loss=lambda p, t: p ** 3)
    errors.append(e.value)
    from valleys.nets import Loss
    with pytest.raises(InvalidParameterError) as e:
        basin_value(pat, X, np.zeros(4), loss=Loss("cubic", lambda p, t: p ** 3, convex=False))
    errors.append(e.value)
    with pytest.raises(InvalidParameterError) as e:
        initial_basin_quality(X, np.zeros(4), (0, 3), 10)
    errors.append(e.value)
    with pytest.raises(DataError) as e:
        basin_value(pat, X, np.array([0.5, 1, 1, 1]), loss="logistic")
    errors.append(e.value)
    for err in errors:
        assert isinstance(err, ValleysError) and "\n" not in str(err)


def test_logistic_basin_value_closed_forms_and_cvxpy():
    """Logistic loss on a one-neuron, two-point basin, and a random basin against CVXPY."""
    X = np.array([[1.0, 0.0], [-1.0, 0.0]])
    y = np.array([1.0, -1.0])
    # prediction q >= 0 on x_1 (label +1), 0 on x_2 (label -1): infimum log(2)/2 as q -> inf
    res = basin_value((np.array([[1, -1]]), np.array([1])), X, y, loss="logistic")
    assert math.log(2) / 2 <= res.value <= math.log(2) / 2 + 1e-4
    res2 = basin_value((np.array([[1, -1]]), np.array([1])), X, -y, loss="logistic")
    assert res2.value == pytest.approx(math.log(2), abs=1e-9)  # best is q = 0
    import cvxpy as cp  # in the test extra: the cross-check always runs
    rng = np.random.default_rng(0)
    X = rng.standard_normal((10, 3))
    y = np.sign(rng.standard_normal(10))
    pat = _random_basin(rng, 3, 3, X)
    res3 = basin_value(pat, X, y, loss="logistic")
    U = cp.Variable((3, 3))
    pred = cp.sum(cp.multiply((pat.A > 0) * pat.b[:, None], U @ X.T), axis=0)
    prob = cp.Problem(cp.Minimize(cp.sum(cp.logistic(-cp.multiply(y, pred))) / 10),
                      [cp.multiply(pat.A, U @ X.T) >= 0])
    prob.solve(solver="CLARABEL")
    assert res3.value == pytest.approx(prob.value, abs=1e-6)
