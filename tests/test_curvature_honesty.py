"""Issue 18, items 7, 13 and 16 (parts): eigs's extremal claims, float32 resolution,
one dense Hessian for --nullity --classify, eig_top order.

Ground truths are planted: a quadratic ``1/2 t^T A t`` with ``A = Q diag(lambda) Q^T``
(its Hessian is A everywhere), and a linear least-squares model whose Hessian has an
exact null space of known dimension. Nothing depends on where an optimiser stops.
"""

import warnings

import numpy as np
import pytest
import torch
from torch import nn

import valleys
from valleys import Landscape
from valleys.analysis import analysis as analysis_module
from valleys.core.landscape import Landscape as CoreLandscape
from valleys.critical import classify
from valleys.curvature import eigs
from valleys.curvature.eigs import DENSE_DIM, NOT_CERTIFIED
from valleys.curvature.tolerances import default_tol
from valleys.errors import InvalidParameterError, NonConvergenceWarning

F64 = torch.float64


def planted(lam, seed: int = 0, dtype=F64):
    """L(t) = 1/2 t^T Q diag(lam) Q^T t with a seeded random orthogonal Q: (landscape, A)."""
    lam = np.asarray(lam, dtype=np.float64)
    Q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((lam.size, lam.size)))
    A = torch.as_tensor((Q * lam) @ Q.T, dtype=F64)
    A = (0.5 * (A + A.T)).to(dtype)
    return Landscape.from_function(lambda t: 0.5 * t @ (A @ t), lam.size, dtype=dtype), A


def trained_like(d: int = 66) -> np.ndarray:
    """The spectrum of the issue's trained MLP 5-8-2: lambda_max 2.8e5 and seven negative
    eigenvalues down to -3.3e-5 under a positive bulk that reaches down to 1e-5."""
    return np.sort(np.r_[-np.geomspace(3.3e-5, 1e-7, 7), np.geomspace(1e-5, 2.8e5, d - 7)])


def quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NonConvergenceWarning)
        return fn(*args, **kwargs)


# ------------------------------------------------------------------ item 7
def test_small_d_takes_the_dense_route_and_finds_the_negative_eigenvalues():
    truth = trained_like()
    land, _ = planted(truth, seed=1)
    theta = torch.zeros(truth.size, dtype=F64)
    pairs = eigs(land, theta, k=3, which="SA")
    assert truth.size <= DENSE_DIM and pairs.method == "dense"
    assert pairs.num_matvecs == truth.size  # n products, not the 1000 of the Krylov budget
    assert np.all(np.abs(pairs.eigenvalues - truth[:3]) <= pairs.error_bounds)
    assert np.all(pairs.eigenvalues < 0) and pairs.all_converged
    assert pairs.extremal_certified and pairs.extremal.startswith("dense spectrum")
    top = eigs(land, theta, k=2, which="LA")
    np.testing.assert_allclose(top.eigenvalues, truth[-2:], rtol=1e-10)
    assert "extremal_certified=True" in repr(pairs)


def test_krylov_converged_values_are_not_called_the_smallest():
    # the finding: Krylov values, all positive, "converged" and "sign certain", while
    # seven eigenvalues are negative; nothing may certify that they are the smallest
    truth = trained_like()
    land, _ = planted(truth, seed=1)
    theta = torch.zeros(truth.size, dtype=F64)
    for ncv in (40, 66):
        pairs = quiet(eigs, land, theta, k=3, which="SA", ncv=ncv, dense=False)
        assert pairs.method == "lanczos"
        assert np.all(pairs.eigenvalues > 0)  # not the three smallest (all negative)
        assert not pairs.extremal_certified and pairs.extremal.startswith(NOT_CERTIFIED)
        assert "extremal_certified=False" in repr(pairs)
        counted = quiet(eigs, land, theta, k=3, which="SA", ncv=ncv, dense=False, certify=True)
        assert not counted.extremal_certified
        assert "finds" in counted.extremal or "overlap" in counted.extremal
        plain = quiet(eigs, land, theta, k=3, which="SA", ncv=ncv, dense=False, certify=False)
        assert "certify=False" in plain.extremal and not plain.extremal_certified
        assert counted.num_matvecs == plain.num_matvecs + truth.size  # the count's products


@pytest.mark.parametrize("which", ["SA", "LA", "BE", "LM"])
def test_inertia_count_certifies_the_extreme_values_when_they_are_found(which):
    # a well-separated planted spectrum above the dense threshold: Lanczos finds the ends
    truth = np.r_[-np.arange(4.0, 0.0, -1.0), np.linspace(0.05, 0.5, 292), [2.5, 3.5, 4.5, 5.5]]
    land, _ = planted(truth, seed=2)
    theta = torch.zeros(truth.size, dtype=F64)
    pairs = eigs(land, theta, k=4, which=which, certify=True)
    assert pairs.method == "lanczos" and pairs.all_converged
    assert pairs.extremal_certified and pairs.extremal.startswith("inertia count")
    want = {"SA": truth[:4], "LA": truth[-4:], "BE": np.r_[truth[:2], truth[-2:]],
            "LM": np.sort(truth[np.argsort(-np.abs(truth))[:4]])}[which]
    assert np.all(np.abs(pairs.eigenvalues - want) <= pairs.error_bounds)


def test_k_a_large_fraction_of_d_takes_the_dense_route():
    truth = np.linspace(-1.0, 2.0, 400)
    land, _ = planted(truth, seed=3)
    pairs = eigs(land, torch.zeros(400, dtype=F64), k=100, which="LA")
    assert pairs.method == "dense" and pairs.num_matvecs == 400
    np.testing.assert_allclose(pairs.eigenvalues, truth[-100:], atol=1e-12)
    krylov = eigs(land, torch.zeros(400, dtype=F64), k=3, which="LA")
    assert krylov.method == "lanczos"


@pytest.mark.parametrize("kwargs", [{"dense": "yes"}, {"certify": 1}])
def test_eigs_route_flags_are_validated(kwargs):
    land, _ = planted(np.linspace(1.0, 2.0, 10))
    with pytest.raises(InvalidParameterError, match="must be True, False or None"):
        eigs(land, torch.zeros(10, dtype=F64), k=2, **kwargs)


# ------------------------------------------------------------------ item 13
def test_classify_float32_does_not_certify_resolved_negatives_counted_as_zero():
    # four large eigenvalues over a bulk of +-1e-3 values: resolved in float32 (its noise
    # floor here is ~6e-5) but under the widest log-gap, so the gap cut counts them as zero
    bulk = np.r_[-np.geomspace(1e-3, 3e-3, 5), np.geomspace(1e-3, 3e-3, 41)]
    truth = np.sort(np.r_[bulk, [1.0, 2.0, 5.0, 10.0]])
    land, _ = planted(truth, seed=4, dtype=torch.float32)
    cp = classify(land, torch.zeros(truth.size, dtype=torch.float32))
    assert cp.index == 0 and cp.nullity == 46  # the band counts
    assert not cp.inertia_certified  # the index is not proven to be 0
    assert "5 resolved negative eigenvalues" in cp.evidence and "UNDETERMINED" in cp.evidence
    assert cp.resolution_floor < 1e-3
    exact = classify(*((lambda lt: (lt[0], torch.zeros(truth.size, dtype=F64)))(planted(truth, seed=4))))
    assert (exact.kind, exact.index, exact.inertia_certified) == ("saddle", 5, True)


def test_classify_float32_signs_below_the_floor_are_undetermined():
    # tau below float32 resolution: +-2e-6 values would be counted with a noise sign
    truth = np.sort(np.r_[[-2e-6, 3e-6], np.linspace(0.5, 10.0, 48)])
    land, _ = planted(truth, seed=5, dtype=torch.float32)
    cp = classify(land, torch.zeros(truth.size, dtype=torch.float32), tau=1e-8)
    assert cp.zero_threshold < cp.resolution_floor and cp.undetermined >= 2
    assert not cp.inertia_certified and cp.kind == "degenerate (undetermined sign)"
    assert "UNDETERMINED" in cp.evidence


def linear_problem(dtype: str):
    """nn.Linear(12, 1) on inputs of rank 8: the Hessian 2/N X^T X has nullity exactly 4."""
    gen = torch.Generator().manual_seed(0)
    U, _ = torch.linalg.qr(torch.randn(200, 8, generator=gen, dtype=F64))
    V, _ = torch.linalg.qr(torch.randn(12, 8, generator=gen, dtype=F64))
    X = (U * torch.linspace(5.0, 15.0, 8, dtype=F64)) @ V.T
    y = torch.randn(200, 1, generator=gen, dtype=F64)
    torch.manual_seed(0)
    return nn.Linear(12, 1, bias=False), X.float() if dtype == "float32" else X, y.to(X.dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_analyze_nullity_uses_the_landscape_dtype(dtype):
    model, X, y = linear_problem(dtype)
    res = valleys.analyze(model, (X, y), "mse", eigs=0, trace=False, nullity=True, dtype=dtype)
    assert res.summary["nullity"] == 4 and not res.summary["nullity_ambiguous"]


def test_analyze_float32_eig_tolerance_follows_the_dtype():
    assert analysis_module._default_eig_tol(torch.float32) == pytest.approx(default_tol(torch.float32))
    assert analysis_module._default_eig_tol(torch.float64) == 1e-8


# ------------------------------------------------------------------ item 16
def test_nullity_and_classify_build_the_dense_hessian_once(monkeypatch):
    products = []
    original = CoreLandscape.hvp_rows

    def counting(self, theta, **kwargs):
        rows = original(self, theta, **kwargs)

        def counted(V, *args, **kw):
            products.append(V.shape[0])
            return rows(V, *args, **kw)

        return counted

    monkeypatch.setattr(CoreLandscape, "hvp_rows", counting)
    model, X, y = linear_problem("float64")
    res = valleys.analyze(model, (X, y), "mse", eigs=0, trace=False, nullity=True, classify=True)
    assert sum(products) == 12  # one dense Hessian: d products
    assert res.summary["nullity"] == 4 and res.summary["class"] == "not-critical"
    # four zero eigenvalues computed at the rounding level: their signs are undetermined
    assert not res.summary["inertia_certified"]


def test_eig_top_rows_are_listed_from_the_largest_down():
    model, X, y = linear_problem("float64")
    res = valleys.analyze(model, (X, y), "mse", eigs=3, trace=False)
    top = res.table[res.table.quantity == "eig_top"]
    assert list(top["index"]) == [0, 1, 2]
    assert np.all(np.diff(top["value"].to_numpy()) < 0)
    assert top["value"].iloc[0] == pytest.approx(res.summary["lambda_max"])
    bottom = res.table[res.table.quantity == "eig_bottom"]
    assert np.all(np.diff(bottom["value"].to_numpy()) >= 0)
    assert res.summary["eigs_extremal_certified"]
