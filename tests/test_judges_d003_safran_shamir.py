"""Can the judges of document 003 (Safran & Shamir) fail? Doctored tables (see ``judges.py``).

Checks no table can break (they read the QP cross-validation or closed forms in the summary):
singleton and full-rank "sign criterion == exact QP basin value" and "QP basin values equal
the criterion's closed form"; auer "single-neuron optimum = min(t+, t-)^2 / 2".
"""

from __future__ import annotations

import numpy as np
import pytest
from judges import assert_doctor_breaks_the_verdict, assert_outside_hypotheses_is_not_covered, case_id, cases, judge


def _where(t, rows, column, values):
    """``t`` with ``column`` replaced by ``values`` on the rows of the mask ``rows``."""
    out = t.copy()
    out.loc[rows, column] = np.asarray(values)[np.asarray(rows)] if np.ndim(values) else values
    return out


def _overspec_full_above_subset(t, p):
    return t.assign(full=t["subset"] + 1.0, difference=-1.0)


def _smallest_delta_as_large(t, p):
    """Bas at the smallest delta equal to its value at the largest (no decay with delta)."""
    d_min, d_max = min(p.deltas), max(p.deltas)
    big = t[t["delta"] == d_max].set_index(["width", "draw"])["bas"]
    rows = t["delta"] == d_min
    bas = t["bas"].copy()
    bas[rows] = [big[(w, d)] for w, d in zip(t.loc[rows, "width"], t.loc[rows, "draw"], strict=True)]
    return t.assign(bas=bas, bas_over_delta2=bas / t["delta"] ** 2)


DOCTORS = {
    "safran-shamir-prop2": [
        ("P[L(P(W0)) > L(0)] falls below (r/2)(1 - 2^-n) in one row",
         lambda t, p: _where(t, t.index == t["bound_r_low"].idxmax(), "hits", 0)),
        ("given a strictly convex ray, L(P) > L(0) in under half the draws",
         lambda t, p: t.assign(strict_hits=t["strict"] // 4)),
    ],
    "safran-shamir-basin-oracle": [
        ("an independent descent ends below the certified value",
         lambda t, p: _where(t, t.index == 0, "descent_min", t["value"] - 1e-3)),
        ("an independent descent stops above the certified value (a second local minimum in the cell)",
         lambda t, p: _where(_where(_where(t, t.index == 0, "descent_max", t["value"] + 0.1), t.index == 0,
                                    "unconverged", 1), t.index == 0, "stationary_above", 1)),
        ("a mapped sublevel segment rises above its ends", lambda t, p: t.assign(segment_excess=1e-3)),
        ("a mapped segment leaves the closed cell", lambda t, p: t.assign(segment_violation=1e-3)),
    ],
    "safran-shamir-singleton": [
        ("Monte Carlo falls below 1 - 2d(3/4)^n",
         lambda t, p: t.assign(estimate=0.0)),
        ("Monte Carlo leaves the exact probability (above the bound)",
         lambda t, p: t.assign(estimate=np.where(t["exact"] <= 0.8, t["exact"] + 0.2, t["exact"]))),
    ],
    "safran-shamir-full-rank": [
        ("Monte Carlo falls below 1 - m(3/4)^n",
         lambda t, p: t.assign(estimate=0.0)),
    ],
    "safran-shamir-overspecification": [
        ("the full basin's certified value lies above a subset's and above what descent reaches",
         _overspec_full_above_subset),
        ("an independent solver ends below the certified Bas(full)",
         lambda t, p: t.assign(pgd_full=t["pgd_full"] - 1e-3)),
    ],
    "safran-shamir-prop1": [
        ("P[L(W0) > L(0)] falls below (1 - 2^-n)/2 on random data",
         lambda t, p: _where(t, t["setting"] == "random data", "estimate", 0.0)),
        ("one point, small init: Monte Carlo well above the bound (not tight)",
         lambda t, p: _where(t, t["setting"] == "one point, small init", "estimate", t["bound"] + 0.2)),
    ],
    "safran-shamir-auer": [
        ("one neuron starts in the optimal basin more often than 2^-d",
         lambda t, p: _where(t, t["net"] == "single neuron", "estimate", t["exact"] + 0.1)),
        ("width n leaves the exact probability",
         lambda t, p: _where(t, (t["net"] == "two-layer") & (t["exact"] <= 0.8), "estimate", t["exact"] + 0.2)),
        ("width n does not fit the data exactly (alpha > 0)",
         lambda t, p: _where(t, t["net"] == "two-layer", "alpha", 0.5)),
        ("width n falls below 1 - 2d(3/4)^n",
         lambda t, p: _where(t, (t["net"] == "two-layer") & (t["bound"] > 0.1), "estimate", 0.0)),
    ],
    "safran-shamir-low-rank": [
        ("the fraction with Bas <= eps at the theorem's width falls below 1 - exp(-cn/4)",
         lambda t, p: _where(t, t["theorem_width"], "estimate", 0.0)),
    ],
    "safran-shamir-clustered": [
        ("good draws' Bas does not shrink with delta (slope 0, not 2)", _smallest_delta_as_large),
        ("P[Bas <= K delta^2] falls below 1 - d(7/8)^n",
         lambda t, p: t.assign(bas=np.where(t["delta"] == max(p.deltas), t["bas"], 1e6))),
        ("the held-out draws' Bas lies far above the K fitted on the other draws",
         lambda t, p: t.assign(bas=np.where(t["draw"] % 2 == 1, 1e3 * t["bas"] + 1.0, t["bas"]))),
    ],
    "safran-shamir-monotone-path": [
        ("the path rises between grid points (independent re-evaluation)",
         lambda t, p: _where(t, t["part"] == "path", "fine_max_step", 1e-3)),
        ("the polygon's descent certificate fails",
         lambda t, p: _where(t, t["part"] == "path", "certificate", False)),
        ("P[L(P(W0)) > L(0)] falls below (1 - 2^-n)/2",
         lambda t, p: _where(t, t["part"] == "ss-p1", "estimate", 0.0)),
    ],
}


@pytest.mark.parametrize(("name", "what", "doctor"),
                         cases(DOCTORS), ids=case_id)
def test_judge_disagrees_with_a_doctored_table(name, what, doctor):
    assert_doctor_breaks_the_verdict(name, what, doctor)


def _no_condition2(t, p):
    """Every path instance starts at or below L(0) (SS-T1's condition 2 fails)."""
    return _where(t, t["part"] == "path", "L0", t["L_zero"] - 0.1)


OUTSIDE = {
    "safran-shamir-prop2": [
        ("the last layer is not sign-symmetric (Assumption 1)", lambda t, p: t.assign(symmetric_last_layer=False)),
    ],
    "safran-shamir-basin-oracle": [
        ("no draw in a cell interior (a zero pre-activation)", lambda t, p: t.assign(interior_margin=0.0)),
    ],
    "safran-shamir-singleton": [
        ("the data are not singletons", lambda t, p: t.assign(singletons=t["m"] - 1)),
    ],
    "safran-shamir-full-rank": [
        ("rank X < m", lambda t, p: t.assign(rank=t["m"] - 1)),
    ],
    "safran-shamir-auer": [
        ("non-singleton data and equal targets (every basin of one neuron optimal)",
         lambda t, p: t.assign(singletons=t["m"] - 1, t_minus=t["t_plus"])),
    ],
    "safran-shamir-low-rank": [
        ("an input outside the unit ball", lambda t, p: t.assign(max_input_norm=1.5)),
        ("the width multiplier c = 1 < 2", lambda t, p: t.assign(c=1)),
    ],
    "safran-shamir-prop1": [
        ("the last layer is not sign-symmetric (Assumption 1)", lambda t, p: t.assign(symmetric_last_layer=False)),
    ],
    "safran-shamir-overspecification": [
        ("no draw in a basin interior (a zero pre-activation)", lambda t, p: t.assign(interior_margin=0.0)),
    ],
    "safran-shamir-clustered": [
        ("every radius breaks the angular bound delta_j/||c_j|| <= 2 sin(sqrt(2 pi)/(16 d sqrt d))",
         lambda t, p: t.assign(radius_ratio=0.5)),
    ],
    "safran-shamir-monotone-path": [
        ("condition 2 fails on every path and the last layer is not sign-symmetric",
         lambda t, p: _where(_no_condition2(t, p), t["part"] == "ss-p1", "symmetric_last_layer", False)),
    ],
}


@pytest.mark.parametrize(("name", "what", "doctor"),
                         cases(OUTSIDE), ids=case_id)
def test_judge_says_not_covered_outside_the_hypotheses(name, what, doctor):
    assert_outside_hypotheses_is_not_covered(name, what, doctor)


def test_monotone_path_without_condition2_leaves_the_path_not_covered():
    """L(P(W0)) <= L(0) (``--set hidden=1 --seed 12``): SS-T1's checks are not covered, and no
    path check passes; SS-P1 still decides on its own Monte Carlo."""
    verdict = judge("safran-shamir-monotone-path", _no_condition2)
    path = [c for c in verdict.checks if c.kind != "hypothesis" and "SS-P1" not in c.name]
    assert path and all(c.status == "not covered" for c in path)
    cond2 = [c for c in verdict.of_kind("hypothesis") if c.name.startswith("condition 2")]
    assert cond2[0].status == "not covered" and cond2[0].measured == "0 of 1 instances"


def test_monotone_path_reevaluation_is_an_independent_forward_pass():
    """The NumPy losses equal the Landscape's at random points of a 3-layer net, and the
    re-evaluated points lie strictly inside the polygon's segments (never a grid point)."""
    import torch

    from valleys.core import Landscape
    from valleys.experiments.d003_safran_shamir.monotone_path import _between_grid_points, _numpy_losses
    from valleys.nets import mlp

    gen = torch.Generator().manual_seed(3)
    X = torch.randn(7, 5, generator=gen, dtype=torch.float64)
    Y = torch.randn(7, 3, generator=gen, dtype=torch.float64)
    land = Landscape(mlp([5, 4, 4, 3], "relu", bias=False, seed=1), (X, Y), loss="mse")
    pts = torch.randn(6, land.dim, generator=gen, dtype=torch.float64)
    np.testing.assert_allclose(_numpy_losses(land, pts.numpy(), X.numpy(), Y.numpy()),
                               land.losses(pts).numpy(), rtol=1e-12)
    inner, seg = _between_grid_points(pts.numpy(), 4)
    assert inner.shape == (5 * 4, land.dim) and (np.bincount(seg) == 4).all()
    Q = pts.numpy()
    for x, k in zip(inner, seg, strict=True):
        s = (x - Q[k]) @ (Q[k + 1] - Q[k]) / np.sum((Q[k + 1] - Q[k]) ** 2)
        np.testing.assert_allclose(Q[k] + s * (Q[k + 1] - Q[k]), x, atol=1e-12)
        assert 0.0 < s < 1.0


def test_clustered_counts_on_draws_not_used_to_fit_k():
    """Raising Bas of the fitting (even) draws raises K and leaves the held-out count free to
    pass; raising only the held-out (odd) draws must fail it (K is not fitted on them)."""
    fit_only = judge("safran-shamir-clustered",
                     lambda t, p: t.assign(bas=np.where(t["draw"] % 2 == 0, 10 * t["bas"], t["bas"])))
    held = [c for c in fit_only.checks if c.name.startswith("held-out")]
    assert held and held[0].status == "passed"
    odd_only = judge("safran-shamir-clustered",
                     lambda t, p: t.assign(bas=np.where(t["draw"] % 2 == 1, 1e3 * t["bas"] + 1.0, t["bas"])))
    held = [c for c in odd_only.checks if c.name.startswith("held-out")]
    assert held and held[0].status == "failed"


def test_clustered_gates_each_radius_on_the_angular_bound():
    """A radius above 2 sin(sqrt(2 pi)/(16 d sqrt d)) is left out: with one radius out, no slope."""
    from valleys.experiments.d003_safran_shamir.clustered import angular_limit

    assert abs(angular_limit(10) - 0.0099) < 5e-5 and abs(angular_limit(2) - 0.1107) < 5e-5
    verdict = judge("safran-shamir-clustered",
                    lambda t, p: t.assign(radius_ratio=np.where(t["delta"] == max(p.deltas), 1.0,
                                                                t["radius_ratio"])))
    slope = [c for c in verdict.checks if c.name.startswith("log-log slope")]
    assert slope[0].status == "not covered"
    angular = [c for c in verdict.of_kind("hypothesis") if c.name.startswith("delta_j")]
    assert angular[0].measured == "1 of 2 radii"


def test_overspecification_inequality_is_consistency_and_the_network_is_evidence():
    """Bas(full) <= Bas(subset) cannot fail for optimal QPs: it is consistency; the check that
    an independent solver cannot beat the certified basin value is the evidence."""
    verdict = judge("safran-shamir-overspecification")
    kinds = {c.name: c.kind for c in verdict.checks}
    assert kinds["Bas(full) <= Bas(subset) + tol (every draw)"] == "consistency"
    assert [c.status for c in verdict.of_kind("evidence")] == ["passed"]


def _three_draws(t, p):
    """The table as if each row had 3 draws (estimates rounded to thirds)."""
    return t.assign(estimate=np.round(t["estimate"] * 3) / 3, draws=3)


@pytest.mark.parametrize("name", ["safran-shamir-singleton", "safran-shamir-full-rank"])
def test_three_draws_do_not_decide(name):
    """draws = 3 gave a false "disagrees" (singleton) or a powerless "agrees" (full rank): the
    Monte Carlo checks now report insufficient draws."""
    verdict = judge(name, _three_draws)
    mc = [c for c in verdict.of_kind("evidence") if c.name.startswith(("Monte Carlo", "width n: Monte"))]
    assert mc and all(c.status == "insufficient draws" for c in mc)
    assert verdict.outcome != "disagrees"


def test_proportion_rows_exact_bonferroni_vacuous_and_insufficient():
    from valleys.record import Verdict
    from valleys.record.stats import proportion_rows

    v = Verdict()
    # 2^-20 with 10^5 draws: fewer than one expected hit -> vacuous (SS single neuron at d >= 20)
    c = proportion_rows(v, "2^-d", [("d=20", 0, 100_000, 2.0 ** -20)], word="equals", expected="2^-d")
    assert c.status == "vacuous"
    c = proportion_rows(v, "few", [("a", 3, 3, 0.5)], word="at_least", expected=">= 0.5")
    assert c.status == "insufficient draws"
    c = proportion_rows(v, "negative bound", [("a", 0, 100, -0.3)], word="at_least", expected=">= b")
    assert c.status == "vacuous"
    # 0/40 contradicts p >= 0.5; 0/40 with the bound 0.1 is within the exact interval [0, 0.124]
    c = proportion_rows(v, "decides", [("a", 0, 40, 0.5), ("b", 40, 40, 0.9)], word="at_least", expected=">= b")
    assert c.status == "failed" and "a: 0/40" in c.note
    c = proportion_rows(v, "holds", [("a", 0, 40, 0.1)], word="at_least", expected=">= b")
    assert c.status == "passed"
    # Bonferroni: 10 rows at 99% overall -> 99.9% each
    c = proportion_rows(v, "ten", [(str(i), 50, 100, 0.5) for i in range(10)], word="equals", expected="= 0.5")
    assert c.status == "passed" and "99.9000%" in c.note


def test_low_rank_quick_preset_has_power():
    """The quick preset decides at the theorem's width: eps = 0.01 < L(0) (not implied by Bas <= L(0)),
    at least min_draws draws; and L(0) <= eps makes the check vacuous."""
    verdict = judge("safran-shamir-low-rank")
    main = [c for c in verdict.of_kind("evidence") if c.name.startswith("fraction")]
    assert main[0].status == "passed" and "24/24" in main[0].note
    vac = judge("safran-shamir-low-rank", lambda t, p: t.assign(zero_loss=0.5 * p.eps))
    assert [c.status for c in vac.of_kind("evidence")] == ["vacuous"]
