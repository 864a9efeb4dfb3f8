"""valleys.optim: the one L-BFGS and the one Newton family, against closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse.linalg
import torch
from torch.func import vjp

from valleys.errors import ValleysError
from valleys.optim import (
    LBFGSResult,
    NewtonResult,
    gauss_newton_lm,
    lbfgs,
    newton_lm,
    newton_lm_batch,
    newton_mr,
    shifted_newton,
)

A = np.array([[4.0, 1.0, 0.0], [1.0, 3.0, 0.5], [0.0, 0.5, 2.0]])
B = np.array([1.0, -2.0, 0.5])
X_STAR = np.linalg.solve(A, B)  # minimiser of 1/2 x^T A x - b^T x


def quadratic_np(x):
    return float(0.5 * x @ A @ x - B @ x), A @ x - B


def quadratic_torch(x):
    At, Bt = torch.from_numpy(A), torch.from_numpy(B)
    return 0.5 * x @ At @ x - Bt @ x, At @ x - Bt


def rosenbrock(x):
    value = (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2
    grad = np.array([-2 * (1 - x[0]) - 400 * x[0] * (x[1] - x[0] ** 2), 200 * (x[1] - x[0] ** 2)])
    return float(value), grad


# ---------------------------------------------------------------------------- L-BFGS
@pytest.mark.parametrize("engine", ["scipy", "torch"])
def test_lbfgs_reaches_the_minimiser_of_a_quadratic(engine):
    if engine == "scipy":
        out = lbfgs(quadratic_np, np.zeros(3), max_iter=200, grad_tol=1e-12, value_tol=0.0)
        x = np.asarray(out.x)
    else:
        out = lbfgs(quadratic_torch, torch.zeros(3, dtype=torch.float64), engine="torch", max_iter=200,
                    grad_tol=1e-12, value_tol=0.0)
        x = out.x.numpy()
    assert isinstance(out, LBFGSResult)
    np.testing.assert_allclose(x, X_STAR, atol=1e-9)
    assert out.evaluations >= out.iterations >= 1


@pytest.mark.parametrize("engine", ["scipy", "torch"])
def test_lbfgs_reaches_the_rosenbrock_minimum(engine):
    start = np.array([-1.2, 1.0])
    if engine == "scipy":
        x = lbfgs(rosenbrock, start, max_iter=1000, grad_tol=1e-10, value_tol=0.0).x
    else:
        def fg(t):
            value, g = rosenbrock(t.numpy())
            return torch.tensor(value, dtype=torch.float64), torch.from_numpy(g)
        x = lbfgs(fg, torch.from_numpy(start), engine="torch", max_iter=1000, max_fun=5000,
                  grad_tol=1e-10, value_tol=0.0).x.numpy()
    np.testing.assert_allclose(x, [1.0, 1.0], atol=1e-6)


def test_lbfgs_mask_keeps_frozen_coordinates_bit_identical():
    """With x_1 frozen at its start, the free coordinates minimise the quadratic restricted
    to them: A_ff x_f = b_f - A_f1 x_1 (closed form)."""
    x0 = torch.tensor([0.3, -0.7123456789, 0.2], dtype=torch.float64)
    mask = torch.tensor([1.0, 0.0, 1.0], dtype=torch.float64)
    seen = []
    out = lbfgs(quadratic_torch, x0, engine="torch", max_iter=200, grad_tol=1e-12, value_tol=0.0,
                mask=mask, callback=lambda x, value, g: seen.append((x[1].item(), g[1].item())) and False)
    assert out.x[1].item() == x0[1].item()
    assert all(x1 == x0[1].item() and g1 == 0.0 for x1, g1 in seen)
    free = [0, 2]
    expected = np.linalg.solve(A[np.ix_(free, free)], B[free] - A[free, 1] * x0[1].item())
    np.testing.assert_allclose(out.x.numpy()[free], expected, atol=1e-9)


@pytest.mark.parametrize("engine", ["scipy", "torch"])
def test_lbfgs_callback_ends_the_run(engine):
    calls = []

    def stop(*args):
        calls.append(1)
        return len(calls) >= 2

    if engine == "scipy":
        out = lbfgs(quadratic_np, np.zeros(3), max_iter=200, grad_tol=0.0, value_tol=0.0, callback=stop)
    else:
        out = lbfgs(quadratic_torch, torch.zeros(3, dtype=torch.float64), engine="torch", max_iter=200,
                    grad_tol=0.0, value_tol=0.0, callback=stop)
    assert out.stopped and len(calls) == 2


def test_lbfgs_torch_with_no_iterations_evaluates_the_start_only():
    x0 = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    out = lbfgs(quadratic_torch, x0, engine="torch", max_iter=0)
    assert out.evaluations == 1 and torch.equal(out.x, x0)


def test_lbfgs_rejects_an_unknown_engine():
    with pytest.raises(ValleysError, match="engine"):
        lbfgs(quadratic_np, np.zeros(3), max_iter=10, engine="adam")


# ---------------------------------------------------------------------------- Newton family
def saddle_np(x):
    """x^2 - y^2 + y^4: critical points (0, 0) (saddle) and (0, +-1/sqrt 2) (minima)."""
    return (float(x[0] ** 2 - x[1] ** 2 + x[1] ** 4), np.array([2 * x[0], 4 * x[1] ** 3 - 2 * x[1]]))


def saddle_hess(x):
    return np.diag([2.0, 12 * x[1] ** 2 - 2])


@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_newton_lm_finds_the_critical_point_in_both_array_kinds(kind):
    start = np.array([0.1, 0.6])
    if kind == "numpy":
        out = newton_lm(saddle_np, saddle_hess, start, grad_tol=1e-12, max_iter=100)
        x = out.x
    else:
        def fg(t):
            value, g = saddle_np(t.numpy())
            return torch.tensor(value, dtype=torch.float64), torch.from_numpy(g)
        out = newton_lm(fg, lambda t: torch.from_numpy(saddle_hess(t.numpy())), torch.from_numpy(start),
                        grad_tol=1e-12, max_iter=100)
        x = out.x.numpy()
    assert isinstance(out, NewtonResult) and out.reason == "gradient tolerance"
    np.testing.assert_allclose(x, [0.0, 1 / math.sqrt(2)], atol=1e-10)


def test_newton_lm_converges_to_a_saddle_not_only_to_minima():
    out = newton_lm(saddle_np, saddle_hess, np.array([0.2, 0.1]), grad_tol=1e-13, max_iter=100)
    np.testing.assert_allclose(out.x, [0.0, 0.0], atol=1e-12)


def test_newton_lm_index_subset_keeps_the_other_coordinates_bit_identical():
    """Only y moves: with x fixed the critical points in y are those of -y^2 + y^4."""
    start = np.array([0.123456789, 0.6])
    out = newton_lm(saddle_np, saddle_hess, start, grad_tol=1e-12, max_iter=100, idx=np.array([1]),
                    relative=True)
    assert out.x[0] == start[0]
    assert out.x[1] == pytest.approx(1 / math.sqrt(2), abs=1e-12)
    assert start.tolist() == [0.123456789, 0.6]  # the start is not changed in place


def test_newton_lm_batch_finds_both_critical_points_of_a_cubic():
    """t^3 - 3t: critical points +-1."""
    def grads(T):
        return 3 * T ** 2 - 3

    def hessians(T):
        return (6 * T)[:, :, None]

    T0 = torch.tensor([[0.5], [-3.0]], dtype=torch.float64)
    T, G, stalled, iterations = newton_lm_batch(grads, hessians, T0, grad_tol=torch.full((2,), 1e-12),
                                                max_iter=100)
    np.testing.assert_allclose(T.reshape(-1).numpy(), [1.0, -1.0], atol=1e-12)
    assert not stalled.any() and G.abs().max() <= 1e-12 and iterations >= 1


def test_shifted_newton_solves_a_quadratic():
    out = shifted_newton(quadratic_torch, lambda x: torch.from_numpy(A), torch.zeros(3, dtype=torch.float64),
                         grad_tol=1e-12, max_trials=20, damping=1e-8)
    np.testing.assert_allclose(out.x.numpy(), X_STAR, atol=1e-10)
    assert out.reason == "gradient tolerance"


def test_newton_mr_finds_the_minimum_norm_critical_point_of_a_singular_quadratic():
    """F = 1/2 (x_0 + x_1 - 2)^2: H is singular; MINRES from 0 returns the minimum-norm
    solution (1, 1)."""
    a = torch.tensor([1.0, 1.0], dtype=torch.float64)
    H = torch.outer(a, a)

    def fg(x):
        r = a @ x - 2
        return 0.5 * r ** 2, r * a

    out = newton_mr(fg, lambda x: fg(x)[1], lambda x, v: H @ v,
                    lambda x: scipy.sparse.linalg.aslinearoperator(H.numpy()), torch.zeros(2, dtype=torch.float64),
                    grad_tol=1e-12, max_iter=20, minres_rtol=1e-12, minres_maxiter=10)
    np.testing.assert_allclose(out.x.numpy(), [1.0, 1.0], atol=1e-10)
    assert out.reason == "gradient tolerance"


def test_gauss_newton_lm_solves_a_masked_linear_system():
    """Residual r = M x - y (2 equations) with coordinate 2 frozen: the free coordinates
    solve M_free x_free = y - M_2 x_2 (closed form), x_2 keeps its start value bit for bit."""
    gen = torch.Generator().manual_seed(0)
    M = torch.randn(2, 3, generator=gen, dtype=torch.float64)
    y = torch.randn(2, generator=gen, dtype=torch.float64)
    mask = torch.tensor([1.0, 1.0, 0.0], dtype=torch.float64)
    x0 = torch.tensor([0.0, 0.0, 0.37], dtype=torch.float64)

    def residual(x):
        return vjp(lambda s: M @ s - y, x)

    def gram(x):
        G = M * mask
        return G @ G.T

    def check(step, x, value, gnorm, mu):
        return "done" if gnorm <= 1e-12 else None

    x, reason, steps, mu = gauss_newton_lm(residual, gram, x0, mask, 1.0, max_steps=200, check=check)
    expected = torch.linalg.solve(M[:, :2], y - M[:, 2] * 0.37)
    assert reason == "done" and x[2].item() == 0.37
    np.testing.assert_allclose(x[:2].numpy(), expected.numpy(), atol=1e-9)
