"""Critical-point finders, classification, Baldi–Hornik points and the NTK Gram."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from valleys import Landscape, nets
from valleys.critical import (
    classify,
    damped_newton,
    damped_newton_batch,
    deduplicate,
    gradient_descent,
    gradient_descent_batch,
    gradient_norm_min,
    lbfgs,
    newton_mr,
    ntk_gram,
    ntk_lambda_min,
)
from valleys.errors import InvalidParameterError, ShapeError
from valleys.literature.baldi1989 import (
    baldi_hornik_point,
    baldi_hornik_points,
    reduced_rank_optimum,
    regression_spectrum,
)

F64 = torch.float64


def toy(f, d=2):
    return Landscape.from_function(f, d)


def uv(t):
    return (t[0] * t[1] - 1) ** 2


def t64(*xs):
    return torch.tensor(xs, dtype=F64)


# ------------------------------------------------------------------ classification
def test_uv_on_the_curve_is_degenerate_min_with_one_zero_eigenvalue():
    land = toy(uv)
    for u, v in ((1.0, 1.0), (2.0, 0.5)):
        cp = classify(land, t64(u, v))
        np.testing.assert_allclose(cp.eigenvalues, [0.0, 2 * (u * u + v * v)], atol=1e-12)
        assert (cp.index, cp.nullity, cp.positive) == (0, 1, 1)
        assert cp.kind == "degenerate (min-like)" and cp.is_minimum_like
        assert cp.probe is not None and not cp.probe.descent and cp.probe.ascent
        assert cp.inertia_certified
    assert classify(land, t64(1.0, 1.0), floor=0.0).kind == "global-min"


def test_uv_origin_is_a_strict_saddle():
    cp = classify(toy(uv), torch.zeros(2, dtype=F64))
    np.testing.assert_allclose(cp.eigenvalues, [-2.0, 2.0], atol=1e-12)
    assert (cp.kind, cp.index, cp.nullity, cp.loss) == ("saddle", 1, 0, 1.0)
    assert cp.probe is None


def test_cubic_origin_is_degenerate_and_the_probe_finds_descent():
    cp = classify(toy(lambda t: t[0] ** 3 + t[1] ** 3), torch.zeros(2, dtype=F64))
    assert (cp.index, cp.nullity, cp.zero_threshold) == (0, 2, 0.0)
    assert cp.kind == "saddle (higher-order)" and not cp.is_minimum_like
    assert cp.probe.descent and cp.probe.min_change == pytest.approx(-cp.probe.steps[0] ** 3)


def test_hyperbolic_saddle_and_other_second_order_kinds():
    zero = torch.zeros(2, dtype=F64)
    assert classify(toy(lambda t: t[0] ** 2 - t[1] ** 2), zero).kind == "saddle"
    assert classify(toy(lambda t: -(t ** 2).sum()), zero).kind == "local-max"
    assert classify(toy(lambda t: (t ** 2).sum()), zero).kind == "local-min"
    assert classify(toy(lambda t: (t ** 2).sum()), zero, floor=0.0).kind == "global-min"
    quartic = classify(toy(lambda t: t[0] ** 4 + t[1] ** 2), zero)
    assert (quartic.kind, quartic.nullity) == ("degenerate (min-like)", 1)
    assert classify(toy(lambda t: -t[0] ** 4 - t[1] ** 2), zero).kind == "degenerate (max-like)"
    monkey = classify(toy(lambda t: t[0] ** 3 - 3 * t[0] * t[1] ** 2), zero)
    assert monkey.kind == "saddle (higher-order)" and monkey.probe.ascent


def test_non_critical_point_and_thresholds_are_reported():
    cp = classify(toy(uv), t64(0.5, 0.5), grad_tol=1e-6, tau=1e-7)
    assert cp.kind == "not-critical" and not cp.is_critical
    # scale-free rule (finding 7 of issue 6): grad_tol * ||H||_2 * max(1, ||theta||)
    scale = np.abs(cp.eigenvalues).max() * max(1.0, 0.5 * 2 ** 0.5)
    assert cp.grad_threshold == pytest.approx(1e-6 * scale)
    assert (cp.tau, cp.grad_tol) == (1e-7, 1e-6)


def deep_linear_problem(dx=4, dy=3, n=12, seed=0):
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(dx, n, generator=gen, dtype=F64)
    Y = torch.randn(dy, n, generator=gen, dtype=F64)
    return X, Y


def test_baldi_hornik_points_are_critical_with_closed_form_loss_and_right_class():
    X, Y = deep_linear_problem()
    k = 2
    land = Landscape(nets.deep_linear([4, k, 3]), (X.T, Y.T), loss="mse", reduction="sum")
    optimum = reduced_rank_optimum(X, Y, k)
    C = t64(1.0, 0.3, -0.2, 1.5).reshape(2, 2)
    points = baldi_hornik_points(X, Y, k, C)
    assert [p.index_set for p in points] == [(), (0,), (1,), (2,), (0, 1), (0, 2), (1, 2)]
    for p in points:
        theta = land.layout.flatten({"W1": p.W1, "W2": p.W2})
        cp = classify(land, theta, floor=optimum)
        assert cp.grad_norm <= 1e-10
        assert cp.loss == pytest.approx(p.loss, rel=1e-12)
        if p.is_top:
            assert cp.kind == "global-min" and p.loss == pytest.approx(optimum, rel=1e-12)
        else:
            assert cp.kind == "saddle" and cp.eigenvalues[0] < -1e-8


def test_reduced_rank_optimum_is_eckart_young_when_x_is_identity():
    Y = torch.randn(4, 6, generator=torch.Generator().manual_seed(3), dtype=F64)
    s = torch.linalg.svdvals(Y)
    for r in range(5):
        assert reduced_rank_optimum(torch.eye(6, dtype=F64), Y, r) == pytest.approx(
            float((s[r:] ** 2).sum()), rel=1e-12, abs=1e-12)


def test_baldi_hornik_product_does_not_depend_on_c():
    X, Y = deep_linear_problem()
    a = baldi_hornik_point(X, Y, 3, (0, 2))
    b = baldi_hornik_point(X, Y, 3, (0, 2), C=torch.diag(t64(2.0, -1.0, 0.5)))
    torch.testing.assert_close(a.W2 @ a.W1, b.W2 @ b.W1)
    assert torch.all(a.W2[:, 2] == 0)  # |I| < k: the extra column is zero
    spec = regression_spectrum(X, Y)
    assert torch.all(spec.eigenvalues[:-1] >= spec.eigenvalues[1:])


def test_deep_linear_helpers_reject_bad_input():
    X, Y = deep_linear_problem()
    with pytest.raises(InvalidParameterError, match="at most k = 1"):
        baldi_hornik_point(X, Y, 1, (0, 1))
    with pytest.raises(InvalidParameterError, match="invertible"):
        baldi_hornik_point(X, Y, 2, (0,), C=torch.zeros(2, 2, dtype=F64))
    with pytest.raises(ShapeError, match="same number of columns"):
        regression_spectrum(X, Y[:, :5])
    with pytest.raises(InvalidParameterError, match="X X\\^T must be invertible"):
        regression_spectrum(torch.ones(3, 5, dtype=F64), Y[:, :5])


# ------------------------------------------------------------------------ finders
def quadratic_landscape():
    A = t64(3.0, 1.0, 1.0, 2.0).reshape(2, 2)
    b = t64(1.0, -1.0)
    return toy(lambda t: 0.5 * t @ A @ t - b @ t), torch.linalg.solve(A, b)


def test_gradient_descent_converges_to_the_closed_form_minimum():
    land, x_star = quadratic_landscape()
    res = gradient_descent(land, torch.zeros(2, dtype=F64), lr=0.2, max_iter=2000)
    assert res.reason == "gradient tolerance" and res.converged
    torch.testing.assert_close(res.theta, x_star, atol=1e-9, rtol=0)
    assert res.tolerance == pytest.approx(1e-10)  # L(0) = 0 -> max(1, |L|) = 1
    assert list(res.history.columns) == ["iteration", "loss", "grad_norm"]
    assert len(res.history) == res.iterations + 1
    assert np.all(np.diff(res.history.loss) <= 1e-15)  # descent up to rounding


def test_gradient_descent_reports_other_stopping_reasons():
    land, _ = quadratic_landscape()
    assert gradient_descent(land, torch.zeros(2, dtype=F64), lr=0.2, max_iter=3).reason \
        == "max iterations"
    blow = gradient_descent(land, torch.ones(2, dtype=F64), lr=2.0, max_iter=5000)
    assert blow.reason == "diverged"
    with pytest.raises(InvalidParameterError, match="'lr'"):
        gradient_descent(land, torch.zeros(2, dtype=F64), lr=0.0)
    with pytest.raises(ShapeError, match="2 parameters"):
        gradient_descent(land, torch.zeros(3, dtype=F64), lr=0.1)


def test_tolerance_scales_with_the_initial_loss():
    land = toy(lambda t: 1e4 * ((t - 1) ** 2).sum())
    res = lbfgs(land, torch.zeros(2, dtype=F64), grad_tol=1e-10)
    assert res.tolerance == pytest.approx(1e-10 * 2e4)
    assert res.grad_norm <= res.tolerance


def test_lbfgs_minimises_rosenbrock():
    land = toy(lambda t: (1 - t[0]) ** 2 + 100 * (t[1] - t[0] ** 2) ** 2)
    res = lbfgs(land, t64(-1.2, 1.0), max_iter=500)
    assert res.converged
    torch.testing.assert_close(res.theta, t64(1.0, 1.0), atol=1e-8, rtol=0)


def test_saddle_finders_converge_to_the_uv_saddle():
    land = toy(uv)
    start = t64(0.15, -0.1)
    for finder in (newton_mr, damped_newton, gradient_norm_min):
        res = finder(land, start)
        assert res.converged, finder.__name__
        assert float(res.theta.abs().max()) < 1e-8
        assert classify(land, res.theta).kind == "saddle"


def test_newton_finders_reach_a_minimum_from_near_it():
    land = toy(lambda t: t[0] ** 2 - t[1] ** 2 + t[1] ** 4)
    for finder in (newton_mr, damped_newton):
        res = finder(land, t64(0.1, 0.6))
        torch.testing.assert_close(res.theta, t64(0.0, 1 / math.sqrt(2)), atol=1e-9, rtol=0)


def test_gradient_norm_min_stalls_at_an_inflection_point():
    land = toy(lambda t: t[0] ** 4 + 5 * t[0] ** 3 + 6 * t[0] ** 2, 1)
    res = gradient_norm_min(land, t64(0.5))
    assert res.reason == "stalled" and not res.converged
    assert res.theta.item() == pytest.approx(-0.5, abs=1e-5)  # f''(-1/2) = 0, f'(-1/2) != 0


def test_batched_descent_matches_one_start_at_a_time():
    land, _ = quadratic_landscape()
    starts = torch.randn(5, 2, generator=torch.Generator().manual_seed(1), dtype=F64)
    out = gradient_descent_batch(land, starts, lr=0.1, steps=30, record_every=10)
    for b in range(5):
        one = gradient_descent(land, starts[b], lr=0.1, max_iter=30, grad_tol=0.0)
        torch.testing.assert_close(out.thetas[b], one.theta, atol=1e-14, rtol=0)
    assert out.trajectory.shape == (4, 5, 2) and out.recorded_steps.tolist() == [0, 10, 20, 30]
    torch.testing.assert_close(out.trajectory[0], starts)


def test_batched_descent_flags_blow_up_and_keeps_the_last_finite_iterate():
    land = toy(lambda t: t[0] ** 3 + t[1] ** 3)
    out = gradient_descent_batch(land, t64(0.5, 0.5, -0.5, 0.5).reshape(2, 2), lr=0.01,
                                 steps=2000, blowup=1e6)
    assert out.diverged.tolist() == [False, True]
    assert torch.isfinite(out.thetas).all() and out.thetas[1].norm() <= 1e6
    # The flow x' = -3x^2 from -1/2 blows up at t = 2/3, i.e. after about 67 steps of 0.01.
    assert 66 <= int(out.diverged_at[1]) <= 90


def test_damped_newton_batch_finds_both_critical_points_of_a_cubic():
    land = toy(lambda t: t[0] ** 3 - 3 * t[0], 1)
    starts = torch.linspace(-3, 3, 12, dtype=F64)[:, None]
    out = damped_newton_batch(land, starts)
    assert out.converged.all()
    assert sorted(set(np.round(out.thetas.reshape(-1).numpy(), 9).tolist())) == [-1.0, 1.0]


def test_deduplicate_groups_nearby_points():
    pts = t64(0.0, 0.0, 1e-9, 0.0, 1.0, 1.0, 1.0, 1.0 + 1e-8, 5.0, 5.0).reshape(5, 2)
    clusters = deduplicate(pts, tol=1e-6)
    assert clusters.labels.tolist() == [0, 0, 1, 1, 2]
    assert clusters.counts.tolist() == [2, 2, 1]
    torch.testing.assert_close(clusters.representatives, pts[[0, 2, 4]])


# ------------------------------------------------------------------------ NTK Gram
def test_ntk_gram_of_a_linear_model_is_the_input_gram():
    X = torch.randn(6, 3, generator=torch.Generator().manual_seed(2), dtype=F64)
    land = Landscape(nn.Linear(3, 1), (X, torch.zeros(6, 1)))
    A = torch.cat([X, torch.ones(6, 1, dtype=F64)], dim=1)
    torch.testing.assert_close(ntk_gram(land, land.theta0), A @ A.T)
    assert ntk_lambda_min(land, land.theta0) == pytest.approx(
        float(torch.linalg.eigvalsh(A @ A.T)[0]))


@pytest.mark.parametrize("make", [
    lambda: nets.mlp([4, 7, 5, 3], "sigmoid", seed=1),
    lambda: nets.mlp([4, 6, 3], "relu", seed=2, bias=False),
    lambda: nets.two_layer(6, 4, "tanh", seed=3),
    lambda: nn.Sequential(nn.Linear(4, 5), nn.Softplus(beta=2.0, threshold=float("inf")), nn.Linear(5, 3)).double(),
], ids=["mlp-sigmoid", "mlp-relu-nobias", "two-layer", "sequential"])
def test_layered_ntk_gram_equals_the_jacobian_product(make):
    """The layer-by-layer sum (no Jacobian formed) against G G^T from autograd's jacrev."""
    gen = torch.Generator().manual_seed(7)
    model = make()
    m = 1 if isinstance(model, nets.TwoLayer) else 3
    X = torch.randn(9, 4, generator=gen, dtype=F64)
    land = Landscape(model, (X, torch.randn(9, m, generator=gen, dtype=F64)), loss="half_squared")
    theta = land.theta0 + 0.1 * torch.randn(land.dim, generator=gen, dtype=F64)
    G = land.jacobian(theta)
    torch.testing.assert_close(ntk_gram(land, theta), G @ G.T, rtol=1e-12, atol=1e-12)


def test_ntk_gram_of_an_mlp_behind_an_output_selector_uses_the_selected_outputs():
    """An output= callable changes what the loss sees: the layered route must not be used."""
    gen = torch.Generator().manual_seed(8)
    X = torch.randn(10, 4, generator=gen, dtype=F64)
    land = Landscape(nets.mlp([4, 5, 3], "tanh", seed=0), (X, torch.randn(10, 1, generator=gen, dtype=F64)),
                     output=lambda o: o[:, :1])
    G = land.jacobian(land.theta0)
    assert G.shape == (10, land.dim)
    torch.testing.assert_close(ntk_gram(land, land.theta0), G @ G.T, rtol=1e-12, atol=1e-12)


def test_ntk_gram_gives_the_pl_identity_for_two_layer_tanh():
    gen = torch.Generator().manual_seed(5)
    X = torch.randn(7, 3, generator=gen, dtype=F64)
    Y = torch.randn(7, generator=gen, dtype=F64)
    land = Landscape(nets.two_layer(9, 3, "tanh", seed=1), (X, Y), loss="mse", reduction="sum")
    theta = land.theta0
    K = ntk_gram(land, theta)
    params = land.layout.unflatten(theta)
    W, v = params["W"], params["v"]
    S = torch.tanh(X @ W.T)
    K_closed = S @ S.T + ((1 - S ** 2) * v) @ ((1 - S ** 2) * v).T * (X @ X.T)
    torch.testing.assert_close(K, K_closed)
    F, g = land.loss_and_grad(theta)
    r = land.outputs(theta).reshape(-1) - Y
    assert float(g @ g) == pytest.approx(4 * float(r @ K @ r), rel=1e-12)
    assert float(g @ g) >= 4 * ntk_lambda_min(land, theta) * float(F)
