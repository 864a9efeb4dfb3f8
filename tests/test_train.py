"""valleys.train: schedules, single-network training against closed forms, batched = one at a time."""

import numpy as np
import pytest
import torch

from valleys import InvalidParameterError, Landscape, nets
from valleys.train import MLPStack, fit, fit_batch, fit_stack, lr_at

torch.set_num_threads(1)
EPS = torch.finfo(torch.float64).eps
#: Batched and one-at-a-time training run the same float64 updates through different kernels
#: (batched GEMMs, vmap, one net's products), so they differ by rounding, accumulated over the
#: updates. The bound used:  max|theta_batched - theta_single| <= ROUNDING_GROWTH * eps * steps
#: * max(1, max|theta|), with steps the number of parameter updates. The measured ratio is at most
#: 0.13 with AVX-512, AVX2 and scalar (MKL_CBWR=COMPATIBLE) kernels; 64 leaves a wide margin.
ROUNDING_GROWTH = 64
#: Logit margins (correct class minus the best other) closer to zero than this could flip an
#: early-stop decision between two runs that agree to rounding (about 1e-13 here).
MARGIN_FLOOR = 1e-8


def agree_tol(theta: torch.Tensor, steps: int) -> float:
    """ROUNDING_GROWTH * eps * steps * max(1, max|theta|): the allowed rounding difference of two runs."""
    return ROUNDING_GROWTH * EPS * max(1, steps) * max(1.0, float(theta.abs().max()))


def _regression(n=40, d=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=torch.float64)
    Y = torch.randn(n, 2, generator=g, dtype=torch.float64)
    return X, Y


def test_step_schedule_divides_by_ten_at_half_and_three_quarters():
    assert [lr_at(2.0, s, 8, "step") for s in (0, 3, 4, 5, 6, 7)] == pytest.approx([2, 2, 0.2, 0.2, 0.02, 0.02])
    assert lr_at(2.0, 7, 8, "constant") == 2.0


@pytest.mark.parametrize("method", ["gd", "lbfgs", "lm"])
def test_fit_linear_regression_reaches_least_squares_solution(method):
    X, Y = _regression()
    land = Landscape(torch.nn.Linear(3, 2), (X, Y), loss="mse")
    res = fit(land, method=method, lr=0.2 if method == "gd" else 1.0, steps=3000, grad_tol=1e-12,
              progress=False)
    A = torch.cat([X, torch.ones(len(X), 1, dtype=torch.float64)], 1)
    sol = torch.linalg.lstsq(A, Y).solution  # independent: normal equations by LAPACK
    W, b = land.layout.unflatten(res.theta).values()
    assert torch.allclose(W.T, sol[:3], atol=1e-8) and torch.allclose(b, sol[3], atol=1e-8)
    assert res.reason in ("gradient tolerance", "no progress")


def test_fit_momentum_matches_a_hand_written_heavy_ball_loop():
    X, Y = _regression()
    land = Landscape(nets.mlp([3, 5, 2], "tanh", seed=1), (X, Y))
    res = fit(land, lr=0.05, steps=50, momentum=0.9, nesterov=True, progress=False)
    theta, buf = land.theta0.clone(), torch.zeros(land.dim, dtype=torch.float64)
    for _ in range(50):
        g = land.grad(theta)
        buf = 0.9 * buf + g
        theta = theta - 0.05 * (g + 0.9 * buf)
    assert float((res.theta - theta).abs().max()) < 1e-13


def test_trainable_blocks_move_and_frozen_blocks_stay():
    X, Y = _regression()
    land = Landscape(nets.mlp([3, 5, 2], "tanh", seed=1), (X, Y))
    res = fit(land, lr=0.1, steps=20, trainable=("W2", "b2"), progress=False)
    before, after = land.layout.unflatten(land.theta0), land.layout.unflatten(res.theta)
    assert torch.equal(before["W1"], after["W1"]) and torch.equal(before["b1"], after["b1"])
    assert not torch.equal(before["W2"], after["W2"])


def test_early_stop_at_zero_training_error_and_history_frame():
    g = torch.Generator().manual_seed(3)
    X = torch.randn(30, 2, generator=g, dtype=torch.float64)
    y = (X[:, 0] > 0).long()
    res = fit(torch.nn.Linear(2, 2), (X, y), loss="ce", lr=0.5, steps=500, stop_at_zero_error=True,
              progress=False)
    assert res.reason == "zero training error" and res.train_error == 0 and res.steps < 500
    assert {"step", "loss", "lr", "train_error"} <= set(res.history.columns)
    assert res.to_dict()["history"][-1]["train_error"] == 0


def test_fit_refuses_bad_settings():
    X, Y = _regression()
    with pytest.raises(InvalidParameterError, match="batch_size"):
        fit(torch.nn.Linear(3, 2), (X, Y), method="sgd", progress=False)
    with pytest.raises(InvalidParameterError, match="data"):
        fit(torch.nn.Linear(3, 2))
    with pytest.raises(InvalidParameterError, match="trainable"):
        fit(torch.nn.Linear(3, 2), (X, Y), trainable=("nope",))
    with pytest.raises(InvalidParameterError, match="Nesterov"):
        fit(torch.nn.Linear(3, 2), (X, Y), nesterov=True)
    with pytest.raises(InvalidParameterError, match="method"):
        fit(torch.nn.Linear(3, 2), (X, Y), method="adam")
    with pytest.raises(InvalidParameterError, match="squared loss"):
        fit(torch.nn.Linear(3, 2), (X, Y[:, 0].gt(0).long()), loss="ce", method="lm")


def test_lm_reaches_a_zero_loss_point_of_a_wide_net_superlinearly():
    """Levenberg–Marquardt on an interpolating tanh net stops at the gradient tolerance, and its final
    steps shrink the gradient by orders of magnitude each, faster and faster (superlinear convergence).

    The convergence is judged on the iterates away from the float64 floor (1e-10 < ||g|| < 1e-1),
    whose values agree to many digits across BLAS kernels: each step there gains more than a factor
    10, and the order p fitted to log g_{k+1} = p log g_k + c exceeds 1 (measured 1.126). The last
    iterate, at the floor, is only checked against the tolerance and the loss bound it implies."""
    X, Y = _regression(n=12, d=3, seed=4)
    land = Landscape(nets.mlp([3, 30, 2], "tanh", seed=2), (X, Y), loss="half_squared", reduction="sum")
    grad_tol = 1e-11
    res = fit(land, method="lm", steps=200, grad_tol=grad_tol, progress=False)
    assert res.reason == "gradient tolerance" and res.method == "lm"
    assert float(land.grad(res.theta).norm()) <= grad_tol  # independent: autograd gradient
    # L = ||r||^2 / 2 and grad L = J^T r with J (24 x 182) of full row rank: ||r|| <= ||grad L|| / sigma_min(J)
    sigma_min = float(torch.linalg.svdvals(land.jacobian(res.theta)).min())
    assert res.loss <= 0.5 * (grad_tol / sigma_min) ** 2
    g = res.history.grad_norm.to_numpy()
    final = g[(g > 1e-10) & (g < 1e-1)]
    assert len(final) >= 3 and (final[1:] < 0.1 * final[:-1]).all()
    order = np.polyfit(np.log(final[:-1]), np.log(final[1:]), 1)[0]
    assert order > 1.05


def test_lm_with_frozen_blocks_solves_the_last_layer_least_squares():
    """Only the output layer trains: the loss is linear least squares in (W2, b2), so LM must land on
    the lstsq solution computed by LAPACK from the frozen features."""
    X, Y = _regression(n=25, d=3, seed=6)
    land = Landscape(nets.mlp([3, 6, 2], "sigmoid", seed=3), (X, Y), loss="mse")
    res = fit(land, method="lm", steps=100, grad_tol=1e-12, trainable=("W2", "b2"), progress=False)
    before, after = land.layout.unflatten(land.theta0), land.layout.unflatten(res.theta)
    assert torch.equal(before["W1"], after["W1"]) and torch.equal(before["b1"], after["b1"])
    F = torch.sigmoid(X @ before["W1"].T + before["b1"])
    A = torch.cat([F, torch.ones(len(X), 1, dtype=torch.float64)], 1)
    sol = torch.linalg.lstsq(A, Y).solution
    assert torch.allclose(after["W2"].T, sol[:6], atol=1e-8) and torch.allclose(after["b2"], sol[6], atol=1e-8)


@pytest.mark.parametrize(("act", "loss", "m", "group"),
                         [("tanh", "mse", 1, None), ("tanh", "mse", 1, 2), ("tanh", "mse", 3, 1),
                          ("relu", "half_squared", 3, None), ("relu", "mse", 1, 2),
                          ("sigmoid", "mse", 1, 2), ("sigmoid", "ce", 4, None),
                          ("softplus", "ce", 4, 2), ("softplus", "mse", 1, None)])
def test_two_layer_gradients_written_out_equal_autograd(act, loss, m, group):
    """The two-layer route (GEMMs and the backward pass written out, nets taken in groups,
    including a last group smaller than the others; autograd only through the loss and through
    activations without a written-out derivative) against autograd through MLPStack.forward."""
    from valleys.core.losses import get_loss
    from valleys.train._two_layer import two_layer_loss_grads

    X, Y = _regression(n=20, d=3, seed=9)
    Y = torch.arange(20) % m if loss == "ce" else torch.randn(20, m, dtype=torch.float64)
    stack = MLPStack.from_modules([nets.mlp([3, 7, m], act, seed=s) for s in range(3)])
    fn = get_loss(loss)
    values, out, grads = two_layer_loss_grads(stack, stack.params, X, Y, fn, group=group)
    leaves = {k: v.detach().clone().requires_grad_(True) for k, v in stack.params.items()}
    ref_out = stack.forward(X, leaves)
    Yx = Y.expand(3, *Y.shape).reshape(3 * 20, *Y.shape[1:])
    ref = fn(ref_out.reshape(60, -1), Yx).reshape(3, 20).mean(1)
    ref_grads = torch.autograd.grad(ref.sum(), list(leaves.values()))
    torch.testing.assert_close(values, ref.detach(), rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(out, ref_out.detach(), rtol=1e-12, atol=1e-14)
    for name, g in zip(leaves, ref_grads, strict=True):
        torch.testing.assert_close(grads[name], g, rtol=1e-12, atol=1e-14)


def test_stack_thetas_use_the_landscape_layout():
    nets_ = [nets.skip_to_output(nets.mlp([3, 4, 4, 2], "sigmoid", seed=s), 5, seed=s) for s in range(2)]
    stack = MLPStack.from_modules(nets_)
    X, _ = _regression()
    for j, net in enumerate(nets_):
        land = Landscape(net, (X, torch.zeros(len(X), 2, dtype=torch.float64)))
        assert torch.equal(stack.thetas()[j], land.theta0)
        assert torch.allclose(stack.forward(X)[j], net.double()(X), atol=1e-14)
    back = stack.to_modules()
    assert torch.equal(MLPStack.from_modules(back).thetas(), stack.thetas())


@pytest.mark.parametrize("kw", [
    {"lr": 0.05, "steps": 200},
    {"lr": 0.02, "steps": 200, "momentum": 0.9, "nesterov": True, "schedule": "step"},
    {"lr": 0.05, "steps": 8, "method": "sgd", "batch_size": 16, "momentum": 0.5},
])
@pytest.mark.parametrize("widths", [[3, 6, 5, 2], [3, 7, 2], [3, 7, 1]], ids=["deep", "two-layer", "one-output"])
def test_batched_training_equals_one_at_a_time(kw, widths):
    X, Y = _regression(n=48)
    Y = Y[:, : widths[-1]]
    nets_ = [nets.mlp(widths, "tanh", seed=s) for s in range(4)]
    batched = fit_stack(MLPStack.from_modules(nets_), X, Y, progress=False, **kw)
    singles = torch.stack([fit(Landscape(n, (X, Y)), progress=False, **kw).theta for n in nets_])
    updates = kw["steps"] * (-(-len(X) // kw["batch_size"]) if "batch_size" in kw else 1)
    tol = agree_tol(singles, updates)
    assert float((batched.thetas - singles).abs().max()) <= tol
    losses = torch.tensor([float(Landscape(n, (X, Y)).loss(t)) for n, t in zip(nets_, singles, strict=False)])
    assert torch.allclose(batched.losses, losses, rtol=ROUNDING_GROWTH * EPS * updates, atol=tol)


def test_batched_rand_mode_and_per_net_learning_rates_equal_one_at_a_time():
    X, _ = _regression(n=48)
    y = (X[:, 0] > 0).long()
    nets_ = [nets.skip_to_output(nets.mlp([3, 6, 6, 2], "sigmoid", seed=s), 8, seed=s) for s in range(3)]
    lrs = torch.tensor([0.1, 0.3, 1.0], dtype=torch.float64)
    batched = fit_stack(MLPStack.from_modules(nets_), X, y, loss="ce", lr=lrs, steps=100,
                        trainable=("V",), progress=False)
    singles = torch.stack([fit(Landscape(n, (X, y), loss="ce"), lr=float(lr), steps=100,
                               trainable=("V",), progress=False).theta for n, lr in zip(nets_, lrs, strict=False)])
    assert float((batched.thetas - singles).abs().max()) <= agree_tol(singles, 100)


def test_vmap_route_equals_one_at_a_time():
    X, Y = _regression()
    nets_ = [nets.mlp([3, 5, 2], "tanh", seed=s) for s in range(3)]
    land = Landscape(nets_[0], (X, Y))
    starts = MLPStack.from_modules(nets_).thetas()
    batched = fit_batch(land, starts, lr=0.05, steps=100, momentum=0.9, progress=False)
    singles = torch.stack([fit(land, theta0=t, lr=0.05, steps=100, momentum=0.9, progress=False).theta
                           for t in starts])
    assert float((batched.thetas - singles).abs().max()) <= agree_tol(singles, 100)


def _smallest_margins(land: Landscape, y: torch.Tensor, lr: float, steps: int) -> list[float]:
    """Plain gradient descent written out: min over samples of (correct logit - best other) at steps 0..steps."""
    theta, margins = land.theta0.clone(), []
    for _ in range(steps + 1):
        out = land.outputs(theta)
        other = out.scatter(1, y[:, None], -torch.inf).max(1).values
        margins.append(float((out.gather(1, y[:, None])[:, 0] - other).min()))
        theta = theta - lr * land.grad(theta)
    return margins


def test_stack_early_stop_freezes_each_net_on_its_own():
    """Each net of the stack stops at its own first zero-error step and equals the single run stopped there.

    A stop step is discrete: it is compared exactly only after checking, on an independent
    gradient-descent replay, that no margin along the way lies within MARGIN_FLOOR of zero
    (so no rounding difference between the kernels can move it)."""
    g = torch.Generator().manual_seed(5)
    X = torch.randn(40, 2, generator=g, dtype=torch.float64)
    y = (X[:, 0] > 0).long()
    nets_ = [nets.mlp([2, 8, 2], "tanh", seed=s) for s in range(3)]
    res = fit_stack(MLPStack.from_modules(nets_), X, y, loss="ce", lr=0.5, steps=400,
                    stop_at_zero_error=True, progress=False)
    assert (res.train_errors == 0).all() and (res.stopped_at < 400).all()
    for j, net in enumerate(nets_):  # a net frozen at its stop equals the single run stopped there
        land = Landscape(net, (X, y), loss="ce")
        stop = int(res.stopped_at[j])
        margins = _smallest_margins(land, y, 0.5, stop)
        assert min(abs(m) for m in margins) > MARGIN_FLOOR
        assert all(m < 0 for m in margins[:-1]) and margins[-1] > 0  # zero errors first at `stop`
        single = fit(land, lr=0.5, steps=400, stop_at_zero_error=True, progress=False)
        assert single.steps == stop
        assert float((single.theta - res.thetas[j]).abs().max()) <= agree_tol(single.theta, stop)


def test_fit_stack_refuses_mismatched_data():
    from valleys import ShapeError

    stack = MLPStack.from_modules([nets.mlp([3, 4, 2], seed=0)])
    X, Y = _regression()
    with pytest.raises(ShapeError, match="X of shape"):
        fit_stack(stack, X[:, :2], Y, progress=False)
    with pytest.raises(InvalidParameterError, match="trainable"):
        fit_stack(stack, X, Y, trainable=("V",), progress=False)


def test_lm_stops_without_a_step_when_the_jacobian_is_not_finite():
    """sqrt(|a|) has an infinite derivative at a = 0: LM must stop ('no progress'), not loop."""
    X, Y = _regression(n=10, d=2, seed=1)

    def model(params, X):
        return params["a"].abs().sqrt() * X[:, :1]

    land = Landscape(model, (X, Y[:, :1]), params={"a": torch.zeros(1, dtype=torch.float64)})
    res = fit(land, method="lm", steps=10, progress=False)
    assert res.reason == "no progress" and res.steps == 0 and torch.equal(res.theta, land.theta0)
