"""The landscape core against finite differences, closed forms and independent loops."""

import pytest
import torch
from torch import nn

from valleys import DenseTooLargeError, InvalidParameterError, Landscape, ModelError, NonFiniteError, ShapeError, nets

torch.manual_seed(0)


def fd_grad(land, theta, eps=1e-6):
    E = torch.eye(land.dim, dtype=torch.float64)
    return torch.stack([(land.loss(theta + eps * e) - land.loss(theta - eps * e)) / (2 * eps) for e in E])


def fd_hvp(land, theta, v, eps=1e-5):
    return (land.grad(theta + eps * v) - land.grad(theta - eps * v)) / (2 * eps)


def make(kind):
    gen = torch.Generator().manual_seed(1)
    X = torch.randn(12, 3, generator=gen, dtype=torch.float64)
    if kind == "mlp":
        return Landscape(nets.mlp([3, 5, 4, 2], "tanh", seed=2), (X, torch.randn(12, 2, generator=gen)))
    if kind == "mlp-ce":
        return Landscape(nets.mlp([3, 6, 3], "softplus", seed=2), (X, torch.arange(12) % 3), loss="ce")
    if kind == "two-layer-relu":
        return Landscape(nets.two_layer(6, 3, "relu", seed=3), (X, torch.randn(12, generator=gen)))
    if kind == "deep-linear":
        return Landscape(nets.deep_linear([3, 4, 2], seed=4), (X, torch.randn(12, 2, generator=gen)),
                         reduction="sum")
    if kind == "toy":
        return Landscape.from_function(lambda t: (t[0] * t[1] - 1) ** 2 + torch.sin(t[2]) * t[0] ** 3, 3,
                                       theta0=torch.tensor([0.3, -0.7, 1.1]))
    raise AssertionError(kind)


KINDS = ["mlp", "mlp-ce", "two-layer-relu", "deep-linear", "toy"]


@pytest.mark.parametrize("kind", KINDS)
def test_grad_matches_central_differences(kind):
    land = make(kind)
    gen = torch.Generator().manual_seed(10)
    theta = land.theta0 + 0.1 * torch.randn(land.dim, generator=gen, dtype=torch.float64)
    assert torch.allclose(land.grad(theta), fd_grad(land, theta), rtol=1e-6, atol=1e-8)
    value, g = land.loss_and_grad(theta)
    assert torch.allclose(value, land.loss(theta)) and torch.allclose(g, land.grad(theta))


@pytest.mark.parametrize("kind", KINDS)
def test_hvp_and_hessian_match_finite_differences(kind):
    land = make(kind)
    gen = torch.Generator().manual_seed(11)
    theta = land.theta0 + 0.1 * torch.randn(land.dim, generator=gen, dtype=torch.float64)
    v = torch.randn(land.dim, generator=gen, dtype=torch.float64)
    hv = land.hvp(theta, v)
    assert torch.allclose(hv, fd_hvp(land, theta, v), rtol=1e-5, atol=1e-7)
    H = land.hessian(theta)
    assert torch.allclose(H, H.T)
    assert torch.allclose(H @ v, hv, rtol=1e-10, atol=1e-12)
    assert torch.allclose(land.hvps(theta, torch.eye(land.dim)[:3]), H[:3], atol=1e-12)


def test_deep_linear_one_layer_hessian_is_kronecker_closed_form():
    gen = torch.Generator().manual_seed(0)
    X, Y = torch.randn(9, 3, generator=gen, dtype=torch.float64), torch.randn(9, 2, generator=gen)
    land = Landscape(nets.deep_linear([3, 2]), (X, Y), reduction="sum")
    theta = torch.randn(land.dim, dtype=torch.float64)
    W = theta.reshape(2, 3)
    assert torch.allclose(land.loss(theta), ((X @ W.T - Y) ** 2).sum())
    assert torch.allclose(land.grad(theta).reshape(2, 3), 2 * (X @ W.T - Y).T @ X)
    assert torch.allclose(land.hessian(theta), torch.kron(torch.eye(2, dtype=torch.float64), 2 * X.T @ X))


def test_two_layer_relu_gradient_closed_form():
    land = make("two-layer-relu")
    theta = land.theta0
    p = land.layout.unflatten(theta)
    X, Y = land.inputs(), land.targets()[:, 0]
    pre = X @ p["W"].T
    r = torch.relu(pre) @ p["v"] - Y
    n = X.shape[0]
    gv = 2 / n * torch.relu(pre).T @ r
    gW = 2 / n * ((r[:, None] * (pre > 0) * p["v"]).T @ X)
    g = land.layout.unflatten(land.grad(theta))
    assert torch.allclose(g["v"], gv) and torch.allclose(g["W"], gW)


def test_toy_function_hessian_closed_form():
    land = Landscape.from_function(lambda t: (t[0] * t[1] - 1) ** 2, 2)
    u, v = 1.5, 2.0
    H = land.hessian(torch.tensor([u, v]))
    expected = torch.tensor([[2 * v * v, 4 * u * v - 2], [4 * u * v - 2, 2 * u * u]])
    assert torch.allclose(H, expected)



def test_from_function_goes_through_init_and_keeps_every_attribute():
    calls = []

    class Counted(Landscape):
        def __init__(self, *args, **kwargs):
            calls.append(kwargs)
            super().__init__(*args, **kwargs)

    land = Counted.from_function(lambda t: (t[0] * t[1] - 1) ** 2, 2, names=("u", "v"), chunk_size=7)
    assert len(calls) == 1 and isinstance(land, Counted)
    assert (land.reduction, land.batching, land.chunk_size, land.frozen) == ("sum", "auto", 7, ())
    assert land.loss_fn is None and land.module is None and land.output is None
    assert land.layout.names == ("u", "v") and land.n_samples == 0 and land.batches == []
    assert float(land.loss(torch.tensor([2.0, 1.0], dtype=torch.float64))) == 1.0
    with pytest.raises(InvalidParameterError, match="Landscape.from_function"):
        Landscape.from_function(lambda t: t.sum(), 2, chunk_size=0)

@pytest.mark.parametrize("kind", ["mlp", "mlp-ce", "toy"])
def test_batched_losses_and_grads_equal_a_loop(kind):
    land = make(kind)
    thetas = land.theta0 + 0.3 * torch.randn(7, land.dim, dtype=torch.float64)
    assert torch.allclose(land.losses(thetas), torch.stack([land.loss(t) for t in thetas]))
    assert torch.allclose(land.grads(thetas), torch.stack([land.grad(t) for t in thetas]))


def test_rowwise_toy_matches_pointwise():
    f = lambda t: (t[..., 0] * t[..., 1] - 1) ** 2  # noqa: E731
    fast, slow = Landscape.from_function(f, 2, rowwise=True), Landscape.from_function(f, 2)
    thetas = torch.randn(20, 2, dtype=torch.float64)
    assert torch.allclose(fast.grads(thetas), slow.grads(thetas))
    assert torch.allclose(fast.hessians(thetas)[3], slow.hessian(thetas[3]))


def test_batches_are_weighted_by_size_and_reductions_scale():
    gen = torch.Generator().manual_seed(5)
    X, Y = torch.randn(10, 3, generator=gen), torch.randn(10, 1, generator=gen)
    model = nets.mlp([3, 4, 1], seed=0)
    full = Landscape(model, (X, Y))
    batched = Landscape(model, [(X[:3], Y[:3]), (X[3:], Y[3:])])
    summed = Landscape(model, (X, Y), reduction="sum")
    t = full.theta0
    assert torch.allclose(full.loss(t), batched.loss(t))
    assert torch.allclose(full.grad(t), batched.grad(t))
    assert torch.allclose(summed.loss(t), 10 * full.loss(t))


def test_outputs_features_and_jacobian():
    land = make("mlp")
    t = land.theta0
    p = land.layout.unflatten(t)
    X = land.inputs()
    h1 = torch.tanh(X @ p["W1"].T + p["b1"])
    assert torch.allclose(land.features(t, 1), h1)
    assert land.outputs(t).shape == (12, 2)
    J = land.jacobian(t)
    v = torch.randn(land.dim, dtype=torch.float64)
    eps = 1e-6
    fd = (land.outputs(t + eps * v) - land.outputs(t - eps * v)).reshape(-1) / (2 * eps)
    assert torch.allclose(J @ v, fd, atol=1e-7)


def test_model_is_cast_to_float64_and_user_model_untouched():
    model = nn.Sequential(nn.Linear(3, 4, dtype=torch.float32), nn.ReLU(),
                          nn.Linear(4, 1, dtype=torch.float32))
    land = Landscape(model, (torch.randn(5, 3), torch.randn(5)))
    assert land.theta0.dtype == torch.float64
    assert next(model.parameters()).dtype == torch.float32
    assert land.features(land.theta0, 1).shape == (5, 4)


def test_refuses_dropout_and_batchnorm_in_training_mode():
    X, Y = torch.randn(6, 3), torch.randn(6, 1)
    for layer in (nn.Dropout(0.5), nn.BatchNorm1d(4)):
        model = nn.Sequential(nn.Linear(3, 4), layer, nn.Linear(4, 1))
        with pytest.raises(ModelError, match=r"training mode.*model.eval\(\)"):
            Landscape(model, (X, Y))
        Landscape(model.eval(), (X, Y))


def test_refuses_nondeterministic_functional_model():
    def noisy(params, X):
        return X @ params["w"] + torch.randn(X.shape[0], dtype=X.dtype)

    with pytest.raises(ModelError, match="not a deterministic function"):
        Landscape(noisy, (torch.randn(4, 2), torch.randn(4)), params={"w": torch.zeros(2)})


def test_dense_hessian_refusal_names_matrix_free_method():
    land = make("mlp")
    with pytest.raises(DenseTooLargeError, match="hessian_operator"):
        land.hessian(land.theta0, max_dim=10)


def test_wrong_theta_length_and_nonfinite_are_clear_errors():
    land = make("mlp")
    with pytest.raises(ShapeError, match=f"length d = {land.dim}"):
        land.loss(torch.zeros(land.dim + 1))
    bad = land.theta0.clone()
    bad[land.layout.slice("b2")] = float("nan")
    with pytest.raises(NonFiniteError, match="b2"):
        land.check_finite(bad)
    big = land.theta0.clone()
    big[land.layout.slice("W3")] = 1e200
    with pytest.raises(NonFiniteError, match="W3"):
        land.check_finite(big)


def test_data_errors():
    from valleys import DataError

    model = nets.mlp([3, 2, 1])
    with pytest.raises(ShapeError, match="same number of samples"):
        Landscape(model, (torch.randn(5, 3), torch.randn(4)))
    with pytest.raises(NonFiniteError, match="X holds NaN"):
        Landscape(model, (torch.full((5, 3), float("nan")), torch.randn(5)))
    with pytest.raises(DataError, match="non-integer"):
        Landscape(nets.mlp([3, 2, 3]), (torch.randn(5, 3), torch.tensor([0.5, 1, 2, 0, 1])), loss="ce")
