"""Cooper's loci (document 002): samplers, dimensions, fibre decomposition, duplication."""

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from valleys import Landscape
from valleys.critical.duplication import (
    duplicate_last_hidden,
    duplication_critical_point,
    round_robin_sources,
    train_to_critical,
)
from valleys.errors import InvalidParameterError, ModelError, NonConvergenceWarning, ShapeError
from valleys.literature.cooper2020 import (
    Locus,
    core_components,
    core_dim_formula,
    equal_widths,
    fibre_minimum,
    fibre_split,
    flat_fibre_bounds,
    global_manifold_dim,
    line_to_fibre_minimum,
    locus_dimension,
    locus_dimensions,
    mlp_layout,
    param_count,
    param_count_equal,
    prop61,
    sample_locus,
    star_components,
    star_dim_formula,
    widths_of,
)
from valleys.nets import mlp


def _land(widths, act="tanh", n=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, widths[0], generator=g, dtype=torch.float64)
    Y = torch.randn(n, widths[-1], generator=g, dtype=torch.float64)
    return Landscape(mlp(widths, act, seed=seed), (X, Y), loss="mse", reduction="sum")


# ---------------------------------------------------------------------- layouts, counts
@pytest.mark.parametrize("a,b,m,depth", [(2, 1, 3, 4), (3, 2, 4, 5), (1, 3, 2, 2), (5, 1, 7, 3)])
def test_param_count_formula_matches_mlp(a, b, m, depth):
    widths = equal_widths(a, b, m, depth)
    net = mlp(widths)
    count = sum(p.numel() for p in net.parameters())
    assert count == param_count(widths) == param_count_equal(a, b, m, depth)
    assert mlp_layout(widths) == Landscape(net, (torch.randn(2, a), torch.randn(2, b))).layout


def test_widths_of_refuses_non_mlp():
    land = Landscape(torch.nn.Linear(2, 1), (torch.randn(3, 2), torch.randn(3, 1)))
    with pytest.raises(ModelError, match="biased MLP"):
        widths_of(land)
    assert widths_of(_land((2, 3, 4, 1))) == (2, 3, 4, 1)


def test_locus_validation():
    with pytest.raises(InvalidParameterError, match="strictly increasing"):
        Locus((3, 2))
    with pytest.raises(InvalidParameterError, match="hidden layers 1..3"):
        Locus((4,)).zero_blocks(4)
    assert Locus((2,)).name == "S_2" and Locus((1, 3)).name == "C_{1,3}"
    assert [c.name for c in core_components(4)] == ["C_{1,2}", "C_{1,3}", "C_{2,3}"]


# ---------------------------------------------------------------------------- samplers
def _definition_constraints(params: dict, ks, ybar) -> torch.Tensor:
    """CLAIMS.md COO-Def written on the model's named parameters (no layout, no mask):
    M_l = 0, M_k = 0 (k in ks), b_{k_1} = ... = b_{l-1} = 0, b_l = mean(y)."""
    depth = sum(name.startswith("W") for name in params)
    parts = [params[f"W{depth}"], *(params[f"W{k}"] for k in ks)]
    parts += [params[f"b{j}"] for j in range(ks[0], depth)] + [params[f"b{depth}"] - ybar]
    return torch.cat([q.reshape(-1) for q in parts])


def _definition_dim(widths, ks) -> int:
    """d minus the rank of the autograd Jacobian of the definition's constraints."""
    net = mlp(widths)
    named = {k: torch.randn(v.shape, dtype=torch.float64) for k, v in net.named_parameters()}
    jac = torch.func.jacrev(lambda prm: _definition_constraints(prm, ks, torch.zeros(widths[-1])))(named)
    J = torch.cat([jac[k].reshape(jac[k].shape[0], -1) for k in named], dim=1)
    return J.shape[1] - int(torch.linalg.matrix_rank(J))


@pytest.mark.parametrize("ks", [(1,), (2,), (3,), (1, 2), (2, 3), (1, 3)])
def test_sampler_points_satisfy_constraints(ks):
    land = _land((2, 3, 4, 3, 2))
    loc = Locus(ks)
    th = sample_locus(land, loc, 7, seed=3)
    ybar = land.targets().mean(0)
    for t in th:
        named = dict(zip(land.layout.names, land.layout.unflatten(t).values(), strict=True))
        assert float(_definition_constraints(named, ks, ybar).abs().max()) == 0.0
    # the samples span the whole component: rank of differences = its dimension
    more = sample_locus(land, loc, _definition_dim((2, 3, 4, 3, 2), ks) + 3, seed=4)
    assert int(torch.linalg.matrix_rank(more[1:] - more[:1])) == _definition_dim((2, 3, 4, 3, 2), ks)


def test_sampler_rejects_bad_bias_rule():
    with pytest.raises(InvalidParameterError, match="bias_rule"):
        sample_locus(_land((2, 3, 3, 1)), Locus((1,)), bias_rule="median")


def test_mean_rule_is_critical_sum_rule_is_not():
    # CLAIMS.md COO-Def: a=2, b=1, m=3, l=4, n=5, tanh.
    land = _land(equal_widths(2, 1, 3, 4), n=5, seed=1)
    Y = land.targets()
    for loc in star_components(4):
        g_mean = land.grads(sample_locus(land, loc, 20, seed=2))
        g_sum = land.grads(sample_locus(land, loc, 20, bias_rule="sum", seed=2))
        assert float(g_mean.abs().max()) <= 1e-10 * (1 + float((Y ** 2).sum()))
        assert float(g_sum.abs().max()) > 1.0
        expected = 2 * (5 - 1) * Y.sum()
        assert torch.allclose(g_sum[:, -1], expected.expand(20), rtol=1e-12)


@pytest.mark.parametrize("act,b", [("tanh", 1), ("tanh_cubic", 2)])
def test_core_point_hessian_is_2n_times_b_and_zeros(act, b):
    n = 6
    land = _land(equal_widths(2, b, 3, 4), act=act, n=n, seed=4)
    th = sample_locus(land, Locus((2, 3)), 3, seed=5)
    for t in th:
        ev = torch.linalg.eigvalsh(land.hessian(t))
        assert torch.allclose(ev[-b:], torch.full((b,), 2.0 * n), rtol=1e-10)
        assert float(ev[:-b].abs().max()) <= 1e-8 * 2 * n


def test_star_point_outside_core_is_indefinite():
    land = _land(equal_widths(2, 1, 3, 4), n=5, seed=1)
    ev = torch.linalg.eigvalsh(land.hessian(sample_locus(land, Locus((1,)), 1, seed=9)[0]))
    assert float(ev[0]) < -1e-3 and float(ev[-1]) > 1e-3


# -------------------------------------------------------------------------- dimensions
@pytest.mark.parametrize("widths", [(3, 10, 10, 10, 10, 1), (2, 5, 3, 4, 2), (4, 2, 6, 3), (1, 2, 1)])
def test_dimension_count_equals_jacobian_rank(widths):
    """Counting, the library's constraint Jacobian and the §3.1.1 formula all equal the
    rank deficit of the Jacobian of the definition's constraints, written here."""
    for ld in locus_dimensions(widths):
        independent = _definition_dim(widths, ld.locus.ks)
        assert ld.by_jacobian is not None
        assert ld.by_count == ld.by_jacobian == ld.by_formula == independent


def test_seed_dimension_examples_and_prop61_erratum():
    dims = {ld.locus.name: ld.by_count for ld in locus_dimensions(equal_widths(3, 1, 10, 5))}
    assert [dims[f"S_{k}"] for k in range(1, 5)] == [300, 240, 250, 260]
    assert max(v for k, v in dims.items() if k.startswith("C")) == 200
    pp = prop61(3, 1, 10, 5, n=7)
    assert (pp.dim_S, pp.dim_C) == (240, 140) == (dims["S_2"], dims["C_{2,3}"])
    assert star_dim_formula(equal_widths(3, 1, 10, 5)) == 300
    assert core_dim_formula(equal_widths(3, 1, 10, 5)) == 200
    with pytest.raises(InvalidParameterError, match="depth >= 3"):
        core_dim_formula((2, 3, 1))
    big = locus_dimension(equal_widths(10, 2, 50, 4), Locus((1,)), jacobian=False)
    assert big.by_count == 5000 and prop61(10, 2, 50, 4, 1).dim_S == 3050


@pytest.mark.parametrize("a,b,m,depth,n", [(2, 1, 6, 3, 4), (1, 2, 5, 3, 3)])
def test_global_manifold_dim_matches_prop61(a, b, m, depth, n):
    """Prop 6.1's polynomial, typed here, equals the measured number of zero Hessian
    eigenvalues at a zero-loss point (and the library's closed forms)."""
    polynomial = (depth - 2) * m ** 2 + (a + b + depth - 1) * m + b * (1 - n)
    w = equal_widths(a, b, m, depth)
    land = _land(w, n=n, seed=3)
    point = fibre_minimum(land, torch.randn(land.dim, generator=torch.Generator().manual_seed(1),
                                            dtype=torch.float64))
    assert point.loss <= 1e-20
    ev = torch.linalg.eigvalsh(land.hessian(point.theta))
    nullity = int((ev.abs() <= 1e-8 * ev.abs().max()).sum())
    assert nullity == polynomial == global_manifold_dim(w, n) == prop61(a, b, m, depth, n).dim_M


# ------------------------------------------------------------------------------ fibre
def test_fibre_split_features_and_least_squares_minimum():
    land = _land((2, 4, 8, 2), n=6, seed=2)
    split = fibre_split(land, land.theta0)
    assert split.features.shape == (8, 6) and split.augmented.shape == (9, 6)
    assert split.inner.numel() == land.dim - (8 + 1) * 2
    end = fibre_minimum(land, land.theta0)
    assert end.loss <= 1e-20  # m_{l-1} = 8 >= n = 6: the fibre holds global minima
    assert end.rank.count == 6 and end.rank_augmented.count == 6
    g = land.grad(end.theta)
    last = land.layout.mask(("W3", "b3"))
    assert float(g[last].abs().max()) <= 1e-10


def test_fibre_minimum_is_least_squares_when_not_interpolating():
    land = _land((2, 3, 2, 1), n=9, seed=3)
    end = fibre_minimum(land, land.theta0)
    Phi = fibre_split(land, land.theta0).augmented.T
    sol = torch.linalg.lstsq(Phi, land.targets()).solution
    assert abs(end.loss - float(((Phi @ sol - land.targets()) ** 2).sum())) <= 1e-12
    assert float(land.grad(end.theta)[land.layout.mask(("W3", "b3"))].abs().max()) <= 1e-10


def test_line_to_fibre_minimum_is_exactly_quadratic():
    land = _land((2, 5, 7, 1), n=6, seed=4)
    prof = line_to_fibre_minimum(land, land.theta0, num=21)
    assert prof.max_rel_error <= 1e-10
    assert bool((prof.losses[1:] < prof.losses[:-1]).all())


def test_flat_fibre_bounds_at_star_point():
    land = _land((2, 3, 6, 2), n=5, seed=5)
    th = sample_locus(land, Locus((2,)), 1, seed=6)[0]
    b = flat_fibre_bounds(fibre_split(land, th).features, 2)
    assert (b.r, b.r_hat, b.corrected, b.literal, b.uniform) == (0, 1, 12, 14, 4)
    H = land.hessian(th)
    F = land.layout.mask(("W3", "b3"))
    ev = torch.linalg.eigvalsh(H[F][:, F])
    assert int((ev.abs() <= 1e-8 * ev.abs().max()).sum()) == b.corrected  # not b.literal


# ------------------------------------------------------------------------ duplication
def test_duplicate_last_hidden_keeps_function_and_shapes():
    narrow = _land((2, 3, 2, 2), n=4, seed=6)
    emb = duplicate_last_hidden((2, 3, 2, 2), narrow.theta0, (0, 1, 1))
    assert emb.widths == (2, 3, 5, 2)
    wide = _land((2, 3, 5, 2), n=4, seed=6)
    assert torch.allclose(wide.outputs(emb.theta), narrow.outputs(narrow.theta0), atol=1e-14)
    with pytest.raises(InvalidParameterError, match="sources"):
        duplicate_last_hidden((2, 3, 2, 2), narrow.theta0, (2,))
    with pytest.raises(ShapeError):
        duplicate_last_hidden((2, 3, 2, 2), torch.zeros(3), (0,))
    assert round_robin_sources(2, 5) == (0, 1, 0)


def _teacher_problem(n=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 1, generator=g, dtype=torch.float64)
    probe = Landscape(mlp((1, 2, 1, 1), "tanh_cubic"), (X, torch.zeros(n, 1)), loss="mse", reduction="sum")
    teacher = 0.5 * torch.randn(probe.dim, generator=torch.Generator().manual_seed(seed + 5),
                                dtype=torch.float64)
    Y0 = probe.outputs(teacher)
    noise = torch.randn(Y0.shape, generator=torch.Generator().manual_seed(seed + 6), dtype=torch.float64)
    Y = Y0 + 0.1 * float(Y0.std()) * noise
    return X, Y, teacher


#: A critical point of the narrow net of test_duplication_keeps_criticality (float64 theta):
#: train_to_critical(narrow, teacher, grad_tol=1e-12) then Newton polishing, ||grad|| = 1.2e-14.
#: Stored because where L-BFGS stops on the flat set of critical points depends on the BLAS kernels.
NARROW_CRITICAL = Path(__file__).parent / "data" / "duplication_narrow_critical.npz"


def test_duplication_keeps_criticality():
    X, Y, teacher = _teacher_problem()
    narrow = Landscape(mlp((1, 2, 1, 1), "tanh_cubic"), (X, Y), loss="mse", reduction="sum")
    wide = Landscape(mlp((1, 2, 9, 1), "tanh_cubic"), (X, Y), loss="mse", reduction="sum")
    with np.load(NARROW_CRITICAL, allow_pickle=False) as stored:
        start = torch.as_tensor(stored["theta"], dtype=torch.float64)
    # the stored point is verified here: critical, non-global (L > 0) and a minimum of the narrow net
    assert float(narrow.grad(start).norm()) <= 1e-12 and float(narrow.loss(start)) > 1e-3
    ev = torch.linalg.eigvalsh(narrow.hessian(start))
    assert float(ev.min()) >= -1e-9 * float(ev.max())
    point = duplication_critical_point(narrow, wide, start)
    assert point.narrow.converged and point.narrow.loss > 1e-6  # non-global: L > 0
    assert point.grad_norm <= 1e-9
    assert abs(point.loss - point.narrow.loss) <= 1e-12
    # the wide net can reach zero loss, so the point is not a global minimum there
    assert fibre_minimum(wide, wide.theta0).loss <= 1e-18


def test_train_to_critical_warns_when_budget_too_small():
    X, Y, teacher = _teacher_problem(seed=1)
    land = Landscape(mlp((1, 2, 1, 1), "tanh_cubic"), (X, Y), loss="mse", reduction="sum")
    with pytest.warns(NonConvergenceWarning, match="grad_tol"):
        res = train_to_critical(land, teacher, max_iter=1, max_newton=0)
    assert not res.converged
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(InvalidParameterError, match="grad_tol"):
            train_to_critical(land, teacher, grad_tol=-1.0)


def test_corollary_516_count_fails_at_star_saddles_but_fibre_flatness_holds():
    # [derived] At S_{l-1} the M_l block is flat (T5.15 holds) but it couples to W_{l-1}:
    # nullity = d - b - 2 m_{l-1} rank(R), R = Y_c^T Phi_{l-2}^T, below (m_{l-1} + 1 - r_hat) b.
    land = _land((2, 2, 10, 2), n=8, seed=7)
    th = sample_locus(land, Locus((2,)), 1, seed=8)[0]
    ev = torch.linalg.eigvalsh(land.hessian(th))
    nullity = int((ev.abs() <= 1e-8 * ev.abs().max()).sum())
    Y = land.targets()
    R = (Y - Y.mean(0)).T @ land.features(th, 1)
    assert int(torch.linalg.matrix_rank(R)) == 2
    assert nullity == land.dim - 2 - 2 * 10 * 2 == 16
    bounds = flat_fibre_bounds(fibre_split(land, th).features, 2)
    assert nullity < bounds.corrected == 20
    line = th.clone()
    line[land.layout.slice("W3")] += 3.0 * torch.randn(20, dtype=torch.float64)
    assert abs(float(land.loss(line)) - float(land.loss(th))) <= 1e-12  # the flat fibre subspace
