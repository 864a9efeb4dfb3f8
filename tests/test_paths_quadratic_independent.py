"""valleys.literature: venturi2019.quadratic (VBB A4) and nguyen2019.independent (NG-T3.4.9): closed forms
and independent computations."""

import numpy as np
import pytest
import torch

from valleys import Landscape
from valleys.errors import DataError, InvalidParameterError, ModelError
from valleys.literature.nguyen2019.independent import kernel_ray, output_connect, output_descent, rescaling_ray
from valleys.literature.venturi2019.quadratic import a4_path, eigen_units, gram, quadratic_optimum
from valleys.nets import mlp, two_layer
from valleys.nets.activations import get_activation
from valleys.paths import certify


def _quad(n, p, N=40, noise=0.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(N, n, generator=g, dtype=torch.float64)
    M = torch.randn(n, n, generator=g, dtype=torch.float64)
    A = 0.5 * (M + M.T)
    y = torch.einsum("ji,ik,jk->j", X, A, X) + noise * torch.randn(N, generator=g, dtype=torch.float64)
    land = Landscape(two_layer(p, n, "square"), (X, y), loss="mse")
    theta = torch.randn(land.dim, generator=g, dtype=torch.float64)
    return land, theta, X, y, A


def _blocks(land, theta):
    lay = land.layout
    p, n = lay.shapes[lay.names.index("W")]
    return theta[lay.slice("W")].reshape(p, n), theta[lay.slice("v")]


# ------------------------------------------------------------------ quadratic nets
def test_gram_is_the_network_function():
    land, theta, X, _, _ = _quad(3, 5)
    W, u = _blocks(land, theta)
    A = gram(W, u)
    direct = ((X @ W.T) ** 2) @ u
    assert torch.allclose(torch.einsum("ji,ik,jk->j", X, A, X), direct, atol=1e-12)


def test_eigen_units_is_an_n_unit_net_with_the_same_function():
    """VBB A1: a 7-unit quadratic net on R^3 and its 3-unit eigen rewrite agree on random points;
    the rewrite's units are orthonormal, so it is no copy of the input."""
    land, theta, X, _, _ = _quad(3, 7)
    W, u = _blocks(land, theta)
    V, lam = eigen_units(W, u)
    assert V.shape == (3, 3) and lam.shape == (3,)
    assert torch.allclose(V @ V.T, torch.eye(3, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(((X @ V.T) ** 2) @ lam, ((X @ W.T) ** 2) @ u, rtol=1e-10, atol=1e-10)
    with pytest.raises(InvalidParameterError, match="eigen_units needs"):
        eigen_units(W, u[:-1])


def test_quadratic_optimum_matches_monomial_least_squares():
    land, theta, X, y, A_true = _quad(3, 7, N=60, noise=0.3)
    A, L = quadratic_optimum(X, y)
    iu = np.triu_indices(3)
    Xn = X.numpy()
    Q = (Xn[:, :, None] * Xn[:, None, :])[:, iu[0], iu[1]]
    coef, *_ = np.linalg.lstsq(Q, y.numpy(), rcond=None)
    assert L == pytest.approx(float(np.mean((Q @ coef - y.numpy()) ** 2)), rel=1e-10)
    assert torch.allclose(A, A.T)
    _, L0 = quadratic_optimum(X, torch.einsum("ji,ik,jk->j", X, A_true, X))
    assert L0 <= 1e-24


@pytest.mark.parametrize(("n", "p", "seed"), [(2, 4, 0), (3, 7, 1), (4, 8, 2)])
def test_a4_polygon_is_certified_and_reaches_the_global_minimum(n, p, seed):
    land, theta, X, y, A_true = _quad(n, p, seed=seed)
    built = a4_path(land, theta)
    assert torch.equal(built.path.start, theta)
    assert built.path.piecewise_linear
    cert = certify(built.path, land)
    assert cert.holds is True and cert.kind == "exact"
    assert built.end_loss <= 1e-20  # realizable target: global minimum 0
    W, u = _blocks(land, built.end)
    assert torch.allclose(gram(W, u), A_true, atol=1e-8)


def test_a4_noisy_target_ends_at_the_convex_optimum():
    land, theta, X, y, _ = _quad(3, 6, N=50, noise=0.5, seed=3)
    built = a4_path(land, theta)
    _, L_star = quadratic_optimum(X, y)
    assert built.end_loss == pytest.approx(L_star, rel=1e-9)
    assert certify(built.path, land).holds is True


def test_a4_compresses_a_group_with_too_many_units_and_handles_dead_units():
    land, theta, X, y, A_true = _quad(3, 6, seed=4)
    W, u = _blocks(land, theta)
    u = u.abs()  # all units positive: the positive group must give 3 rows to the negative one
    u[0] = 0.0  # a dead unit with w != 0
    theta = torch.cat([W.reshape(-1), u])
    built = a4_path(land, theta)
    assert built.info["freed_by_qr"] == 2  # 5 positive units compressed to n = 3 rows
    assert certify(built.path, land).holds is True
    assert built.end_loss <= 1e-20


def test_curved_a4_keeps_A_constant_but_is_only_sampled():
    land, theta, *_ = _quad(3, 6, seed=5)
    curved = a4_path(land, theta, polygon=False)
    W0, u0 = _blocks(land, theta)
    A0 = gram(W0, u0)
    curves = [s for s in curved.path.segments if not s.linear]
    assert curves
    for seg in curves:
        for pt in seg(torch.linspace(0, 1, 7, dtype=torch.float64)):
            W, u = _blocks(land, pt)
            assert torch.allclose(gram(W, u), A0, atol=1e-10)
    cert = certify(curved.path, land)
    assert cert.kind == "sampled" and cert.holds is None


def test_a4_polygon_without_the_scale_descent_is_refuted_exactly():
    # chords of a constant-A curve leave the level set: the exact certificate must catch the rise
    land, theta, *_ = _quad(3, 6, N=30, seed=0)
    built = a4_path(land, theta, scale_frac=0.0, max_chords=4)
    cert = certify(built.path, land)
    assert cert.holds is False and cert.kind == "exact" and cert.max_rise > 1e-3


def test_a4_rejects_bad_inputs():
    land, theta, *_ = _quad(3, 5)
    with pytest.raises(InvalidParameterError, match="p >= 2n"):
        a4_path(land, theta)
    X = torch.randn(10, 2, dtype=torch.float64)
    relu = Landscape(two_layer(4, 2, "relu"), (X, torch.zeros(10)), loss="mse")
    with pytest.raises(ModelError):
        a4_path(relu, relu.theta0)
    land, theta, *_ = _quad(2, 4)
    with pytest.raises(InvalidParameterError):
        a4_path(land, theta, scale_frac=2.0)


# --------------------------------------------------------- linearly independent data
def _indep(alpha=0.1, N=5, d=8, hidden=(6, 4), out=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(N, d, generator=g, dtype=torch.float64)
    Y = torch.randn(N, out, generator=g, dtype=torch.float64)
    land = Landscape(mlp([d, *hidden, out], get_activation("leaky_relu", alpha=alpha)), (X, Y), loss="mse")
    theta = torch.randn(land.dim, generator=g, dtype=torch.float64) * 0.5
    return land, theta, X, Y


def _out(land, theta):
    return torch.func.functional_call(land.module, land.layout.unflatten(theta), (land.inputs(),))


@pytest.mark.parametrize(("alpha", "seed"), [(0.1, 0), (0.01, 1), (0.3, 2)])
def test_output_descent_is_exact_polygon_with_the_closed_form_loss(alpha, seed):
    land, theta, X, Y = _indep(alpha, seed=seed)
    built = output_descent(land, theta)
    cert = certify(built.path, land)
    assert cert.holds is True and cert.kind == "exact"
    assert built.end_loss <= 1e-20
    L0 = float(land.loss(theta))
    F0 = _out(land, theta)
    D = (Y - F0).reshape(-1)
    pts = [built.path.segments[0].start] + [s.end for s in built.path.segments]
    for pt in pts:  # the output sits on the straight line F0 -> Y and the loss is (1 - t)^2 L0
        F = _out(land, pt)
        t = float((F - F0).reshape(-1) @ D / (D @ D))
        assert torch.allclose(F, F0 + t * (Y - F0), atol=1e-9)
        assert float(land.loss(pt)) == pytest.approx((1 - t) ** 2 * L0, abs=1e-10 * max(1, L0))
    # only the first layer moves
    b0, b1 = land.layout.unflatten(theta), land.layout.unflatten(built.end)
    for name in b0:
        if name not in ("W1", "b1"):
            assert torch.equal(b0[name], b1[name])
    assert built.info["breakpoints"] >= 1


def test_output_descent_midpoints_of_pieces_are_on_the_output_line():
    # between breakpoints the path is affine, so midpoints of the polygon are on the line too
    land, theta, X, Y = _indep(0.1, seed=4)
    built = output_descent(land, theta)
    F0 = _out(land, theta)
    D = (Y - F0).reshape(-1)
    for seg in built.path.segments:
        F = _out(land, 0.5 * (seg.start + seg.end))
        t = float((F - F0).reshape(-1) @ D / (D @ D))
        assert torch.allclose(F, F0 + t * (Y - F0), atol=1e-9)


@pytest.mark.parametrize("seed", [6, 7])
def test_output_connect_stays_in_the_sublevel_set_and_ends_exactly(seed):
    land, a, X, Y = _indep(0.1, seed=seed)
    b = torch.randn(land.dim, generator=torch.Generator().manual_seed(100 + seed), dtype=torch.float64) * 0.5
    conn = output_connect(land, a, b)
    level = max(float(land.loss(a)), float(land.loss(b)))
    assert conn.info["level"] == level
    assert torch.equal(conn.path.start, a) and torch.equal(conn.path.end, b)
    cert = certify(conn.path, land, claim="sublevel", level=level)
    assert cert.holds is True and cert.kind == "exact"
    # the corners carry the straight output path: loss = the convex parabola (closed form)
    Fa, Fb = _out(land, a), _out(land, b)
    D = (Fb - Fa).reshape(-1)
    for seg in conn.path.segments:
        F = _out(land, seg.end)
        t = float((F - Fa).reshape(-1) @ D / (D @ D))
        assert torch.allclose(F, (1 - t) * Fa + t * Fb, atol=1e-9)
        assert float(land.loss(seg.end)) == pytest.approx(float((((1 - t) * Fa + t * Fb - Y) ** 2).sum(1).mean()),
                                                          abs=1e-10 * max(1, level))


def test_output_connect_certificate_refutes_a_lower_level():
    # the path reaches max(L(a), L(b)) at an end: a level 1% lower must be refuted exactly
    land, a, X, Y = _indep(0.1, seed=6)
    b = torch.randn(land.dim, generator=torch.Generator().manual_seed(106), dtype=torch.float64) * 0.5
    conn = output_connect(land, a, b)
    cert = certify(conn.path, land, claim="sublevel", level=0.99 * conn.info["level"])
    assert cert.kind == "exact" and cert.holds is False and cert.failing_piece is not None


def test_rays_keep_the_output_constant_to_large_norms():
    land, theta, X, Y = _indep(0.1, seed=5)
    F0 = _out(land, theta)
    L0 = float(land.loss(theta))
    for R in (1.0, 1e3, 1e6):
        ray = kernel_ray(land, theta, R, seed=1)
        assert ray.piecewise_linear and float((ray.end - theta).norm()) == pytest.approx(R, rel=1e-12)
        assert float((_out(land, ray.end) - F0).abs().max()) <= 1e-15 * (1 + R) * 10
        cert = certify(ray, land, claim="sublevel", level=L0, tol=1e-14 * (1 + R) * max(1, L0))
        assert cert.holds is True and cert.kind == "exact"
        th = rescaling_ray(land, theta, R)
        assert float(th.norm()) >= 0.5 * R * float(land.layout.unflatten(theta)["W2"].norm())
        assert float((_out(land, th) - F0).abs().max()) <= 1e-12


def test_independent_paths_reject_bad_inputs():
    X = torch.randn(5, 8, dtype=torch.float64)
    relu = Landscape(mlp([8, 6, 4, 2], "relu"), (X, torch.zeros(5, 2)), loss="mse")
    with pytest.raises(ModelError, match="3.4.1"):
        output_descent(relu, relu.theta0)
    Xd = torch.randn(12, 4, dtype=torch.float64)  # N > d + 1: dependent data
    dep = Landscape(mlp([4, 6, 4, 2], get_activation("leaky_relu")), (Xd, torch.zeros(12, 2)), loss="mse")
    with pytest.raises(DataError, match="rank"):
        output_descent(dep, dep.theta0)
    land, theta, *_ = _indep()
    blocks = land.layout.unflatten(theta.clone())
    blocks["W2"] = torch.zeros_like(blocks["W2"])
    with pytest.raises(InvalidParameterError, match="Property 3.4.5"):
        output_descent(land, land.layout.flatten(blocks))
    Xs = torch.randn(5, 4, dtype=torch.float64)  # N = d + 1: independent, but ker [X, 1] = 0
    sq = Landscape(mlp([4, 6, 4, 2], get_activation("leaky_relu")), (Xs, torch.zeros(5, 2)), loss="mse")
    with pytest.raises(DataError, match="ker"):
        kernel_ray(sq, sq.theta0, 1.0)
