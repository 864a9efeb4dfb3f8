"""Intrinsic dimension (VBB-P2.1, VBB-T2.1), shift and bias-span ranks (NG-L3.4.3, L3.4.11),
random-feature least squares (VBB-T3.4)."""

from fractions import Fraction
from math import comb

import numpy as np
import pytest
import torch

from valleys.curvature.rank import numerical_rank
from valleys.errors import InvalidParameterError
from valleys.expressivity.intrinsic import filter_matrix, intrinsic_rank, polynomial_dimension
from valleys.expressivity.random_features import (
    interpolation_losses,
    loglog_slope,
    prefix_least_squares,
    random_teacher,
)
from valleys.expressivity.shift import bias_span_matrix, bias_span_rank, shift_rank
from valleys.nets import poly


@pytest.mark.parametrize(("coeffs", "n", "dim"), [
    ((0, 0, 1), 3, 6), ((0, 0, 0, 1), 3, 10), ((0, 1, 1), 3, 9), ((1, 0, 1), 2, 4),
    ((0, 1), 4, 4), ((0, 0, 1, 1), 2, 7), ((2, 0, 0, 0, 1), 2, 6)])
def test_polynomial_dimension_closed_form(coeffs, n, dim):
    assert polynomial_dimension(coeffs, n) == dim


def test_seed_formula_drops_the_constant():
    assert polynomial_dimension((1, 0, 1), 2, include_constant=False) == 3
    assert polynomial_dimension((0, 0, 1), 5) == comb(6, 2) == 15


@pytest.mark.parametrize(("coeffs", "n"), [((0, 0, 1), 3), ((0, 0, 0, 1), 2), ((1, 0, 1), 2),
                                           ((0, 1, 1), 3), ((1, 1, 0, 1), 2)])
def test_numerical_rank_of_polynomial_filters_is_the_formula(coeffs, n):
    r = intrinsic_rank(poly(coeffs), n, 300, 120, seed=1)
    assert r.rank.count == polynomial_dimension(coeffs, n)
    assert r.rank.gap_ratio > 1e10


def test_non_polynomial_rank_grows_with_the_sample():
    for act in ("relu", "tanh"):
        ranks = [intrinsic_rank(act, 5, s, s, seed=s).rank.count for s in (30, 60)]
        assert ranks == [30, 60]


def test_filter_matrix_entries():
    X = torch.tensor([[1.0, 2.0]], dtype=torch.float64)
    V = torch.tensor([[1.0, -1.0], [0.5, 0.5]], dtype=torch.float64)
    assert torch.allclose(filter_matrix("relu", X, V), torch.tensor([[0.0, 1.5]], dtype=torch.float64))


def test_unknown_activation_is_a_one_line_error():
    with pytest.raises(InvalidParameterError, match="Unknown activation"):
        intrinsic_rank("swishy", 2, 10, 10)
    with pytest.raises(InvalidParameterError):
        shift_rank("nope", 5)


@pytest.mark.parametrize(("act", "shift", "span"), [
    ("relu", 16, 12), ("leaky_relu", 16, 12), ("elu", 16, 12),
    (poly((0, 0, 1)), 3, 3), (poly((0, 0, 0, 1)), 4, 4), (poly((1, 2, 0, 0, 1)), 5, 5)])
def test_shift_and_bias_span_ranks(act, shift, span):
    assert shift_rank(act, 15, seed=3, grid_points=401).rank.count == shift
    assert bias_span_rank(act, 12, 40, seed=4).rank.count == span


def test_polynomial_bias_span_lies_in_powers_of_v():
    v = torch.tensor([0.3, -1.0, 2.0, 0.7], dtype=torch.float64)
    M = bias_span_matrix(poly((0, 0, 1)), v, torch.linspace(-2, 2, 9, dtype=torch.float64))
    basis = torch.stack([torch.ones_like(v), v, v * v], 1)
    coef = torch.linalg.lstsq(basis, M).solution
    assert torch.allclose(basis @ coef, M, atol=1e-12)


def test_prefix_least_squares_matches_independent_lstsq():
    gen = torch.Generator().manual_seed(0)
    teacher = random_teacher(4, 300, seed=gen)
    X = torch.randn(400, 4, generator=gen, dtype=torch.float64)
    f = teacher(X)
    W = torch.randn(60, 4, generator=gen, dtype=torch.float64)
    Phi = torch.relu(X @ W.T)
    fit = prefix_least_squares(Phi, f, [5, 20, 60])
    for p, res in zip([5, 20, 60], fit.residuals, strict=True):
        u = np.linalg.lstsq(Phi[:, :p].numpy(), f.numpy(), rcond=None)[0]
        assert res[0] == pytest.approx(np.mean((Phi[:, :p].numpy() @ u - f.numpy()) ** 2), rel=1e-9)
        assert np.allclose(fit.solution(p).numpy(), u, atol=1e-8)
    losses = interpolation_losses(Phi[:, :20], f, torch.zeros(20, dtype=torch.float64),
                                  fit.solution(20), 11)
    assert losses[-1] == pytest.approx(fit.residuals[1, 0], rel=1e-9)
    # along the segment to the minimiser of a convex quadratic the loss is (1-t)^2 a + b
    t = np.linspace(0, 1, 11)
    b = losses[-1]
    assert np.allclose(losses, (1 - t) ** 2 * (losses[0] - b) + b, rtol=1e-9)


def test_loglog_slope_of_a_power_law():
    p = np.array([16, 32, 64, 128])
    assert loglog_slope(p, 3.0 / p) == pytest.approx(-1.0)
    with pytest.raises(InvalidParameterError):
        loglog_slope([1], [1])


def exact_grid(lo: int, hi: int, denominator: int = 8) -> torch.Tensor:
    """The points k / denominator for k = lo..hi: exact in float64 for a power-of-two
    denominator, so differences of grid points and such shifts are exact too (a linspace
    rounds its points differently on different CPU kernels)."""
    return torch.tensor([float(Fraction(k, denominator)) for k in range(lo, hi + 1)], dtype=torch.float64)


def test_high_precision_ratio_separates_singular_from_nearly_singular():
    from valleys.expressivity.shift import CERTIFY_TAU, sigma_ratio_high_precision

    x = exact_grid(-24, 24)  # -3, -2.875, ..., 3
    # two shifts 1e-13 apart: independent ELU columns whose float64 rank falls short
    a = torch.tensor([0.0, 0.5, 0.5 + 1e-13, -1.0], dtype=torch.float64)
    args = x[:, None] - a[None, :]
    ratio = sigma_ratio_high_precision("elu", args)
    # the two near columns differ by ~1e-13 * elu'(x - 0.5): sigma_min is that size, up to O(1)
    assert 1e-16 < ratio < 1e-11 and ratio > CERTIFY_TAU
    sv = torch.linalg.svdvals(torch.nn.functional.elu(args))
    assert float(sv[-1] / sv[0]) < 1e-10  # float64 cannot resolve it with the default tau
    # a repeated shift makes two identical columns: exactly singular at any precision
    a_dup = torch.tensor([0.0, 0.5, 0.5, -1.0], dtype=torch.float64)
    assert sigma_ratio_high_precision("relu", x[:, None] - a_dup[None, :]) < CERTIFY_TAU
    # a relu example with a closed form: columns relu(x) and relu(x - 1) on x = 0, 1, 2
    xs = torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64)
    ratio = sigma_ratio_high_precision("relu", xs[:, None] - torch.tensor([[0.0, 1.0]], dtype=torch.float64))
    eig = torch.linalg.eigvalsh(torch.tensor([[5.0, 2.0], [2.0, 1.0]], dtype=torch.float64))
    assert ratio == pytest.approx(float(torch.sqrt(eig[0] / eig[1])), rel=1e-14)
    assert sigma_ratio_high_precision("softplus", args) is None  # no high-precision form


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "elu"])
@pytest.mark.parametrize(("lo", "hi", "shifts"), [
    (-24, 24, [0.0, 0.5, 0.5, -1.0]),  # a repeated shift: two identical columns
    (-24, 24, [0.25, 0.25, 2.0, -0.5, 1.5]),
    (-24, 24, [0.0, -1.25, -1.25]),
    (8, 40, [0.0, 0.5, 1.0, -0.75]),  # x - a > 0 everywhere: four columns in span{x, 1}
])
def test_an_exactly_singular_shift_matrix_is_never_certified_nonsingular(activation, lo, hi, shifts):
    from valleys.expressivity.shift import CERTIFY_TAU, HIGH_PRECISION_DPS, SpanRank, sigma_ratio_high_precision

    x = exact_grid(lo, hi)
    args = x[:, None] - torch.tensor(shifts, dtype=torch.float64)[None, :]  # exact: dyadic values
    ratio = sigma_ratio_high_precision(activation, args)
    # the stated resolution, about sqrt(m + k^2) * 10^-(dps + 5), far below the threshold
    assert 0 <= ratio < 10.0 ** -HIGH_PRECISION_DPS < CERTIFY_TAU
    rank = numerical_rank(np.ones(len(shifts) - 1), policy="relative", tau=1e-10, warn=False)
    assert SpanRank(activation, "shift", len(shifts), rank, ratio).full_hp is False


@pytest.mark.parametrize(("scale", "certified"), [(1e-20, True), (1e-26, True), (1e-33, False), (1e-40, False)])
def test_high_precision_ratio_resolves_values_far_below_the_old_resolution(scale, certified):
    """Columns x, x - 1/2 and scale * x^2 (all arguments positive, so relu is the identity):
    sigma_min = scale * |P x^2| (P projects off span{x, 1}) and sigma_max = sigma_max([x, x - 1/2]),
    each up to a relative O(scale^2), computed independently in float64 (a Gram matrix with
    only 50 digits resolves the ratio only to about 1e-25)."""
    from valleys.expressivity.shift import CERTIFY_TAU, sigma_ratio_high_precision

    x = exact_grid(8, 40)
    args = torch.stack([x, x - 0.5, scale * x * x], 1)
    base, b = args[:, :2].numpy(), args[:, 2].numpy()
    residual = b - base @ np.linalg.lstsq(base, b, rcond=None)[0]
    expected = np.linalg.norm(residual) / np.linalg.svd(base, compute_uv=False)[0]
    ratio = sigma_ratio_high_precision("relu", args)
    assert ratio == pytest.approx(expected, rel=1e-9)  # expected is about 0.3 * scale
    assert (ratio > CERTIFY_TAU) == certified
