"""Surfaces: grids, direction normalisation, values against direct evaluation."""

import numpy as np
import pytest
import torch

from valleys import InvalidParameterError, Landscape
from valleys.nets import mlp
from valleys.surface import direction, line, parse_grid, plane, plane_through

torch.set_num_threads(1)
D = torch.float64


def _land():
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(30, 4, generator=gen, dtype=D)
    y = torch.randint(0, 3, (30,), generator=gen)
    return Landscape(mlp([4, 6, 5, 3], "tanh"), (X, y), loss="ce")


def test_parse_grid_and_errors():
    assert parse_grid("0:1:3").tolist() == [0.0, 0.5, 1.0]
    for bad in ("1:0:3", "0:1", "a:b:c", "0:1:1"):
        with pytest.raises(InvalidParameterError):
            parse_grid(bad)


def test_filter_normalisation_matches_theta_rows_and_ignores_biases():
    land = _land()
    theta = land.theta0
    d = direction(land, theta, seed=3)
    blocks_d, blocks_t = land.layout.unflatten(d), land.layout.unflatten(theta)
    for name in blocks_d:
        if blocks_d[name].ndim == 1:
            assert torch.all(blocks_d[name] == 0)
        else:
            torch.testing.assert_close(blocks_d[name].norm(dim=1), blocks_t[name].norm(dim=1))
    d2 = direction(land, theta, normalization="layer", ignore_bias=False, seed=3)
    for name, b in land.layout.unflatten(d2).items():
        torch.testing.assert_close(b.norm(), blocks_t[name].norm())


def test_plane_values_equal_direct_evaluation_at_random_grid_points():
    land = _land()
    s = plane(land, land.theta0, grid="-1:1:9", grid_y="-0.5:0.5:7", seed=1)
    assert s.losses.shape == (7, 9)
    rng = np.random.default_rng(0)
    for _ in range(6):
        i, j = rng.integers(7), rng.integers(9)
        theta = land.theta0 + s.x[j] * torch.as_tensor(s.directions[0]) + s.y[i] * torch.as_tensor(s.directions[1])
        assert abs(float(land.loss(theta)) - s.losses[i, j]) <= 1e-12 * max(1.0, s.losses[i, j])
    frame = s.to_frame()
    assert len(frame) == 63
    np.testing.assert_allclose(land.losses(s.points()).numpy(), frame["loss"].to_numpy(), rtol=1e-12)


def test_line_interpolation_and_plane_through_three_points(tmp_path):
    land = _land()
    a = land.theta0
    b = a + 0.3 * torch.randn(land.dim, generator=torch.Generator().manual_seed(1), dtype=D)
    c = a + 0.3 * torch.randn(land.dim, generator=torch.Generator().manual_seed(2), dtype=D)
    ln = line(land, a, end=b, grid="0:1:5")
    assert abs(ln.losses[-1] - float(land.loss(b))) < 1e-12 and abs(ln.losses[0] - float(land.loss(a))) < 1e-12
    s = plane_through(land, a, b, c, grid="-0.5:1.5:21")
    cx, cy = s.meta["points"]["c"]
    back = torch.as_tensor(s.origin) + cx * torch.as_tensor(s.directions[0]) + cy * torch.as_tensor(s.directions[1])
    torch.testing.assert_close(back, c)
    s.save_npz(tmp_path / "s.npz")
    z = np.load(tmp_path / "s.npz")
    assert z["directions"].shape == (2, land.dim)
    np.testing.assert_array_equal(z["losses"], s.losses)


def test_hessian_directions_of_a_quadratic():
    H = torch.diag(torch.tensor([5.0, 3.0, 1.0], dtype=D))
    land = Landscape.from_function(lambda t: 0.5 * t @ H @ t, 3)
    s = plane(land, torch.zeros(3, dtype=D), grid="-1:1:3", directions="hessian")
    top = np.abs(s.directions)
    np.testing.assert_allclose(top[0], [1, 0, 0], atol=1e-6)
    np.testing.assert_allclose(top[1], [0, 1, 0], atol=1e-6)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("loss", ["ce", "mse"])
def test_affine_plane_route_equals_direct_evaluation(dtype, loss):
    from valleys.core import plane as affine

    gen = torch.Generator().manual_seed(0)
    X = torch.randn(40, 5, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 3, (40,), generator=gen) if loss == "ce" else torch.randn(40, 3, generator=gen,
                                                                                    dtype=torch.float64)
    model = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.Linear(7, 6), torch.nn.ReLU(),
                                torch.nn.Linear(6, 3)).to(dtype)
    land = Landscape(model, (X.to(dtype), y if loss == "ce" else y.to(dtype)), loss=loss, dtype=dtype)
    assert affine.plane_route(land)[0] == "stack"
    D = torch.randn(2, land.dim, generator=gen, dtype=torch.float64).to(dtype)
    s = plane(land, land.theta0, grid="-1:1:5", grid_y="-0.5:1:4", directions=D)
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    for i, b in enumerate(s.y):  # independent: the model's own forward at each point
        for j, a in enumerate(s.x):
            theta = land.theta0 + float(a) * D[0] + float(b) * D[1]
            direct = float(land.loss(theta))
            assert abs(s.losses[i, j] - direct) <= tol * max(1.0, abs(direct))
    for above in (0, 10 ** 9):  # both the per-point loop and the batched chunks
        old = affine.LOOP_ABOVE
        affine.LOOP_ABOVE = above
        try:
            again = plane(land, land.theta0, grid="-1:1:5", grid_y="-0.5:1:4", directions=D)
        finally:
            affine.LOOP_ABOVE = old
        np.testing.assert_allclose(again.losses, s.losses, rtol=tol, atol=0)


@pytest.mark.parametrize("kind", ["contour", "contourf", "heatmap"])
@pytest.mark.parametrize("value", [0.0, 0.25])
@pytest.mark.parametrize("log", [True, False])
def test_a_constant_plane_draws(kind, value, log):
    """A flat plane (every loss equal) is a legitimate surface: drawing it must not fail."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from valleys.surface import Surface

    coords = np.linspace(-1.0, 1.0, 5)
    surf = Surface(coords, coords, np.full((5, 5), value), torch.zeros(3), torch.eye(3)[:2], {})
    fig, ax = plt.subplots()
    try:
        assert surf.plot(ax, kind=kind, log=log) is not None
    finally:
        plt.close(fig)
