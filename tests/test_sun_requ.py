"""sun-requ (SUN-T4.3): analytic derivatives, the closed-form single-point minimum, the
third-order test of a zero neuron, checked against autograd and brute force."""

import math

import numpy as np
import pytest
import torch

from valleys.errors import InvalidParameterError
from valleys.experiments.d001_sun._shared import requ_fun_grad
from valleys.experiments.d001_sun.requ import (
    Instance,
    ReQUParams,
    cubic_coefficient,
    loss_derivatives,
    newton_lm,
    requ_hessian,
    requ_objective,
    single_point_minimum,
)

torch.set_num_threads(1)


def _instance(n=5, m=6, seed=0):
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(-1, 1, n))
    y = rng.choice([-1.0, 1.0], n)
    return Instance("t", x, y, 1e-2 * rng.uniform(0.5, 1.5, m)), rng


def test_gradient_and_hessian_match_autograd_with_zero_neurons():
    inst, rng = _instance()
    F = inst.objective()
    for _ in range(3):
        t = rng.standard_normal(3 * inst.m)
        t[[1, 1 + inst.m, 1 + 2 * inst.m]] = 0.0  # one neuron exactly at zero
        tt = torch.from_numpy(t)
        value, g = requ_fun_grad(inst.x, inst.y, inst.lam)(t)
        assert value == pytest.approx(float(F(tt)), rel=1e-13)
        np.testing.assert_allclose(g, torch.func.grad(F)(tt).numpy(), rtol=1e-10, atol=1e-12)
        H_auto = torch.func.hessian(F)(tt).numpy()
        H = requ_hessian(inst.x, inst.y, inst.lam)(t)
        np.testing.assert_allclose(H, H_auto, rtol=1e-10, atol=1e-12)
        zero = [1, 1 + inst.m, 1 + 2 * inst.m]
        assert np.all(H[np.ix_(zero, range(3 * inst.m))] == 0.0)  # the zero block is exactly 0


def test_single_point_closed_form_is_attained_and_a_lower_bound():
    x1, y1, lam = 0.7, -1.0, np.array([3e-3, 1e-3, 2e-3])
    star = single_point_minimum(x1, y1, lam)
    F = requ_objective(torch.tensor([x1]), torch.tensor([y1]), torch.from_numpy(lam))
    # attained: the cheapest neuron alone, u parallel to (x1, 1), |a| = ||u||, sigma(-z) = c
    K, c = 1 + x1 * x1, lam.min() / (1 + x1 * x1)
    z = math.log((1 - c) / c)
    r = (z / K) ** (1 / 3)  # |a| ||u||^2 = z / K with |a| = ||u|| = r
    t = np.zeros(9)
    t[1], t[4], t[7] = y1 * r, r * x1 / math.sqrt(K), r / math.sqrt(K)
    assert float(F(torch.from_numpy(t))) == pytest.approx(star, rel=1e-12)
    # a lower bound: 20000 random points (scaled around the minimiser) stay above it
    rng = np.random.default_rng(1)
    pts = rng.standard_normal((20000, 9)) * rng.uniform(0.1, 3, (20000, 1))
    assert float(F(torch.from_numpy(pts)).min()) >= star - 1e-12
    # and a local search never goes below it
    fg = requ_fun_grad(np.array([x1]), np.array([y1]), lam)
    from scipy.optimize import minimize
    best = min(minimize(fg, rng.standard_normal(9), jac=True, method="L-BFGS-B").fun
               for _ in range(5))
    assert best >= star - 1e-12


def test_cubic_coefficient_matches_a_dense_grid():
    rng = np.random.default_rng(2)
    x, g = rng.uniform(-1, 1, 7), rng.standard_normal(7)
    c_star, phi = cubic_coefficient(g, x, grid=360)
    phis = np.linspace(0, 2 * np.pi, 400_000, endpoint=False)
    brute = np.abs(g @ np.maximum(np.cos(phis) * x[:, None] + np.sin(phis), 0) ** 2).max()
    assert c_star == pytest.approx(brute, rel=1e-8)
    assert c_star >= brute - 1e-12 * brute
    value = abs(g @ np.maximum(np.cos(phi) * x + np.sin(phi), 0) ** 2)
    assert value == pytest.approx(c_star, rel=1e-12)


def test_third_order_rule_of_a_zero_neuron():
    """A zero neuron k: F decreases along (a, u) = t(-sign c, u*) iff C* > lambda_k."""
    inst, rng = _instance(n=4, m=3, seed=3)
    m = inst.m
    theta = rng.standard_normal(3 * m)
    theta[[2, 2 + m, 2 + 2 * m]] = 0.0
    g = loss_derivatives(theta, inst.x, inst.y, m)
    c_star, phi = cubic_coefficient(g, inst.x)
    sign = -np.sign(g @ np.maximum(np.cos(phi) * inst.x + np.sin(phi), 0) ** 2)
    for lam_k, lower in ((0.5 * c_star, True), (2.0 * c_star, False)):
        lam = inst.lam.copy()
        lam[2] = lam_k
        F = requ_objective(torch.from_numpy(inst.x), torch.from_numpy(inst.y), torch.from_numpy(lam))
        t = 1e-3
        moved = theta.copy()
        moved[2], moved[2 + m], moved[2 + 2 * m] = sign * t, t * np.cos(phi), t * np.sin(phi)
        # only the zero neuron's cubic term changes at order t^3 (others fixed)
        diff = float(F(torch.from_numpy(moved)) - F(torch.from_numpy(theta)))
        expected = t ** 3 * (lam_k - c_star)
        assert (diff < 0) == lower
        assert diff == pytest.approx(expected, rel=1e-2)


def test_newton_lm_reaches_a_critical_point():
    inst, rng = _instance(n=3, m=4, seed=4)
    fg = requ_fun_grad(inst.x, inst.y, inst.lam)
    from scipy.optimize import minimize
    t0 = minimize(fg, rng.standard_normal(12), jac=True, method="L-BFGS-B",
                  options={"maxiter": 3000}).x
    # keep the neurons that are not vanishing
    size = np.sqrt(t0[:4] ** 2 + t0[4:8] ** 2 + t0[8:] ** 2)
    live = np.flatnonzero(size > 0.1 * size.max())
    t0[np.setdiff1d(range(12), np.concatenate([live, live + 4, live + 8]))] = 0.0
    idx = np.concatenate([live, live + 4, live + 8])
    t = newton_lm(fg, requ_hessian(inst.x, inst.y, inst.lam), t0, idx, tol=1e-13, max_iter=100)
    assert np.linalg.norm(fg(t)[1]) < 1e-10


def test_bad_parameters_are_refused_before_running():
    with pytest.raises(InvalidParameterError):
        ReQUParams(n=1)
    with pytest.raises(InvalidParameterError):
        ReQUParams(lam_scales=(1e-3, -1.0))
    with pytest.raises(InvalidParameterError):
        ReQUParams(prune_tol=2.0)
