"""Curvature operators, dense spectra, traces and densities against closed forms and
independent computations (finite differences, torch.func.hessian, explicit Jacobians)."""

import matplotlib.figure
import numpy as np
import pytest
import torch
from torch import nn
from torch.func import hessian

from valleys import Landscape
from valleys.core.losses import cross_entropy, squared
from valleys.curvature import (
    density,
    ggn_operator,
    hessian_operator,
    output_hessians,
    spectrum,
    trace,
)
from valleys.errors import (
    DenseTooLargeError,
    InvalidParameterError,
    NonFiniteError,
    ShapeError,
)
from valleys.nets import mlp


def _data(n, d_in, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, d_in, generator=gen, dtype=torch.float64)


@pytest.fixture(scope="module")
def mse_land():
    X = _data(20, 4)
    Y = _data(20, 2, seed=1)
    return Landscape(mlp([4, 6, 5, 2], "tanh", seed=0), (X, Y), loss="mse")


@pytest.fixture(scope="module")
def ce_land():
    X = _data(24, 3)
    Y = torch.arange(24) % 3
    return Landscape(mlp([3, 5, 3], "tanh", seed=2), (X, Y), loss="ce")


def _dense(op):
    return op.matmat(np.eye(op.shape[0]))


def _exact_hessian(land, theta):
    return hessian(land.loss)(theta).numpy()


# ------------------------------------------------------------------ Hessian operator
def test_hvp_matches_central_differences_of_gradient(mse_land):
    theta = mse_land.theta0
    op = hessian_operator(mse_land, theta)
    gen = torch.Generator().manual_seed(3)
    h = 1e-5
    for _ in range(3):
        v = torch.randn(mse_land.dim, generator=gen, dtype=torch.float64)
        fd = (mse_land.grad(theta + h * v) - mse_land.grad(theta - h * v)) / (2 * h)
        hv = op.matvec(v.numpy())
        assert np.linalg.norm(hv - fd.numpy()) <= 1e-7 * np.linalg.norm(hv)


@pytest.mark.parametrize("method", ["graph", "functorch", "auto"])
def test_matmat_equals_stacked_matvecs_and_counts_products(mse_land, method):
    op = hessian_operator(mse_land, mse_land.theta0, method=method)
    M = np.random.default_rng(0).standard_normal((mse_land.dim, 7))
    stacked = np.stack([op.matvec(M[:, j]) for j in range(7)], axis=1)
    np.testing.assert_allclose(op.matmat(M), stacked, rtol=0, atol=1e-13)
    assert op.num_matvecs == 14


@pytest.mark.parametrize("method", ["graph", "functorch"])
def test_operator_equals_torch_func_hessian(ce_land, method):
    theta = ce_land.theta0
    np.testing.assert_allclose(_dense(hessian_operator(ce_land, theta, method=method)),
                               _exact_hessian(ce_land, theta), rtol=0, atol=1e-13)


def test_graph_operator_of_an_affine_loss_is_zero():
    land = Landscape.from_function(lambda t: 3.0 * t.sum() + 1.0, 4)
    op = hessian_operator(land, land.theta0, method="graph")
    np.testing.assert_array_equal(op.matmat(np.eye(4)), np.zeros((4, 4)))


def test_hessian_operator_rejects_unknown_method(mse_land):
    with pytest.raises(InvalidParameterError, match="'method' parameter of hessian_operator"):
        hessian_operator(mse_land, mse_land.theta0, method="finite-differences")


@pytest.mark.parametrize("param_filter", [["W2", "b2"], lambda name: name.startswith("W"), "b1"])
def test_param_filter_is_the_principal_sub_block(mse_land, param_filter):
    theta = mse_land.theta0
    H = _exact_hessian(mse_land, theta)
    names = ([param_filter] if isinstance(param_filter, str)
             else [n for n in mse_land.layout.names if param_filter(n)] if callable(param_filter)
             else param_filter)
    idx = np.flatnonzero(mse_land.layout.mask(names).numpy())
    op = hessian_operator(mse_land, theta, param_filter=param_filter)
    assert op.shape == (idx.size, idx.size)
    np.testing.assert_allclose(_dense(op), H[np.ix_(idx, idx)], rtol=0, atol=1e-13)


def test_param_filter_rejects_unknown_and_empty_selections(mse_land):
    with pytest.raises(InvalidParameterError, match="unknown block.*'W9'"):
        hessian_operator(mse_land, mse_land.theta0, param_filter=["W1", "W9"])
    with pytest.raises(InvalidParameterError, match="at least one parameter"):
        hessian_operator(mse_land, mse_land.theta0, param_filter=lambda name: False)
    with pytest.raises(InvalidParameterError, match="list of block names or a callable"):
        hessian_operator(mse_land, mse_land.theta0, param_filter=3)


# ------------------------------------------------------------------------ GGN
@pytest.mark.parametrize("reduction, scale", [("mean", 2 / 20), ("sum", 2.0)])
def test_ggn_equals_scaled_jtj_for_mse_and_is_psd(reduction, scale):
    X, Y = _data(20, 4), _data(20, 2, seed=1)
    land = Landscape(mlp([4, 6, 5, 2], "tanh", seed=0), (X, Y), loss="mse", reduction=reduction)
    theta = land.theta0
    J = land.jacobian(theta).numpy()
    G = _dense(ggn_operator(land, theta))
    np.testing.assert_allclose(G, scale * J.T @ J, rtol=0, atol=1e-13)
    eig = np.linalg.eigvalsh(0.5 * (G + G.T))
    assert eig.min() >= -1e-12 * eig.max()


def test_ggn_for_cross_entropy_matches_softmax_closed_form(ce_land):
    theta = ce_land.theta0
    J = ce_land.jacobian(theta).numpy().reshape(24, 3, -1)
    p = torch.softmax(ce_land.outputs(theta), 1).numpy()
    H_out = np.stack([np.diag(pi) - np.outer(pi, pi) for pi in p])
    expected = np.einsum("nad,nab,nbe->de", J, H_out, J) / 24
    np.testing.assert_allclose(_dense(ggn_operator(ce_land, theta)), expected, rtol=0, atol=1e-13)


def test_ggn_equals_hessian_for_a_linear_model():
    X, Y = _data(15, 3), _data(15, 2, seed=4)
    land = Landscape(mlp([3, 2], seed=1), (X, Y), loss="mse")
    theta = land.theta0 + 0.3
    np.testing.assert_allclose(_dense(ggn_operator(land, theta)), _exact_hessian(land, theta),
                               rtol=0, atol=1e-13)


def test_output_hessians_closed_forms():
    out = _data(5, 3)
    np.testing.assert_allclose(output_hessians(squared(), out, _data(5, 3, seed=1)).numpy(),
                               np.broadcast_to(2 * np.eye(3), (5, 3, 3)), atol=1e-14)
    p = torch.softmax(out, 1).numpy()
    expected = np.stack([np.diag(pi) - np.outer(pi, pi) for pi in p])
    np.testing.assert_allclose(output_hessians(cross_entropy(), out, torch.arange(5) % 3).numpy(),
                               expected, atol=1e-14)


def test_ggn_refuses_a_plain_function_landscape():
    land = Landscape.from_function(lambda t: (t**2).sum(), 3)
    with pytest.raises(InvalidParameterError, match="use hessian_operator"):
        ggn_operator(land, land.theta0)


# ---------------------------------------------------------------- dense spectrum
def test_spectrum_of_linear_regression_is_two_over_n_squared_singular_values():
    X, Y = _data(30, 4), _data(30, 1, seed=5)
    land = Landscape(nn.Linear(4, 1), (X, Y), loss="mse")
    A = torch.cat([X, torch.ones(30, 1, dtype=torch.float64)], 1).numpy()
    expected = np.sort(2 / 30 * np.linalg.svd(A, compute_uv=False) ** 2)
    np.testing.assert_allclose(spectrum(land, land.theta0).eigenvalues, expected, rtol=1e-12)


def test_spectrum_eigenvectors_diagonalise_the_hessian(mse_land):
    theta = mse_land.theta0
    spec = spectrum(mse_land, theta, eigenvectors=True)
    H = _exact_hessian(mse_land, theta)
    V, lam = spec.eigenvectors, spec.eigenvalues
    assert np.all(np.diff(lam) >= 0)
    np.testing.assert_allclose(H @ V, V * lam, rtol=0, atol=1e-12)
    assert spec.asymmetry <= 1e-12


def test_spectrum_of_the_uv_saddle_and_the_uv_valley():
    land = Landscape.from_function(lambda t: (t[0] * t[1] - 1) ** 2, 2)
    assert spectrum(land, torch.zeros(2)).eigenvalues.tolist() == [-2.0, 2.0]
    u, v = 2.0, 0.5
    lam = spectrum(land, torch.tensor([u, v])).eigenvalues
    np.testing.assert_allclose(lam, [0.0, 2 * (u**2 + v**2)], atol=1e-12)


def test_spectrum_refuses_large_d_and_names_the_matrix_free_methods(mse_land):
    with pytest.raises(DenseTooLargeError, match=r"valleys\.curvature\.eigs.*valleys\.curvature\.density"):
        spectrum(mse_land, mse_land.theta0, max_dim=10)


# ------------------------------------------------------------------------ traces
def _quadratic(eigenvalues, seed=0):
    n = len(eigenvalues)
    Q = np.linalg.qr(np.random.default_rng(seed).standard_normal((n, n)))[0]
    A = torch.tensor(Q @ np.diag(eigenvalues) @ Q.T)
    return Landscape.from_function(lambda t: 0.5 * t @ (A @ t), n), A.numpy()


@pytest.mark.parametrize("method", ["hutchinson", "hutch++"])
def test_trace_is_within_three_standard_errors_on_several_seeds(mse_land, method):
    exact = np.trace(_exact_hessian(mse_land, mse_land.theta0))
    for seed in range(5):
        est = trace(mse_land, mse_land.theta0, method, num_matvecs=30, seed=seed)
        assert est.num_matvecs == 30
        assert est.std_error > 0
        assert abs(est.estimate - exact) <= 3 * est.std_error


def test_hutchinson_error_decays_like_one_over_sqrt_matvecs(mse_land):
    theta = mse_land.theta0
    H = _exact_hessian(mse_land, theta)
    exact = np.trace(H)
    variance_per_probe = 2 * (np.sum(H**2) - np.sum(np.diag(H) ** 2))
    budgets = np.array([4, 16, 64, 256])
    rms = []
    for m in budgets:
        errors = [trace(mse_land, theta, num_matvecs=int(m), seed=s).estimate - exact
                  for s in range(100)]
        rms.append(np.sqrt(np.mean(np.square(errors))))
    slope = np.polyfit(np.log(budgets), np.log(rms), 1)[0]
    assert -0.65 <= slope <= -0.35
    np.testing.assert_allclose(rms, np.sqrt(variance_per_probe / budgets), rtol=0.25)


def test_hutchpp_beats_hutchinson_on_a_decaying_spectrum():
    land, A = _quadratic(1.0 / np.arange(1, 61) ** 2)
    exact = np.trace(A)
    theta = torch.zeros(60)

    def rms(method):
        errs = [trace(land, theta, method, num_matvecs=30, seed=s).estimate - exact for s in range(30)]
        return np.sqrt(np.mean(np.square(errs)))

    assert rms("hutch++") < 0.5 * rms("hutchinson")


def test_trace_rejects_bad_method_and_budget(mse_land):
    with pytest.raises(InvalidParameterError, match="'method' parameter of trace"):
        trace(mse_land, mse_land.theta0, "exact")
    with pytest.raises(InvalidParameterError, match="'num_matvecs' parameter of trace must be an int >= 4"):
        trace(mse_land, mse_land.theta0, "hutch++", num_matvecs=3)


# ----------------------------------------------------------------------- density
def test_density_integrates_to_one_and_its_mean_is_the_hutchinson_trace(mse_land):
    theta = mse_land.theta0
    dens = density(mse_land, theta, num_matvecs=30, num_probes=8, seed=4)
    assert dens.num_matvecs == 8 * 30
    np.testing.assert_allclose(dens.weights.sum(1), 1.0, atol=1e-12)
    assert abs(np.trapezoid(dens.curve, dens.grid) - 1.0) <= 1e-6
    same_probes = trace(mse_land, theta, num_matvecs=8, seed=4)
    assert abs(dens.mean * mse_land.dim - same_probes.estimate) <= 1e-10 * abs(same_probes.estimate)
    exact = np.trace(_exact_hessian(mse_land, theta)) / mse_land.dim
    assert abs(dens.mean - exact) <= 3 * same_probes.std_error / mse_land.dim


def test_density_nodes_span_the_planted_spectrum():
    lam = np.linspace(-1.0, 3.0, 40)
    land, _ = _quadratic(lam, seed=2)
    dens = density(land, torch.zeros(40), num_matvecs=40, num_probes=3, sigma=0.05, grid=200)
    for row in dens.nodes:
        np.testing.assert_allclose(np.sort(row), lam, atol=1e-10)
    assert dens.grid.shape == (200,) and dens.sigma == 0.05
    fig = dens.figure()
    assert isinstance(fig, matplotlib.figure.Figure) and len(fig.axes) == 1


def test_density_rejects_bad_sigma_and_grid(mse_land):
    with pytest.raises(InvalidParameterError, match="'sigma' parameter of density must be > 0"):
        density(mse_land, mse_land.theta0, sigma=0.0)
    with pytest.raises(InvalidParameterError, match="'grid' parameter of density"):
        density(mse_land, mse_land.theta0, num_matvecs=5, num_probes=2, grid=np.ones((2, 2)))


# ------------------------------------------------------------------------ errors
@pytest.mark.parametrize("fn", [hessian_operator, ggn_operator, spectrum, trace, density])
def test_wrong_theta_length_raises_shape_error_listing_blocks(mse_land, fn):
    with pytest.raises(ShapeError, match=r"length d = 77 \(blocks: W1\[6, 4\]"):
        fn(mse_land, torch.zeros(76))


def test_two_dimensional_theta_is_refused(mse_land):
    with pytest.raises(ShapeError, match="one flat vector of length 77"):
        trace(mse_land, mse_land.theta0[None])


def test_nan_in_theta_names_the_block(mse_land):
    theta = mse_land.theta0.clone()
    theta[mse_land.layout.slice("W2")][3] = float("nan")
    with pytest.raises(NonFiniteError, match="block\\(s\\) W2"):
        spectrum(mse_land, theta)


def test_non_finite_loss_names_the_largest_block():
    X, Y = _data(10, 3), _data(10, 1, seed=1)
    land = Landscape(mlp([3, 4, 1], "exp", seed=0), (X, Y), loss="mse")
    theta = land.theta0.clone()
    theta[land.layout.slice("W1")] *= 1e4
    with pytest.raises(NonFiniteError, match="blocks with the largest entries: W1"):
        hessian_operator(land, theta)
