"""The one plane evaluator (valleys.core.plane) against a plain per-point loop of land.loss.

Every route, on every kind of model, must equal ``land.loss(c + a u + b v)`` at each grid
point: to 1e-12 relative in float64 and 1e-5 in float32. ``Landscape.plane``,
``surface.plane`` and ``surface.line`` must all go through it.
"""

import numpy as np
import pytest
import torch
from torch import nn

from valleys import Landscape, nets
from valleys.core import plane as core_plane
from valleys.core.plane import plane_losses, plane_route
from valleys.surface import line, plane

TOL = {torch.float64: 1e-12, torch.float32: 1e-5}
DTYPES = [torch.float64, torch.float32]


def _data(n, shape, gen, classes=3):
    X = torch.randn(n, *shape, generator=gen, dtype=torch.float64)
    return X, torch.randint(0, classes, (n,), generator=gen)


def _landscape(kind, dtype, loss="ce"):
    gen = torch.Generator().manual_seed(3)
    torch.manual_seed(4)
    if kind == "mlp_small_fan_in":  # a valleys MLP (its affine_stack())
        X, y = _data(60, (5,), gen)
        model = nets.mlp([5, 7, 6, 3], "tanh", seed=1)
    elif kind == "mlp_large_fan_in":  # an nn.Sequential whose first layer has fan-in >= 256
        X, y = _data(40, (300,), gen)
        model = nn.Sequential(nn.Linear(300, 8), nn.ReLU(), nn.Linear(8, 3))
    elif kind == "cnn":
        X, y = _data(30, (2, 6, 6), gen)
        model = nn.Sequential(nn.Conv2d(2, 4, 3), nn.Tanh(), nn.Flatten(), nn.Linear(64, 3))
    elif kind == "frozen_first":
        X, y = _data(50, (6,), gen)
        model = nn.Sequential(nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 3))
        model[0].weight.requires_grad_(False)
    elif kind == "frozen_last":
        X, y = _data(50, (6,), gen)
        model = nn.Sequential(nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 3))
        model[2].bias.requires_grad_(False)
    elif kind == "two_layer":
        X = torch.randn(50, 4, generator=gen, dtype=torch.float64)
        y = torch.randn(50, generator=gen, dtype=torch.float64)
        model = nets.two_layer(6, 4, "tanh", seed=2)
        return Landscape(model.to(dtype), (X.to(dtype), y.to(dtype)), loss="mse", dtype=dtype)
    else:
        raise AssertionError(kind)
    return Landscape(model.to(dtype), (X.to(dtype), y), loss=loss, dtype=dtype)


def _functional(dtype):
    def f(t):
        return (t[0] ** 2 - 1) ** 2 + torch.sin(t[1]) * t[2] + 0.5 * (t ** 2).sum()

    return Landscape.from_function(f, 3, dtype=dtype)


def _loop(land, c, u, v, alphas, betas):
    """The independent reference: the landscape's own loss at every grid point."""
    return torch.tensor([[float(land.loss(c + float(a) * u + float(b) * v)) for b in betas] for a in alphas],
                        dtype=torch.float64)


def _plane_args(land, seed=5):
    gen = torch.Generator().manual_seed(seed)
    u, v = (0.3 * torch.randn(land.dim, generator=gen, dtype=torch.float64).to(land.dtype) for _ in range(2))
    alphas = torch.linspace(-1, 1, 4, dtype=land.dtype)
    betas = torch.linspace(-0.5, 1, 3, dtype=land.dtype)
    return land.theta0, u, v, alphas, betas


def _assert_close(got, ref, dtype):
    got = got.to(torch.float64)
    rel = ((got - ref).abs() / ref.abs().clamp_min(1e-300)).max()
    assert float(rel) <= TOL[dtype], float(rel)


KINDS = {"mlp_small_fan_in": "stack", "mlp_large_fan_in": "stack", "cnn": "batched", "frozen_first": "batched",
         "frozen_last": "batched", "two_layer": "stack"}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_route_equals_the_per_point_loss(kind, dtype):
    land = _landscape(kind, dtype)
    assert plane_route(land)[0] == KINDS[kind]
    c, u, v, alphas, betas = _plane_args(land)
    ref = _loop(land, c, u, v, alphas, betas)
    for route in ("auto", "stack", "factored", "batched"):
        got = plane_losses(land, c, u, v, alphas, betas, route=route, min_fan_in=0)
        assert got.shape == (4, 3) and got.dtype == dtype
        _assert_close(got, ref, dtype)
    _assert_close(land.plane(c, u, v, alphas, betas), ref, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_functional_landscape_takes_the_batched_route(dtype):
    land = _functional(dtype)
    assert plane_route(land) == ("batched", None)
    c, u, v, alphas, betas = _plane_args(land)
    _assert_close(land.plane(c, u, v, alphas, betas), _loop(land, c, u, v, alphas, betas), dtype)


def test_the_forced_routes_that_apply_are_the_ones_used():
    land = _landscape("mlp_large_fan_in", torch.float64)
    c, u, v, alphas, betas = _plane_args(land)
    for route, used in (("stack", "stack"), ("factored", "factored"), ("batched", "batched")):
        plane_losses(land, c, u, v, alphas, betas, route=route)
        assert land.batch_plans["plane"][0] == used
    frozen = _landscape("frozen_first", torch.float64)  # no route but the batched one applies
    for route in ("stack", "factored"):
        plane_losses(frozen, *_plane_args(frozen), route=route, min_fan_in=0)
        assert frozen.batch_plans["plane"][0] == "batched"


@pytest.mark.parametrize("in_channels", [1, 16])
def test_the_first_layer_of_a_large_non_chain_model_is_factored_out(in_channels):
    gen = torch.Generator().manual_seed(0)
    X, y = _data(1200, (in_channels, 5, 5), gen)  # fan-in 16 or 256; N * d > SMALL_WORK
    model = nn.Sequential(nn.Conv2d(in_channels, 40, 4), nn.ReLU(), nn.Flatten(), nn.Linear(160, 3)).double()
    land = Landscape(model, (X, y), loss="ce")
    assert land.n_samples * land.dim > 2 ** 20
    assert plane_route(land)[0] == "factored"
    c, u, v, alphas, betas = _plane_args(land)
    _assert_close(land.plane(c, u, v, alphas[:2], betas[:2]), _loop(land, c, u, v, alphas[:2], betas[:2]),
                  torch.float64)


@pytest.mark.parametrize("loop_above", [0, 10 ** 9])
def test_the_stack_route_per_point_and_in_chunks_agree(monkeypatch, loop_above):
    land = _landscape("mlp_small_fan_in", torch.float64)
    c, u, v, alphas, betas = _plane_args(land)
    monkeypatch.setattr(core_plane, "LOOP_ABOVE", loop_above)
    for chunk in (1, 5, 1024):
        _assert_close(plane_losses(land, c, u, v, alphas, betas, chunk=chunk), _loop(land, c, u, v, alphas, betas),
                      torch.float64)


def test_a_chain_that_does_not_reproduce_the_outputs_is_refused():
    gen = torch.Generator().manual_seed(1)
    X, y = _data(20, (4,), gen)
    model = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3)).double()
    land = Landscape(model, (X, y), loss="ce", output=lambda o: 2.0 * o)
    assert core_plane.affine_stack(land) is None
    c, u, v, alphas, betas = _plane_args(land)
    _assert_close(land.plane(c, u, v, alphas, betas), _loop(land, c, u, v, alphas, betas), torch.float64)


@pytest.mark.parametrize("dtype", DTYPES)
def test_surface_plane_line_and_landscape_plane_are_the_one_evaluator(dtype):
    land = _landscape("mlp_small_fan_in", dtype)
    c, u, v, alphas, betas = _plane_args(land)
    s = plane(land, c, grid=alphas.tolist(), grid_y=betas.tolist(), directions=torch.stack([u, v]))
    assert land.batch_plans["plane"][0] == "stack"
    np.testing.assert_array_equal(s.losses, land.plane(c, u, v, alphas, betas).to(torch.float64).numpy().T)
    ln = line(land, c, grid=alphas.tolist(), direction=u)
    ref = _loop(land, c, u, torch.zeros_like(u), alphas, betas[:1])[:, 0]
    _assert_close(torch.as_tensor(ln.losses), ref, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("activation", "loss", "bias", "scale"),
                         [("relu", "ce", True, 1.0), ("relu", "ce", True, 30.0), ("sigmoid", "ce", False, 1.0),
                          ("leaky_relu", "ce", True, 1.0), ("relu", "mse", True, 1.0)])
def test_the_per_point_loop_equals_the_per_point_loss(monkeypatch, dtype, activation, loss, bias, scale):
    """The per-point loop (in-place activations, the closed-form cross-entropy on transposed
    logits, buffers reused across points) against ``land.loss``, also with logits in the
    hundreds (``scale``: the log-sum-exp shift) and small losses."""
    gen = torch.Generator().manual_seed(7)
    X = scale * torch.randn(80, 6, generator=gen, dtype=torch.float64)
    model = nets.mlp([6, 9, 8, 4], activation, bias=bias, seed=3)
    if loss == "ce":
        with torch.no_grad():  # labels the centre mostly classifies right: small losses
            y = model.double()(X).argmax(1)
        y[:5] = (y[:5] + 1) % 4
        data = (X.to(dtype), y)
    else:
        data = (X.to(dtype), torch.randn(80, 4, generator=gen, dtype=torch.float64).to(dtype))
    land = Landscape(model.to(dtype), data, loss=loss, dtype=dtype)
    monkeypatch.setattr(core_plane, "LOOP_ABOVE", 0)
    c, u, v, alphas, betas = _plane_args(land)
    u, v = 0.1 * u, 0.1 * v
    got = plane_losses(land, c, u, v, alphas, betas, route="stack")
    assert land.batch_plans["plane"][0] == "stack"
    _assert_close(got, _loop(land, c, u, v, alphas, betas), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_the_per_point_loop_of_a_single_layer_equals_the_per_point_loss(monkeypatch, dtype):
    """Softmax regression (one ``nn.Linear``): the per-point loop has no deeper layer, so its
    logits are the factored first layer's (samples, classes), not the transposed ones."""
    gen = torch.Generator().manual_seed(8)
    X, y = _data(70, (5,), gen, classes=4)
    land = Landscape(nn.Sequential(nn.Linear(5, 4)).to(dtype), (X.to(dtype), y), loss="ce", dtype=dtype)
    monkeypatch.setattr(core_plane, "LOOP_ABOVE", 0)
    c, u, v, alphas, betas = _plane_args(land)
    got = plane_losses(land, c, u, v, alphas, betas, route="stack")
    assert land.batch_plans["plane"][0] == "stack"
    _assert_close(got, _loop(land, c, u, v, alphas, betas), dtype)
