"""Numerical rank / nullity policies and LDL^T inertia, against planted spectra."""

import math
import warnings

import numpy as np
import pytest
import torch

from valleys.curvature.inertia import Inertia, eigen_inertia, ldl_inertia
from valleys.curvature.rank import matrix_rank, nullity, numerical_rank
from valleys.errors import AmbiguousRankWarning, InvalidParameterError, ShapeError


def planted_matrix(singular_values, m, n, seed=0):
    """An m x n matrix with the given singular values (the rest exactly zero)."""
    rng = np.random.default_rng(seed)
    U = np.linalg.qr(rng.standard_normal((m, m)))[0]
    V = np.linalg.qr(rng.standard_normal((n, n)))[0]
    S = np.zeros((m, n))
    k = len(singular_values)
    S[:k, :k] = np.diag(singular_values)
    return U @ S @ V.T


def planted_symmetric(eigenvalues, seed=0):
    rng = np.random.default_rng(seed)
    d = len(eigenvalues)
    Q = np.linalg.qr(rng.standard_normal((d, d)))[0]
    return Q @ np.diag(eigenvalues) @ Q.T


@pytest.mark.parametrize("policy", ["relative", "press", "gap"])
@pytest.mark.parametrize("rank", [0, 1, 4, 7])
def test_matrix_rank_recovers_planted_rank(policy, rank):
    sv = np.logspace(1, -2, rank)
    A = planted_matrix(sv, 9, 12, seed=rank)
    with warnings.catch_warnings():
        warnings.simplefilter("error", AmbiguousRankWarning)
        r = matrix_rank(A, policy=policy)
    assert (r.count, r.size, r.nullity) == (rank, 9, 9 - rank)
    assert r.policy == policy
    assert not r.ambiguous
    if 0 < rank < 9:
        s = np.linalg.svd(A, compute_uv=False)
        assert r.gap_ratio == pytest.approx(s[rank - 1] / s[rank])
        assert r.gap_ratio > 1e10


def test_full_rank_matrix_keeps_every_value_under_every_policy():
    A = planted_matrix(np.linspace(3.0, 1.0, 6), 6, 6, seed=3)
    for policy in ("relative", "press", "gap"):
        r = matrix_rank(A, policy=policy)
        assert r.count == 6 and r.nullity == 0 and r.gap_ratio == math.inf


def test_press_threshold_is_half_sqrt_m_n_1_sigma_max_eps():
    A = planted_matrix([5.0, 2.0, 1e-3], 7, 4, seed=1)
    r = matrix_rank(A, policy="press")
    expected = 0.5 * math.sqrt(7 + 4 + 1) * 5.0 * np.finfo(np.float64).eps
    assert r.threshold == pytest.approx(expected, rel=1e-12)
    assert r.count == 3  # 1e-3 is far above the Press threshold ...
    assert matrix_rank(A, policy="relative", tau=1e-2).count == 2  # ... but not above 1e-2 * 5


def test_press_uses_the_dtype_epsilon_and_requires_shape():
    values = np.array([1.0, 1e-9], dtype=np.float32)
    r = numerical_rank(values, policy="press", shape=(3, 3), warn=False)
    assert r.threshold == pytest.approx(0.5 * math.sqrt(7) * np.finfo(np.float32).eps)
    assert r.count == 1
    with pytest.raises(InvalidParameterError, match="shape=\\(m, n\\)"):
        numerical_rank([1.0, 0.5], policy="press")


def test_relative_threshold_counts_eigenvalues_of_any_sign():
    r = numerical_rank(torch.tensor([-4.0, 3.0, 2e-9, -3e-8, 0.0]), tau=1e-8)
    assert r.threshold == pytest.approx(4e-8)
    assert (r.count, r.nullity) == (2, 3)
    assert r.gap_ratio == pytest.approx(3.0 / 3e-8)


def test_gap_policy_cuts_at_the_widest_log_gap():
    values = [1.0, 0.8, 0.5, 1e-13, 5e-14]
    r = numerical_rank(values, policy="gap")
    assert r.count == 3
    assert r.gap_ratio == pytest.approx(0.5 / 1e-13)
    assert 1e-13 < r.threshold < 0.5


def test_gap_policy_keeps_values_far_above_the_noise_floor():
    # The widest gap (5e5) is narrower than the gap from 5e-7 to eps * max = 2.2e-16,
    # so nothing is cut; the relative policy with tau = 1e-3 does cut.
    values = [1.0, 0.8, 0.5, 1e-6, 5e-7]
    assert numerical_rank(values, policy="gap").count == 5
    assert numerical_rank(values, tau=1e-3).count == 3


def test_small_gap_is_flagged_ambiguous_and_warns():
    values = np.array([1.0, 0.5, 2e-8, 5e-9])  # cut at tau = 1e-8 leaves a gap of 4
    with pytest.warns(AmbiguousRankWarning, match="gap ratio 4"):
        r = numerical_rank(values, tau=1e-8)
    assert r.count == 3 and r.ambiguous and r.gap_ratio == pytest.approx(4.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        quiet = numerical_rank(values, tau=1e-8, warn=False)
    assert quiet.ambiguous


def test_nullity_helper_matches_rank_result():
    values = [2.0, 0.0, 1e-20, 1.0]
    assert nullity(values) == numerical_rank(values).nullity == 2


def test_all_zero_spectrum_has_full_nullity():
    for policy in ("relative", "gap"):
        r = numerical_rank(np.zeros(4), policy=policy)
        assert r.count == 0 and r.nullity == 4 and not r.ambiguous


@pytest.mark.parametrize("bad, error", [
    ({"policy": "svd"}, InvalidParameterError),
    ({"tau": 0.0}, InvalidParameterError),
    ({"tau": 2.0}, InvalidParameterError),
    ({"gap_required": 0.5}, InvalidParameterError),
])
def test_numerical_rank_rejects_bad_settings(bad, error):
    with pytest.raises(error, match="Got"):
        numerical_rank([1.0, 0.1], **bad)


def test_numerical_rank_rejects_bad_values():
    with pytest.raises(ShapeError, match="1-D"):
        numerical_rank(np.ones((2, 2)))
    with pytest.raises(InvalidParameterError, match="finite"):
        numerical_rank([1.0, np.nan])
    with pytest.raises(ShapeError, match="2-D"):
        matrix_rank(np.ones(3))


# ------------------------------------------------------------------------ inertia
@pytest.mark.parametrize("seed", range(6))
def test_ldl_inertia_equals_eigenvalue_sign_counts(seed):
    rng = np.random.default_rng(seed)
    neg, zero, pos = rng.integers(0, 6, size=3)
    lam = np.concatenate([-rng.uniform(0.1, 5.0, neg), np.zeros(zero),
                          rng.uniform(0.1, 5.0, pos), [1e-12, -1e-12]])
    H = planted_symmetric(rng.permutation(lam), seed)
    delta = 1e-8
    ldl = ldl_inertia(H, delta)
    assert ldl == eigen_inertia(np.linalg.eigvalsh(H), delta)
    assert ldl == Inertia(int(neg), int(zero) + 2, int(pos), delta)


def test_ldl_inertia_handles_two_by_two_pivots():
    H = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])  # eigenvalues -1, 0, 1
    assert ldl_inertia(H, 1e-10) == Inertia(1, 1, 1, 1e-10)
    assert ldl_inertia(torch.tensor(H), 2.0) == Inertia(0, 3, 0, 2.0)


def test_ldl_inertia_band_counts_near_zero_eigenvalues():
    H = planted_symmetric([-1e-3, -1e-9, 0.0, 1e-9, 1e-3], seed=4)
    assert ldl_inertia(H, 1e-6) == Inertia(1, 3, 1, 1e-6)
    assert ldl_inertia(H, 1e-2).zero == 5


def test_ldl_inertia_rejects_bad_matrices():
    with pytest.raises(ShapeError, match="square"):
        ldl_inertia(np.ones((2, 3)), 0.0)
    with pytest.raises(InvalidParameterError, match="symmetric"):
        ldl_inertia(np.array([[1.0, 2.0], [0.0, 1.0]]), 0.0)
    with pytest.raises(InvalidParameterError, match="delta"):
        ldl_inertia(np.eye(2), -1.0)


def test_every_numerical_rank_goes_through_matrix_rank():
    """Issue 19 item 5: no module counts a numerical rank of its own (with no gap reported):
    no ``linalg.matrix_rank`` and no count of singular values above a threshold outside
    :mod:`valleys.curvature.rank`."""
    import re
    from pathlib import Path

    src = Path(__file__).resolve().parents[1] / "src" / "valleys"
    files = [p for p in sorted(src.rglob("*.py")) if p != src / "curvature" / "rank.py"]
    own = re.compile(r"linalg\.matrix_rank|\(\s*(s|sv|sv_hat|mags)\s*>\s*[^)]*\)\.sum\(\)")
    found = [f"{p.relative_to(src)}:{i}" for p in files for i, line in enumerate(p.read_text().splitlines(), 1)
             if own.search(line)]
    assert len(files) > 100 and found == []
