"""Lanczos tridiagonalisation and thick-restart Lanczos (eigs) against planted spectra and
dense eigh."""

import warnings

import numpy as np
import pytest
import torch

from valleys import Landscape
from valleys.core import products as products_module
from valleys.curvature import CurvatureOperator, eigs, lanczos_tridiag
from valleys.curvature.thick_restart import thick_restart_lanczos, wanted_order
from valleys.errors import InvalidParameterError, NonConvergenceWarning, ShapeError
from valleys.nets import mlp


def planted(eigenvalues, seed=0) -> torch.Tensor:
    """A symmetric matrix Q diag(eigenvalues) Q^T with a seeded random orthogonal Q."""
    n = len(eigenvalues)
    gen = torch.Generator().manual_seed(seed)
    Q = torch.linalg.qr(torch.randn(n, n, generator=gen, dtype=torch.float64))[0]
    return Q @ torch.diag(torch.as_tensor(eigenvalues, dtype=torch.float64)) @ Q.T


def dense_operator(A: torch.Tensor) -> CurvatureOperator:
    return CurvatureOperator(lambda V: V @ A, A.shape[0], torch.float64, "planted")


@pytest.fixture(scope="module")
def mlp_land():
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(40, 8, generator=gen, dtype=torch.float64)
    Y = torch.randn(40, 3, generator=gen, dtype=torch.float64)
    return Landscape(mlp([8, 16, 12, 3], "tanh", seed=0), (X, Y), loss="mse")


@pytest.fixture(scope="module")
def mlp_dense(mlp_land):
    H = mlp_land.hessian(mlp_land.theta0)
    return H, torch.linalg.eigvalsh(H).numpy()


# --------------------------------------------------------- Lanczos tridiagonalisation
def test_lanczos_basis_is_orthonormal_and_projects_to_the_tridiagonal():
    A = planted(np.linspace(-2.0, 5.0, 50))
    V0 = torch.randn(3, 50, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    tri = lanczos_tridiag(lambda V: V @ A, V0, 20, keep_basis=True)
    Q = tri.basis
    eye = torch.eye(20, dtype=torch.float64).expand(3, 20, 20)
    torch.testing.assert_close(Q @ Q.transpose(1, 2), eye, rtol=0, atol=1e-13)
    torch.testing.assert_close(Q @ A @ Q.transpose(1, 2), tri.matrices(), rtol=0, atol=1e-12)
    torch.testing.assert_close(Q[:, 0], V0 / V0.norm(dim=1, keepdim=True), rtol=0, atol=1e-15)


def test_full_lanczos_recovers_the_planted_spectrum_with_weights_summing_to_one():
    lam = np.linspace(-1.0, 4.0, 30)
    A = planted(lam, seed=3)
    V0 = torch.randn(2, 30, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    nodes, weights = lanczos_tridiag(lambda V: V @ A, V0, 30).ritz()
    np.testing.assert_allclose(np.sort(nodes.numpy(), 1), np.broadcast_to(lam, (2, 30)), atol=1e-11)
    np.testing.assert_allclose(weights.sum(1).numpy(), 1.0, atol=1e-13)


def test_lanczos_continues_after_a_breakdown():
    lam = np.repeat([-1.0, 2.0, 7.0], 4)  # the Krylov space of any vector has dimension 3
    A = planted(lam, seed=4)
    V0 = torch.randn(1, 12, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    tri = lanczos_tridiag(lambda V: V @ A, V0, 12, keep_basis=True)
    assert float(tri.beta[0, 2]) == 0.0
    torch.testing.assert_close(tri.basis[0] @ tri.basis[0].T, torch.eye(12, dtype=torch.float64),
                               rtol=0, atol=1e-12)
    np.testing.assert_allclose(np.sort(torch.linalg.eigvalsh(tri.matrices()[0]).numpy()), lam,
                               atol=1e-10)
    nodes, weights = tri.ritz()
    kept = weights[0].numpy() > 1e-12
    np.testing.assert_allclose(np.unique(np.round(nodes[0].numpy()[kept], 8)), [-1.0, 2.0, 7.0])


def test_lanczos_rejects_zero_start_vectors_and_too_many_steps():
    A = torch.eye(4, dtype=torch.float64)
    with pytest.raises(ShapeError, match="nonzero"):
        lanczos_tridiag(lambda V: V @ A, torch.zeros(1, 4, dtype=torch.float64), 2)
    with pytest.raises(InvalidParameterError, match="'num_steps' parameter of lanczos_tridiag"):
        lanczos_tridiag(lambda V: V @ A, torch.ones(1, 4, dtype=torch.float64), 5)


# ----------------------------------------------------------------- thick restart
@pytest.mark.parametrize("which", ["LA", "SA", "LM", "BE"])
def test_thick_restart_recovers_planted_extreme_eigenvalues_across_restarts(which):
    lam = np.concatenate([np.linspace(-3.0, -1.0, 5), np.linspace(-0.5, 0.5, 185),
                          np.linspace(1.5, 4.0, 10)])
    A = planted(lam, seed=6)
    gen = torch.Generator().manual_seed(0)
    V0 = torch.randn(1, 200, generator=gen, dtype=torch.float64)
    ritz = thick_restart_lanczos(dense_operator(A), 4, which, 1e-10, 2000, V0, 12, gen)
    expected = {"LA": lam[-4:], "SA": lam[:4], "LM": np.sort(lam[np.argsort(-np.abs(lam))[:4]]),
                "BE": np.sort(np.r_[lam[:2], lam[-2:]])}[which]
    np.testing.assert_allclose(ritz.values.numpy(), expected, rtol=0, atol=1e-9)
    assert ritz.num_restarts > 0
    X = ritz.vectors
    true_res = torch.linalg.vector_norm(A @ X - X * ritz.values, dim=0)
    torch.testing.assert_close(true_res, ritz.residuals, rtol=1e-3, atol=1e-14)
    assert float(ritz.residuals.max()) <= 1e-10 * ritz.scale


@pytest.mark.parametrize("which", ["LA", "SA"])
def test_block_lanczos_finds_every_copy_of_a_repeated_eigenvalue(which):
    lam = np.concatenate([[-2.0] * 3, np.linspace(-1.0, 1.0, 94), [3.0] * 3])
    A = planted(lam, seed=7)
    gen = torch.Generator().manual_seed(1)
    V0 = torch.randn(3, 100, generator=gen, dtype=torch.float64)
    ritz = thick_restart_lanczos(dense_operator(A), 4, which, 1e-10, 3000, V0, 18, gen)
    expected = np.sort(lam)[:4] if which == "SA" else np.sort(lam)[-4:]
    np.testing.assert_allclose(ritz.values.numpy(), expected, rtol=0, atol=1e-9)
    assert ritz.num_matvecs % 3 == 0 and ritz.num_restarts > 0


def test_thick_restart_continues_after_an_invariant_subspace():
    # the Krylov space of one vector has dimension 2 < k = 3: after the breakdown the
    # basis continues with a random vector, which brings the second copy of -1
    lam = np.array([-1.0, -1.0] + [3.0] * 10)
    A = planted(lam, seed=4)
    gen = torch.Generator().manual_seed(2)
    V0 = torch.randn(1, 12, generator=gen, dtype=torch.float64)
    ritz = thick_restart_lanczos(dense_operator(A), 3, "SA", 1e-10, 100, V0, 8, gen)
    np.testing.assert_allclose(ritz.values.numpy(), [-1.0, -1.0, 3.0], atol=1e-9)
    torch.testing.assert_close(ritz.vectors.T @ ritz.vectors, torch.eye(3, dtype=torch.float64),
                               rtol=0, atol=1e-12)


def test_wanted_order_both_ends_alternates_from_the_top():
    theta = torch.arange(6.0)
    assert wanted_order(theta, "BE").tolist() == [5, 0, 4, 1, 3, 2]
    assert wanted_order(torch.tensor([-3.0, 1.0, 2.0]), "LM").tolist() == [0, 2, 1]


# -------------------------------------------------------------------------- eigs
def test_eigs_matches_dense_eigh_at_both_ends_of_an_mlp_hessian(mlp_land, mlp_dense):
    H, lam = mlp_dense
    assert 200 <= mlp_land.dim <= 400
    scale = np.abs(lam).max()
    top = eigs(mlp_land, mlp_land.theta0, k=5, which="LA")
    bottom = eigs(mlp_land, mlp_land.theta0, k=5, which="SA")
    assert np.max(np.abs(top.eigenvalues - lam[-5:])) <= 1e-8 * scale
    assert np.max(np.abs(bottom.eigenvalues - lam[:5])) <= 1e-8 * scale
    for pairs in (top, bottom):
        assert pairs.all_converged and pairs.eigenvectors.shape == (mlp_land.dim, 5)
        V = pairs.eigenvectors
        res = np.linalg.norm(H.numpy() @ V - V * pairs.eigenvalues, axis=0) / scale
        assert np.all(res <= 1e-7)
        np.testing.assert_allclose(V.T @ V, np.eye(5), atol=1e-10)


def test_eigs_sa_finds_the_negative_eigenvalues_of_an_indefinite_hessian(mlp_land, mlp_dense):
    _, lam = mlp_dense
    assert lam[0] < 0 < lam[-1]
    pairs = eigs(mlp_land, mlp_land.theta0, k=3, which="SA")
    assert np.all(pairs.eigenvalues < 0)
    np.testing.assert_allclose(pairs.eigenvalues, lam[:3], rtol=0, atol=1e-8 * np.abs(lam).max())
    saddle = Landscape.from_function(lambda t: (t[0] * t[1] - 1) ** 2 + t[2:].pow(2).sum(), 6)
    np.testing.assert_allclose(eigs(saddle, torch.zeros(6), k=1, which="SA").eigenvalues, [-2.0])


def test_eigs_counts_the_hessian_vector_products_it_does(mlp_land, monkeypatch):
    calls = []
    original = products_module.graph_rows

    def counting_graph_rows(land, theta):
        rows = original(land, theta)

        def counted(V):
            calls.append(V.shape[0])
            return rows(V)

        return counted

    monkeypatch.setattr(products_module, "graph_rows", counting_graph_rows)
    pairs = eigs(mlp_land, mlp_land.theta0, k=4, which="LA", tol=1e-6, block_size=2)
    assert pairs.num_matvecs == sum(calls) > 0


def test_eigs_warns_and_flags_when_the_budget_runs_out(mlp_land):
    with pytest.warns(NonConvergenceWarning, match="Raise num_matvecs"):
        pairs = eigs(mlp_land, mlp_land.theta0, k=3, which="SA", num_matvecs=6)
    assert pairs.num_matvecs == 6
    assert not pairs.all_converged
    assert np.all(pairs.residuals[~pairs.converged] > pairs.tol)


def test_eigs_is_reproducible_for_a_seed(mlp_land):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NonConvergenceWarning)
        a = eigs(mlp_land, mlp_land.theta0, k=2, num_matvecs=15, seed=3)
        b = eigs(mlp_land, mlp_land.theta0, k=2, num_matvecs=15, seed=3)
        c = eigs(mlp_land, mlp_land.theta0, k=2, num_matvecs=15, seed=4)
    np.testing.assert_array_equal(a.eigenvalues, b.eigenvalues)
    assert not np.array_equal(a.eigenvalues, c.eigenvalues)


def test_eigs_on_a_parameter_block_matches_the_dense_sub_block(mlp_land, mlp_dense):
    H, _ = mlp_dense
    idx = np.flatnonzero(mlp_land.layout.mask(["W3", "b3"]).numpy())
    sub = np.linalg.eigvalsh(H.numpy()[np.ix_(idx, idx)])
    # the last-layer block is I_3 (x) (2/N) [Phi 1]^T [Phi 1]: every eigenvalue is triple
    pairs = eigs(mlp_land, mlp_land.theta0, k=3, which="LA", param_filter=["W3", "b3"],
                 block_size=3)
    assert pairs.blocks == ("W3", "b3") and pairs.eigenvectors.shape == (idx.size, 3)
    assert pairs.block_size == 3
    np.testing.assert_allclose(pairs.eigenvalues, sub[-3:], rtol=1e-9)


def test_eigs_of_the_ggn_is_nonnegative_and_matches_its_dense_spectrum(mlp_land):
    J = mlp_land.jacobian(mlp_land.theta0).numpy()
    lam = np.linalg.eigvalsh(2 / 40 * J.T @ J)
    pairs = eigs(mlp_land, mlp_land.theta0, k=3, which="LA", curvature="ggn")
    np.testing.assert_allclose(pairs.eigenvalues, lam[-3:], rtol=1e-9)


@pytest.mark.parametrize("context", [torch.no_grad, torch.inference_mode])
def test_eigs_works_inside_grad_free_contexts(mlp_land, mlp_dense, context):
    _, lam = mlp_dense
    with context():
        pairs = eigs(mlp_land, mlp_land.theta0, k=2, which="LA")
    np.testing.assert_allclose(pairs.eigenvalues, lam[-2:], rtol=1e-9)


def test_eigs_small_problem_uses_the_whole_space():
    land = Landscape.from_function(lambda t: t[0] ** 2 - 3 * t[1] ** 2, 2)
    pairs = eigs(land, torch.zeros(2), k=1, which="SA")
    np.testing.assert_allclose(pairs.eigenvalues, [-6.0], atol=1e-12)
    assert pairs.num_matvecs <= 2


@pytest.mark.parametrize("kwargs, match", [
    ({"k": 0}, "'k' parameter of eigs must be an int >= 1"),
    ({"k": 387}, "'k' parameter of eigs must be an int <= 386"),
    ({"which": "XX"}, "'which' parameter of eigs must be one of"),
    ({"tol": 0.0}, "'tol' parameter of eigs must be > 0"),
    ({"k": 4, "num_matvecs": 3}, "'num_matvecs' parameter of eigs must be an int >= 4"),
    ({"k": 4, "ncv": 4}, "'ncv' parameter of eigs must be an int >= 5"),
    ({"k": 4, "block_size": 2, "ncv": 5}, "'ncv' parameter of eigs must be an int >= 6"),
    ({"block_size": 0}, "'block_size' parameter of eigs must be an int >= 1"),
    ({"curvature": "fisher"}, "'curvature' parameter of eigs must be one of"),
])
def test_eigs_validates_its_arguments(mlp_land, kwargs, match):
    with pytest.raises(InvalidParameterError, match=match):
        eigs(mlp_land, mlp_land.theta0, **kwargs)


def test_eigs_wrong_theta_length_raises_shape_error(mlp_land):
    with pytest.raises(ShapeError, match="length d = 387"):
        eigs(mlp_land, torch.zeros(5))
