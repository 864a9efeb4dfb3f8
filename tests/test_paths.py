"""Path objects, adaptive evaluation and certificates (exact, bound, sampled)."""

import math

import numpy as np
import pytest
import torch

from valleys import InvalidParameterError, Landscape
from valleys.nets import mlp
from valleys.nets.netspec import net_spec
from valleys.paths import bezier, certify, chain, evaluate, linear, polygon
from valleys.paths._bound import curvature_bounds
from valleys.paths._exact import ExactSegment

torch.set_num_threads(1)
D = torch.float64


def _scalar_relu_land():
    """f = w2 relu(w1 x), one sample x = 1, y = 0: L = (w2 relu(w1))^2."""
    return Landscape(mlp([1, 1, 1], "relu", bias=False), (torch.ones(1, 1), torch.zeros(1)), loss="mse")


def _bump_land(eps=1e-3, c=1.0):
    """Three ReLU units make a tent of height c*eps, width 2 eps, as the biases slide with t."""
    net = mlp([1, 3, 1], "relu", bias=True)
    land = Landscape(net, (torch.ones(1, 1), torch.zeros(1)), loss="mse")
    lay = land.layout

    def theta(shift):
        th = torch.zeros(land.dim, dtype=D)
        th[lay.slice("W1")] = 1.0
        th[lay.slice("b1")] = torch.tensor([-1.5, -1.5 - eps, -1.5 - 2 * eps], dtype=D) + shift
        th[lay.slice("W2")] = torch.tensor([c, -2 * c, c], dtype=D)
        return th

    return land, theta(0.0), theta(1.0)


def test_path_objects_evaluate_where_expected():
    a, b, c = (torch.tensor(v, dtype=D) for v in ([0.0, 0.0], [1.0, 0.0], [1.0, 3.0]))
    p = polygon(torch.stack([a, b, c]))
    assert torch.allclose(p.knots, torch.tensor([0.0, 0.25, 1.0], dtype=D))
    assert torch.allclose(p(torch.tensor([0.25, 0.5])), torch.tensor([[1.0, 0.0], [1.0, 1.0]], dtype=D))
    q = bezier(torch.stack([a, b, c]))
    # quadratic Bezier at 1/2: (a + 2b + c) / 4
    assert torch.allclose(q(torch.tensor([0.5]))[0], (a + 2 * b + c) / 4)
    ch = chain(linear(a, b), linear(b, c), weights=[1, 3])
    assert torch.allclose(ch(torch.tensor([0.25]))[0], b)
    with pytest.raises(InvalidParameterError):
        chain(linear(a, b), linear(c, a))
    assert abs(p.length() - 4.0) < 1e-12


def test_evaluate_reports_peers_table_and_barriers():
    land = Landscape.from_function(lambda t: (t ** 2).sum() - 2 * t[0] ** 4 / 3, 1)
    r = evaluate(linear(torch.tensor([-1.0]), torch.tensor([1.0])), land, max_points=513, rtol=1e-6)
    # L(x) = x^2 - 2x^4/3 on [-1, 1]: endpoints 1/3, max 3/8 at x^2 = 3/4, integral over t = 1/2 * int_{-1}^{1}
    assert abs(r.start - 1 / 3) < 1e-12 and abs(r.end - 1 / 3) < 1e-12
    assert abs(r.max - 3 / 8) < 1e-5
    assert abs(r.barrier - (3 / 8 - 1 / 3)) < 1e-5
    assert abs(r.barrier_mean - r.barrier) < 1e-12
    assert abs(r.integral - 0.5 * (2 / 3 - 4 / 15)) < 1e-5
    frame = r.to_frame()
    assert list(frame.columns[:2]) == ["t", "loss"] and len(frame) == len(r.t)


def test_evaluate_saves_npz(tmp_path):
    land = Landscape.from_function(lambda t: (t ** 2).sum(), 3)
    r = evaluate(linear(torch.zeros(3), torch.ones(3)), land)
    r.save_npz(tmp_path / "p.npz")
    z = np.load(tmp_path / "p.npz")
    np.testing.assert_allclose(z["losses"], r.losses)
    assert z["points"].shape == (len(r.t), 3)


def test_rise_of_1e6_between_two_samples_is_caught():
    land = _scalar_relu_land()
    # w1 = 1, w2: 1 -> -1e-3, so L = w2^2 falls from 1 to 0 and rises to 1e-6
    a = torch.tensor([1.0, 1.0], dtype=D)
    b = torch.tensor([1.0, -1e-3], dtype=D)
    path = linear(a, b)
    two = evaluate(path, land, num=2, max_points=2)
    assert two.largest_increase < 0  # the two samples only see a decrease
    cert = certify(path, land)
    assert cert.kind == "exact" and cert.holds is False
    assert abs(cert.max_rise - 1e-6) < 1e-15
    t0, t1 = cert.failing_piece
    assert t0 <= 1 / (1 + 1e-3) <= t1  # the piece where the loss turns up
    assert certify(path, land, kind="sampled", num=1).holds is None


def test_monotone_paths_pass_exact_and_bound():
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(12, 3, generator=gen, dtype=D)
    Y = torch.randn(12, generator=gen, dtype=D)
    for act, kind in (("relu", "exact"), ("leaky_relu", "exact"), ("tanh", "bound"), ("sigmoid", "bound")):
        land = Landscape(mlp([3, 14, 1], act, seed=1), (X, Y), loss="mse")
        a = land.theta0
        A = torch.cat([land.features(a, 1), torch.ones(12, 1, dtype=D)], 1)
        sol = torch.linalg.pinv(A) @ Y
        b = a.clone()
        b[land.layout.slice("W2")] = sol[:-1]
        b[land.layout.slice("b2")] = sol[-1:]
        cert = certify(linear(a, b), land, kind=None if kind == "exact" else "bound")
        assert cert.holds is True and cert.kind == kind, cert
        # the loss along the line is (1 - t)^2 L(a) (COO-C5.9), checked independently
        t = torch.rand(7, generator=gen, dtype=D)
        got = land.losses(a + t[:, None] * (b - a))
        assert torch.allclose(got, (1 - t) ** 2 * land.loss(a), rtol=1e-9, atol=1e-12)


def test_path_leaving_the_sublevel_set_reports_the_failing_piece():
    gen = torch.Generator().manual_seed(1)
    X = torch.randn(8, 2, generator=gen, dtype=D)
    Y = torch.randn(8, generator=gen, dtype=D)
    for act in ("relu", "tanh"):
        land = Landscape(mlp([2, 6, 1], act, seed=2), (X, Y), loss="mse")
        a = land.theta0
        b = a + 1.5 * torch.randn(land.dim, generator=gen, dtype=D)
        path = polygon(torch.stack([a, b, a]))
        dense = evaluate(path, land, num=2001, max_points=2001)
        level = max(dense.start, dense.end) + 0.5 * (dense.max - max(dense.start, dense.end))
        cert = certify(path, land, claim="sublevel", level=level)
        assert cert.holds is False, cert
        t0, t1 = cert.failing_piece
        vals = land.losses(path(torch.tensor([t0, t1], dtype=D)))
        # the piece provably leaves {L <= c}: an end value exceeds c (exact pieces: the max inside)
        inside = cert.pieces.query("t0 == @t0").iloc[0]
        assert max(float(vals.max()), inside["upper"] if inside["kind"] == "exact" else -1) > level
        ok = certify(path, land, claim="sublevel", level=dense.max + 1e-2)
        assert ok.holds is True, ok


def test_narrow_bump_between_samples_is_never_certified():
    land, a, b = _bump_land()
    path = linear(a, b)
    coarse = evaluate(path, land, num=33, max_points=33)
    assert coarse.max < 1e-20  # every sample misses the bump in (0.5, 0.502)
    cert = certify(path, land)
    assert cert.kind == "exact" and cert.holds is False
    assert abs(cert.max_rise - 1e-6) < 1e-12
    t0, t1 = cert.failing_piece
    assert 0.5 - 1e-12 <= t0 < t1 <= 0.502 + 1e-12
    # a plain function with the same kind of bump: sampled evidence, never True
    f = Landscape.from_function(lambda t: 1e-6 * torch.exp(-((t[0] - 0.5011) / 1e-4) ** 2), 1)
    sampled = certify(linear(torch.zeros(1), torch.ones(1)), f)
    assert sampled.kind == "sampled" and sampled.holds is None
    # a smooth bump (sigmoid units) is refuted or undetermined by the bound, never proved
    net = mlp([1, 2, 1], "sigmoid")
    sl = Landscape(net, (torch.ones(1, 1), torch.zeros(1)), loss="mse")
    th = torch.zeros(sl.dim, dtype=D)
    lay = sl.layout
    th[lay.slice("W1")] = 2000.0
    th[lay.slice("W2")] = torch.tensor([1e-3, -1e-3], dtype=D)
    a2, b2 = th.clone(), th.clone()
    a2[lay.slice("b1")] = torch.tensor([-1000.0, -1004.0], dtype=D)
    b2[lay.slice("b1")] = torch.tensor([-3000.0, -3004.0], dtype=D)
    c2 = certify(linear(a2, b2), sl, max_pieces=4000)
    assert c2.holds is not True


def test_exact_pieces_match_direct_evaluation():
    gen = torch.Generator().manual_seed(3)
    X = torch.randn(6, 3, generator=gen, dtype=D)
    Y = torch.randn(6, 2, generator=gen, dtype=D)
    for act in ("relu", "leaky_relu", "square"):
        land = Landscape(mlp([3, 5, 4, 2], act, seed=4), (X, Y), loss="mse")
        a = land.theta0
        b = a + torch.randn(land.dim, generator=gen, dtype=D)
        pieces = ExactSegment(net_spec(land), land.layout, a, b, max_pieces=10_000).pieces()
        for p in pieces[:: max(1, len(pieces) // 10)]:
            s = p.s0 + (p.s1 - p.s0) * torch.rand(3, generator=gen, dtype=D)
            direct = land.losses(a + s[:, None] * (b - a)).numpy()
            poly = np.polynomial.polynomial.polyval(s.numpy(), p.coef)
            np.testing.assert_allclose(poly, direct, rtol=1e-9, atol=1e-12)


def test_curvature_bound_dominates_finite_differences():
    gen = torch.Generator().manual_seed(5)
    X = torch.randn(10, 3, generator=gen, dtype=D)
    for act, loss, Y in (("tanh", "mse", torch.randn(10, 2, generator=gen, dtype=D)),
                         ("sigmoid", "ce", torch.randint(0, 2, (10,), generator=gen)),
                         ("softplus", "mse", torch.randn(10, 2, generator=gen, dtype=D))):
        land = Landscape(mlp([3, 6, 5, 2], act, seed=6), (X, Y), loss=loss)
        a = land.theta0
        b = a + 0.7 * torch.randn(land.dim, generator=gen, dtype=D)
        M = float(curvature_bounds(net_spec(land), land.layout, a[None], b[None])[0])
        s = torch.linspace(0, 1, 2001, dtype=D)
        L = land.losses(a + s[:, None] * (b - a))
        h = float(s[1] - s[0])
        second = ((L[2:] - 2 * L[1:-1] + L[:-2]) / h ** 2).abs().max()
        assert float(second) <= M, (act, float(second), M)


def test_certify_rejects_bad_arguments():
    land = _scalar_relu_land()
    p = linear(torch.zeros(2), torch.ones(2))
    with pytest.raises(InvalidParameterError):
        certify(p, land, claim="sublevel")
    with pytest.raises(InvalidParameterError):
        certify(p, land, claim="up")
    assert math.isfinite(certify(p, land).tol)


def _two_minima():
    """(x^2 - 1)^2 + 5 (y - (1 - x^2)/2)^2: minima (+-1, 0), saddle (0, 1/2) with L = 1; L(0, 0) = 2.25."""
    f = lambda t: (t[..., 0] ** 2 - 1) ** 2 + 5 * (t[..., 1] - 0.5 * (1 - t[..., 0] ** 2)) ** 2  # noqa: E731
    ends = torch.tensor([[-1.0, 0.0], [1.0, 0.0]], dtype=D)
    return Landscape.from_function(f, 2, rowwise=True), ends[0], ends[1]


def test_neb_and_autoneb_find_the_known_saddle():
    from valleys.paths import autoneb, neb

    land, a, b = _two_minima()
    straight = evaluate(linear(a, b), land)
    assert abs(straight.max - 2.25) < 1e-9
    for res in (neb(land, a, b, images=11, steps=5000, lr=0.02, tol=1e-8),
                autoneb(land, a, b, cycles=(100, 100, 3000), lr=0.02, tol=1e-8)):
        assert res.converged
        torch.testing.assert_close(res.images[res.saddle_index], torch.tensor([0.0, 0.5], dtype=D), atol=1e-6,
                                   rtol=0)
        assert abs(res.image_max - 1.0) < 1e-10 and abs(res.image_barrier - 1.0) < 1e-10
        # the polygon through the converged band does not rise above its climbing image
        assert abs(res.path_max - 1.0) < 1e-10 and abs(res.barrier - 1.0) < 1e-10


def test_fit_bezier_lowers_the_linear_barrier():
    from valleys.paths import fit_bezier

    land, a, b = _two_minima()
    res = fit_bezier(land, a, b, steps=300, lr=0.05)
    assert res.path_max < 1.5  # the straight line reaches 2.25; the best quadratic curve about 1.25
    assert res.path_max >= res.image_max and res.path_max_kind == "sampled"  # a curve is only sampled
    assert torch.equal(res.images[0], a) and torch.equal(res.images[-1], b)


def test_fit_bezier_and_bezier_name_themselves_and_the_old_name_warns():
    from valleys import paths
    from valleys.errors import InvalidParameterError, ShapeError

    land, a, b = _two_minima()
    with pytest.raises(InvalidParameterError, match="paths.fit_bezier"):
        paths.fit_bezier(land, a, b, steps=0)
    with pytest.raises(ShapeError, match=r"paths\.bezier needs control points.*use paths\.fit_bezier"):
        paths.bezier(torch.zeros(1, 2, dtype=D))
    with pytest.warns(DeprecationWarning, match="use valleys.paths.fit_bezier"):
        old = paths.bezier_curve(land, a, b, steps=5, lr=0.05)
    new = paths.fit_bezier(land, a, b, steps=5, lr=0.05)
    assert torch.equal(old.images, new.images) and "bezier_curve" not in paths.__all__


def test_canonical_form_removes_permutations_and_relu_rescaling():
    from valleys.paths.graph import MinimaGraph, canonical

    gen = torch.Generator().manual_seed(7)
    X = torch.randn(6, 3, generator=gen, dtype=D)
    land = Landscape(mlp([3, 5, 2], "relu"), (X, torch.randn(6, 2, generator=gen, dtype=D)), loss="mse")
    theta = land.theta0
    blocks = land.layout.unflatten(theta)
    perm = torch.randperm(5, generator=gen)
    scale = torch.rand(5, generator=gen, dtype=D) + 0.5
    moved = {"W1": blocks["W1"][perm] * scale[:, None], "b1": blocks["b1"][perm] * scale,
             "W2": blocks["W2"][:, perm] / scale[None, :], "b2": blocks["b2"]}
    other = land.layout.flatten(moved)
    assert abs(float(land.loss(other)) - float(land.loss(theta))) < 1e-12
    torch.testing.assert_close(canonical(land, other), canonical(land, theta))
    g = MinimaGraph()
    assert g.add_minimum(land, theta) == g.add_minimum(land, other) == 0
    g.add_minimum(land, theta + 0.1)
    g.minima.append(theta + 0.2)
    g.losses.append(0.0)
    g.add_edge(0, 1, 3.0)
    g.add_edge(1, 2, 2.0)
    g.add_edge(0, 2, 5.0)
    assert g.minimax(0, 2) == 3.0  # via 1: max(3, 2) < 5


def test_sublevel_connected_certifies_only_a_real_connection():
    from valleys.paths import sublevel_connected

    land, a, b = _two_minima()
    res = sublevel_connected(land, a, b, cycles=(50, 200))
    assert res.level == 0.0 and res.path_max > 0.9  # the minima are separated by the saddle at L = 1
    assert res.connected is False
    # a convex bowl: the band stays below the level, but a plain function is only sampled,
    # so the connection is undetermined rather than proved
    bowl = Landscape.from_function(lambda t: (t ** 2).sum(), 2)
    ok = sublevel_connected(bowl, torch.tensor([1.0, 0.0], dtype=D), torch.tensor([0.0, 1.0], dtype=D),
                            cycles=(50,), tol=1e-6)
    assert ok.path_max <= ok.level and ok.connected is None


def test_refine_saddle_reaches_the_known_saddle_from_a_rough_band():
    from valleys.paths import neb, refine_saddle

    land, a, b = _two_minima()
    rough = neb(land, a, b, images=7, steps=30, lr=0.02, climb_after=20, tol=1e-12)
    assert not rough.converged  # a short band: its climbing image is only near the saddle
    res = refine_saddle(land, rough)
    assert res.distance > 1e-4 and res.iterations >= 1
    assert res.band_saddle == rough.image_max
    far = refine_saddle(land, torch.tensor([0.15, 0.35], dtype=D))  # a start off the band
    torch.testing.assert_close(far.theta, torch.tensor([0.0, 0.5], dtype=D), atol=1e-10, rtol=0)
    assert res.converged and res.grad_norm < 1e-9
    torch.testing.assert_close(res.theta, torch.tensor([0.0, 0.5], dtype=D), atol=1e-10, rtol=0)
    assert abs(res.loss - 1.0) < 1e-12 and res.is_index_one
    # closed-form Hessian at (0, 1/2): diag(-4 + 0, 10) plus the x-y coupling 0 -> eigenvalues -4, 10
    np.testing.assert_allclose(res.eigenvalues, [-4.0, 10.0], atol=1e-8)
    minimum = refine_saddle(land, torch.tensor([0.9, 0.1], dtype=D))  # Newton finds the nearby minimum
    assert minimum.index == 0 and not minimum.is_index_one
    with pytest.raises(InvalidParameterError):
        refine_saddle(land, torch.zeros(3, dtype=D))


def _permuted_teacher(act: str, seed: int, width: int = 4):
    """A [2, width, 1] net at zero loss (its own teacher) and the same net with its hidden units
    permuted: two global minima joined by no straight low path."""
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(12, 2, generator=g, dtype=D)
    net = mlp([2, width, 1], act, seed=seed).double()
    with torch.no_grad():
        Y = net(X)[:, 0]
    land = Landscape(net, (X, Y), loss="mse")
    blocks = land.layout.unflatten(land.theta0)
    perm = torch.roll(torch.arange(width), 1)
    other = land.layout.flatten({"W1": blocks["W1"][perm], "b1": blocks["b1"][perm],
                                 "W2": blocks["W2"][:, perm], "b2": blocks["b2"]})
    return land, land.theta0.clone(), other


def _dense_polygon_losses(land, images: torch.Tensor, n: int = 10_001) -> np.ndarray:
    """The loss at n equispaced t of the polygon through ``images`` (equal knots), computed here."""
    t = torch.linspace(0, 1, n, dtype=D)
    u = t * (images.shape[0] - 1)
    k = u.floor().long().clamp(max=images.shape[0] - 2)
    s = (u - k)[:, None]
    with torch.no_grad():
        return land.losses(images[k] + s * (images[k + 1] - images[k])).numpy()


@pytest.mark.parametrize(("act", "method", "kind"), [("relu", "neb", "exact"), ("tanh", "autoneb", "bound")])
def test_band_barrier_is_the_maximum_of_the_returned_path_not_of_its_images(act, method, kind):
    """Issue 18, item 14: between images a band rises above its highest image; the reported
    barrier is the path's maximum, equal to 10 001 direct samples up to the certificate's bound."""
    from valleys.paths import autoneb, neb

    land, a, b = _permuted_teacher(act, seed=0)
    res = (neb(land, a, b, images=5, steps=100) if method == "neb"
           else autoneb(land, a, b, cycles=(30, 30, 60)))
    L = _dense_polygon_losses(land, res.images)
    step = float(np.abs(np.diff(L)).max())  # the largest change between neighbouring samples
    assert L.max() > res.image_max + 3 * step  # the case: the path rises above its images (by >> the tolerances below)
    assert res.path_max_kind == kind and res.certificate.kind == kind
    ends = max(float(res.losses[0]), float(res.losses[-1]))
    assert res.barrier == res.path_max - ends and res.image_barrier == res.image_max - ends
    # the certified maximum bounds every sample, and a sample comes within the certificate's
    # tolerance plus the grid's resolution (two neighbouring changes) of it
    assert L.max() <= res.path_max_upper + 1e-12 * max(1.0, L.max())
    assert res.path_max - L.max() <= res.certificate.tol + 2 * step
    assert res.to_dict()["path_max"] == res.path_max and res.to_dict()["image_max"] == res.image_max
